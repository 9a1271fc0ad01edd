/**
 * Runs the README's "go-plugin plugin in TypeScript" example under the Go kvhost fixture, so it cannot rot.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { goFixturesBuilt, KV_PROTO_DIR, KVHOST, kvhostLine } from '../fixtures/go/fixtures.js';
import { checkPeer } from '../helpers/peers.js';
import { killLeftovers, run } from './goplugin-run.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ok = checkPeer('Go fixtures on Debian go-plugin (test/fixtures/go/build.sh)', goFixturesBuilt());

/** The first ```ts block between the goplugin marker and the next ### heading. */
function readmeExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- goplugin section -->');
  const end = readme.indexOf('\n###', start);
  const block = readme.slice(start, end).match(/```ts\n([\s\S]*?)```/);
  if (start === -1 || block?.[1] === undefined) throw new Error('README goplugin example not found');
  return block[1];
}

describe.skipIf(!ok)('README goplugin example', () => {
  // Inside the repository, so the example's bare imports resolve from node_modules.
  const dir = mkdtempSync(join(root, 'test', 'interop', '.tmp-readme-'));
  afterAll(async () => {
    await killLeftovers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves Put/Get/Ping under the Go host, with and without AutoMTLS', async () => {
    const source = readmeExample().replace(
      "'pluginwire/goplugin'",
      JSON.stringify(join(root, 'src/goplugin/index.ts')),
    );
    const file = join(dir, 'kv-plugin.ts');
    writeFileSync(file, source);
    copyFileSync(join(KV_PROTO_DIR, 'kv.proto'), join(dir, 'kv.proto'));
    for (const automtls of ['0', '1']) {
      const result = await run([KVHOST, process.execPath, '--import', 'tsx', file], {
        KV_AUTOMTLS: automtls,
        KV_LOG: 'info',
      });
      expect(result.code, result.stderr).toBe(0);
      expect(kvhostLine(result.stdout, 'RESULT')).toMatchObject({ ok: true, ping: true });
      expect(String(kvhostLine(result.stdout, 'RESULT')?.missingError)).toContain('key "missing" not found');
      expect(result.stderr).toContain('[INFO]  kvhost.node: stored: key=hello');
      expect(result.stderr).not.toContain('plugin failed to exit gracefully');
    }
  });
});
