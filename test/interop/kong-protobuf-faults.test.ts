/**
 * The ProtoBuf:1 Kong side against real processes: msgpack plugin servers answered by a ProtoBuf:1 client fail
 * at once with a typed error naming both protocols, and a server SIGKILLed in the middle of an event.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  KongClosedWithoutReplyError,
  KongConnectError,
  KongPluginClient,
  KongPluginServer,
  KongProtocolMismatchError,
  NoPluginInstanceError,
} from '../../src/kong-rpc/index.js';
import { checkPeer } from '../helpers/peers.js';
import { tempDir } from './kong-helpers.js';

const jsServer = fileURLToPath(new URL('../../node_modules/.bin/kong-js-pluginserver', import.meta.url));
const pluginsDir = fileURLToPath(new URL('../fixtures/kong-pdk/plugins', import.meta.url));
const stallServer = fileURLToPath(new URL('../fixtures/kong-protobuf/stall-server.mjs', import.meta.url));
const kongPdk = checkPeer(
  'kong-pdk (npm dev dependency, node_modules/.bin/kong-js-pluginserver)',
  existsSync(jsServer),
);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function spawnServer(command: string, args: string[]): { child: ChildProcess; exited: Promise<unknown> } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, exited };
}

/** Resolves when the child prints `ready` (bounded). */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start')), 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

describe('a ProtoBuf:1 client answered by a MsgPack:1 server', () => {
  it('pluginwire’s KongPluginServer (sends serverPid first): KongProtocolMismatchError within 1 s', async () => {
    const dir = tempDir('pw-pb-mm-');
    cleanups.push(() => dir.dispose());
    const server = new KongPluginServer();
    server.addPlugin({ name: 'p', version: '1.0.0', priority: 1, create: () => ({ access() {} }) });
    const socketPath = await server.listen({ socketPath: join(dir.path, 'ts.sock') });
    cleanups.push(() => server.close());
    const client = new KongPluginClient({ socketPath, protocol: 'ProtoBuf:1' });
    cleanups.push(() => client.close());
    const started = performance.now();
    const error = await client.runEvent('p', {}, 'access', () => undefined).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(KongProtocolMismatchError);
    expect(error).toMatchObject({
      code: 'KONG_RPC_PROTOCOL_MISMATCH',
      expected: 'ProtoBuf:1',
      received: 'MsgPack:1',
    });
  });

  it.skipIf(!kongPdk)(
    'kong-pdk’s kong-js-pluginserver (closes the connection): a typed error within 1 s',
    async () => {
      const dir = tempDir('pw-pb-js-');
      cleanups.push(() => dir.dispose());
      const socketPath = join(dir.path, 'js.sock');
      const { exited } = spawnServer(jsServer, ['-p', dir.path, '--sock-name', 'js.sock', '-d', pluginsDir]);
      // Wait for the server with a MsgPack:1 client (the protocol it speaks), bounded by connectRetry.
      const probe = new KongPluginClient({ socketPath, connectRetry: 20_000, timeout: 20_000 });
      cleanups.push(() => probe.close());
      await probe.getPluginInfo('gatekeeper');
      const client = new KongPluginClient({ socketPath, protocol: 'ProtoBuf:1' });
      cleanups.push(() => client.close());
      const started = performance.now();
      const error = await client
        .runEvent('gatekeeper', {}, 'access', () => undefined)
        .catch((e: unknown) => e);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(error).toBeInstanceOf(KongClosedWithoutReplyError);
      expect((error as Error).message).toContain('ProtoBuf:1');
      expect((error as Error).message).toContain('MsgPack:1');
      // kong-js-pluginserver itself does not survive the ProtoBuf:1 bytes (its msgpack decoder throws and the
      // process exits 1): one more reason a client must take the protocol from the dump.
      expect(await exited).toBe(1);
    },
  );
});

describe('a ProtoBuf:1 server SIGKILLed in the middle of an event', () => {
  it('fails the event with NoPluginInstanceError, then refuses to connect', async () => {
    const dir = tempDir('pw-pb-kill-');
    cleanups.push(() => dir.dispose());
    const socketPath = join(dir.path, 'stall.sock');
    const { child, exited } = spawnServer(process.execPath, [stallServer, socketPath]);
    await ready(child);
    const client = new KongPluginClient({ socketPath, protocol: 'ProtoBuf:1', timeout: 10_000 });
    cleanups.push(() => client.close());
    const calls: string[] = [];
    const error = await client
      .handleEvent(5, 'access', (method) => {
        calls.push(method);
        child.kill('SIGKILL');
        return 'example.com';
      })
      .catch((e: unknown) => e);
    await exited;
    expect(calls).toEqual(['kong.request.get_header']);
    expect(error).toBeInstanceOf(NoPluginInstanceError);
    expect(client.connections).toBe(0);
    // The socket file stays behind, nobody listens: runEvent's restart fails to connect (no retry loop).
    const again = await client.runEvent('p', {}, 'access', () => undefined).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(KongConnectError);
  });
});
