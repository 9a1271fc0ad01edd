/**
 * Fuzz target: ProtoBuf:1 frames into the plugin-server side (KongPluginServer with `protocol: 'ProtoBuf:1'`).
 * Kong's frames (RpcCalls for small instance ids, PDK results of every shape) arrive valid, mutated, as random
 * bytes or as length bombs, in random chunks. Besides the suite's properties (typed errors only, bounded time
 * and heap, no prototype pollution), the server must write only well-formed frames, end every event, and keep
 * running: the plugin throws, exits and reads every kind of result.
 */

import fc from 'fast-check';
import { KongPluginServer } from '../../src/kong-rpc/index.js';
import { FrameReader } from '../../src/kong-rpc/protobuf/framing.js';
import { messageType } from '../../src/kong-rpc/protobuf/schema.js';
import { createMemoryDuplexPair } from '../../src/msgpack-rpc/pair.js';
import { flatRecordingLogger } from '../helpers/logger.js';
import { feedKongServer } from './kong-rpc.js';
import { cutAt, expectTyped, type FuzzTarget, FuzzViolation, mutate } from './targets.js';

const MiB = 1024 * 1024;

function frame(payload: Uint8Array): Uint8Array {
  const out = Buffer.alloc(4 + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.set(payload, 4);
  return out;
}

const encodeMessage = (type: string, value: Record<string, unknown>) =>
  messageType(`kong_plugin_protocol.${type}`).encode(value).finish();

const instanceId = fc.integer({ min: 0, max: 4 });
const rpcCall = fc
  .tuple(
    fc.integer({ min: 0, max: 2 ** 40 }),
    fc.oneof(
      fc.record({
        cmd_start_instance: fc.record({
          name: fc.constantFrom('fuzz', 'other'),
          config: fc
            .constantFrom('{}', '{"__seq__":2}', '[]', '{"x":', 'null')
            .map((text) => Buffer.from(text)),
        }),
      }),
      fc.record({
        cmd_handle_event: fc.record({
          instance_id: instanceId,
          event_name: fc.constantFrom('access', 'log', 'rewrite', ''),
        }),
      }),
      fc.record({ cmd_get_instance_status: fc.record({ instance_id: instanceId }) }),
      fc.record({ cmd_close_instance: fc.record({ instance_id: instanceId }) }),
      fc.record({ cmd_get_plugin_names: fc.constant({}) }),
      fc.record({ cmd_get_plugin_info: fc.record({ name: fc.constantFrom('fuzz', 'x') }) }),
      fc.constant({}),
    ),
  )
  .map(([sequence, command]) => encodeMessage('RpcCall', { sequence, ...command }));

/** PDK results: every output shape the plugin reads, plus empty frames. */
const pdkResult = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.string({ maxLength: 16 }).map((v) => encodeMessage('String', { v })),
  fc
    .record({ content: fc.uint8Array({ maxLength: 16 }) })
    .map((value) => encodeMessage('RawBodyResult', value)),
  fc.constant(encodeMessage('RawBodyResult', { error: 'no body' })),
  fc.constant(encodeMessage('RawBodyResult', { body_filepath: '/nonexistent/pluginwire-fuzz' })),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }).map((headers) =>
    messageType('google.protobuf.Struct')
      .encode({
        fields: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, { string_value: v }])),
      })
      .finish(),
  ),
  fc.constant(encodeMessage('MemoryStats', { lua_shared_dicts: { kong: { capacity: 5 } } })),
  fc.uint8Array({ maxLength: 24 }),
);

const bomb = fc.oneof(
  fc.constantFrom(
    Buffer.from('ffffffff', 'hex'),
    Buffer.from('000000b0', 'hex'),
    Buffer.from('94000100', 'hex'),
  ),
  fc.integer({ min: MiB + 1, max: 2 ** 32 - 1 }).map((length) => {
    const header = Buffer.alloc(4);
    header.writeUInt32LE(length);
    return header;
  }),
);

const mutation = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
);

const piece = fc.oneof(
  { weight: 6, arbitrary: rpcCall.map(frame) },
  { weight: 6, arbitrary: pdkResult.map(frame) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.oneof(rpcCall, pdkResult), fc.array(mutation, { maxLength: 3 }))
      .map(([payload, steps]) => mutate(frame(payload), steps)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 32 }) },
  { weight: 1, arbitrary: bomb },
);

/** The ProtoBuf:1 plugin-server side fed chunked frames. */
export const protobufServerSideTarget: FuzzTarget<Uint8Array[]> = {
  name: 'protobuf-server-side',
  description:
    'KongPluginServer (ProtoBuf:1) on an in-memory connection fed chunked RpcCalls, PDK results, mutations and bombs',
  arbitrary: fc
    .tuple(fc.array(piece, { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 12 }))
    .map(([pieces, points]) => cutAt(Buffer.concat(pieces), points)),
  timeBound: 5_000,
  heapBound: 32 * MiB,
  async run(chunks) {
    const errors: unknown[] = [];
    const server = new KongPluginServer({
      name: 'fuzz',
      protocol: 'ProtoBuf:1',
      instanceIdBase: 1,
      eventTimeout: 1_000,
      maxFrameBytes: MiB,
      logger: flatRecordingLogger((entry) => {
        if (entry.error !== undefined && entry.level === 'warn') errors.push(entry.error);
      }),
    });
    server.addPlugin({
      name: 'fuzz',
      version: '1.0.0',
      phases: ['access', 'log'],
      create: () => ({
        async access(kong) {
          await kong.request.getHeader('host');
          await kong.request.getHeaders();
          await kong.request.getRawBody().catch((error: unknown) => expectTyped(error, 'get_raw_body'));
          await kong.node.getMemoryStats();
          await kong.router.getRoute();
          throw new Error('plugin failure');
        },
        async log(kong) {
          await kong.ctx.shared.get('k');
          await kong.response.exit(403, { message: 'no' });
        },
      }),
    });
    const [kongSide, serverSide] = createMemoryDuplexPair();
    kongSide.on('error', () => {});
    // Every byte the server writes must split into frames (none over the cap).
    const reader = new FrameReader(MiB);
    let malformed: unknown;
    kongSide.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
        while (reader.read() !== undefined);
      } catch (error) {
        malformed ??= error;
      }
    });
    await feedKongServer(server, kongSide, serverSide, chunks);
    if (malformed !== undefined)
      throw new FuzzViolation('the server wrote a malformed frame', { cause: malformed });
    if (server.activeEvents !== 0) throw new FuzzViolation(`${server.activeEvents} events left after close`);
    for (const error of errors) expectTyped(error, 'ProtoBuf:1 connection error');
  },
};
