import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

/** The first fenced `ts` block after the socket section's marker in README.md. */
function example(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('<!-- socket section -->'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) throw new Error('no ts block in the socket section of README.md');
  return match[1];
}

describe('README socket example', () => {
  it('runs as written (with pluginwire/socket pointing at the source)', () => {
    const dir = mkdtempSync(join(root, 'test/readme-examples/.run-'));
    try {
      const file = join(dir, 'socket-example.ts');
      writeFileSync(file, example().replace("'pluginwire/socket'", `'${join(root, 'src/socket/index.js')}'`));
      const result = spawnSync(process.execPath, ['--import', 'tsx', file], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}`,
          PLUGINS_DIR: join(root, 'test/fixtures/socket/plugins'),
        },
      });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^ping\nready, pid \d+\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
