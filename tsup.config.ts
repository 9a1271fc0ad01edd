import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'tsup';

const modules = ['kong-conf', 'msgpack-rpc', 'kong-rpc', 'goplugin', 'socket'];
/** Modules whose `.proto` files are compiled into code at build time (`npm run gen:protos`): nothing to ship. */
const compiledProtos = new Set(['goplugin']);

/** Copies every `src/<module>/protos` folder to `dist/<module>/protos` so the `.proto` files load at run time. */
function copyProtos(): void {
  for (const name of modules) {
    if (compiledProtos.has(name)) continue;
    const from = join('src', name, 'protos');
    if (existsSync(from) && readdirSync(from).length > 0) {
      cpSync(from, join('dist', name, 'protos'), { recursive: true });
    }
  }
}

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      ...Object.fromEntries(modules.map((name) => [`${name}/index`, `src/${name}/index.ts`])),
    },
    format: ['esm', 'cjs'],
    dts: true,
    // Keep the CLI bundle the second build writes next to these files.
    clean: ['!cli.js', '!cli.js.map'],
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    // import.meta.url in ESM and __dirname in CJS both work in either build.
    shims: true,
    splitting: true,
    treeshake: true,
    onSuccess: async () => copyProtos(),
  },
  {
    // The `pluginwire` executable (package.json `bin`): one ESM file with a shebang, its own bundle of the
    // modules it uses, finding any runtime-loaded protos in dist/<module>/protos as the module builds do.
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    // One file: the goplugin host side, which the module builds load lazily from a chunk, is inlined here.
    splitting: false,
    dts: false,
    clean: false,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    banner: { js: '#!/usr/bin/env node' },
    onSuccess: async () => copyProtos(),
  },
]);
