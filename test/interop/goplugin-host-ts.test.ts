/**
 * TypeScript host (startPlugin) ↔ TypeScript plugin (servePlugin): GRPCStdio forwarding of stdout and stderr,
 * hclog levels through stderr, the broker in both directions (with and without AutoMTLS, unix and TCP), and a
 * graceful kill well within Go's 2 s window that leaves no socket behind.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupPlugins, type PluginClient, startPlugin } from '../../src/goplugin/index.js';
import { type LoggedEntry, recordingLogger } from '../helpers/logger.js';
import { checkPeer } from '../helpers/peers.js';
import {
  alive,
  BrokeredService,
  bounded,
  COOKIE,
  call,
  EchoService,
  hostFixturesBuilt,
  KVService,
  PEER_NAME,
  socketParent,
} from './goplugin-host-helpers.js';

const TS_KV_PLUGIN = join(import.meta.dirname, '..', 'fixtures', 'goplugin', 'ts-kv-plugin.ts');
const TS_STDIO_PLUGIN = join(import.meta.dirname, '..', 'fixtures', 'goplugin-host', 'ts-stdio-plugin.ts');
// The fixtures import the KV protos from the Go fixture tree; the Go binaries are not needed.
const ok = checkPeer(PEER_NAME, hostFixturesBuilt());

/** Collects sink output and waits, with a bound, until it contains a text. */
function collector(): { sink: (data: Buffer) => void; text(): string; waitFor(text: string): Promise<void> } {
  let buffer = '';
  const waiters: Array<() => void> = [];
  return {
    sink: (data) => {
      buffer += data.toString();
      for (const wake of waiters.splice(0)) wake();
    },
    text: () => buffer,
    waitFor: (text) =>
      bounded(
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (buffer.includes(text)) resolve();
            else waiters.push(check);
          };
          check();
        }),
        10_000,
        `${JSON.stringify(text)} in ${JSON.stringify(buffer)}`,
      ),
  };
}

describe.skipIf(!ok)('startPlugin with TypeScript plugins (servePlugin)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await cleanupPlugins();
  });

  async function start(
    fixture: string,
    {
      onLog,
      ...options
    }: Partial<Parameters<typeof startPlugin>[0]> & { onLog?: (entry: LoggedEntry) => void } = {},
  ): Promise<{ client: PluginClient; entries: LoggedEntry[] }> {
    const parent = await socketParent();
    const entries: LoggedEntry[] = [];
    const client = await startPlugin({
      ...COOKIE,
      command: process.execPath,
      args: ['--import', 'tsx', fixture],
      unixSocketDir: parent.dir,
      startTimeout: 40_000,
      logger: recordingLogger((entry) => {
        entries.push(entry);
        onLog?.(entry);
      }),
      ...options,
    });
    cleanups.push(async () => {
      await client.kill();
      expect(alive(client.pid)).toBe(false);
      expect(await parent.entries()).toEqual([]);
      await parent.remove();
    });
    return { client, entries };
  }

  it('forwards stdout and stderr written after the handshake over GRPCStdio', async () => {
    const stdout = collector();
    const stderr = collector();
    const logs = collector();
    const { client, entries } = await start(TS_STDIO_PLUGIN, {
      stdout: stdout.sink,
      stderr: stderr.sink,
      onLog: (entry) => logs.sink(Buffer.from(`${String(entry.fields.raw ?? '')}\n`)),
    });
    await call(client.makeClient(KVService), 'Put', { key: 'alpha', value: Buffer.from('1') });
    await stdout.waitFor('stdout:alpha\n');
    await stderr.waitFor('stderr:alpha\n');
    expect(stdout.text()).not.toContain('stderr:');
    expect(stderr.text()).not.toContain('stdout:');
    // hclog JSON on the real fd 2 reaches the logger with its level and fields.
    await logs.waitFor('"@message":"put"');
    expect(entries.find((entry) => entry.message === 'put')).toMatchObject({
      level: 'info',
      fields: expect.objectContaining({ key: 'alpha', origin: 'plugin' }),
    });
  });

  it.each([
    ['unix', false],
    ['unix', true],
    ['tcp', false],
    ['tcp', true],
  ] as const)(
    'runs the TS KV plugin over %s (autoMTLS %s) and kills it gracefully',
    async (transport, autoMTLS) => {
      const stdout = collector();
      const { client, entries } = await start(TS_KV_PLUGIN, {
        autoMTLS,
        env: { TS_KV_TRANSPORT: transport },
        stdout: stdout.sink,
      });
      expect(client.address.network).toBe(transport);
      if (transport === 'tcp') expect(client.address.address).toMatch(/^127\.0\.0\.1:\d+$/);
      // The plugin's console.log after the handshake arrives on the STDOUT channel, not in the handshake reader.
      await stdout.waitFor(`serving protocol 1 on ${client.address.address}`);
      await client.ping();
      const kv = client.makeClient(KVService);
      await call(kv, 'Put', { key: 'k', value: Buffer.from('v') });
      expect((await call<{ value: Buffer }>(kv, 'Get', { key: 'k' })).value.toString()).toBe('v');
      await expect(call(kv, 'Get', { key: 'nope' })).rejects.toThrow('key "nope" not found');
      // Graceful: the plugin exits within the 2 s killTimeout, so there is no WARN, no SIGKILL, status 0.
      await client.kill();
      expect(await client.exited).toEqual({ code: 0, signal: null });
      expect(entries.some((entry) => entry.message === 'plugin failed to exit gracefully')).toBe(false);
      if (transport === 'unix') expect(existsSync(client.address.address)).toBe(false);
    },
  );

  it.each([false, true])('brokers services both ways with a TS plugin (autoMTLS %s)', async (autoMTLS) => {
    const { client } = await start(TS_KV_PLUGIN, { autoMTLS });
    const brokered = client.makeClient(BrokeredService);
    // Plugin → host: the plugin dials a service the host accepted.
    const id = client.broker.nextId();
    const server = await client.broker.accept(id, (grpcServer) => {
      grpcServer.addService(EchoService.service, {
        Echo: (
          request: { request: { text: string } },
          reply: (error: null, response: { text: string }) => void,
        ) => reply(null, { text: `host:${request.request.text}` }),
      });
    });
    const back = await call<{ text: string }>(brokered, 'CallBack', { broker_id: id, text: 'hi' });
    expect(back.text).toBe('plugin:host:hi');
    // Host → plugin: the host dials a service the plugin accepted.
    const offer = await call<{ broker_id: number }>(brokered, 'Offer', {});
    const connection = await client.broker.dial(offer.broker_id);
    const echo = await call<{ text: string }>(connection.makeClient(EchoService), 'Echo', { text: 'yo' });
    expect(echo.text).toBe('plugin:yo');
    connection.close();
    await server.close();
  });
});
