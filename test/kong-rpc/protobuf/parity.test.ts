/**
 * The same TypeScript plugins with the same PDK answers produce the same outcome over MsgPack:1 and ProtoBuf:1:
 * pluginwire's Kong side (KongPluginClient) against its plugin-server side (KongPluginServer), over a real Unix
 * socket, once per protocol. Compared: the PDK calls and their arguments as Kong's PDK callback receives them,
 * what the plugin got back, the terminal call, the event's outcome, and the server's log lines.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type KongPdk,
  type KongPdkHandler,
  KongPluginClient,
  KongPluginServer,
  type KongProtocol,
} from '../../../src/kong-rpc/index.js';
import { type FlatLogEntry, flatRecordingLogger } from '../../helpers/logger.js';

interface Case {
  name: string;
  /** The plugin's access phase; what it returns is recorded as what the plugin saw. */
  access(kong: KongPdk): Promise<unknown>;
  /** Kong's PDK answers by method. */
  answers: Record<string, unknown>;
}

/** Kong-side answers use lists for every header, as Kong's get_headers gives multi-valued ones. */
const CASES: Case[] = [
  {
    name: 'reads a header and sets another',
    access: async (kong) => {
      const host = await kong.request.getHeader('host');
      await kong.response.setHeader('x-host', host ?? '');
      return host;
    },
    answers: { 'kong.request.get_header': 'example.com' },
  },
  {
    name: 'logs with several arguments',
    access: (kong) => kong.log.info('status', 200, true, 1.5, 'done'),
    answers: {},
  },
  {
    name: 'reads multimaps',
    access: async (kong) => [await kong.request.getHeaders(10), await kong.request.getQuery(5)],
    answers: {
      'kong.request.get_headers': { host: ['example.com'], 'x-multi': ['a', 'b'] },
      'kong.request.get_query': { q: ['term'] },
    },
  },
  {
    name: 'shares context values',
    access: async (kong) => {
      await kong.ctx.shared.set('k', { list: [1, 'two'], nested: { ok: true } });
      return kong.ctx.shared.get('k');
    },
    answers: { 'kong.ctx.shared.get': { list: [1, 'two'], nested: { ok: true } } },
  },
  {
    name: 'reads entities and numbers',
    access: async (kong) => [
      await kong.client.getConsumer(),
      await kong.request.getPort(),
      await kong.request.getHttpVersion(),
      await kong.ip.isTrusted('10.0.0.1'),
    ],
    answers: {
      'kong.client.get_consumer': {
        id: 'c1',
        created_at: 1700000000,
        username: 'alice',
        custom_id: 'a',
        tags: ['x'],
      },
      'kong.request.get_port': 8000,
      'kong.request.get_http_version': 1.1,
      'kong.ip.is_trusted': true,
    },
  },
  {
    name: 'reads the raw body',
    access: async (kong) => Buffer.from((await kong.request.getRawBody()) ?? new Uint8Array()).toString(),
    answers: { 'kong.request.get_raw_body': Buffer.from('hello') },
  },
  {
    name: 'changes the upstream request',
    access: async (kong) => {
      await kong.service.request.setHeaders({ 'x-a': ['1', '2'] });
      await kong.service.setTarget('backend', 8080);
      await kong.response.setStatus(201);
    },
    answers: {},
  },
  {
    name: 'ends the request with kong.response.exit',
    access: async (kong) => {
      await kong.request.getPath();
      await kong.response.exit(403, 'forbidden', { 'x-why': ['policy'] });
      return kong.log.warn('after exit').then(
        () => 'sent',
        (error: Error) => error.name,
      );
    },
    answers: { 'kong.request.get_path': '/p' },
  },
];

/** Lua strings are bytes: ProtoBuf:1's `bytes` fields (ExitArgs.body) reach Kong as Buffers, msgpack's as text. */
function normal(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (Array.isArray(value)) return value.map(normal);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, normal(item)]));
  }
  return value;
}

const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});

async function run(protocol: KongProtocol, plugin: Case | 'throws') {
  const dir = mkdtempSync(join(tmpdir(), 'pw-parity-'));
  const socketPath = join(dir, 'parity.socket');
  const logs: FlatLogEntry[] = [];
  const seen: unknown[] = [];
  const server = new KongPluginServer({
    socketPath,
    protocol,
    logger: flatRecordingLogger((entry) => logs.push(entry)),
  });
  server.addPlugin({
    name: 'parity',
    version: '1.0.0',
    phases: ['access'],
    create: () => ({
      async access(kong) {
        if (plugin === 'throws') {
          await kong.request.getPath();
          throw new Error('boom');
        }
        seen.push(await plugin.access(kong));
      },
    }),
  });
  await server.listen();
  const client = new KongPluginClient({ socketPath, protocol, timeout: 5_000 });
  disposers.push(async () => {
    client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const calls: unknown[] = [];
  const answers = plugin === 'throws' ? { 'kong.request.get_path': '/p' } : plugin.answers;
  const pdk: KongPdkHandler = (method, args) => {
    calls.push([method, normal(args)]);
    return (answers as Record<string, unknown>)[method];
  };
  const outcome = await client.runEvent('parity', {}, 'access', pdk).then(
    (result) => ({ ok: normal(result) }),
    (error: Error) => ({ failed: error.message.includes('plugin parity failed in phase access: boom') }),
  );
  return {
    calls,
    seen: normal(seen),
    outcome,
    logs: logs.filter((entry) => entry.level === 'error').map((entry) => entry.message),
  };
}

describe('parity: the same plugins over MsgPack:1 and ProtoBuf:1', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, plugin) => {
    const msgpack = await run('MsgPack:1', plugin);
    const protobuf = await run('ProtoBuf:1', plugin);
    expect(protobuf).toEqual(msgpack);
    expect(msgpack.calls.length).toBeGreaterThan(0);
  });

  it('a throwing handler fails the event on both, with the plugin’s message, and is logged the same', async () => {
    const msgpack = await run('MsgPack:1', 'throws');
    const protobuf = await run('ProtoBuf:1', 'throws');
    expect(msgpack.outcome).toEqual({ failed: true });
    expect(protobuf).toEqual(msgpack);
    expect(protobuf.logs).toEqual(['plugin parity failed in phase access']);
  });
});
