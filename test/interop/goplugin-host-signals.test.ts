/**
 * A host process that receives SIGINT or SIGTERM (and has no handler of its own) stops its plugins before the
 * signal ends it: plugins live in their own process group, so they would otherwise be orphaned.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPeer } from '../helpers/peers.js';
import { alive, bounded, hostFixturesBuilt, KVPLUGIN, PEER_NAME } from './goplugin-host-helpers.js';

const SIGNAL_HOST = join(import.meta.dirname, '..', 'fixtures', 'goplugin-host', 'signal-host.ts');
const ok = checkPeer(PEER_NAME, hostFixturesBuilt());

describe.skipIf(!ok)('host process signals', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'stops the plugins on %s, then ends by that signal',
    async (signal) => {
      const host = spawn(process.execPath, ['--import', 'tsx', SIGNAL_HOST, KVPLUGIN], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        host.once('exit', (code, exitSignal) => resolve({ code, signal: exitSignal })),
      );
      let stderr = '';
      host.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      try {
        const ready = await bounded(
          new Promise<string>((resolve) => {
            let stdout = '';
            host.stdout.on('data', (chunk: Buffer) => {
              stdout += chunk.toString();
              if (stdout.includes('\n')) resolve(stdout);
            });
          }),
          30_000,
          'the host to start its plugin',
        );
        const [, pid, socket] = ready.trim().split(' ');
        expect(alive(Number(pid))).toBe(true);
        host.kill(signal);
        expect(await bounded(exited, 10_000, 'the host to exit')).toEqual({ code: null, signal });
        expect(alive(Number(pid)), stderr).toBe(false);
        expect(existsSync(socket!)).toBe(false);
      } finally {
        host.kill('SIGKILL');
      }
    },
  );
});
