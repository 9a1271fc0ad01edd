/**
 * Fuzz targets of kong-rpc's MsgPack:1 protocol: the plugin-server side (`KongPluginServer`) fed Kong requests,
 * and the Kong side (`KongPluginClient`) answered by a scripted, misbehaving server. Both run over in-memory
 * duplex pairs, so an input costs microseconds, not a socket round trip.
 */

import type { Duplex } from 'node:stream';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { KongPluginClient, KongPluginServer } from '../../src/kong-rpc/index.js';
import { FrameDecoder } from '../../src/msgpack-rpc/index.js';
import { createMemoryDuplexPair } from '../../src/msgpack-rpc/pair.js';
import { flatRecordingLogger } from '../helpers/logger.js';
import { expectTyped, type FuzzTarget, FuzzViolation, within } from './harness.js';
import {
  bombHeader,
  byteStream,
  cutAt,
  cuts,
  deepNesting,
  envelope,
  kongRequest,
  MiB,
  type Mutation,
  methodName,
  msgpackValue,
  mutate,
  mutations,
} from './inputs.js';
import { collectFrames } from './msgpack-rpc.js';
import { withTurnClock } from './turn-clock.js';

/**
 * Serves `serverSide` with `server`, writes `chunks` into `kongSide` and ends it; once the server has read
 * everything (it saw EOF, or gave up on the stream and closed it), closes the server and waits for the connection
 * to close, each step bounded. Both Kong servers' targets (MsgPack:1 and ProtoBuf:1) feed their input this way.
 */
export async function feedKongServer(
  server: KongPluginServer,
  kongSide: Duplex,
  serverSide: Duplex,
  chunks: readonly Uint8Array[],
): Promise<void> {
  const closed = new Promise<void>((resolve) => kongSide.once('close', resolve));
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
}

export const kongServerTarget: FuzzTarget<Uint8Array[]> = {
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
    await feedKongServer(server, kongSide, serverSide, chunks);
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
  readonly streams = new Set<Duplex>();
  steps: ServerStep[] = [];

  /** Serves one in-memory connection (what `connect` hands the client the other end of). */
  accept(stream: Duplex): void {
    this.streams.add(stream);
    stream.on('error', () => {});
    stream.once('close', () => this.streams.delete(stream));
    // A plugin server's socket closes when Kong closes its end (net's default allowHalfOpen: false).
    stream.once('end', () => stream.end());
    const framer = new FrameDecoder();
    stream.on('data', (chunk: Uint8Array) => {
      try {
        framer.push(chunk);
        for (let frame = framer.next(); frame; frame = framer.next()) this.answer(stream, frame.msgid ?? 0);
      } catch {
        stream.destroy();
      }
    });
  }

  private answer(stream: Duplex, id: number): void {
    const step = this.steps.shift();
    if (step === undefined || step.kind === 'close') {
      stream.destroy();
      return;
    }
    switch (step.kind) {
      case 'answer': {
        const bytes = mutate(encode([1, id, step.error, step.result]), step.mutations);
        for (const chunk of cutAt(bytes, step.cuts)) stream.write(chunk);
        return;
      }
      case 'raw':
        stream.write(step.bytes);
        return;
      case 'notify':
        stream.write(encode([2, 'serverPid', step.value]));
        // A notification is not an answer: the same request takes the next step too.
        this.answer(stream, id);
        return;
      case 'silent':
        return;
    }
  }
}

/**
 * The client's request timeout in the client target, in event-loop turns: the target runs on a turn clock
 * (turn-clock.ts), where one message over the in-memory pair takes a turn, so only a silent server (or a
 * truncated answer) lets it run out, and that costs microseconds, not a sleep. A whole event (HandleEvent, every
 * Step, the PDK calls: at most ~20 messages here) fits in it many times over.
 */
const CLIENT_TIMEOUT = 200;

export const kongClientTarget: FuzzTarget<ClientInput> = {
  name: 'kong-client',
  description:
    'KongPluginClient calls over in-memory connections to a server answering scripted, mutated responses',
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
  run(input) {
    return withTurnClock(() => runClient(input));
  },
};

async function runClient({ call, steps }: ClientInput): Promise<void> {
  const server = new ScriptedServer();
  server.steps = [...steps];
  const client = new KongPluginClient({
    // Only names the server in errors: every connection comes from `connect`.
    socketPath: 'fuzz.sock',
    connect: async () => {
      const [kongSide, serverSide] = createMemoryDuplexPair();
      server.accept(serverSide);
      return kongSide;
    },
    timeout: CLIENT_TIMEOUT,
    maxFrameBytes: 1 * MiB,
    retries: 1,
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
  // Every connection the client opened is closed at the server's end too (a destroy resets the other side).
  const open = [...server.streams].map(
    (stream) => new Promise<void>((resolve) => stream.once('close', () => resolve())),
  );
  await within(Promise.all(open), 2_000, 'the server ends of the closed connections');
}
