/**
 * The bounded load run in CI: `scripts/load.ts` with small numbers (the full run is `npm run load`), checking
 * its exit status and its verdict line. Real sockets and, for go-plugin, a real plugin process.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'load.ts');

describe('npm run load (bounded)', () => {
  it('answers every request of every scenario correctly', { timeout: 120_000 }, async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        SCRIPT,
        '--connections',
        '8',
        '--requests',
        '50',
        '--streams',
        '4',
        '--stream-requests',
        '50',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    for (const scenario of ['rpc-peer', 'kong-server', 'goplugin']) {
      expect(stdout).toMatch(
        new RegExp(
          `^${scenario} .* req/s, p50 [\\d.]+ ms, p99 [\\d.]+ ms, peak RSS \\d+ MiB, 0 lost, 0 mismatched`,
          'm',
        ),
      );
    }
    expect(stdout).toMatch(/^load: 0 lost, 0 mismatched$/m);
  });
});
