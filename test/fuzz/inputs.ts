/**
 * Input building blocks shared by the fuzz targets: msgpack values and msgpack-RPC envelopes, Kong requests,
 * byte-level mutations of valid encodings, random chunkings, length bombs and deep nesting.
 */
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';

export const MiB = 1024 * 1024;

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
export const BOMB_HEADERS: readonly number[][] = [
  [0xdb, 0xff, 0xff, 0xff, 0xff], // str32 of 4 GiB
  [0xc6, 0x7f, 0xff, 0xff, 0xff], // bin32 of 2 GiB
  [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 2^32−1 items
  [0xdf, 0xff, 0xff, 0xff, 0xff], // map32 of 2^32−1 entries
  [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], // ext32 of 4 GiB
  [0xdc, 0xff, 0xff], // array16
  [0xda, 0xff, 0xff], // str16
  [0xdb, 0x00, 0xff, 0xff, 0xff], // str32 of 16 MiB − 1: under the default frame cap, nothing may be reserved
];

export const bombHeader = fc.constantFrom(...BOMB_HEADERS.map((header) => Uint8Array.from(header)));

/** Deep nesting: `depth` one-element arrays (or maps) around a nil. */
export function nested(depth: number, map: boolean): Uint8Array {
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

export const deepNesting = fc
  .tuple(fc.integer({ min: 90, max: 20_000 }), fc.boolean())
  .map(([depth, map]) => nested(depth, map));

/** Values msgpack carries: JSON-like plus binaries. */
export const msgpackValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
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

export const methodName = fc.oneof(
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

export const msgid = fc.oneof(
  fc.nat({ max: 10 }),
  fc.nat(),
  fc.constantFrom(-1, 2 ** 32 - 1, 2 ** 32, 2 ** 53),
);

/** msgpack-RPC envelopes, well-formed or off by one element. */
export const envelope: fc.Arbitrary<unknown> = fc.oneof(
  fc.tuple(fc.constant(0), msgid, methodName, fc.array(msgpackValue, { maxLength: 3 })),
  fc.tuple(fc.constant(1), msgid, msgpackValue, msgpackValue),
  fc.tuple(fc.constant(2), methodName, fc.oneof(fc.array(msgpackValue, { maxLength: 3 }), msgpackValue)),
  fc.array(msgpackValue, { maxLength: 6 }),
  msgpackValue,
);

/** A Kong plugin-server request as Kong sends it, for the server target. */
export const kongParam = fc.oneof(
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

export const kongRequest = fc
  .tuple(fc.nat({ max: 20 }), methodName, kongParam)
  .map(([id, method, param]) => [0, id, method, [param]]);

export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'truncate'; at: number }
  | { op: 'duplicate'; at: number; length: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
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
export function mutateText(text: string, mutations: readonly Mutation[]): string {
  return Buffer.from(mutate(Buffer.from(text), mutations)).toString('utf8');
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export const mutations = fc.array(mutation, { maxLength: 4 });
export const cuts = fc.array(fc.nat(), { maxLength: 12 });

/** A byte stream: valid frames (possibly mutated), random bytes, bombs; then a random chunking. */
export function byteStream(frame: fc.Arbitrary<unknown>): fc.Arbitrary<Uint8Array[]> {
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

/** JSON.stringify replacer: binaries as arrays of numbers. */
export function jsonBytes(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? [...value] : value;
}

/** Kong versions (profiles) the kong-conf targets read with, one of them unsupported. */
export const kongVersion = fc.constantFrom('2.3', '2.8', '3.4', '3.9', '3.10', 'not-a-version');
