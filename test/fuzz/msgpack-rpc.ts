/** Fuzz targets of msgpack-rpc: the framer and the message validator. */
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { FrameDecoder, KONG_PEER_OPTIONS, MessageCodec, parseMessage } from '../../src/msgpack-rpc/index.js';
import { expectTyped, type FuzzTarget, FuzzViolation } from './harness.js';
import { bombHeader, byteStream, concat, deepNesting, envelope, MiB, mutate, mutations } from './inputs.js';

export const framerTarget: FuzzTarget<Uint8Array[]> = {
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

export const kongCodec = new MessageCodec({ ...KONG_PEER_OPTIONS });
const standardCodec = new MessageCodec();

export const validatorTarget: FuzzTarget<{ bytes: Uint8Array; kong: boolean; wrap: boolean }> = {
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
export function collectFrames(stream: NodeJS.ReadableStream): { check(): void } {
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
