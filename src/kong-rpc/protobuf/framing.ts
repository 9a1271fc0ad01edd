/**
 * ProtoBuf:1 framing (kong-rpc spec §13.1): every message is a 4-byte unsigned little-endian length followed by
 * that many payload bytes. Kong writes the length with lua_pack's `"I"` (native order, little-endian wherever
 * Kong runs: `Kong/kong: kong/runloop/plugin_servers/rpc/pb_rpc.lua`, `write_frame`). Zero-length frames are
 * legal and carry meaning (an empty result, the end of the PDK loop).
 */
import { KongFrameTooLargeError, KongProtocolMismatchError } from '../errors.js';

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** The default cap of one frame's payload: 128 MiB, as the MsgPack:1 Kong profile's message cap. */
export const DEFAULT_MAX_FRAME_BYTES = 128 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);

/**
 * One frame, length prefix and payload in one buffer (one write). Kong sends the two parts with two `send`s;
 * on a stream socket the bytes are the same.
 */
export function encodeFrame(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** The empty frame `00 00 00 00`: an empty result, or the end of the PDK loop. */
export const EMPTY_FRAME: Buffer = Buffer.from([0, 0, 0, 0]);

/**
 * Whether a length prefix is really the start of a msgpack-RPC message: a fixarray of 3 (notification) or 4
 * (request, response) followed by its type 0, 1 or 2. Read as a length, those bytes give at least 512 MiB
 * (the fourth byte is a msgpack string header or type byte, ≥ 0x20), far over any sane cap.
 */
export function looksLikeMsgPack(header: Uint8Array): boolean {
  const first = header[0];
  const second = header[1];
  return (first === 0x93 || first === 0x94) && second !== undefined && second <= 2;
}

/**
 * Splits a byte stream into ProtoBuf:1 frames: a small state machine over the list of chunks received (as
 * ws's receiver), which copies only when a frame spans chunks and checks each length against the cap as soon
 * as its four bytes are in, before the payload arrives or anything is allocated for it.
 *
 * Call {@link FrameReader.push} with each chunk, then {@link FrameReader.read} until it returns `undefined`.
 */
export class FrameReader {
  private readonly maxFrameBytes: number;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  /** Payload length of the frame being read; -1 while its length prefix is incomplete. */
  private expected = -1;
  private failure: Error | undefined;

  /** @param maxFrameBytes - the largest payload accepted. */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Whether a frame has started (some of its bytes are in) but is not complete. */
  get midFrame(): boolean {
    return this.buffered > 0 || this.expected >= 0;
  }

  /** Adds received bytes. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next complete frame's payload (a zero-length Buffer for an empty frame), or `undefined` when more bytes
   * are needed.
   *
   * @throws {@link KongFrameTooLargeError} when a length exceeds the cap, or {@link KongProtocolMismatchError}
   *   when the "length" is the start of a msgpack-RPC message. The reader then stays failed.
   */
  read(): Buffer | undefined {
    if (this.failure !== undefined) throw this.failure;
    if (this.expected < 0) {
      if (this.buffered < FRAME_HEADER_BYTES) return undefined;
      const header = this.consume(FRAME_HEADER_BYTES);
      const length = header.readUInt32LE(0);
      if (length > this.maxFrameBytes) {
        this.failure = looksLikeMsgPack(header)
          ? new KongProtocolMismatchError(
              'ProtoBuf:1',
              'MsgPack:1',
              `received ${header.toString('hex')}, the start of a msgpack-RPC message, where a frame length was expected`,
            )
          : new KongFrameTooLargeError(length, this.maxFrameBytes);
        this.chunks.length = 0;
        this.buffered = 0;
        throw this.failure;
      }
      this.expected = length;
    }
    if (this.buffered < this.expected) return undefined;
    const payload = this.expected === 0 ? EMPTY : this.consume(this.expected);
    this.expected = -1;
    return payload;
  }

  /** Takes `n` buffered bytes (n ≤ buffered), copying only when they span chunks. */
  private consume(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0] as Buffer;
    if (n === first.length) return this.chunks.shift() as Buffer;
    if (n < first.length) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.chunks[0] as Buffer;
      const take = Math.min(chunk.length, n - offset);
      chunk.copy(out, offset, 0, take);
      offset += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    return out;
  }
}
