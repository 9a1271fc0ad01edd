/**
 * Fault cases of the ProtoBuf:1 plugin-server side: Kong going away mid-event or mid-frame, lengths over the cap,
 * a msgpack client, many concurrent events. The server must clean up, log, and keep serving.
 */
import { encode as msgpack } from '@msgpack/msgpack';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KongEventClosedError } from '../../../src/kong-rpc/errors.js';
import type { KongPdk } from '../../../src/kong-rpc/pdk.js';
import type { KongPluginServerOptions } from '../../../src/kong-rpc/server.js';
import { decode, encode, startProtobufServer } from './server-helpers.js';

type Started = Awaited<ReturnType<typeof startProtobufServer>>;
let started: Started | undefined;
afterEach(async () => {
  await started?.dispose();
  started = undefined;
});

const startCall = (sequence: number) =>
  encode('kong_plugin_protocol.RpcCall', {
    sequence,
    cmd_start_instance: { name: 'p', config: Buffer.from('{}') },
  });
const eventCall = (sequence: number, instanceId: number) =>
  encode('kong_plugin_protocol.RpcCall', {
    sequence,
    cmd_handle_event: { instance_id: instanceId, event_name: 'access' },
  });

async function serve(access: (kong: KongPdk) => unknown, options: KongPluginServerOptions = {}) {
  started = await startProtobufServer(
    (server) => server.addPlugin({ name: 'p', version: '1', phases: ['access'], create: () => ({ access }) }),
    { instanceIdBase: 3, ...options },
  );
  const kong = await started.connect();
  kong.send(startCall(2));
  await kong.read();
  return { started, kong };
}

async function stillServes(server: Started): Promise<void> {
  const kong = await server.connect();
  kong.send(encode('kong_plugin_protocol.RpcCall', { sequence: 99, cmd_get_plugin_names: {} }));
  expect(decode('kong_plugin_protocol.RpcReturn', (await kong.read()) as Buffer)).toMatchObject({
    sequence: 99,
  });
}

describe('ProtoBuf:1 server faults', () => {
  it('ends the event when Kong closes mid-event: the pending PDK call rejects, nothing leaks', async () => {
    const outcome: unknown[] = [];
    const { started: server, kong } = await serve(async (pdk) => {
      await pdk.request.getPath().catch((error: unknown) => outcome.push(error));
      await pdk.log.info('later').catch((error: unknown) => outcome.push(error));
    });
    kong.send(eventCall(3, 3));
    expect((await kong.read()).toString()).toBe('kong.request.get_path');
    await kong.read();
    expect(server.server.activeEvents).toBe(1);
    kong.socket.destroy();
    await vi.waitFor(() => expect(outcome).toHaveLength(2), { timeout: 2_000 });
    for (const error of outcome) expect(error).toBeInstanceOf(KongEventClosedError);
    await vi.waitFor(() => expect(server.server.activeEvents).toBe(0), { timeout: 2_000 });
    await stillServes(server);
  });

  it('ends an event whose handler hangs when Kong closes its connection, and when the server closes', async () => {
    const { started: server, kong } = await serve(() => new Promise(() => {}));
    kong.send(eventCall(3, 3));
    await vi.waitFor(() => expect(server.server.activeEvents).toBe(1), { timeout: 2_000 });
    kong.socket.destroy();
    await vi.waitFor(() => expect(server.server.activeEvents).toBe(0), { timeout: 2_000 });
    const other = await server.connect();
    other.send(eventCall(4, 3));
    await vi.waitFor(() => expect(server.server.activeEvents).toBe(1), { timeout: 2_000 });
    await server.server.close();
    expect(server.server.activeEvents).toBe(0);
  });

  it('drops a connection closed in the middle of a frame, before or during an event', async () => {
    const { started: server, kong } = await serve((pdk) => pdk.request.getPath());
    kong.send(eventCall(3, 3));
    await kong.read();
    await kong.read();
    // Half a result frame (length 11, 3 bytes of payload), then the close.
    kong.write(Buffer.from('0b0000000a0b2f', 'hex'));
    kong.socket.end();
    await vi.waitFor(() => expect(server.server.activeEvents).toBe(0), { timeout: 2_000 });
    const other = await server.connect();
    other.write(Buffer.from('2200', 'hex'));
    other.socket.end();
    await other.closed();
    await stillServes(server);
  });

  it('refuses a length over maxFrameBytes before allocating it, and closes at once', async () => {
    const { started: server, kong } = await serve(() => undefined, { maxFrameBytes: 1024 });
    const before = process.memoryUsage().arrayBuffers;
    kong.write(Buffer.from('f0ffffff', 'hex')); // 4,294,967,280 bytes announced
    expect(await kong.read(1_000)).toBe('closed');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
    expect(server.logs.some((entry) => /1024/.test(entry.message))).toBe(true);
    // The default cap (128 MiB) refuses go-pdk's 3 GB case too.
    started = await startProtobufServer((s) =>
      s.addPlugin({ name: 'q', version: '1', phases: ['access'], create: () => ({ access() {} }) }),
    );
    const other = await started.connect();
    other.write(Buffer.from('000000b0', 'hex'));
    expect(await other.read(1_000)).toBe('closed');
    await server.dispose();
  });

  it.each([
    ['msgid 1', [0, 1, 'plugin.StartInstance', [{ Name: 'p', Config: '{}' }]]],
    ['msgid 300 (a "length" under the cap)', [0, 300, 'plugin.GetStatus', []]],
  ])(
    'closes a connection that speaks msgpack (%s) at once, naming both protocols',
    async (_what, request) => {
      const { started: server, kong } = await serve(() => undefined);
      const other = await server.connect();
      const sent = performance.now();
      other.write(msgpack(request));
      expect(await other.read(1_000)).toBe('closed');
      expect(performance.now() - sent).toBeLessThan(1_000);
      const line = server.logs.find((entry) => /MsgPack:1/.test(entry.message));
      expect(line?.message).toMatch(/ProtoBuf:1/);
      // Other connections are untouched.
      kong.send(eventCall(5, 3));
      expect((await kong.read()).length).toBe(0);
    },
  );

  it('serves 200 concurrent events on 200 connections, each with its own PDK answers', async () => {
    const results: string[] = [];
    const { started: server } = await serve(async (pdk) => {
      const path = await pdk.request.getPath();
      await pdk.response.setHeader('x-path', path);
      results.push(path);
    });
    const kongs = await Promise.all(Array.from({ length: 200 }, () => server.connect()));
    for (const [index, kong] of kongs.entries()) kong.send(eventCall(index + 10, 3));
    await Promise.all(
      kongs.map(async (kong, index) => {
        expect((await kong.read()).toString()).toBe('kong.request.get_path');
        await kong.read();
        kong.send(encode('kong_plugin_protocol.String', { v: `/p/${index}` }));
        expect((await kong.read()).toString()).toBe('kong.response.set_header');
        const argument = decode('kong_plugin_protocol.KV', (await kong.read()) as Buffer);
        expect(argument).toMatchObject({ k: 'x-path', v: { string_value: `/p/${index}` } });
        kong.send(new Uint8Array(0));
        expect((await kong.read()).length).toBe(0);
        expect(decode('kong_plugin_protocol.RpcReturn', (await kong.read()) as Buffer)).toEqual({
          sequence: index + 10,
        });
      }),
    );
    expect(results).toHaveLength(200);
    expect(server.server.activeEvents).toBe(0);
  });

  it('rejects the pending PDK call when the server closes mid-event', async () => {
    const outcome: unknown[] = [];
    const { started: server, kong } = await serve(async (pdk) => {
      await pdk.request.getPath().catch((error: unknown) => outcome.push(error));
    });
    kong.send(eventCall(3, 3));
    await kong.read();
    await kong.read();
    await server.server.close();
    await vi.waitFor(() => expect(outcome).toHaveLength(1), { timeout: 2_000 });
    expect(outcome[0]).toBeInstanceOf(KongEventClosedError);
    expect(await kong.read()).toBe('closed');
  });
});
