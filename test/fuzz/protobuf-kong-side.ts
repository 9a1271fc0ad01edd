/**
 * Fuzz target: ProtoBuf:1 frames into the Kong side. A real Unix-socket server answers each call of a
 * ProtoBuf:1 `KongPluginClient` with fuzzed bytes: mutations of valid PDK loops (method-name and argument frames
 * of every rpc of `service Kong`, empty frames, RpcReturns with right and wrong sequences), random frames, random
 * and over-cap lengths, random chunkings, and a close or silence at the end. Every call must settle with a
 * pluginwire error or a result, within its bound, leaving no connection behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { KongPluginClient } from '../../src/kong-rpc/index.js';
import { encodeFrame, FrameReader } from '../../src/kong-rpc/protobuf/framing.js';
import { kongPdkMethods } from '../../src/kong-rpc/protobuf/methods.js';
import { messageType } from '../../src/kong-rpc/protobuf/schema.js';
import { expectTyped, type FuzzTarget, FuzzViolation, within } from './targets.js';

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

class FuzzedPluginServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'pw-fuzz-pb-'));
  readonly path = join(this.dir, 'pb.sock');
  input: Input | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  async open(): Promise<void> {
    const server = createServer((socket) => this.serve(socket));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new FrameReader(MiB);
    socket.on('data', (chunk) => {
      reader.push(chunk);
      let frame: Buffer | undefined;
      try {
        frame = reader.read();
      } catch {
        socket.destroy();
        return;
      }
      if (frame === undefined || this.input === undefined) return;
      socket.removeAllListeners('data');
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
        if (end > offset) socket.write(bytes.subarray(offset, end));
        offset = end;
      }
      if (this.input.end === 'close') socket.end();
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let fuzzed: FuzzedPluginServer | undefined;

const RESULTS: Record<Input['result'], unknown> = {
  string: 'example.com',
  nil: undefined,
  table: { a: ['x', 'y'], b: true },
  number: 42,
  bytes: new Uint8Array([0, 255]),
};

/** The ProtoBuf:1 Kong-side fuzz target. */
export const protobufKongSideTarget: FuzzTarget<Input> = {
  name: 'protobuf-kong-side',
  description: 'ProtoBuf:1 KongPluginClient calls against a real Unix-socket server writing fuzzed frames',
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
  async setup() {
    fuzzed = new FuzzedPluginServer();
    await fuzzed.open();
  },
  async teardown() {
    await fuzzed?.close();
    fuzzed = undefined;
  },
  async run(input) {
    const server = fuzzed!;
    server.input = input;
    const client = new KongPluginClient({
      socketPath: server.path,
      protocol: 'ProtoBuf:1',
      timeout: 300,
      connectTimeout: 1_000,
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
    if (client.connections !== 0)
      throw new FuzzViolation(`${client.connections} connections left after close`);
  },
};
