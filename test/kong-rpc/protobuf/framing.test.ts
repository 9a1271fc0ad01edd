import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KongFrameTooLargeError, KongProtocolMismatchError } from '../../../src/kong-rpc/errors.js';
import {
  EMPTY_FRAME,
  encodeFrame,
  FrameReader,
  looksLikeMsgPack,
} from '../../../src/kong-rpc/protobuf/framing.js';
import { PROTOBUF_CAPTURES } from './captures.js';

function readAll(reader: FrameReader): Buffer[] {
  const frames: Buffer[] = [];
  for (let frame = reader.read(); frame !== undefined; frame = reader.read()) frames.push(frame);
  return frames;
}

describe('ProtoBuf:1 framing', () => {
  it('writes a 4-byte little-endian length, then the payload (spec §13.5)', () => {
    expect(encodeFrame(Buffer.from('kong.request.get_header')).subarray(0, 4)).toEqual(
      Buffer.from('17000000', 'hex'),
    );
    expect(encodeFrame(Buffer.from('0803', 'hex'))).toEqual(Buffer.from('020000000803', 'hex'));
    expect(encodeFrame(new Uint8Array(0))).toEqual(Buffer.from('00000000', 'hex'));
    expect(EMPTY_FRAME).toEqual(Buffer.from('00000000', 'hex'));
  });

  it('reads zero-length frames as empty payloads', () => {
    const reader = new FrameReader(100);
    reader.push(Buffer.from('00000000 00000000 020000000804'.replace(/ /g, ''), 'hex'));
    expect(readAll(reader).map((f) => f.toString('hex'))).toEqual(['', '', '0804']);
    expect(reader.midFrame).toBe(false);
  });

  it('splits every recorded byte stream into the recorded frames, whatever the chunking', () => {
    const frames = PROTOBUF_CAPTURES.flatMap((c) => c.frames.filter((f) => f.dir === 'plugin->kong'));
    const stream = Buffer.concat(frames.map((f) => Buffer.from(f.hex, 'hex')));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 200 }), (cuts) => {
        const reader = new FrameReader(1 << 20);
        const out: Buffer[] = [];
        let offset = 0;
        for (const cut of cuts) {
          if (offset >= stream.length) break;
          reader.push(stream.subarray(offset, offset + cut));
          offset += cut;
          out.push(...readAll(reader));
        }
        reader.push(stream.subarray(offset));
        out.push(...readAll(reader));
        expect(out.map((f) => f.toString('hex'))).toEqual(frames.map((f) => f.hex.slice(8)));
        expect(reader.bufferedBytes).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('round-trips random payloads over random chunkings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 17 }),
        (payloads, chunk) => {
          const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
          const reader = new FrameReader(64);
          const out: Buffer[] = [];
          for (let offset = 0; offset < stream.length; offset += chunk) {
            reader.push(stream.subarray(offset, offset + chunk));
            out.push(...readAll(reader));
          }
          expect(out.map((f) => Buffer.from(f).toString('hex'))).toEqual(
            payloads.map((p) => Buffer.from(p).toString('hex')),
          );
        },
      ),
    );
  });

  it('reports a frame cut short as mid-frame', () => {
    const reader = new FrameReader(100);
    reader.push(Buffer.from('0500000001', 'hex'));
    expect(reader.read()).toBeUndefined();
    expect(reader.midFrame).toBe(true);
  });

  it('rejects a frame larger than maxFrameBytes as soon as its length is known, before buffering it', () => {
    const reader = new FrameReader(10);
    reader.push(Buffer.from('0b00', 'hex'));
    expect(reader.read()).toBeUndefined();
    reader.push(Buffer.from('0000', 'hex'));
    expect(() => reader.read()).toThrow(KongFrameTooLargeError);
    expect(reader.bufferedBytes).toBe(0);
    // It stays failed.
    reader.push(Buffer.from('00000000', 'hex'));
    expect(() => reader.read()).toThrow(KongFrameTooLargeError);
  });

  it('allocates nothing for a 4 GiB length prefix (heap, not time)', () => {
    globalThis.gc?.();
    const before = process.memoryUsage();
    for (let i = 0; i < 1000; i++) {
      const reader = new FrameReader();
      reader.push(Buffer.from('feffffff', 'hex'));
      try {
        reader.read();
        throw new Error('accepted');
      } catch (error) {
        expect(error).toBeInstanceOf(KongFrameTooLargeError);
        expect((error as KongFrameTooLargeError).length).toBe(0xfffffffe);
      }
    }
    const after = process.memoryUsage();
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(16 * 1024 * 1024);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(64 * 1024 * 1024);
  });

  it('names both protocols when the "length" is a msgpack-RPC message', () => {
    // Kong's msgpack request `[0, 1, "plugin.StartInstance", …]` and a Go server's `[2, "serverPid", pid]`.
    for (const start of ['940001b4', '9401 01c0', '9302a973', '940101a5']) {
      const bytes = Buffer.from(start.replace(/ /g, ''), 'hex');
      expect(looksLikeMsgPack(bytes)).toBe(true);
      const reader = new FrameReader();
      reader.push(bytes);
      let caught: unknown;
      try {
        reader.read();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(KongProtocolMismatchError);
      expect((caught as KongProtocolMismatchError).code).toBe('KONG_RPC_PROTOCOL_MISMATCH');
      expect((caught as Error).message).toContain('ProtoBuf:1');
      expect((caught as Error).message).toContain('MsgPack:1');
    }
    expect(looksLikeMsgPack(Buffer.from('22000000', 'hex'))).toBe(false);
  });
});
