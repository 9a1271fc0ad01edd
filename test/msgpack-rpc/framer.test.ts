import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameTooLargeError, ProtocolError, RpcUsageError } from '../../src/msgpack-rpc/errors.js';
import { type Frame, FrameDecoder, type FrameDecoderOptions } from '../../src/msgpack-rpc/framer.js';
import { hex } from './helpers.js';

function frames(chunks: Uint8Array[], options?: FrameDecoderOptions): Frame[] {
  const framer = new FrameDecoder(options);
  const out: Frame[] = [];
  for (const chunk of chunks) {
    framer.push(chunk);
    for (let frame = framer.next(); frame; frame = framer.next()) out.push(frame);
  }
  return out;
}

function decoded(chunks: Uint8Array[], options?: FrameDecoderOptions): unknown[] {
  return frames(chunks, options).map((frame) => decode(frame.bytes));
}

/** Every two-chunk split plus byte-by-byte delivery. */
function everySplit(bytes: Uint8Array): Uint8Array[][] {
  const splits: Uint8Array[][] = [];
  for (let cut = 1; cut < bytes.length; cut++) splits.push([bytes.subarray(0, cut), bytes.subarray(cut)]);
  splits.push(Array.from(bytes, (_, index) => bytes.subarray(index, index + 1)));
  return splits;
}

function fatalError(run: () => unknown): ProtocolError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

const T1 = hex('94 00 01 a4 70 69 6e 67 90');
const T2 = hex('94 00 01 a4 70 69 6e 67 90 94 00 02 a4 70 69 6e 67 90');

describe('FrameDecoder', () => {
  it('T1: finds one request in one chunk and under every split', () => {
    expect(decoded([T1])).toEqual([[0, 1, 'ping', []]]);
    for (const split of everySplit(T1)) expect(decoded(split)).toEqual([[0, 1, 'ping', []]]);
  });

  it('T2/T3: finds two requests in one chunk and under every split, in order', () => {
    const expected = [
      [0, 1, 'ping', []],
      [0, 2, 'ping', []],
    ];
    expect(decoded([T2])).toEqual(expected);
    for (const split of everySplit(T2)) expect(decoded(split)).toEqual(expected);
  });

  it('T4: resumes when a chunk ends inside a uint32 header', () => {
    const expected = [[0, 70000, 'm', []]];
    expect(decoded([hex('94 00 ce'), hex('00 01 11 70 a1 6d 90')])).toEqual(expected);
    expect(decoded([hex('94 00 ce 00 01'), hex('11 70 a1 6d 90')])).toEqual(expected);
  });

  it('T5: frames that straddle chunks in several places', () => {
    const first = new Uint8Array([...T2.subarray(0, 9), 0x94, 0x00]);
    const second = hex('02 a4 70 69 6e 67 90 94 00 03 a4 70 69 6e 67 90');
    expect(decoded([first, second]).map((message) => (message as unknown[])[1])).toEqual([1, 2, 3]);
  });

  it('T6: reassembles an 8 MiB bin from 129 chunks with one copy and linear scanner work', () => {
    const payload = 8 * 1024 * 1024;
    const whole = new Uint8Array(9 + payload);
    whole.set(hex('94 01 01 c0 c6 00 80 00 00'));
    for (let index = 9; index < whole.length; index += 4099) whole[index] = index & 0xff;
    const framer = new FrameDecoder();
    const out: Frame[] = [];
    let chunksFed = 0;
    for (let offset = 0; offset < whole.length; offset += 65536) {
      framer.push(whole.subarray(offset, offset + 65536));
      chunksFed++;
      for (let frame = framer.next(); frame; frame = framer.next()) out.push(frame);
    }
    expect(chunksFed).toBe(129);
    expect(out).toHaveLength(1);
    expect(out[0]!.bytes.length).toBe(8_388_617);
    expect(framer.stats.bytesCopied).toBe(8_388_617);
    expect(framer.stats.scannerSteps).toBeLessThanOrEqual(5 + 129);
    const value = decode(out[0]!.bytes) as unknown[];
    expect((value[3] as Uint8Array).length).toBe(payload);
    expect(Buffer.compare(value[3] as Uint8Array, whole.subarray(9))).toBe(0);
  });

  it('returns frames inside one chunk as plain Uint8Array views without copying', () => {
    const chunk = Buffer.concat([Buffer.from(T1), Buffer.from(T1)]);
    const framer = new FrameDecoder();
    framer.push(chunk);
    const first = framer.next()!;
    expect(first.bytes.constructor).toBe(Uint8Array);
    expect(first.bytes.buffer).toBe(chunk.buffer);
    expect(framer.stats.bytesCopied).toBe(0);
    expect(framer.next()!.offset).toBe(9);
  });

  it('T7: end() inside a frame is a fatal truncated error', () => {
    const framer = new FrameDecoder();
    framer.push(hex('94 00 01 a4 70 69'));
    expect(framer.next()).toBeUndefined();
    const error = fatalError(() => framer.end());
    expect(error.reason).toBe('truncated');
    expect(error.fatal).toBe(true);
    expect(error.msgid).toBe(1);
  });

  it('T8: 0xc1 at a header position is fatal invalid-byte at its offset', () => {
    const framer = new FrameDecoder();
    framer.push(new Uint8Array([0xc1, ...T1]));
    const error = fatalError(() => framer.next());
    expect(error).toMatchObject({
      reason: 'invalid-byte',
      fatal: true,
      offset: 0,
      code: 'MSGPACK_RPC_PROTOCOL',
    });
    // Fatal means fatal: the same error again, T1 never comes out.
    expect(fatalError(() => framer.next())).toBe(error);
  });

  it('T9: records the envelope peek of the broken frame', () => {
    const framer = new FrameDecoder();
    framer.push(hex('94 00 01 a1 6d 91 c1'));
    const error = fatalError(() => framer.next());
    expect(error).toMatchObject({ reason: 'invalid-byte', offset: 6, messageType: 0, msgid: 1 });
    expect(error.preview).toBe('94 00 01 a1 6d 91 c1');
  });

  it('T10: a nested array16 bomb is rejected at the 101st header without large allocation', () => {
    const bomb = new Uint8Array(3000);
    for (let index = 0; index < 3000; index += 3) bomb.set([0xdc, 0xff, 0xff], index);
    const before = process.memoryUsage().heapUsed;
    const framer = new FrameDecoder();
    framer.push(bomb);
    const error = fatalError(() => framer.next());
    const growth = process.memoryUsage().heapUsed - before;
    expect(error).toBeInstanceOf(FrameTooLargeError);
    expect(error).toMatchObject({
      reason: 'depth-exceeded',
      offset: 300,
      code: 'MSGPACK_RPC_FRAME_TOO_LARGE',
    });
    expect(growth).toBeLessThan(16 * 1024 * 1024);
  });

  it('T11: an array count over maxArrayLength fails as soon as its 3 header bytes arrive', () => {
    const framer = new FrameDecoder({ maxArrayLength: 1024 });
    framer.push(hex('dc ff'));
    expect(framer.next()).toBeUndefined();
    framer.push(hex('ff'));
    expect(fatalError(() => framer.next()).reason).toBe('limit-exceeded');
  });

  it('T12/T13: huge declared counts and lengths fail after 5 bytes, without waiting for payload', () => {
    const array = new FrameDecoder();
    array.push(hex('dd 00 ff ff ff'));
    expect(fatalError(() => array.next()).reason).toBe('limit-exceeded');
    const string = new FrameDecoder();
    string.push(hex('db ff ff ff ff'));
    expect(fatalError(() => string.next())).toMatchObject({ reason: 'limit-exceeded', fatal: true });
  });

  it('T14: rejects a frame larger than maxFrameBytes right after the header that declares it', () => {
    const bytes = new Uint8Array([...hex('94 00 01 a1 6d 91 d9 3c'), ...new Uint8Array(60).fill(0x78)]);
    const framer = new FrameDecoder({ maxFrameBytes: 64 });
    for (let index = 0; index < 7; index++) {
      framer.push(bytes.subarray(index, index + 1));
      expect(framer.next()).toBeUndefined();
    }
    framer.push(bytes.subarray(7, 8));
    const error = fatalError(() => framer.next());
    expect(error).toBeInstanceOf(FrameTooLargeError);
    expect(error).toMatchObject({ reason: 'frame-too-large', msgid: 1, messageType: 0 });
  });

  it('rejects a container that declares more items than maxFrameBytes can hold', () => {
    const framer = new FrameDecoder({ maxFrameBytes: 100 });
    framer.push(hex('dc 00 ff'));
    expect(fatalError(() => framer.next()).reason).toBe('frame-too-large');
  });

  it('T15: maxDepth counts the envelope as depth 1', () => {
    const ok = frames([hex('93 02 a1 6e 91 91 01')], { maxDepth: 4 });
    expect(decode(ok[0]!.bytes)).toEqual([2, 'n', [[1]]]);
    const framer = new FrameDecoder({ maxDepth: 4 });
    framer.push(hex('93 02 a1 6e 91 91 91 91 01'));
    expect(fatalError(() => framer.next()).reason).toBe('depth-exceeded');
  });

  it('T32: refuses a string chunk as invalid-chunk', () => {
    const framer = new FrameDecoder();
    const error = fatalError(() => framer.push('abc' as unknown as Uint8Array));
    expect(error).toMatchObject({ reason: 'invalid-chunk', fatal: true });
  });

  it('flags bin, ext and unsafe 64-bit integers, and copies binary frames under binary: copy', () => {
    const [bin] = frames([hex('94 01 01 c0 c4 03 01 02 03')]);
    expect(bin).toMatchObject({
      hasBin: true,
      hasExt: false,
      hasUnsafeInteger: false,
      messageType: 1,
      msgid: 1,
    });
    const [ext] = frames([hex('94 01 01 c0 d6 ff 00 00 00 00')]);
    expect(ext!.hasExt).toBe(true);
    expect(frames([hex('94 01 01 c0 cf 00 20 00 00 00 00 00 01')])[0]!.hasUnsafeInteger).toBe(true);
    expect(frames([hex('94 01 01 c0 cf 00 1f ff ff ff ff ff ff')])[0]!.hasUnsafeInteger).toBe(false);
    expect(frames([hex('94 01 01 c0 d3 ff e0 00 00 00 00 00 00')])[0]!.hasUnsafeInteger).toBe(true);
    expect(frames([hex('94 01 01 c0 d3 ff e0 00 00 00 00 00 01')])[0]!.hasUnsafeInteger).toBe(false);
    const chunk = hex('94 01 01 c0 c4 03 01 02 03');
    const copied = new FrameDecoder();
    copied.push(chunk);
    expect(copied.next()!.bytes.buffer).not.toBe(chunk.buffer);
    const viewed = new FrameDecoder({ binary: 'view' });
    viewed.push(chunk);
    expect(viewed.next()!.bytes.buffer).toBe(chunk.buffer);
  });

  it('validates its limits', () => {
    expect(() => new FrameDecoder({ maxFrameBytes: 0 })).toThrow(RpcUsageError);
    expect(() => new FrameDecoder({ maxDepth: 1.5 })).toThrow(RpcUsageError);
  });
});

const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true }),
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('any'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 10 }), tie('any'), { maxKeys: 20 }),
  ),
})).any;

/** Cuts bytes at the given sorted cut points. */
function cutAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    out.push(bytes.subarray(start, point));
    start = point;
  }
  out.push(bytes.subarray(start));
  return out;
}

describe('FrameDecoder properties', () => {
  it('any message sequence, cut into random chunks, decodes to the same sequence', () => {
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (values, cuts) => {
          const encoded = values.map((item) => encode(item));
          const stream = new Uint8Array(Buffer.concat(encoded));
          const out = frames(cutAt(stream, cuts));
          // T72: every frame boundary matches.
          expect(out.map((frame) => frame.bytes.length)).toEqual(encoded.map((bytes) => bytes.length));
          expect(out.map((frame) => decode(frame.bytes))).toEqual(values.map((item) => decode(encode(item))));
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it('every strict prefix of a message reports incomplete', () => {
    fc.assert(
      fc.property(value, (item) => {
        const bytes = encode(item);
        for (let cut = 0; cut < bytes.length; cut++) {
          const framer = new FrameDecoder();
          framer.push(bytes.subarray(0, cut));
          expect(framer.next()).toBeUndefined();
        }
      }),
      { seed: 7, numRuns: 150 },
    );
  });

  it('random bytes never throw anything but a ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        const framer = new FrameDecoder({ maxFrameBytes: 4096 });
        try {
          for (const chunk of cutAt(bytes, cuts)) {
            framer.push(chunk);
            while (framer.next());
          }
          framer.end();
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { seed: 1, numRuns: 1000 },
    );
  });

  it('nested length bombs are rejected before allocation (heap, not time)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom(hex('dc ff ff'), hex('dd 00 0f ff ff'), hex('de ff ff'), hex('df 00 0f ff ff')),
          {
            minLength: 1,
            maxLength: 400,
          },
        ),
        (headers) => {
          const bomb = new Uint8Array(Buffer.concat(headers));
          const before = process.memoryUsage().heapUsed;
          const framer = new FrameDecoder();
          framer.push(bomb);
          try {
            framer.next();
          } catch (error) {
            expect(error).toBeInstanceOf(ProtocolError);
          }
          expect(process.memoryUsage().heapUsed - before).toBeLessThan(16 * 1024 * 1024);
        },
      ),
      { seed: 3, numRuns: 100 },
    );
  });
});
