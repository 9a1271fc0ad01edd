/**
 * The ProtoBuf:1 Kong side over a real Unix socket against scripted peers: the event loop, pooling, faults.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseDump, resolvePluginServers } from '../../../src/kong-conf/index.js';
import {
  KongClosedWithoutReplyError,
  KongFrameTooLargeError,
  KongPdkError,
  KongPluginClient,
  KongProtocolError,
  KongRpcUsageError,
  KongSequenceError,
  NoPluginInstanceError,
} from '../../../src/kong-rpc/index.js';
import { RpcTimeoutError } from '../../../src/msgpack-rpc/index.js';
import { capture } from './captures.js';
import { pdkMessage, type ScriptConnection, type ScriptedServer, scriptedServer } from './scripted-server.js';

const servers: ScriptedServer[] = [];
const clients: KongPluginClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  for (const server of servers.splice(0)) await server.close();
});

async function setup(script: (conn: ScriptConnection) => Promise<void> | void, options = {}) {
  const server = await scriptedServer(script);
  servers.push(server);
  const client = new KongPluginClient({
    socketPath: server.socketPath,
    protocol: 'ProtoBuf:1',
    timeout: 5000,
    ...options,
  });
  clients.push(client);
  return { server, client };
}

/** A well-behaved plugin: every event asks for the host header, then ends; any number of calls per connection. */
async function hostPlugin(conn: ScriptConnection): Promise<void> {
  for (;;) {
    const call = await conn.readCall();
    const sequence = call.sequence as number;
    if (call.cmd_start_instance !== undefined) {
      conn.reply({ sequence, instance_status: { name: 'p', instance_id: 5, started_at: 1700000000 } });
    } else if (call.cmd_handle_event !== undefined) {
      conn.frame('kong.request.get_header');
      conn.frame(pdkMessage('kong_plugin_protocol.String', { v: 'host' }));
      const host = await conn.readFrame();
      conn.frame('kong.response.set_header');
      conn.frame(
        pdkMessage('kong_plugin_protocol.KV', {
          k: 'x-host',
          v: { string_value: host.subarray(2).toString() },
        }),
      );
      await conn.readFrame();
      conn.frame(new Uint8Array(0));
      conn.reply({ sequence });
    } else {
      conn.reply({ sequence, instance_status: { name: '---', instance_id: 5 } });
    }
  }
}

describe('ProtoBuf:1 Kong side', () => {
  it('runs an event: PDK calls with Kong arguments, results wrapped, one pooled connection', async () => {
    const { client, server } = await setup(hostPlugin);
    const { id } = await client.startInstance('p', { message: 'hi' });
    expect(id).toBe(5);
    const calls: [string, unknown[]][] = [];
    const outcome = await client.handleEvent(id, 'access', (method, args) => {
      calls.push([method, args]);
      return method === 'kong.request.get_header' ? 'example.com' : undefined;
    });
    expect(outcome).toEqual({ pdkCalls: 2, terminal: undefined });
    expect(calls).toEqual([
      ['kong.request.get_header', ['host']],
      ['kong.response.set_header', ['x-host', 'example.com']],
    ]);
    await client.handleEvent(id, 'access', () => 'x');
    expect(server.connections).toBe(1);
    expect(client.connections).toBe(1);
    expect(client.protocol).toBe('ProtoBuf:1');
  });

  it('numbers calls from 2, one counter for every call', async () => {
    const seen: number[] = [];
    const { client } = await setup(async (conn) => {
      for (;;) {
        const call = await conn.readCall();
        seen.push(call.sequence as number);
        conn.reply({ sequence: call.sequence, instance_status: { name: 'p', instance_id: 1 } });
      }
    });
    await client.startInstance('p', {});
    await client.instanceStatus(1);
    await client.closeInstance(1);
    expect(seen).toEqual([2, 3, 4]);
  });

  it('rejects a wrong sequence with KongSequenceError', async () => {
    const { client } = await setup(async (conn) => {
      const call = await conn.readCall();
      conn.reply({ sequence: (call.sequence as number) + 1, instance_status: { instance_id: 1 } });
    });
    const error = await client.startInstance('p', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KongSequenceError);
    expect(error).toMatchObject({ code: 'KONG_RPC_SEQUENCE', expected: 2, received: 3 });
  });

  it('a server that closes mid-event: no plugin instance (Kong restarts on "closed")', async () => {
    const { client } = await setup(async (conn) => {
      await conn.readCall();
      conn.frame('kong.request.get_header');
      conn.socket.end();
    });
    const error = await client.handleEvent(5, 'access', () => 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoPluginInstanceError);
    expect((error as NoPluginInstanceError).cause).toMatchObject({
      midFrame: false,
      call: 'cmd_handle_event',
    });
  });

  it('a server that closes mid-frame', async () => {
    const { client } = await setup(async (conn) => {
      await conn.readCall();
      conn.raw(Buffer.concat([Buffer.from('17000000', 'hex'), Buffer.from('kong.req')]));
      conn.socket.end();
    });
    const error = await client.handleEvent(5, 'access', () => 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoPluginInstanceError);
    expect((error as NoPluginInstanceError).cause).toBeInstanceOf(KongClosedWithoutReplyError);
    expect(((error as NoPluginInstanceError).cause as KongClosedWithoutReplyError).midFrame).toBe(true);
  });

  it('zero-length frames: an Empty argument, an empty result, the end of the loop', async () => {
    const results: string[] = [];
    const { client } = await setup(async (conn) => {
      const call = await conn.readCall();
      conn.frame('kong.request.get_path');
      conn.frame(new Uint8Array(0));
      results.push((await conn.readFrame()).toString('hex'));
      conn.frame(new Uint8Array(0));
      conn.reply({ sequence: call.sequence });
    });
    const calls: unknown[] = [];
    const outcome = await client.handleEvent(5, 'access', (method, args) => {
      calls.push([method, args]);
      return undefined;
    });
    expect(outcome.pdkCalls).toBe(1);
    expect(calls).toEqual([['kong.request.get_path', []]]);
    expect(results).toEqual(['']);
  });

  it('an unknown PDK method fails the event (pb_rpc.lua: method "<name>" not found)', async () => {
    const { client } = await setup(async (conn) => {
      await conn.readCall();
      conn.frame('kong.response.error');
      conn.frame(new Uint8Array(0));
    });
    let called = false;
    const error = await client
      .handleEvent(5, 'access', () => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KongProtocolError);
    expect((error as Error).message).toContain('method "kong.response.error" not found');
    expect(called).toBe(false);
  });

  it('kong.response.exit ends the event unanswered and drops the connection', async () => {
    let afterExit = '';
    const { client } = await setup(async (conn) => {
      await conn.readCall();
      conn.frame('kong.response.exit');
      conn.frame(pdkMessage('kong_plugin_protocol.ExitArgs', { status: 403, body: Buffer.from('no') }));
      afterExit = await conn.readFrame().then(
        (f) => `answered ${f.toString('hex')}`,
        () => 'closed',
      );
    });
    const outcome = await client.handleEvent(5, 'access', () => undefined);
    expect(outcome).toEqual({ pdkCalls: 1, terminal: { method: 'kong.response.exit', args: [403, 'no'] } });
    await expect.poll(() => afterExit).toBe('closed');
    expect(client.connections).toBe(0);
  });

  it('a PDK implementation that throws, or returns what the output type cannot hold: KongPdkError', async () => {
    const { client } = await setup(hostPlugin);
    await expect(
      client.handleEvent(5, 'access', () => {
        throw new Error('boom');
      }),
    ).rejects.toBeInstanceOf(KongPdkError);
    await expect(client.handleEvent(5, 'access', () => ({ not: 'a string' }))).rejects.toBeInstanceOf(
      KongPdkError,
    );
  });

  it('the event deadline bounds a silent server', async () => {
    const { client } = await setup(async (conn) => {
      await conn.readCall();
    });
    const error = await client
      .handleEvent(5, 'access', () => undefined, { timeout: 100 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcTimeoutError);
    expect(client.connections).toBe(0);
  });

  it('refuses a length over maxFrameBytes before allocating it (heap, not time)', async () => {
    const { client } = await setup(async (conn) => {
      await conn.readCall();
      // 1 GiB declared, then some bytes of it.
      conn.raw(Buffer.from('00000040', 'hex'));
      conn.raw(Buffer.alloc(64 * 1024, 1));
    });
    globalThis.gc?.();
    const before = process.memoryUsage();
    const error = await client.startInstance('p', {}).catch((e: unknown) => e);
    const after = process.memoryUsage();
    expect(error).toBeInstanceOf(KongFrameTooLargeError);
    expect(error).toMatchObject({ length: 1024 * 1024 * 1024, maxFrameBytes: 128 * 1024 * 1024 });
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(32 * 1024 * 1024);
  });

  it('drops a connection with bytes left after the reply, or written while idle (as nginx’s keepalive pool)', async () => {
    let connection = 0;
    const { client, server } = await setup(async (conn) => {
      connection++;
      const mine = connection;
      for (;;) {
        const call = await conn.readCall();
        conn.reply({ sequence: call.sequence, instance_status: { name: 'p', instance_id: mine } });
        // Connection 1 writes an extra frame after its reply; connection 2 writes later, while idle.
        if (mine === 1) conn.frame('kong.request.get_header');
        if (mine === 2) setImmediate(() => conn.frame(new Uint8Array(0)));
      }
    });
    expect((await client.startInstance('p', {})).id).toBe(1);
    await expect.poll(() => client.connections).toBe(0);
    expect((await client.startInstance('p', {})).id).toBe(2);
    await expect.poll(() => client.connections).toBe(0);
    expect((await client.startInstance('p', {})).id).toBe(3);
    expect(server.connections).toBe(3);
  });

  it('200 concurrent events', async () => {
    const { client, server } = await setup(hostPlugin, { maxConnections: 64 });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        client.handleEvent(5, 'access', (method) =>
          method === 'kong.request.get_header' ? `h${i}` : undefined,
        ),
      ),
    );
    expect(outcomes.every((o) => o.pdkCalls === 2)).toBe(true);
    expect(server.connections).toBeLessThanOrEqual(64);
    expect(client.connections).toBeLessThanOrEqual(64);
  });

  it('runEvent restarts the instance and retries once when the connection closes without a reply', async () => {
    let events = 0;
    const { client } = await setup(async (conn) => {
      for (;;) {
        const call = await conn.readCall();
        if (call.cmd_start_instance !== undefined) {
          conn.reply({ sequence: call.sequence, instance_status: { name: 'p', instance_id: 10 + events } });
        } else if (call.cmd_handle_event !== undefined) {
          events++;
          if ((call.cmd_handle_event as { instance_id: number }).instance_id === 10) {
            conn.socket.destroy(); // go-pdk: "no plugin instance 10"
            return;
          }
          conn.frame(new Uint8Array(0));
          conn.reply({ sequence: call.sequence });
        }
      }
    });
    const resets: unknown[] = [];
    client.on('instancesReset', ({ plugin, reason }) => resets.push([plugin, reason]));
    const outcome = await client.runEvent('p', { a: 1 }, 'access', () => undefined);
    expect(outcome.pdkCalls).toBe(0);
    expect(events).toBe(2);
    expect(resets).toHaveLength(1);
    expect(resets[0]).toEqual(['p', expect.any(NoPluginInstanceError)]);
  });

  it('resetInstances drops the cache: the next event starts a new instance', async () => {
    let starts = 0;
    const { client } = await setup(async (conn) => {
      for (;;) {
        const call = await conn.readCall();
        if (call.cmd_start_instance !== undefined) {
          starts++;
          conn.reply({ sequence: call.sequence, instance_status: { name: 'p', instance_id: starts } });
        } else {
          conn.frame(new Uint8Array(0));
          conn.reply({ sequence: call.sequence });
        }
      }
    });
    const resets: unknown[] = [];
    client.on('instancesReset', ({ plugin, reason }) => resets.push([plugin, reason]));
    await client.runEvent('p', { a: 1 }, 'access', () => undefined);
    await client.runEvent('p', { a: 1 }, 'access', () => undefined);
    expect(starts).toBe(1);
    client.resetInstances();
    await client.runEvent('p', { a: 1 }, 'access', () => undefined);
    expect(starts).toBe(2);
    expect(resets).toEqual([[undefined, 'reset']]);
  });

  it('getStatus has no ProtoBuf:1 command; getPluginInfo reports go-pdk’s empty answer', async () => {
    const { client } = await setup(async (conn) => {
      for (;;) {
        await conn.readCall();
        conn.frame(new Uint8Array(0));
      }
    });
    await expect(client.getStatus()).rejects.toBeInstanceOf(KongProtocolError);
    await expect(client.getPluginInfo('p')).rejects.toThrow(/empty frame/);
  });
});

describe('choosing the protocol', () => {
  it('forServer takes the protocol of a kong-conf plugin server', async () => {
    const server = await scriptedServer(hostPlugin);
    servers.push(server);
    const client = KongPluginClient.forServer(
      { socket: server.socketPath, protocol: 'ProtoBuf:1' },
      { timeout: 5000 },
    );
    clients.push(client);
    expect(client.protocol).toBe('ProtoBuf:1');
    expect((await client.startInstance('p', {})).id).toBe(5);
    const legacy = KongPluginClient.forServer({ socket: server.socketPath });
    clients.push(legacy);
    expect(legacy.protocol).toBe('MsgPack:1');
  });

  it('takes a server resolved from kong.conf with the protocol of its dump (the go-pdk v0.11 dump)', async () => {
    const server = await scriptedServer(hostPlugin);
    servers.push(server);
    const conf = [
      'pluginserver_names = pw-pbcheck',
      `pluginserver_pw_pbcheck_socket = ${server.socketPath}`,
      'pluginserver_pw_pbcheck_start_cmd = /usr/local/bin/pw-pbcheck',
      'pluginserver_pw_pbcheck_query_cmd = /usr/local/bin/pw-pbcheck -dump',
    ].join('\n');
    const [resolved] = resolvePluginServers(conf, { fileExists: () => true }).servers;
    const dump = parseDump(capture('pb-01').dump_stdout);
    const client = KongPluginClient.forServer({ ...resolved!, protocol: dump.protocol }, { timeout: 5000 });
    clients.push(client);
    expect(client.protocol).toBe('ProtoBuf:1');
    expect((await client.startInstance('pw-pbcheck', {})).id).toBe(5);
  });

  it('refuses a protocol Kong does not speak', () => {
    expect(() => KongPluginClient.forServer({ socket: '/tmp/x.sock', protocol: 'Grpc:1' })).toThrow(
      KongRpcUsageError,
    );
    expect(
      () =>
        new KongPluginClient({ socketPath: '/tmp/x.sock', protocol: 'protobuf' as unknown as 'ProtoBuf:1' }),
    ).toThrow(KongRpcUsageError);
  });
});
