import { ExtensionCodec } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_MAP, MessageCodec } from '../../src/msgpack-rpc/codec.js';
import { EncodeError, ProtocolError, RpcUsageError } from '../../src/msgpack-rpc/errors.js';
import {
  declaredLength,
  HEADER_KIND,
  HEADER_SIZE,
  integerValue,
  KIND_ARRAY,
  KIND_MAP,
  KIND_SCALAR,
} from '../../src/msgpack-rpc/format.js';
import { FrameDecoder } from '../../src/msgpack-rpc/framer.js';
import { hex, toHex } from './helpers.js';

/** The position of every header in an encoded value (payload bytes skipped). */
function headerPositions(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let position = 0;
  while (position < bytes.length) {
    const first = bytes[position]!;
    out.push(position);
    const kind = HEADER_KIND[first];
    if (kind === KIND_SCALAR || kind === KIND_ARRAY || kind === KIND_MAP) position += HEADER_SIZE[first]!;
    else position += HEADER_SIZE[first]! + declaredLength(bytes, position);
  }
  return out;
}

const standard = new MessageCodec();
const kong = new MessageCodec({ encoding: 'kong' });

function encodeError(codec: MessageCodec, value: unknown): EncodeError {
  try {
    codec.encode(value);
  } catch (error) {
    expect(error).toBeInstanceOf(EncodeError);
    return error as EncodeError;
  }
  throw new Error('expected an EncodeError');
}

function decodeError(codec: MessageCodec, bytes: Uint8Array): ProtocolError {
  try {
    codec.decode(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

describe('MessageCodec encoding', () => {
  it('returns independent Buffers in both modes (write() takes them without a conversion)', () => {
    for (const encoding of ['standard', 'kong'] as const) {
      const codec = new MessageCodec({ encoding });
      const first = codec.encode([0, 1, 'a', [1]]);
      const second = codec.encode([0, 2, 'b', [2]]);
      expect(Buffer.isBuffer(first) && Buffer.isBuffer(second)).toBe(true);
      // The encoder's scratch buffer is reused; a returned value must not change under the next encode.
      expect([...first]).toEqual([0x94, 0x00, 0x01, 0xa1, 0x61, 0x91, 0x01]);
      expect([...second]).toEqual([0x94, 0x00, 0x02, 0xa1, 0x62, 0x91, 0x02]);
    }
  });

  it('T34: an error text of 32 bytes is str8 in standard mode and str16 in Kong mode', () => {
    const message = [1, 1, 'method not found: method.missing', null];
    expect(toHex(standard.encode(message))).toMatch(/^94 01 01 d9 20 6d 65 74 68 6f 64 /);
    expect(toHex(kong.encode(message))).toMatch(/^94 01 01 da 00 20 6d 65 74 68 6f 64 /);
  });

  it('T35: Kong mode never writes str8', () => {
    expect(toHex(kong.encode('x'.repeat(31))).slice(0, 2)).toBe('bf');
    expect(toHex(kong.encode('x'.repeat(255))).slice(0, 8)).toBe('da 00 ff');
    expect(toHex(kong.encode('x'.repeat(256))).slice(0, 8)).toBe('da 01 00');
    expect(toHex(kong.encode('é'.repeat(20))).slice(0, 8)).toBe('da 00 28');
    expect(toHex(kong.encode('x'.repeat(70000))).slice(0, 14)).toBe('db 00 01 11 70');
  });

  it('T36: numbers have the same encoding in both modes', () => {
    const cases: [number, string][] = [
      [200, 'cc c8'],
      [1234, 'cd 04 d2'],
      [-200, 'd1 ff 38'],
      [-33, 'd0 df'],
      [65536, 'ce 00 01 00 00'],
      [1.5, 'cb 3f f8 00 00 00 00 00 00'],
      [2 ** 53, 'cb 43 40 00 00 00 00 00 00'],
    ];
    for (const [value, bytes] of cases) {
      expect(toHex(standard.encode(value))).toBe(bytes);
      expect(toHex(kong.encode(value))).toBe(bytes);
    }
    expect(toHex(kong.encode(-0))).toBe('00');
    expect(toHex(kong.encode(5_000_000_000))).toBe('cf 00 00 00 01 2a 05 f2 00');
    expect(toHex(kong.encode(-5_000_000_000))).toBe(toHex(standard.encode(-5_000_000_000)));
    // Kong's integer range excludes ±(2^53−1): those go out as doubles.
    expect(toHex(kong.encode(Number.MAX_SAFE_INTEGER)).slice(0, 2)).toBe('cb');
  });

  it('T37: Kong mode omits undefined map entries and keeps null ones', () => {
    expect(toHex(kong.encode({ EventId: 0, Data: undefined }))).toBe('81 a7 45 76 65 6e 74 49 64 00');
    expect(toHex(kong.encode({ EventId: 0, Data: null }))).toBe(
      '82 a7 45 76 65 6e 74 49 64 00 a4 44 61 74 61 c0',
    );
  });

  it('T38: empty containers and binaries', () => {
    const values = [{}, [], EMPTY_MAP, { a: undefined }, new Uint8Array([1, 2, 3]), Buffer.from([1, 2, 3])];
    expect(values.map((value) => toHex(standard.encode(value)))).toEqual([
      '80',
      '90',
      '80',
      '81 a1 61 c0',
      'c4 03 01 02 03',
      'c4 03 01 02 03',
    ]);
    expect(values.map((value) => toHex(kong.encode(value)))).toEqual([
      '90',
      '90',
      '80',
      '90',
      'c4 03 01 02 03',
      'c4 03 01 02 03',
    ]);
  });

  it('T39: refuses values msgpack would mangle into an empty map, in both modes', () => {
    for (const codec of [standard, kong]) {
      for (const value of [
        new Map([['a', 1]]),
        new Set([1]),
        new ArrayBuffer(3),
        /x/,
        new Error('e'),
        () => 1,
      ]) {
        expect(encodeError(codec, [0, 1, 'm', [value]]).reason).toBe('unsupported-type');
      }
      expect(encodeError(codec, Symbol('s')).reason).toBe('unsupported-type');
    }
  });

  it('T40: a Date is a timestamp ext in standard mode and refused in Kong mode', () => {
    expect(toHex(standard.encode(new Date(0)))).toBe('d6 ff 00 00 00 00');
    expect(encodeError(kong, new Date(0)).reason).toBe('ext-in-kong-mode');
  });

  it('T41: bigint needs encodeBigInt, and numbers keep their encoding with it', () => {
    const message = [0, 1, 'm', [2n ** 63n, -1n, 5_000_000_000]];
    expect(encodeError(standard, message).reason).toBe('bigint-disabled');
    expect(encodeError(kong, message).reason).toBe('bigint-disabled');
    const withBigInt = new MessageCodec({ encodeBigInt: true });
    // The spec's T41 writes the envelope as `94 01 01`; a request is type 0, so `94 00 01`.
    expect(toHex(withBigInt.encode(message))).toBe(
      '94 00 01 a1 6d 93 cf 80 00 00 00 00 00 00 00 d3 ff ff ff ff ff ff ff ff cf 00 00 00 01 2a 05 f2 00',
    );
    expect(toHex(withBigInt.encode(-5_000_000_000))).toBe(toHex(standard.encode(-5_000_000_000)));
    expect(toHex(withBigInt.encode([1.5, 'cb', new Uint8Array([0xcb])]))).toBe(
      toHex(standard.encode([1.5, 'cb', new Uint8Array([0xcb])])),
    );
  });

  it('T42: a Kong HandleEvent request is byte-exact', () => {
    expect(toHex(kong.encode([0, 7, 'plugin.HandleEvent', [{ InstanceId: 3, EventName: 'access' }]]))).toBe(
      '94 00 07 b2 70 6c 75 67 69 6e 2e 48 61 6e 64 6c 65 45 76 65 6e 74 91 82 aa 49 6e 73 74 61 6e 63 65 49 64 03 a9 45 76 65 6e 74 4e 61 6d 65 a6 61 63 63 65 73 73',
    );
  });

  it('T45: refuses a message over maxOutgoingFrameBytes', () => {
    const small = new MessageCodec({ maxOutgoingFrameBytes: 16 });
    expect(small.encode('x'.repeat(15)).length).toBe(16);
    expect(encodeError(small, 'x'.repeat(16)).reason).toBe('frame-too-large');
    const smallKong = new MessageCodec({ encoding: 'kong', maxOutgoingFrameBytes: 16 });
    expect(encodeError(smallKong, 'x'.repeat(16)).reason).toBe('frame-too-large');
  });

  it('refuses nesting over 100 in both modes', () => {
    let deep: unknown = 1;
    for (let depth = 0; depth < 101; depth++) deep = [deep];
    expect(encodeError(standard, deep).reason).toBe('too-deep');
    expect(encodeError(kong, deep).reason).toBe('too-deep');
  });

  it('Kong mode refuses values its extension codec would encode as ext', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    const extensionCodec = new ExtensionCodec();
    extensionCodec.register({
      type: 1,
      encode: (value) => (value instanceof Point ? new Uint8Array([value.x]) : null),
      decode: (data) => new Point(data[0]!),
    });
    const codec = new MessageCodec({ encoding: 'kong', extensionCodec });
    expect(encodeError(codec, new Point(1)).reason).toBe('ext-in-kong-mode');
  });

  it('Kong encoding decodes back to the same values (apart from Lua empty-table and undefined rules)', () => {
    const plain = fc.letrec((tie) => ({
      any: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.double({ noNaN: true }),
        fc.string({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 70 }),
        fc.array(tie('any'), { maxLength: 8 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), tie('any'), { minKeys: 1, maxKeys: 8 }),
      ),
    })).any;
    fc.assert(
      fc.property(plain, (value) => {
        const bytes = kong.encode(value);
        expect(standard.decode(bytes)).toEqual(standard.decode(standard.encode(value)));
        const headers = headerPositions(bytes);
        expect(headers.map((position) => bytes[position])).not.toContain(0xd9);
        // Kong's unsigned mode: a signed form only ever holds a negative value.
        for (const position of headers) {
          const first = bytes[position]!;
          if (first >= 0xd0 && first <= 0xd3) expect(integerValue(bytes, position)).toBeLessThan(0);
        }
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});

describe('MessageCodec decoding', () => {
  it('T31: int64 policies', () => {
    const bytes = hex('94 01 01 c0 cf 00 20 00 00 00 00 00 01');
    expect((new MessageCodec().decode(bytes) as unknown[])[3]).toBe(9007199254740993n);
    expect((new MessageCodec({ int64: 'lossy' }).decode(bytes) as unknown[])[3]).toBe(9007199254740992);
    expect((new MessageCodec({ int64: 'bigint' }).decode(bytes) as unknown[])[3]).toBe(9007199254740993n);
    expect(decodeError(new MessageCodec({ int64: 'reject' }), bytes)).toMatchObject({
      reason: 'unsafe-integer',
      fatal: false,
      msgid: 1,
      messageType: 1,
    });
    // 'auto' turns in-range bigints of a flagged frame back into numbers.
    const mixed = hex('92 cf 00 00 00 00 00 00 00 05 cf 00 20 00 00 00 00 00 01');
    expect(new MessageCodec().decode(mixed)).toEqual([5, 9007199254740993n]);
    expect(new MessageCodec({ int64: 'bigint' }).decode(hex('cf 00 00 00 00 00 00 00 05'))).toBe(5n);
  });

  it('T26/T27: map keys that are not strings or numbers, and __proto__, fail as decode-failed', () => {
    expect(decodeError(standard, hex('94 00 01 a1 6d 91 81 c0 c0'))).toMatchObject({
      reason: 'decode-failed',
      msgid: 1,
      messageType: 0,
    });
    const proto = decodeError(standard, hex('94 00 01 a1 6d 91 81 a9 5f 5f 70 72 6f 74 6f 5f 5f 01'));
    expect(proto.reason).toBe('decode-failed');
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(standard.decode(hex('81 01 a1 61'))).toEqual({ 1: 'a' });
  });

  it('T29: an extension decoder throwing RangeError is decode-failed with the cause, not "more data"', () => {
    const extensionCodec = new ExtensionCodec();
    extensionCodec.register({
      type: 5,
      encode: () => null,
      decode: () => {
        throw new RangeError('bad ext');
      },
    });
    const codec = new MessageCodec({ extensionCodec });
    const error = decodeError(codec, hex('94 01 01 c0 d4 05 00'));
    expect(error.reason).toBe('decode-failed');
    expect(error.cause).toBeInstanceOf(RangeError);
  });

  it('T30: bin values are plain Uint8Arrays that do not alias the chunk', () => {
    const chunk = Buffer.from(hex('94 01 01 c0 c4 03 01 02 03'));
    const framer = new FrameDecoder();
    framer.push(chunk);
    const value = standard.decode(framer.next()!) as unknown[];
    chunk.fill(0);
    const bin = value[3] as Uint8Array;
    expect(bin.constructor).toBe(Uint8Array);
    expect(bin.buffer).not.toBe(chunk.buffer);
    expect([...bin]).toEqual([1, 2, 3]);
  });

  it('T32b: ext: reject refuses a frame with an ext value; the default decodes a timestamp to Date', () => {
    const bytes = hex('94 01 01 c0 d6 ff 00 00 00 00');
    expect(decodeError(new MessageCodec({ ext: 'reject' }), bytes).reason).toBe('unexpected-ext');
    expect((standard.decode(bytes) as unknown[])[3]).toEqual(new Date(0));
  });

  it('decoding raw bytes that are not exactly one object fails with a typed error', () => {
    expect(decodeError(standard, hex('94 00 01')).reason).toBe('truncated');
    expect(decodeError(standard, hex('01 02')).reason).toBe('decode-failed');
    expect(decodeError(standard, hex('c1')).reason).toBe('invalid-byte');
  });

  it('passes limits to the Decoder', () => {
    const codec = new MessageCodec({ maxStrLength: 2 });
    expect(decodeError(codec, hex('a3 61 62 63')).reason).toBe('limit-exceeded');
  });

  it('validates options', () => {
    expect(() => new MessageCodec({ encoding: 'x' as 'kong' })).toThrow(RpcUsageError);
    expect(() => new MessageCodec({ int64: 'x' as 'auto' })).toThrow(RpcUsageError);
    expect(() => new MessageCodec({ maxOutgoingFrameBytes: -1 })).toThrow(RpcUsageError);
  });
});
