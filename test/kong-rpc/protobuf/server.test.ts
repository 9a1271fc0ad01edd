/**
 * The ProtoBuf:1 plugin-server side against raw frames: the vectors of kong-rpc spec §13.5 byte for byte, the
 * commands, and how errors are signalled.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KongEventClosedError, KongPdkArgumentError } from '../../../src/kong-rpc/errors.js';
import type { KongPdk } from '../../../src/kong-rpc/pdk.js';
import type { KongPluginServer } from '../../../src/kong-rpc/server.js';
import { decode, encode, hex, startProtobufServer } from './server-helpers.js';

const h = (text: string) => Buffer.from(text, 'utf8').toString('hex');
const frame = (payloadHex: string) => {
  const payload = Buffer.from(payloadHex, 'hex');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(payload.length);
  return Buffer.concat([length, payload]);
};

type Started = Awaited<ReturnType<typeof startProtobufServer>>;
let started: Started | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await started?.dispose();
  started = undefined;
});

function myPlugin(server: KongPluginServer, seen: unknown[] = []): void {
  server.addPlugin({
    name: 'my-plugin',
    version: '1.0.0',
    phases: ['access'],
    create: () => ({
      async access(kong) {
        const host = await kong.request.getHeader('host');
        seen.push(host);
        await kong.response.setHeader('x-hello', 'hi');
      },
    }),
  });
}

const startCall = (sequence: number, config: string, name = 'my-plugin') =>
  encode('kong_plugin_protocol.RpcCall', {
    sequence,
    cmd_start_instance: { name, config: Buffer.from(config) },
  });
const eventCall = (sequence: number, instanceId: number, phase: string) =>
  encode('kong_plugin_protocol.RpcCall', {
    sequence,
    cmd_handle_event: { instance_id: instanceId, event_name: phase },
  });

describe('ProtoBuf:1 server: the vectors of spec §13.5', () => {
  it('answers Kong’s frames with the server frames of the spec, byte for byte', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    const seen: unknown[] = [];
    started = await startProtobufServer((server) => myPlugin(server, seen), { instanceIdBase: 5 });
    const kong = await started.connect();
    // Kong: RpcCall{sequence:2, cmd_start_instance{name:"my-plugin", config:'{"message":"hi"}'}}
    kong.write(frame(`08028a021d0a09${h('my-plugin')}1210${h('{"message":"hi"}')}`));
    // Server: RpcReturn{sequence:2, instance_status{name:"my-plugin", instance_id:5, started_at:1700000000}}
    expect(hex(await kong.read())).toBe(`08028a02130a09${h('my-plugin')}100520 80e2cfaa06`.replace(' ', ''));
    // Kong: RpcCall{sequence:4, cmd_handle_event{instance_id:5, event_name:"access"}}
    kong.write(frame(`0804a2020a08051206${h('access')}`));
    expect(hex(await kong.read())).toBe(h('kong.request.get_header'));
    expect(hex(await kong.read())).toBe(`0a04${h('host')}`);
    kong.write(frame(`0a0b${h('example.com')}`));
    expect(hex(await kong.read())).toBe(h('kong.response.set_header'));
    expect(hex(await kong.read())).toBe(`0a07${h('x-hello')}12041a02${h('hi')}`);
    kong.write(frame('')); // result of an Empty method
    expect(hex(await kong.read())).toBe(''); // end of the PDK loop
    expect(hex(await kong.read())).toBe('0804'); // RpcReturn{sequence:4}
    expect(seen).toEqual(['example.com']);
    // Kong: RpcCall{sequence:3, cmd_close_instance{instance_id:5}}. The spec's RpcReturn{sequence:3} is what Kong
    // needs; like go-pdk, the server also reports the closed instance's status, which Kong ignores.
    kong.write(frame('08039a02020805'));
    const closeReply = await kong.read();
    expect(hex(closeReply).startsWith('0803')).toBe(true);
    expect(decode('kong_plugin_protocol.RpcReturn', closeReply as Buffer)).toEqual({
      sequence: 3,
      instance_status: { name: 'my-plugin', instance_id: 5, started_at: 1_700_000_000 },
      return: 'instance_status',
    });
    expect(started.server.activeEvents).toBe(0);
  });
});

describe('ProtoBuf:1 server: commands', () => {
  it('echoes whatever sequence Kong sends, reuses the connection, and takes a positive __seq__ as the id', async () => {
    started = await startProtobufServer((server) => myPlugin(server));
    const kong = await started.connect();
    for (const sequence of [2, 3, 2 ** 40, 0]) {
      kong.send(startCall(sequence, '{"__seq__":77}'));
      expect(decode('kong_plugin_protocol.RpcReturn', (await kong.read()) as Buffer)).toMatchObject({
        instance_status: { instance_id: 77, name: 'my-plugin' },
        ...(sequence === 0 ? {} : { sequence }),
      });
    }
    // Without __seq__ the ids come from the random base and count up, never reused in this process.
    kong.send(startCall(9, '{}'));
    const first = decode('kong_plugin_protocol.RpcReturn', (await kong.read()) as Buffer);
    kong.send(startCall(10, '[]'));
    const second = decode('kong_plugin_protocol.RpcReturn', (await kong.read()) as Buffer);
    const id = (reply: Record<string, unknown>) =>
      (reply.instance_status as { instance_id: number }).instance_id;
    expect(id(second)).toBe(id(first) + 1);
    kong.send(
      encode('kong_plugin_protocol.RpcCall', { sequence: 11, cmd_get_instance_status: { instance_id: 77 } }),
    );
    expect(decode('kong_plugin_protocol.RpcReturn', (await kong.read()) as Buffer)).toMatchObject({
      sequence: 11,
      instance_status: { name: 'my-plugin', instance_id: 77 },
    });
  });

  it('replaces a live instance when a new configuration brings the same __seq__', async () => {
    const closed: string[] = [];
    started = await startProtobufServer((server) =>
      server.addPlugin({
        name: 'my-plugin',
        version: '1',
        phases: ['access'],
        create: (config: { tag?: string }) => ({ access() {}, close: () => closed.push(config.tag ?? '') }),
      }),
    );
    const kong = await started.connect();
    kong.send(startCall(2, '{"__seq__":5,"tag":"old"}'));
    await kong.read();
    kong.send(startCall(3, '{"__seq__":5,"tag":"new"}'));
    await kong.read();
    expect(closed).toEqual(['old']);
  });

  it('answers get_plugin_names and get_plugin_info with an RpcReturn (go-pdk sends an empty frame Kong would reject)', async () => {
    started = await startProtobufServer((server) => myPlugin(server));
    const kong = await started.connect();
    kong.send(encode('kong_plugin_protocol.RpcCall', { sequence: 2, cmd_get_plugin_names: {} }));
    expect(decode('kong_plugin_protocol.RpcReturn', (await kong.read()) as Buffer)).toEqual({
      sequence: 2,
      plugin_names: { names: ['my-plugin'] },
      return: 'plugin_names',
    });
    kong.send(
      encode('kong_plugin_protocol.RpcCall', { sequence: 3, cmd_get_plugin_info: { name: 'my-plugin' } }),
    );
    const info = decode('kong_plugin_protocol.RpcReturn', (await kong.read()) as Buffer);
    expect(info).toMatchObject({
      sequence: 3,
      plugin_info: { name: 'my-plugin', phases: ['access'], version: '1.0.0' },
    });
    const schema = (info.plugin_info as { schema: string }).schema;
    expect(JSON.parse(schema)).toEqual(started.server.pluginInfos()[0]?.Schema);
  });

  it.each([
    ['an unknown instance', eventCall(2, 999, 'access'), /no plugin instance #999/],
    [
      'get_instance_status of an unknown instance',
      encode('kong_plugin_protocol.RpcCall', { sequence: 2, cmd_get_instance_status: { instance_id: 9 } }),
      /no plugin instance #9/,
    ],
    [
      'close_instance of an unknown instance',
      encode('kong_plugin_protocol.RpcCall', { sequence: 2, cmd_close_instance: { instance_id: 9 } }),
      /no plugin instance #9/,
    ],
    ['config that is not JSON', startCall(2, '{"message":'), /invalid config for plugin my-plugin/],
    [
      'a plugin the server does not have',
      startCall(2, '{}', 'other-plugin'),
      /plugin other-plugin not found/,
    ],
    [
      'an RpcCall without a command',
      encode('kong_plugin_protocol.RpcCall', { sequence: 2 }),
      /without a command/,
    ],
    ['a zero-length RpcCall frame', new Uint8Array(0), /without a command/],
    ['bytes that are not an RpcCall', Buffer.from('ffffffffff', 'hex'), /not an RpcCall/],
  ])(
    'closes the connection without a reply for %s, logs why, and keeps serving',
    async (_what, call, reason) => {
      started = await startProtobufServer((server) => myPlugin(server));
      const kong = await started.connect();
      kong.send(call);
      expect(await kong.read()).toBe('closed');
      expect(started.logs.some((entry) => entry.level === 'warn' && reason.test(entry.message))).toBe(true);
      const again = await started.connect();
      again.send(startCall(3, '{}'));
      expect(decode('kong_plugin_protocol.RpcReturn', (await again.read()) as Buffer)).toMatchObject({
        sequence: 3,
      });
    },
  );

  it('closes the connection for a phase the plugin does not have, as go-pdk does', async () => {
    started = await startProtobufServer((server) => myPlugin(server), { instanceIdBase: 40 });
    const kong = await started.connect();
    kong.send(startCall(2, '{}'));
    await kong.read();
    kong.send(eventCall(3, 40, 'rewrite'));
    expect(await kong.read()).toBe('closed');
    const other = await started.connect();
    other.send(eventCall(4, 40, 'no-such-phase'));
    expect(await other.read()).toBe('closed');
  });
});

describe('ProtoBuf:1 server: events', () => {
  async function withInstance(create: () => object, options = {}) {
    started = await startProtobufServer(
      (server) =>
        server.addPlugin({ name: 'p', version: '1', phases: ['access', 'log'], create: create as never }),
      { instanceIdBase: 7, ...options },
    );
    const kong = await started.connect();
    kong.send(startCall(2, '{}', 'p'));
    await kong.read();
    return kong;
  }

  it('ends kong.response.exit without reading a result when Kong answers nothing, then Kong’s close ends it', async () => {
    const after: unknown[] = [];
    const kong = await withInstance(() => ({
      async access(kong: KongPdk) {
        await kong.response.exit(403, 'no', { 'x-a': 'b' });
        await kong.log.warn('after exit').catch((error: unknown) => after.push(error));
      },
    }));
    kong.send(eventCall(3, 7, 'access'));
    expect((await kong.read()).toString()).toBe('kong.response.exit');
    const args = decode('kong_plugin_protocol.ExitArgs', (await kong.read()) as Buffer);
    expect(args).toEqual({
      status: 403,
      body: Buffer.from('no'),
      headers: {
        fields: {
          'x-a': {
            kind: 'list_value',
            list_value: { values: [{ kind: 'string_value', string_value: 'b' }] },
          },
        },
      },
    });
    await vi.waitFor(() => expect(after).toHaveLength(1), { timeout: 2_000 });
    expect(after[0]).toBeInstanceOf(KongEventClosedError);
    expect(kong.buffered).toBe(0);
    kong.socket.end();
    await kong.closed();
    await vi.waitFor(() => expect(started?.server.activeEvents).toBe(0), { timeout: 2_000 });
  });

  it('ends the PDK loop and returns after an exit Kong answered with an empty frame (go-pdk closes instead)', async () => {
    const kong = await withInstance(() => ({
      access: (kong: KongPdk) => kong.response.exit(204),
      log() {},
    }));
    kong.send(eventCall(3, 7, 'access'));
    expect((await kong.read()).toString()).toBe('kong.response.exit');
    expect(decode('kong_plugin_protocol.ExitArgs', (await kong.read()) as Buffer)).toEqual({ status: 204 });
    kong.send(new Uint8Array(0));
    expect(hex(await kong.read())).toBe('');
    expect(hex(await kong.read())).toBe('0803');
    // The connection stays usable, as after any event.
    kong.send(eventCall(4, 7, 'log'));
    expect(hex(await kong.read())).toBe('');
    expect(hex(await kong.read())).toBe('0804');
  });

  it('reports a throwing handler to Kong as an unknown PDK method (500 and a log line in Kong, no retry), logs it, keeps serving', async () => {
    const kong = await withInstance(() => ({
      async access(kong: KongPdk) {
        await kong.request.getPath();
        throw new Error('connection closed: no plugin instance, boom');
      },
      log() {},
    }));
    kong.send(eventCall(3, 7, 'access'));
    expect((await kong.read()).toString()).toBe('kong.request.get_path');
    expect(hex(await kong.read())).toBe('');
    kong.send(encode('kong_plugin_protocol.String', { v: '/x' }));
    const name = (await kong.read()).toString();
    expect(name).toBe(
      'pluginwire: plugin p failed in phase access: connection clos-ed: no plugin-instance, boom',
    );
    // Neither "closed" nor "no plugin instance": Kong would restart the instance and retry the event forever.
    expect(name.toLowerCase()).not.toMatch(/closed|no plugin instance/);
    expect(hex(await kong.read())).toBe('');
    expect(await kong.read()).toBe('closed');
    expect(started?.logs.some((entry) => entry.level === 'error' && entry.error instanceof Error)).toBe(true);
    const again = await started?.connect();
    again?.send(eventCall(4, 7, 'log'));
    expect(hex((await again?.read()) ?? 'closed')).toBe('');
  });

  it('rejects a PDK method that is not an rpc of service Kong without sending anything', async () => {
    const errors: unknown[] = [];
    const kong = await withInstance(() => ({
      async access(kong: KongPdk) {
        await kong.request.getBody().catch((error: unknown) => errors.push(error));
        await kong.log.info(() => 1).catch((error: unknown) => errors.push(error));
      },
    }));
    kong.send(eventCall(3, 7, 'access'));
    expect(hex(await kong.read())).toBe('');
    expect(hex(await kong.read())).toBe('0803');
    expect(errors).toHaveLength(2);
    for (const error of errors) expect(error).toBeInstanceOf(KongPdkArgumentError);
  });

  it('sends concurrent PDK calls one at a time in call order, each after the previous result', async () => {
    const kong = await withInstance(() => ({
      async access(kong: KongPdk) {
        await Promise.all([kong.request.getPath(), kong.request.getMethod(), kong.log.info('x')]);
      },
    }));
    kong.send(eventCall(3, 7, 'access'));
    expect((await kong.read()).toString()).toBe('kong.request.get_path');
    await kong.read();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(kong.buffered).toBe(0);
    kong.send(new Uint8Array(0));
    expect((await kong.read()).toString()).toBe('kong.request.get_method');
    await kong.read();
    kong.send(new Uint8Array(0));
    expect((await kong.read()).toString()).toBe('kong.log.info');
    await kong.read();
    kong.send(new Uint8Array(0));
    expect(hex(await kong.read())).toBe('');
    expect(hex(await kong.read())).toBe('0803');
  });
});
