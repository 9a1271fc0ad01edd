/**
 * A TypeScript plugin-server executable (runPluginServerCli) run as a child process with Kong's flags.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { KongPluginClient } from '../../src/kong-rpc/index.js';
import { tempDir } from './kong-helpers.js';

const fixture = fileURLToPath(new URL('../fixtures/kong-ts/hello-server.ts', import.meta.url));
const nodeArgs = ['--import', 'tsx', fixture];

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const INFO = {
  Name: 'hello',
  Version: '1.0.0',
  Phases: ['access'],
  Priority: 10,
  Schema: {
    name: 'hello',
    fields: [{ config: { type: 'record', fields: [{ greeting: { type: 'string' } }] } }],
  },
};

describe('runPluginServerCli as Kong runs it', () => {
  const dir = tempDir('pw-kong-cli-');
  let child: ChildProcess | undefined;
  async function stopChild(): Promise<void> {
    const running = child;
    if (running && running.exitCode === null && running.signalCode === null) {
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    }
  }

  afterAll(async () => {
    await stopChild();
    dir.dispose();
  });

  it('prints only the dump JSON on stdout for -dump and --dump, and opens no socket', async () => {
    const { code, stdout } = await run(['-dump', '-kong-prefix', dir.path]);
    expect(code).toBe(0);
    expect(stdout).toBe(`${JSON.stringify({ Protocol: 'MsgPack:1', Plugins: [INFO] })}\n`);
    const array = await run(['--dump', '-dump-format=array']);
    expect(array.code).toBe(0);
    expect(array.stdout).toBe(`${JSON.stringify([INFO])}\n`);
    expect(existsSync(join(dir.path, 'hello.socket'))).toBe(false);
  });

  it('fails with a message on stderr for an unknown flag', async () => {
    const { code, stdout, stderr } = await run(['-bogus']);
    expect(code).not.toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toContain('unknown flag -bogus');
  });

  it('lets the Kong side notice a restarted server by its serverPid and restart its instance', async () => {
    const socketPath = join(dir.path, 'hello.socket');
    const start = () => {
      const started = spawn(process.execPath, [...nodeArgs, '-kong-prefix', dir.path], { stdio: 'ignore' });
      child = started;
      return {
        started,
        exited: new Promise<number | null>((resolve) => started.once('exit', (code) => resolve(code))),
      };
    };
    const client = new KongPluginClient({ socketPath, connectRetry: 20_000 });
    const pids: unknown[] = [];
    const resets: unknown[] = [];
    client.on('serverPid', ({ pid, previousPid }) => pids.push([pid, previousPid]));
    client.on('instancesReset', ({ plugin, reason }) => resets.push([plugin, reason]));
    const pdk = (method: string) => (method === 'kong.request.get_header' ? 'example.com' : undefined);
    try {
      const first = start();
      await client.runEvent('hello', {}, 'access', pdk);
      first.started.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      const second = start();
      await client.runEvent('hello', {}, 'access', pdk);
      expect(pids).toEqual([
        [first.started.pid, undefined],
        [second.started.pid, first.started.pid],
      ]);
      // The new pid arrives on the new connection ahead of the HandleEvent answer: the cache is dropped then,
      // and the HandleEvent already sent with the old id gets `no plugin instance`, so the event is retried
      // once on a new instance. Kong goes through the same two steps.
      expect(resets).toEqual([
        [undefined, 'server-pid'],
        ['hello', expect.objectContaining({ code: 'KONG_RPC_NO_PLUGIN_INSTANCE' })],
      ]);
      await client.runEvent('hello', {}, 'access', pdk);
      expect(resets).toHaveLength(2);
      second.started.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      await client.close();
      await stopChild();
    }
  });

  it('serves on <kong-prefix>/<name>.socket and removes it on SIGTERM', async () => {
    const socketPath = join(dir.path, 'hello.socket');
    const started = spawn(process.execPath, [...nodeArgs, '--kong-prefix', dir.path], { stdio: 'ignore' });
    child = started;
    const exited = new Promise<number | null>((resolve) => started.once('exit', (code) => resolve(code)));
    const client = new KongPluginClient({ socketPath, connectRetry: 20_000 });
    try {
      const headers = new Map<string, unknown>();
      await client.runEvent('hello', { greeting: 'hey' }, 'access', (method, args) => {
        if (method === 'kong.request.get_header') return 'example.com';
        if (method === 'kong.response.set_header') headers.set(String(args[0]), args[1]);
        return undefined;
      });
      expect(headers.get('x-hello')).toBe('hey example.com');
      expect(client.serverPidSeen).toBe(started.pid);
    } finally {
      await client.close();
    }
    started.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(socketPath)).toBe(false);
  });
});
