/**
 * The bounded load run in CI: `scripts/load.ts` with small numbers (the full run is `npm run load`), checking
 * its exit status and its verdict line. Real sockets and, for go-plugin, a real plugin process.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'load.ts');

/** Runs scripts/load.ts with `args`; resolves to its exit code, stdout and stderr. */
async function runLoad(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('npm run load (bounded)', () => {
  it('answers every request of every scenario correctly', { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await runLoad([
      '--connections',
      '8',
      '--requests',
      '50',
      '--streams',
      '4',
      '--stream-requests',
      '50',
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    for (const scenario of ['rpc-peer', 'kong-server', 'kong-protobuf', 'goplugin']) {
      expect(stdout).toMatch(
        new RegExp(
          `^${scenario} .* req/s, p50 [\\d.]+ ms, p99 [\\d.]+ ms, peak RSS \\d+ MiB, 0 lost, 0 mismatched`,
          'm',
        ),
      );
    }
    expect(stdout).toMatch(/^load: 0 lost, 0 mismatched$/m);
  });

  // The real soak is `npm run load -- --duration 600` (docs/guides/fuzzing.md); this one checks its machinery in
  // a few seconds. Its RSS bound is loose: a 4 s run has no warm-up to speak of.
  it('soaks every scenario at once, sampling RSS and fds, and holds the fds flat', {
    timeout: 120_000,
  }, async () => {
    const { code, stdout, stderr } = await runLoad([
      '--duration',
      '4',
      '--sample-every',
      '1',
      '--warmup',
      '2',
      '--rss-bound',
      '512',
      '--connections',
      '4',
      '--streams',
      '2',
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const samples = stdout.match(
      /^sample +\d+ s: RSS [\d.]+ MiB, heap [\d.]+ MiB, \d+ fds; child \d+: \d+ fds, [\d.]+ MiB; answered \d+(?: \/ \d+)+$/gm,
    );
    expect(samples?.length).toBeGreaterThanOrEqual(4);
    for (const scenario of ['rpc-peer', 'kong-server', 'kong-protobuf', 'goplugin']) {
      expect(stdout).toMatch(new RegExp(`^${scenario} .* 0 lost, 0 mismatched \\(\\d+ answered`, 'm'));
    }
    expect(stdout).toMatch(/^soak: RSS .* fds (\d+) → \1 \(closed: (\d+), before: \2\)/m);
    expect(stdout).toMatch(/^soak: flat$/m);
    expect(stdout).toMatch(/^load: 0 lost, 0 mismatched$/m);
  });
});
