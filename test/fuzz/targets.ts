/**
 * Fuzz targets for every parser and message handler of pluginwire, shared by the CI suite (fuzz.test.ts, fixed
 * seed, modest runs) and `npm run fuzz` (scripts/fuzz.ts, longer runs).
 *
 * Each target draws arbitrary and mutated-valid inputs (and, for byte streams, a random chunking) and runs them
 * through the public API. The properties, checked by {@link runFuzzTarget} for every input:
 * - the only errors thrown or rejected are pluginwire errors (`instanceof PluginwireError`);
 * - every input settles within the target's time bound (async work is raced against a timer);
 * - the heap (JS heap plus array buffers) grows by less than the target's bound per input, so length bombs
 *   and deep nesting must be refused before anything proportional to the declared size is allocated;
 * - `Object.prototype` and `Array.prototype` keep their own properties (no prototype pollution);
 * - target-specific checks (e.g. a Kong server answers only with well-formed msgpack frames).
 *
 * The module-level unit tests (test/msgpack-rpc/framer.test.ts, test/goplugin/handshake.test.ts, …) already
 * check exact behaviour; these targets only check robustness, across every module at once.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { PluginwireError } from '../../src/errors.js';
import { FirstLineReader } from '../../src/goplugin/first-line.js';
import { HclogLineParser } from '../../src/goplugin/host/hclog-parse.js';
import { parseHandshake } from '../../src/goplugin/index.js';
import { kongProperties, parseDump, parseKongConf, resolvePluginServers } from '../../src/kong-conf/index.js';
import { KongPluginClient, KongPluginServer } from '../../src/kong-rpc/index.js';
import { FrameDecoder, KONG_PEER_OPTIONS, MessageCodec, parseMessage } from '../../src/msgpack-rpc/index.js';
import { createMemoryDuplexPair } from '../../src/msgpack-rpc/pair.js';
import { flatRecordingLogger } from '../helpers/logger.js';
import { protobufKongSideTarget } from './protobuf-kong-side.js';
import { protobufServerSideTarget } from './protobuf-server-side.js';

/** A property violation found by a target (as opposed to an expected, typed pluginwire error). */
export class FuzzViolation extends Error {
  override name = 'FuzzViolation';
}

/** One fuzz target. */
export interface FuzzTarget<T = unknown> {
  /** Short name, used on the command line. */
  readonly name: string;
  /** What is fuzzed. */
  readonly description: string;
  /** The inputs. */
  readonly arbitrary: fc.Arbitrary<T>;
  /** Runs one input; throws a {@link FuzzViolation} (or any non-pluginwire error) on a failure. */
  run(input: T): void | Promise<void>;
  /** Per-input bound in ms; generous, the machine is loaded. */
  readonly timeBound: number;
  /** Per-input bound on heap growth, in bytes. */
  readonly heapBound: number;
  /** Optional shared resources (a socket server) opened before the runs and closed after. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

/** Throws a {@link FuzzViolation} unless `error` is a pluginwire error. */
export function expectTyped(error: unknown, where: string): void {
  if (error instanceof PluginwireError) return;
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  throw new FuzzViolation(`${where}: untyped error ${text}`, { cause: error });
}

// ---------------------------------------------------------------------------------------------------------
// Input building blocks
// ---------------------------------------------------------------------------------------------------------

const MiB = 1024 * 1024;

/** Cuts `bytes` at the given points (taken modulo the length), in order. */
export function cutAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  if (bytes.length === 0) return [bytes];
  const points = [...new Set(cuts.map((cut) => cut % bytes.length))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    if (point > start) out.push(bytes.subarray(start, point));
    start = Math.max(start, point);
  }
  out.push(bytes.subarray(start));
  return out;
}

/** msgpack headers that declare huge sizes: the length bombs a framer must refuse from the header alone. */
const BOMB_HEADERS: readonly number[][] = [
  [0xdb, 0xff, 0xff, 0xff, 0xff], // str32 of 4 GiB
  [0xc6, 0x7f, 0xff, 0xff, 0xff], // bin32 of 2 GiB
  [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 2^32−1 items
  [0xdf, 0xff, 0xff, 0xff, 0xff], // map32 of 2^32−1 entries
  [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], // ext32 of 4 GiB
  [0xdc, 0xff, 0xff], // array16
  [0xda, 0xff, 0xff], // str16
  [0xdb, 0x00, 0xff, 0xff, 0xff], // str32 of 16 MiB − 1: under the default frame cap, nothing may be reserved
];

const bombHeader = fc.constantFrom(...BOMB_HEADERS.map((header) => Uint8Array.from(header)));

/** Deep nesting: `depth` one-element arrays (or maps) around a nil. */
function nested(depth: number, map: boolean): Uint8Array {
  const bytes = new Uint8Array(map ? depth * 2 + 1 : depth + 1);
  let at = 0;
  for (let level = 0; level < depth; level++) {
    if (map) {
      bytes[at++] = 0x81; // fixmap of 1
      bytes[at++] = 0x00; // key 0
    } else bytes[at++] = 0x91; // fixarray of 1
  }
  bytes[at] = 0xc0;
  return bytes;
}

const deepNesting = fc
  .tuple(fc.integer({ min: 90, max: 20_000 }), fc.boolean())
  .map(([depth, map]) => nested(depth, map));

/** Values msgpack carries: JSON-like plus binaries. */
const msgpackValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.string({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 5 }),
  ),
})).value;

const methodName = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'plugin.StartInstance',
      'plugin.CloseInstance',
      'plugin.InstanceStatus',
      'plugin.HandleEvent',
      'plugin.Step',
      'plugin.StepMultiMap',
      'plugin.StepError',
      'plugin.StepCredential',
      'plugin.GetPluginInfo',
      'plugin.GetStatus',
      'plugin.SetPluginDir',
      'serverPid',
      'kong.request.get_header',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

const msgid = fc.oneof(fc.nat({ max: 10 }), fc.nat(), fc.constantFrom(-1, 2 ** 32 - 1, 2 ** 32, 2 ** 53));

/** msgpack-RPC envelopes, well-formed or off by one element. */
const envelope: fc.Arbitrary<unknown> = fc.oneof(
  fc.tuple(fc.constant(0), msgid, methodName, fc.array(msgpackValue, { maxLength: 3 })),
  fc.tuple(fc.constant(1), msgid, msgpackValue, msgpackValue),
  fc.tuple(fc.constant(2), methodName, fc.oneof(fc.array(msgpackValue, { maxLength: 3 }), msgpackValue)),
  fc.array(msgpackValue, { maxLength: 6 }),
  msgpackValue,
);

/** A Kong plugin-server request as Kong sends it, for the server target. */
const kongParam = fc.oneof(
  fc.record({
    Name: fc.constantFrom('fuzz', 'other', ''),
    Config: fc.constantFrom('{}', '{"a":1}', '', '{'),
  }),
  fc.record({
    InstanceId: fc.oneof(fc.nat({ max: 5 }), fc.integer()),
    EventName: fc.constantFrom('access', 'log', 'x'),
  }),
  fc.record({ EventId: fc.oneof(fc.nat({ max: 5 }), fc.integer()), Data: msgpackValue }),
  fc.nat({ max: 5 }),
  msgpackValue,
);

const kongRequest = fc
  .tuple(fc.nat({ max: 20 }), methodName, kongParam)
  .map(([id, method, param]) => [0, id, method, [param]]);

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'truncate'; at: number }
  | { op: 'duplicate'; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 4 }), bombHeader),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
);

/** Applies byte-level mutations to a valid encoding. */
export function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out: Uint8Array = Uint8Array.from(bytes);
  for (const step of mutations) {
    const at = out.length === 0 ? 0 : step.at % (out.length + 1);
    switch (step.op) {
      case 'flip':
        if (out.length > 0) out[at % out.length]! ^= 1 << step.bit;
        break;
      case 'insert':
        out = concat([out.subarray(0, at), step.bytes, out.subarray(at)]);
        break;
      case 'delete':
        out = concat([out.subarray(0, at), out.subarray(at + step.length)]);
        break;
      case 'truncate':
        out = out.slice(0, at);
        break;
      case 'duplicate':
        out = concat([out.subarray(0, at + step.length), out.subarray(at)]);
        break;
    }
  }
  return out;
}

/** Applies the same mutations to text (as UTF-8 bytes, decoded back leniently). */
function mutateText(text: string, mutations: readonly Mutation[]): string {
  return Buffer.from(mutate(Buffer.from(text), mutations)).toString('utf8');
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

const mutations = fc.array(mutation, { maxLength: 4 });
const cuts = fc.array(fc.nat(), { maxLength: 12 });

/** A byte stream: valid frames (possibly mutated), random bytes, bombs; then a random chunking. */
function byteStream(frame: fc.Arbitrary<unknown>): fc.Arbitrary<Uint8Array[]> {
  const piece = fc.oneof(
    // Mostly well-formed frames, so the stream gets past the first one (errors are fatal: msgpack cannot resync).
    { weight: 8, arbitrary: frame.map((value) => encode(value)) },
    {
      weight: 3,
      arbitrary: fc.tuple(frame, mutations).map(([value, steps]) => mutate(encode(value), steps)),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: bombHeader },
    { weight: 1, arbitrary: deepNesting },
  );
  return fc
    .tuple(fc.array(piece, { minLength: 1, maxLength: 6 }), cuts)
    .map(([pieces, points]) => cutAt(concat(pieces), points));
}

/** Runs `work` and resolves when it settles or `bound` ms pass (then rejects with a FuzzViolation). */
export async function within<T>(work: Promise<T>, bound: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FuzzViolation(`${what} did not settle within ${bound} ms`)), bound);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------
// msgpack-rpc
// ---------------------------------------------------------------------------------------------------------

const framerTarget: FuzzTarget<Uint8Array[]> = {
  name: 'msgpack-framer',
  description:
    'FrameDecoder over chunked streams of mutated envelopes, random bytes, length bombs, deep nesting',
  arbitrary: byteStream(envelope),
  timeBound: 2_000,
  heapBound: 8 * MiB,
  run(chunks) {
    const framer = new FrameDecoder();
    let pushed = 0;
    try {
      for (const chunk of chunks) {
        framer.push(chunk);
        pushed += chunk.length;
        while (framer.next());
        // The framer never holds more than what it was given (it keeps chunks by reference, copies once).
        if (framer.bufferedBytes > pushed) throw new FuzzViolation('framer buffers more than it was given');
      }
      framer.end();
    } catch (error) {
      expectTyped(error, 'FrameDecoder');
    }
  },
};

const kongCodec = new MessageCodec({ ...KONG_PEER_OPTIONS });
const standardCodec = new MessageCodec();

const validatorTarget: FuzzTarget<{ bytes: Uint8Array; kong: boolean; wrap: boolean }> = {
  name: 'msgpack-validator',
  description: 'MessageCodec.decode + parseMessage on one (mutated) frame, standard and Kong profiles',
  arbitrary: fc.record({
    bytes: fc.oneof(
      {
        weight: 5,
        arbitrary: fc.tuple(envelope, mutations).map(([value, steps]) => mutate(encode(value), steps)),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
      { weight: 1, arbitrary: deepNesting },
      {
        weight: 1,
        arbitrary: fc.tuple(bombHeader, fc.uint8Array({ maxLength: 8 })).map(([a, b]) => concat([a, b])),
      },
    ),
    kong: fc.boolean(),
    wrap: fc.boolean(),
  }),
  timeBound: 2_000,
  heapBound: 16 * MiB,
  run({ bytes, kong, wrap }) {
    let value: unknown;
    try {
      value = (kong ? kongCodec : standardCodec).decode(bytes);
    } catch (error) {
      expectTyped(error, 'MessageCodec.decode');
      return;
    }
    try {
      const message = parseMessage(value, { nonArrayParams: wrap ? 'wrap' : 'reject' });
      if (message.kind !== 'response' && !Array.isArray(message.params))
        throw new FuzzViolation('parseMessage returned non-array params');
    } catch (error) {
      expectTyped(error, 'parseMessage');
    }
  },
};

/** Drains a stream into frames; every frame must decode (the server only writes well-formed msgpack). */
function collectFrames(stream: NodeJS.ReadableStream): { check(): void } {
  const framer = new FrameDecoder({ maxFrameBytes: 128 * MiB });
  let failure: unknown;
  stream.on('data', (chunk: Uint8Array) => {
    try {
      framer.push(chunk);
      for (let frame = framer.next(); frame; frame = framer.next()) {
        parseMessage(kongCodec.decode(frame), { nonArrayParams: 'wrap' });
      }
    } catch (error) {
      failure ??= error;
    }
  });
  return {
    check() {
      if (failure !== undefined)
        throw new FuzzViolation('the server wrote a malformed message', { cause: failure });
    },
  };
}

const kongServerTarget: FuzzTarget<Uint8Array[]> = {
  name: 'kong-server',
  description:
    'KongPluginServer.serve on an in-memory connection fed chunked Kong requests, mutations and bombs',
  arbitrary: byteStream(fc.oneof({ weight: 4, arbitrary: kongRequest }, { weight: 1, arbitrary: envelope })),
  timeBound: 5_000,
  heapBound: 32 * MiB,
  async run(chunks) {
    const errors: unknown[] = [];
    const server = new KongPluginServer({
      name: 'fuzz',
      // Instance and event ids from 1, so the small ids the inputs draw name live instances and events.
      instanceIdBase: 1,
      eventTimeout: 1_000,
      maxFrameBytes: 1 * MiB,
      logger: flatRecordingLogger((entry) => {
        if (entry.error !== undefined && entry.level === 'warn') errors.push(entry.error);
      }),
    });
    server.addPlugin({
      name: 'fuzz',
      version: '1.0.0',
      priority: 1,
      schema: [],
      create: () => ({
        async access(kong) {
          await kong.request.getHeader('host');
        },
        log() {
          throw new Error('plugin failure');
        },
      }),
    });
    const [kongSide, serverSide] = createMemoryDuplexPair();
    kongSide.on('error', () => {});
    const frames = collectFrames(kongSide);
    const closed = new Promise<void>((resolve) => kongSide.once('close', resolve));
    // The server side has read everything once it sees EOF (or it gave up on the stream and closed it).
    const consumed = new Promise<void>((resolve) => {
      serverSide.once('end', resolve);
      serverSide.once('close', resolve);
    });
    server.serve(serverSide);
    for (const chunk of chunks) kongSide.write(chunk);
    kongSide.end();
    await within(consumed, 4_000, 'the server reading the input');
    // Let handlers that are already running answer before the close.
    await new Promise((resolve) => setImmediate(resolve));
    await within(server.close(), 4_000, 'KongPluginServer.close');
    await within(closed, 4_000, 'the connection close');
    frames.check();
    if (server.activeEvents !== 0) throw new FuzzViolation(`${server.activeEvents} events left after close`);
    for (const error of errors) expectTyped(error, 'KongPluginServer connection error');
  },
};

/** One scripted answer of the fake plugin server in the client target. */
type ServerStep =
  | { kind: 'answer'; error: unknown; result: unknown; mutations: Mutation[]; cuts: number[] }
  | { kind: 'raw'; bytes: Uint8Array }
  | { kind: 'notify'; value: unknown }
  | { kind: 'close' }
  | { kind: 'silent' };

interface ClientInput {
  call: 'getStatus' | 'getPluginInfo' | 'startInstance' | 'runEvent';
  steps: ServerStep[];
}

const kongResult = fc.oneof(
  msgpackValue,
  fc.record({ Id: fc.nat({ max: 5 }), Config: fc.constant('{}'), StartTime: fc.nat() }),
  fc.record({
    EventId: fc.nat({ max: 5 }),
    Data: fc.oneof(fc.constant('ret'), msgpackValue),
    Method: methodName,
  }),
  fc.record({
    Name: fc.constant('fuzz'),
    Phases: fc.constant(['access']),
    Priority: fc.nat(),
    Version: fc.constant('1'),
  }),
);

const serverStep: fc.Arbitrary<ServerStep> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('answer' as const),
      error: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, msgpackValue),
      result: kongResult,
      mutations: fc.oneof({ weight: 2, arbitrary: fc.constant<Mutation[]>([]) }, mutations),
      cuts,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      bytes: fc.oneof(fc.uint8Array({ maxLength: 32 }), bombHeader, deepNesting),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('notify' as const), value: fc.oneof(fc.nat(), msgpackValue) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'silent' as const }) },
);

/** The fake plugin server of the client target: answers each request with the next scripted step. */
class ScriptedServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'pw-fuzz-'));
  readonly path = join(this.dir, 'fuzz.sock');
  readonly sockets = new Set<Duplex>();
  steps: ServerStep[] = [];
  private server: Server | undefined;

  async open(): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
  }

  /** One in-memory connection, served like an accepted socket (KongPluginClientOptions.connect). */
  async connectMemory(): Promise<Duplex> {
    const [client, server] = createMemoryDuplexPair();
    this.accept(server);
    return client;
  }

  private accept(socket: Duplex): void {
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => this.sockets.delete(socket));
    const framer = new FrameDecoder();
    socket.on('data', (chunk: Uint8Array) => {
      try {
        framer.push(chunk);
        for (let frame = framer.next(); frame; frame = framer.next()) this.answer(socket, frame.msgid ?? 0);
      } catch {
        socket.destroy();
      }
    });
  }

  private answer(socket: Duplex, id: number): void {
    const step = this.steps.shift();
    if (step === undefined || step.kind === 'close') {
      socket.destroy();
      return;
    }
    switch (step.kind) {
      case 'answer': {
        const bytes = mutate(encode([1, id, step.error, step.result]), step.mutations);
        for (const chunk of cutAt(bytes, step.cuts)) socket.write(chunk);
        return;
      }
      case 'raw':
        socket.write(step.bytes);
        return;
      case 'notify':
        socket.write(encode([2, 'serverPid', step.value]));
        // A notification is not an answer: the same request takes the next step too.
        this.answer(socket, id);
        return;
      case 'silent':
        return;
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let scripted: ScriptedServer | undefined;

const kongClientTarget: FuzzTarget<ClientInput> = {
  name: 'kong-client',
  description:
    'KongPluginClient calls against a real Unix-socket server answering scripted, mutated responses',
  arbitrary: fc.record({
    call: fc.constantFrom(
      'getStatus' as const,
      'getPluginInfo' as const,
      'startInstance' as const,
      'runEvent' as const,
    ),
    steps: fc.array(serverStep, { maxLength: 8 }),
  }),
  timeBound: 5_000,
  heapBound: 32 * MiB,
  async setup() {
    scripted = new ScriptedServer();
    await scripted.open();
  },
  async teardown() {
    await scripted?.close();
    scripted = undefined;
  },
  run: (input) => runKongClient(input, 'socket'),
};

/** The same calls over in-memory duplexes (`KongPluginClientOptions.connect`): no socket, no kernel. */
const kongClientMemoryTarget: FuzzTarget<ClientInput> = {
  ...kongClientTarget,
  name: 'kong-client-memory',
  description: 'KongPluginClient calls over in-memory duplexes against the same scripted, mutated responses',
  run: (input) => runKongClient(input, 'memory'),
};

async function runKongClient({ call, steps }: ClientInput, transport: 'socket' | 'memory'): Promise<void> {
  const server = scripted!;
  server.steps = [...steps];
  const client = new KongPluginClient({
    socketPath: server.path,
    timeout: 300,
    connectTimeout: 1_000,
    maxFrameBytes: 1 * MiB,
    retries: 1,
    ...(transport === 'memory' ? { connect: () => server.connectMemory() } : {}),
  });
  const work = (async () => {
    switch (call) {
      case 'getStatus':
        return client.getStatus();
      case 'getPluginInfo':
        return client.getPluginInfo('fuzz');
      case 'startInstance':
        return client.startInstance('fuzz', { a: 1 });
      case 'runEvent':
        return client.runEvent('fuzz', {}, 'access', (method) =>
          method === 'kong.request.get_header' ? 'h' : null,
        );
    }
  })();
  try {
    await within(work, 4_000, `KongPluginClient.${call}`);
  } catch (error) {
    if (error instanceof FuzzViolation) throw error;
    expectTyped(error, `KongPluginClient.${call}`);
  }
  await within(client.close(), 2_000, 'KongPluginClient.close');
  if (client.connections !== 0) throw new FuzzViolation(`${client.connections} connections left after close`);
}

// ---------------------------------------------------------------------------------------------------------
// goplugin
// ---------------------------------------------------------------------------------------------------------

const handshakeLine = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('1', '2', '01', ' 1', ''),
      fc.constantFrom('1', '2', '3', '-1', '99999999999999999999', 'x'),
      fc.constantFrom('unix', 'tcp', 'udp', ''),
      fc.oneof(
        fc.constantFrom('/tmp/plugin1', '127.0.0.1:1234', '[::1]:99999', ''),
        fc.string({ maxLength: 30 }),
      ),
      fc.constantFrom('grpc', 'netrpc', '', 'GRPC'),
      fc.oneof(fc.constant(''), fc.base64String({ maxLength: 80 }), fc.string({ maxLength: 20 })),
      fc.constantFrom('', 'true', 'false', 'x'),
      fc.nat({ max: 7 }),
    )
    .map(([core, app, network, address, protocol, cert, multiplex, fields]) =>
      [core, app, network, address, protocol, cert, multiplex].slice(0, fields + 1).join('|'),
    ),
  fc.string({ maxLength: 100 }),
  fc.constantFrom('x'.repeat(70_000), `1|1|unix|${'a'.repeat(65_600)}|grpc`),
);

const handshakeTarget: FuzzTarget<{
  line: string;
  mutations: Mutation[];
  suffix: string;
  cuts: number[];
  autoMTLS: boolean;
  compat: 'current' | 'splitN6';
}> = {
  name: 'goplugin-handshake',
  description: 'FirstLineReader over chunked stdout + parseHandshake with every option combination',
  arbitrary: fc.record({
    line: handshakeLine,
    mutations,
    suffix: fc.constantFrom('\n', '\r\n', '', '\nmore output\n'),
    cuts,
    autoMTLS: fc.boolean(),
    compat: fc.constantFrom('current' as const, 'splitN6' as const),
  }),
  timeBound: 2_000,
  heapBound: 16 * MiB,
  run({ line, mutations: steps, suffix, cuts: points, autoMTLS, compat }) {
    const stdout = mutate(Buffer.from(line + suffix), steps);
    const reader = new FirstLineReader();
    let first: string | undefined;
    try {
      for (const chunk of cutAt(stdout, points)) {
        first = reader.push(chunk);
        if (first !== undefined) break;
      }
      first ??= reader.end();
    } catch (error) {
      expectTyped(error, 'FirstLineReader');
      return;
    }
    try {
      parseHandshake(first, { autoMTLS, compat, protocols: ['grpc', 'netrpc'], versions: [1, 2] });
    } catch (error) {
      expectTyped(error, 'parseHandshake');
    }
  },
};

/** JSON.stringify replacer: binaries as arrays of numbers. */
function jsonBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? [...value] : value;
}

const hclogLine = fc.oneof(
  fc
    .record(
      {
        '@level': fc.oneof(
          fc.constantFrom('info', 'WARN', ' debug ', 'trace', 'error', 'nope', ''),
          msgpackValue,
        ),
        '@message': fc.oneof(fc.string({ maxLength: 30 }), msgpackValue),
        '@timestamp': fc.oneof(
          fc.constantFrom(
            '2026-11-22T09:11:09.326383Z',
            '2026-02-30T09:11:09.326383Z',
            '0001-01-01T00:00:00.000000+24:00',
          ),
          fc.string({ maxLength: 30 }),
        ),
        constructor: msgpackValue,
        field: msgpackValue,
      },
      { requiredKeys: [] },
    )
    .chain((record) =>
      fc.tuple(
        fc.constant(JSON.stringify(record, jsonBytes)),
        fc.option(fc.json({ maxDepth: 2 }), { nil: undefined }),
      ),
    )
    // A literal `__proto__` member (an object literal or fc.record would set the prototype instead of a key).
    .map(([json, proto]) =>
      proto === undefined ? json : `{"__proto__":${proto}${json === '{}' ? '' : ','}${json.slice(1)}`,
    ),
  fc
    .tuple(
      fc.constantFrom('[INFO] ', '[WARN]', '[ERROR] x', 'panic: ', 'fatal error: ', '', 'goroutine 1'),
      fc.string(),
    )
    .map(([tag, rest]) => tag + rest),
  fc.integer({ min: 1, max: 5_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 1, max: 5_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
);

const hclogTarget: FuzzTarget<string[]> = {
  name: 'hclog',
  description: 'HclogLineParser on (mutated) hclog JSON lines, tagged text, panics and deep JSON nesting',
  arbitrary: fc.array(
    fc.tuple(hclogLine, mutations).map(([line, steps]) => mutateText(line, steps)),
    { minLength: 1, maxLength: 8 },
  ),
  timeBound: 2_000,
  heapBound: 16 * MiB,
  run(lines) {
    const parser = new HclogLineParser();
    for (const line of lines) {
      const entry = parser.parse(line);
      if (typeof entry.message !== 'string' || entry.raw !== line)
        throw new FuzzViolation('entry without message or raw line');
      if (Object.getPrototypeOf(entry.fields) !== Object.prototype)
        throw new FuzzViolation('a log line replaced the prototype of its fields object');
    }
  },
};

// ---------------------------------------------------------------------------------------------------------
// kong-conf
// ---------------------------------------------------------------------------------------------------------

const confKey = fc.constantFrom(
  'pluginserver_names',
  'pluginserver_js_socket',
  'pluginserver_js_start_cmd',
  'pluginserver_js_query_cmd',
  'pluginserver_go_start_cmd',
  'plugins',
  'prefix',
  'go_plugins_dir',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'pluginserver___proto___socket',
  'Plugins',
  'x-y.z',
);

const confValue = fc.oneof(
  fc.constantFrom(
    'js, go',
    '__proto__,constructor',
    'bundled,js',
    'off',
    'on',
    '"quoted"',
    'a\\#b # c',
    '0123',
    '',
    '\\',
  ),
  fc.string({ maxLength: 30 }),
);

const confLine = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(confKey, fc.constantFrom(' = ', '=', ' =', '= '), confValue)
      .map((parts) => parts.join('')),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '# comment',
      '; comment',
      '[section]',
      '[',
      '  ',
      'no equals sign',
      'a = b \\',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

const confText = fc.oneof(
  { weight: 8, arbitrary: fc.array(confLine, { maxLength: 12 }).map((lines) => lines.join('\n')) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `x = ${'\\'.repeat(50_000)}`,
      `${'a\\\n'.repeat(5_000)}= 1`,
      '\ufeffprefix = /x',
    ),
  },
);

const kongVersion = fc.constantFrom('2.3', '2.8', '3.4', '3.9', '3.10', 'not-a-version');

const prototypeSnapshot = (): string => Object.getOwnPropertyNames(Object.prototype).sort().join(',');

const kongConfTarget: FuzzTarget<{ text: string; mutations: Mutation[]; version: string; env: boolean }> = {
  name: 'kong-conf',
  description: 'parseKongConf + kongProperties + resolvePluginServers on (mutated) kong.conf text',
  arbitrary: fc.record({ text: confText, mutations, version: kongVersion, env: fc.boolean() }),
  timeBound: 2_000,
  heapBound: 32 * MiB,
  run({ text, mutations: steps, version, env }) {
    const source = mutateText(text, steps);
    const conf = parseKongConf(source, { kongVersion: version });
    for (const key of conf.keys()) conf.get(key);
    const environment = env
      ? { KONG___PROTO__: 'x', KONG_CONSTRUCTOR: 'y', KONG_PLUGINSERVER_NAMES: 'js' }
      : {};
    try {
      const properties = kongProperties(conf, { kongVersion: version, env: environment });
      properties.get('__proto__');
      properties.get('pluginserver_names');
    } catch (error) {
      expectTyped(error, 'kongProperties');
    }
    try {
      const result = resolvePluginServers(conf, { kongVersion: version, env: environment });
      for (const server of result.servers)
        if (typeof server.name !== 'string') throw new FuzzViolation('nameless server');
    } catch (error) {
      if (error instanceof FuzzViolation) throw error;
      expectTyped(error, 'resolvePluginServers');
    }
  },
};

const dumpJson = fc.oneof(
  fc
    .record({
      Protocol: fc.constantFrom('MsgPack:1', 'ProtoBuf:1', 'x'),
      Plugins: fc.array(
        fc.oneof(
          fc.record(
            {
              Name: fc.oneof(fc.constantFrom('js-hello', '__proto__', 'constructor'), msgpackValue),
              Priority: fc.oneof(fc.integer(), msgpackValue),
              Version: fc.string({ maxLength: 5 }),
              Phases: fc.array(fc.constantFrom('access', 'log', 'x'), { maxLength: 3 }),
              Schema: msgpackValue,
            },
            { requiredKeys: [] },
          ),
          msgpackValue,
        ),
        { maxLength: 3 },
      ),
    })
    .map((dump) => JSON.stringify(dump, jsonBytes)),
  fc.json({ maxDepth: 4 }),
  fc.integer({ min: 900, max: 20_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc
    .integer({ min: 900, max: 20_000 })
    .map((depth) => `{"Plugins":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`),
  fc.constantFrom(
    '',
    'null',
    '"x"',
    '1e99999',
    '[1,]',
    '{"a":1,"a":2}',
    '\ufeff[]',
    `"${'\\u0000'.repeat(1000)}"`,
  ),
);

const dumpTarget: FuzzTarget<{ text: string; mutations: Mutation[]; prefix: string; version: string }> = {
  name: 'kong-conf-dump',
  description: 'parseDump on (mutated) query-command JSON, log-line prefixes and deep nesting',
  arbitrary: fc.record({
    text: dumpJson,
    mutations,
    prefix: fc.constantFrom('', 'starting…\n', ' ', '\n'),
    version: kongVersion,
  }),
  timeBound: 2_000,
  heapBound: 32 * MiB,
  run({ text, mutations: steps, prefix, version }) {
    try {
      const dump = parseDump(prefix + mutateText(text, steps), {
        kongVersion: version,
        command: 'fuzz -dump',
      });
      if (!Array.isArray(dump.plugins) || !Array.isArray(dump.registered))
        throw new FuzzViolation('dump without plugin lists');
    } catch (error) {
      if (error instanceof FuzzViolation) throw error;
      expectTyped(error, 'parseDump');
    }
  },
};

/** Every target, in the order `npm run fuzz` runs them. */
export const FUZZ_TARGETS: readonly FuzzTarget<never>[] = [
  framerTarget,
  validatorTarget,
  kongServerTarget,
  kongClientTarget,
  kongClientMemoryTarget,
  handshakeTarget,
  hclogTarget,
  kongConfTarget,
  dumpTarget,
  protobufKongSideTarget,
  protobufServerSideTarget,
] as unknown as readonly FuzzTarget<never>[];

// ---------------------------------------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------------------------------------

/** The outcome of {@link runFuzzTarget}. */
export interface FuzzReport {
  target: string;
  /** Inputs tried. */
  runs: number;
  seed: number;
  failed: boolean;
  /** fast-check's report (counterexample, seed, path) when it failed. */
  message: string | undefined;
  /** Largest heap growth seen for one input, bytes. */
  peakHeapGrowth: number;
  /** Slowest input, ms. */
  slowest: number;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `Error: ${String(error)}`;
  const cause =
    error.cause instanceof Error ? `\ncaused by: ${error.cause.stack ?? error.cause.message}` : '';
  return `${error.stack ?? `${error.name}: ${error.message}`}${cause}`;
}

function heapNow(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * Runs one target for `runs` inputs from `seed`, checking every property of the file comment.
 *
 * @returns counts and, on failure, fast-check's report with the (shrunk) counterexample.
 */
export async function runFuzzTarget(
  target: FuzzTarget<never>,
  options: { runs: number; seed: number },
): Promise<FuzzReport> {
  const prototypeBefore = prototypeSnapshot();
  const arrayPrototypeBefore = Object.getOwnPropertyNames(Array.prototype).sort().join(',');
  let tried = 0;
  let peakHeapGrowth = 0;
  let slowest = 0;
  await target.setup?.();
  try {
    const property = fc.asyncProperty(target.arbitrary as fc.Arbitrary<unknown>, async (input) => {
      tried++;
      const heapBefore = heapNow();
      const start = performance.now();
      const outcome = (target.run as (value: unknown) => void | Promise<void>)(input);
      if (outcome instanceof Promise) await within(outcome, target.timeBound, target.name);
      const took = performance.now() - start;
      const growth = heapNow() - heapBefore;
      slowest = Math.max(slowest, took);
      peakHeapGrowth = Math.max(peakHeapGrowth, growth);
      if (took > target.timeBound) throw new FuzzViolation(`one input took ${Math.round(took)} ms`);
      if (growth > target.heapBound) {
        throw new FuzzViolation(`one input grew the heap by ${Math.round(growth / MiB)} MiB`);
      }
      if (prototypeSnapshot() !== prototypeBefore) throw new FuzzViolation('Object.prototype was modified');
      if (Object.getOwnPropertyNames(Array.prototype).sort().join(',') !== arrayPrototypeBefore)
        throw new FuzzViolation('Array.prototype was modified');
    });
    const details = await fc.check(property, { seed: options.seed, numRuns: options.runs });
    return {
      target: target.name,
      runs: tried,
      seed: options.seed,
      failed: details.failed,
      message: details.failed
        ? `${fc.defaultReportMessage(details)}\n${describeError(details.errorInstance)}`
        : undefined,
      peakHeapGrowth,
      slowest,
    };
  } finally {
    await target.teardown?.();
  }
}
