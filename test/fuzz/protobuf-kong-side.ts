/**
 * Fuzz target: ProtoBuf:1 frames into the Kong side. A fuzzed plugin server answers each call of a ProtoBuf:1
 * `KongPluginClient` with fuzzed bytes: mutations of valid PDK loops (method-name and argument frames of every
 * rpc of `service Kong`, empty frames, RpcReturns with right and wrong sequences), random frames, random and
 * over-cap lengths, random chunkings, and a close or silence at the end. Every call must settle with a
 * pluginwire error or a result, within its bound, leaving no connection behind at either end.
 *
 * Like `kong-client` (kong-rpc.ts), it runs over in-memory duplex pairs (the client's `connect` option) on the
 * turn clock (turn-clock.ts): on a real Unix socket with a 300 ms timeout every silent or truncated answer slept
 * for the timeout (2,000 inputs took 42 s); here it costs the turns the exchange takes.
 */
import type { Duplex } from 'node:stream';
import fc from 'fast-check';
import { KongPluginClient } from '../../src/kong-rpc/index.js';
import { encodeFrame, FrameReader } from '../../src/kong-rpc/protobuf/framing.js';
import { kongPdkMethods } from '../../src/kong-rpc/protobuf/methods.js';
import { messageType } from '../../src/kong-rpc/protobuf/schema.js';
import { createMemoryDuplexPair } from '../../src/msgpack-rpc/index.js';
import { expectTyped, type FuzzTarget, FuzzViolation, within } from './targets.js';
import { withTurnClock } from './turn-clock.js';

const MiB = 1024 * 1024;
const METHOD_NAMES = [...kongPdkMethods().keys()];

/** One frame (or raw bytes) the fuzzed server writes. */
type Piece =
  | { kind: 'call'; method: string; argument: Uint8Array }
  | { kind: 'frame'; payload: Uint8Array }
  | { kind: 'end-loop' }
  | { kind: 'return'; sequenceDelta: number; status: boolean }
  | { kind: 'raw'; bytes: Uint8Array }
  | { kind: 'length'; length: number };

const piece: fc.Arbitrary<Piece> = fc.oneof(
  fc.record({
    kind: fc.constant('call' as const),
    method: fc.oneof(fc.constantFrom(...METHOD_NAMES), fc.string({ maxLength: 30 })),
    argument: fc.uint8Array({ maxLength: 40 }),
  }),
  fc.record({ kind: fc.constant('frame' as const), payload: fc.uint8Array({ maxLength: 60 }) }),
  fc.constant({ kind: 'end-loop' as const }),
  fc.record({
    kind: fc.constant('return' as const),
    sequenceDelta: fc.constantFrom(0, 0, 0, 1, -1, 1e6),
    status: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('raw' as const), bytes: fc.uint8Array({ maxLength: 12 }) }),
  fc.record({
    kind: fc.constant('length' as const),
    length: fc.oneof(fc.constantFrom(0, 2 * MiB, 0xffffffff, 0xb0010094), fc.nat()),
  }),
);

interface Input {
  call: 'startInstance' | 'handleEvent' | 'runEvent' | 'instanceStatus';
  pieces: Piece[];
  cuts: number[];
  end: 'close' | 'silent';
  result: 'string' | 'nil' | 'table' | 'number' | 'bytes';
}

function bytesOf(pieces: Piece[], sequence: number): Uint8Array {
  const RpcReturn = messageType('kong_plugin_protocol.RpcReturn');
  const parts: Uint8Array[] = [];
  for (const p of pieces) {
    switch (p.kind) {
      case 'call': {
        parts.push(encodeFrame(Buffer.from(p.method)));
        // Half the time a valid argument of the method's input type, else the fuzzed bytes.
        const method = kongPdkMethods().get(p.method);
        if (method !== undefined && p.argument.length % 2 === 0) {
          const type = messageType(method.inputType);
          parts.push(encodeFrame(type.encode(type.create({})).finish()));
        } else parts.push(encodeFrame(p.argument));
        break;
      }
      case 'frame':
        parts.push(encodeFrame(p.payload));
        break;
      case 'end-loop':
        parts.push(encodeFrame(new Uint8Array(0)));
        break;
      case 'return': {
        const value = {
          sequence: sequence + p.sequenceDelta,
          ...(p.status ? { instance_status: { instance_id: 3 } } : {}),
        };
        parts.push(encodeFrame(RpcReturn.encode(RpcReturn.fromObject(value)).finish()));
        break;
      }
      case 'raw':
        parts.push(p.bytes);
        break;
      case 'length': {
        const header = Buffer.alloc(4);
        header.writeUInt32LE(p.length >>> 0, 0);
        parts.push(header);
        break;
      }
    }
  }
  return Buffer.concat(parts);
}

/** The fuzzed plugin server: answers the first frame of each connection with the input's bytes. */
class FuzzedPluginServer {
  readonly streams = new Set<Duplex>();

  constructor(readonly input: Input) {}

  /** Serves one in-memory connection (what `connect` hands the client the other end of). */
  accept(stream: Duplex): void {
    this.streams.add(stream);
    stream.once('close', () => this.streams.delete(stream));
    stream.on('error', () => {});
    // A plugin server's socket closes when Kong closes its end (net's default allowHalfOpen: false).
    stream.once('end', () => stream.end());
    const reader = new FrameReader(MiB);
    stream.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      let frame: Buffer | undefined;
      try {
        frame = reader.read();
      } catch {
        stream.destroy();
        return;
      }
      if (frame === undefined) return;
      stream.removeAllListeners('data');
      const RpcCall = messageType('kong_plugin_protocol.RpcCall');
      let sequence = 0;
      try {
        sequence = Number(
          (RpcCall.toObject(RpcCall.decode(frame), { longs: Number }) as { sequence?: number }).sequence ?? 0,
        );
      } catch {
        // The client always sends a valid RpcCall; keep going with 0.
      }
      const bytes = bytesOf(this.input.pieces, sequence);
      let offset = 0;
      for (const cut of [...this.input.cuts, bytes.length]) {
        const end = Math.min(bytes.length, offset + Math.max(1, cut));
        if (end > offset) stream.write(bytes.subarray(offset, end));
        offset = end;
      }
      if (this.input.end === 'close') stream.end();
    });
  }
}

const RESULTS: Record<Input['result'], unknown> = {
  string: 'example.com',
  nil: undefined,
  table: { a: ['x', 'y'], b: true },
  number: 42,
  bytes: new Uint8Array([0, 255]),
};

/**
 * The client's timeout in event-loop turns (the target runs on the turn clock): one message over the in-memory
 * pair takes a turn, and the fuzzed server writes everything it has on the first frame, so only a silent or
 * truncated answer lets it run out. An input's exchange (at most 10 pieces in up to 7 chunks, and the client's
 * answers to the PDK calls among them) fits in it many times over.
 */
const CLIENT_TIMEOUT = 200;

/** The ProtoBuf:1 Kong-side fuzz target. */
export const protobufKongSideTarget: FuzzTarget<Input> = {
  name: 'protobuf-kong-side',
  description:
    'ProtoBuf:1 KongPluginClient calls over in-memory connections to a server writing fuzzed frames',
  arbitrary: fc.record({
    call: fc.constantFrom(
      'startInstance' as const,
      'handleEvent' as const,
      'runEvent' as const,
      'instanceStatus' as const,
    ),
    pieces: fc.array(piece, { maxLength: 10 }),
    cuts: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 6 }),
    end: fc.constantFrom('close' as const, 'silent' as const),
    result: fc.constantFrom(
      'string' as const,
      'nil' as const,
      'table' as const,
      'number' as const,
      'bytes' as const,
    ),
  }),
  timeBound: 5_000,
  heapBound: 32 * MiB,
  run(input) {
    return withTurnClock(() => runClient(input));
  },
};

async function runClient(input: Input): Promise<void> {
  const server = new FuzzedPluginServer(input);
  const client = new KongPluginClient({
    // Only names the server in errors: every connection comes from `connect`.
    socketPath: 'fuzz.sock',
    connect: async () => {
      const [kongSide, serverSide] = createMemoryDuplexPair();
      server.accept(serverSide);
      return kongSide;
    },
    protocol: 'ProtoBuf:1',
    timeout: CLIENT_TIMEOUT,
    maxFrameBytes: MiB,
    retries: 1,
  });
  const pdk = () => RESULTS[input.result];
  const work = (async () => {
    switch (input.call) {
      case 'startInstance':
        return client.startInstance('fuzz', { a: 1 });
      case 'handleEvent':
        return client.handleEvent(3, 'access', pdk);
      case 'runEvent':
        return client.runEvent('fuzz', {}, 'access', pdk);
      case 'instanceStatus':
        return client.instanceStatus(3);
    }
  })();
  try {
    await within(work, 4_000, `ProtoBuf:1 KongPluginClient.${input.call}`);
  } catch (error) {
    if (error instanceof FuzzViolation) throw error;
    expectTyped(error, `ProtoBuf:1 KongPluginClient.${input.call}`);
  }
  await within(client.close(), 2_000, 'KongPluginClient.close');
  if (client.connections !== 0) throw new FuzzViolation(`${client.connections} connections left after close`);
  // Every connection the client opened is closed at the server's end too (a destroy resets the other side).
  const open = [...server.streams].map(
    (stream) => new Promise<void>((resolve) => stream.once('close', () => resolve())),
  );
  await within(Promise.all(open), 2_000, 'the server ends of the closed connections');
}
