import { FrameTooLargeError, ProtocolError, type ProtocolErrorReason } from './errors.js';
import {
  declaredLength,
  HEADER_KIND,
  HEADER_SIZE,
  hexPreview,
  integerValue,
  isUnsafeInt64,
  KIND_ARRAY,
  KIND_BIN,
  KIND_MAP,
  KIND_SCALAR,
  KIND_STR,
} from './format.js';
import { type FrameLimits, type ResolvedFrameLimits, resolveFrameLimits } from './limits.js';

export {
  DEFAULT_MAX_CONTAINER_LENGTH,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_FRAME_BYTES,
  type FrameLimits,
  type ResolvedFrameLimits,
  resolveFrameLimits,
} from './limits.js';

/** Options of a {@link FrameDecoder}. */
export interface FrameDecoderOptions extends FrameLimits {
  /**
   * `'copy'` (default): a frame that contains a bin or ext value and still views a transport chunk is copied
   * first, so decoded binary values never alias transport memory. `'view'`: never copy (values alias chunks;
   * unsafe to retain when the transport reuses buffers).
   */
  binary?: 'copy' | 'view';
}

/** One complete top-level msgpack object found by the {@link FrameDecoder}. */
export interface Frame {
  /** Exactly the frame's bytes, as a plain `Uint8Array` (never a `Buffer`). */
  readonly bytes: Uint8Array;
  /** Stream offset of the frame's first byte. */
  readonly offset: number;
  /** Whether the frame contains a bin value. */
  readonly hasBin: boolean;
  /** Whether the frame contains an ext value. */
  readonly hasExt: boolean;
  /** Whether the frame contains a 64-bit integer outside ±(2^53−1). */
  readonly hasUnsafeInteger: boolean;
  /** Element 0 of a top-level array when it is an integer (the msgpack-RPC message type), else `undefined`. */
  readonly messageType: number | undefined;
  /** Element 1 of a top-level array when it is an integer (the msgid of a request or response), else `undefined`. */
  readonly msgid: number | undefined;
}

/** Work counters of a {@link FrameDecoder}, for tests that check linearity without clocks. */
export interface FrameDecoderStats {
  /** Bytes the framer copied (frames that spanned chunks, and binary frames under `binary: 'copy'`). */
  bytesCopied: number;
  /** Scanner steps: headers read plus payload resumptions. */
  scannerSteps: number;
  /** Frames produced. */
  frames: number;
}

const EMPTY = new Uint8Array(0);

/**
 * A private buffer for a frame copy, as a plain Uint8Array (so decoded bin values are never Buffers). Large ones
 * skip zero-filling (every byte is overwritten) and get their own backing store, so a retained bin value keeps at
 * most its own frame alive (never a shared pool slab).
 */
function allocate(length: number): Uint8Array {
  if (length < 65536) return new Uint8Array(length);
  const buffer = Buffer.allocUnsafeSlow(length);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
}

/**
 * Streaming msgpack boundary scanner: push byte chunks in, pull complete frames out, across any chunking.
 *
 * It reads headers only, never builds values, and keeps its state between chunks, so the work is linear in the
 * bytes received: a frame inside one chunk is returned as a view (no copy), a frame spanning chunks is copied
 * once, and a large payload still arriving only decrements a counter per chunk. Every cap of
 * {@link FrameLimits} is checked as soon as the header declaring a size is complete, before any payload is
 * waited for, so a hostile 5-byte header never causes a large allocation.
 *
 * Errors are fatal (msgpack has no resync marker): after `next()` throws, it throws the same error again.
 *
 * @example
 * ```ts
 * const framer = new FrameDecoder();
 * framer.push(chunk);
 * for (let frame = framer.next(); frame; frame = framer.next()) handle(decode(frame.bytes));
 * ```
 */
export class FrameDecoder {
  /** Work counters (see {@link FrameDecoderStats}). */
  readonly stats: FrameDecoderStats = { bytesCopied: 0, scannerSteps: 0, frames: 0 };

  private readonly limits: ResolvedFrameLimits;
  private readonly copyBinary: boolean;
  private chunks: Uint8Array[] = [];
  /** Offset in `chunks[0]` where the current frame starts. */
  private startOffset = 0;
  /** Scan cursor: chunk index and offset in it. */
  private cursorChunk = 0;
  private cursorOffset = 0;
  /** Bytes buffered after the cursor. */
  private available = 0;
  /** Bytes of the current frame already scanned (cursor − start). */
  private frameLength = 0;
  /** Payload bytes of the current item still to skip. */
  private skip = 0;
  /** Items still expected by each open container (a map counts two per entry). */
  private readonly stack: number[] = [];
  /** Sum of `stack`: items still to come, each at least one byte. */
  private pendingItems = 0;
  private streamOffset = 0;
  private hasBin = false;
  private hasExt = false;
  private hasUnsafeInteger = false;
  private topIsArray = false;
  private topCount = 0;
  private messageType: number | undefined = undefined;
  private msgid: number | undefined = undefined;
  private failure: ProtocolError | undefined = undefined;
  /** A header that straddles chunks is gathered here (at most 9 bytes). */
  private readonly scratch = new Uint8Array(9);
  private headerBytes: Uint8Array = EMPTY;
  private headerOffset = 0;

  /**
   * @param options - limits and the binary copy policy.
   * @throws {@link RpcUsageError} when a limit is not a positive integer.
   */
  constructor(options: FrameDecoderOptions = {}) {
    this.limits = resolveFrameLimits(options);
    this.copyBinary = (options.binary ?? 'copy') === 'copy';
  }

  /** Bytes buffered and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.frameLength + this.available;
  }

  /** Whether part of a frame is buffered (ending the stream now would truncate it). */
  get hasPartialFrame(): boolean {
    return this.bufferedBytes > 0 || this.skip > 0;
  }

  /**
   * Adds bytes. Call {@link FrameDecoder.next} until it returns `undefined` to take the complete frames.
   *
   * @param chunk - the next bytes of the stream; kept by reference (not copied) until consumed.
   * @throws ProtocolError `invalid-chunk` (fatal) when `chunk` is not a `Uint8Array`, e.g. a string from a stream
   *   with an encoding set.
   */
  push(chunk: Uint8Array): void {
    if (this.failure) return;
    if (!(chunk instanceof Uint8Array)) {
      throw this.fail(
        new ProtocolError('invalid-chunk', `the transport delivered a ${typeof chunk}, not bytes`, {
          offset: this.streamOffset + this.frameLength,
        }),
      );
    }
    if (chunk.length === 0) return;
    const last = this.chunks[this.chunks.length - 1];
    this.chunks.push(chunk);
    // Keep the cursor off the end of a chunk when a next one exists.
    if (
      last !== undefined &&
      this.cursorOffset === last.length &&
      this.cursorChunk === this.chunks.length - 2
    ) {
      this.cursorChunk++;
      this.cursorOffset = 0;
    }
    this.available += chunk.length;
  }

  /**
   * Returns the next complete frame, or `undefined` when more bytes are needed.
   *
   * @throws ProtocolError (fatal) `invalid-byte`, or {@link FrameTooLargeError} for `limit-exceeded`,
   *   `depth-exceeded` and `frame-too-large`; the same error again on later calls.
   */
  next(): Frame | undefined {
    if (this.failure) throw this.failure;
    for (;;) {
      if (this.skip > 0) {
        if (this.available === 0) return undefined;
        this.stats.scannerSteps++;
        const step = Math.min(this.skip, this.available);
        this.advance(step);
        this.skip -= step;
        if (this.skip > 0) return undefined;
        if (this.closeContainers()) return this.extract();
        continue;
      }
      if (this.available === 0) return undefined;

      // Fast path: walk the headers inside the current chunk with locals, then commit the position once.
      let chunk = this.chunks[this.cursorChunk]!;
      if (this.cursorOffset === chunk.length) {
        this.cursorChunk++;
        this.cursorOffset = 0;
        chunk = this.chunks[this.cursorChunk]!;
      }
      const start = this.cursorOffset;
      const end = chunk.length;
      const stack = this.stack;
      let position = start;
      let done = false;
      while (position < end) {
        const first = chunk[position]!;
        const size = HEADER_SIZE[first]!;
        if (size === 0) {
          this.commit(position - start);
          throw this.fail(this.structureError('invalid-byte', 'invalid msgpack type byte 0xc1'));
        }
        if (position + size > end) break;
        this.stats.scannerSteps++;
        const payload = this.item(chunk, position, first, size, position - start);
        position += size;
        if (payload > 0) {
          if (position + payload <= end) {
            position += payload;
          } else {
            this.skip = payload - (end - position);
            position = end;
            break;
          }
        }
        if ((stack.length === 0 || stack[stack.length - 1] === 0) && this.closeContainers()) {
          done = true;
          break;
        }
      }
      this.commit(position - start);
      if (done) return this.extract();
      if (this.skip > 0 || position === end) continue;

      // A header straddles two chunks: gather it, then go on as above.
      const first = chunk[position]!;
      const size = HEADER_SIZE[first]!;
      if (this.available < size) return undefined;
      this.loadHeader(size);
      this.stats.scannerSteps++;
      const payload = this.item(this.headerBytes, this.headerOffset, first, size, 0);
      this.advance(size);
      if (payload > 0) {
        this.skip = payload;
        continue;
      }
      if (this.closeContainers()) return this.extract();
    }
  }

  /**
   * Accounts for one item whose complete header is at `bytes[at…]`, `delta` bytes past the committed cursor:
   * checks limits, updates the container stack, flags and envelope peek. Returns the payload length to skip.
   */
  private item(bytes: Uint8Array, at: number, first: number, size: number, delta: number): number {
    const limits = this.limits;
    const stack = this.stack;
    const kind = HEADER_KIND[first]!;
    const depth = stack.length;
    // The item counts against its parent when it starts; the envelope peek looks at items 0 and 1.
    if (depth > 0) {
      if (depth === 1 && this.topIsArray) {
        const index = this.topCount - stack[0]!;
        if (index < 2 && kind === KIND_SCALAR) {
          const value = integerValue(bytes, at);
          if (index === 0) this.messageType = value;
          else this.msgid = value;
        }
      }
      stack[depth - 1]!--;
      this.pendingItems--;
    }
    if (kind === KIND_SCALAR) {
      if ((first === 0xcf || first === 0xd3) && isUnsafeInt64(bytes, at)) this.hasUnsafeInteger = true;
      return 0;
    }
    const length = declaredLength(bytes, at);
    const scanned = this.frameLength + delta;
    if (kind === KIND_ARRAY || kind === KIND_MAP) {
      const isMap = kind === KIND_MAP;
      const limit = isMap ? limits.maxMapLength : limits.maxArrayLength;
      if (length > limit) {
        throw this.fail(
          this.capError(
            'limit-exceeded',
            limit,
            `${isMap ? 'map' : 'array'} of ${length} items over ${limit}`,
            delta,
          ),
        );
      }
      if (depth + 1 > limits.maxDepth) {
        throw this.fail(
          this.capError('depth-exceeded', limits.maxDepth, `nesting deeper than ${limits.maxDepth}`, delta),
        );
      }
      const items = isMap ? length * 2 : length;
      // Every item takes at least one byte: a count that cannot fit is refused now, not after buffering.
      if (scanned + size + this.pendingItems + items > limits.maxFrameBytes) {
        throw this.fail(
          this.capError(
            'frame-too-large',
            limits.maxFrameBytes,
            `container of ${length} items cannot fit`,
            delta,
          ),
        );
      }
      if (depth === 0) {
        this.topIsArray = !isMap;
        this.topCount = items;
      }
      if (items > 0) {
        stack.push(items);
        this.pendingItems += items;
      }
      return 0;
    }
    // Str, bin, ext, fixext: a payload skipped by arithmetic.
    let limit: number;
    if (kind === KIND_STR) {
      limit = limits.maxStrLength;
    } else if (kind === KIND_BIN) {
      limit = limits.maxBinLength;
      this.hasBin = true;
    } else {
      limit = limits.maxExtLength;
      this.hasExt = true;
    }
    if (length > limit) {
      throw this.fail(
        this.capError('limit-exceeded', limit, `payload of ${length} bytes over ${limit}`, delta),
      );
    }
    if (scanned + size + length + this.pendingItems > limits.maxFrameBytes) {
      throw this.fail(
        this.capError(
          'frame-too-large',
          limits.maxFrameBytes,
          `frame would reach ${scanned + size + length} bytes, over ${limits.maxFrameBytes}`,
          delta,
        ),
      );
    }
    return length;
  }

  /** Moves the cursor `count` bytes forward inside its chunk (the fast path never crosses a chunk). */
  private commit(count: number): void {
    this.frameLength += count;
    this.available -= count;
    this.cursorOffset += count;
    if (
      this.cursorOffset === this.chunks[this.cursorChunk]!.length &&
      this.cursorChunk < this.chunks.length - 1
    ) {
      this.cursorChunk++;
      this.cursorOffset = 0;
    }
  }

  /**
   * Declares the end of the stream.
   *
   * @throws ProtocolError `truncated` (fatal) when part of a frame is still buffered.
   */
  end(): void {
    if (this.failure) return;
    if (this.hasPartialFrame) {
      throw this.fail(
        new ProtocolError('truncated', `stream ended inside a frame (${this.bufferedBytes} bytes buffered)`, {
          ...this.peekDetails(),
          offset: this.streamOffset,
          preview: this.preview(),
        }),
      );
    }
  }

  /** Pops every finished container; returns whether the frame is complete. */
  private closeContainers(): boolean {
    const stack = this.stack;
    while (stack.length > 0 && stack[stack.length - 1] === 0) stack.pop();
    return stack.length === 0;
  }

  /** Makes `size` header bytes at the cursor readable at `headerBytes[headerOffset…]`. */
  private loadHeader(size: number): void {
    let index = this.cursorChunk;
    let chunk = this.chunks[index]!;
    let offset = this.cursorOffset;
    if (offset === chunk.length) {
      chunk = this.chunks[++index]!;
      offset = 0;
    }
    if (offset + size <= chunk.length) {
      this.headerBytes = chunk;
      this.headerOffset = offset;
      return;
    }
    for (let filled = 0; filled < size; ) {
      const take = Math.min(size - filled, chunk.length - offset);
      this.scratch.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      chunk = this.chunks[++index] ?? EMPTY;
      offset = 0;
    }
    this.headerBytes = this.scratch;
    this.headerOffset = 0;
  }

  private advance(count: number): void {
    this.available -= count;
    this.frameLength += count;
    const chunks = this.chunks;
    let index = this.cursorChunk;
    let offset = this.cursorOffset + count;
    let chunk = chunks[index]!;
    while (offset > chunk.length || (offset === chunk.length && index < chunks.length - 1)) {
      offset -= chunk.length;
      chunk = chunks[++index]!;
    }
    this.cursorChunk = index;
    this.cursorOffset = offset;
  }

  private extract(): Frame {
    const chunks = this.chunks;
    const length = this.frameLength;
    const first = chunks[0]!;
    const endChunk = this.cursorChunk;
    const endOffset = this.cursorOffset;
    let bytes: Uint8Array;
    if (endChunk === 0 || (endChunk === 1 && endOffset === 0)) {
      const start = first.byteOffset + this.startOffset;
      if (this.copyBinary && (this.hasBin || this.hasExt)) {
        bytes = allocate(length);
        bytes.set(first.subarray(this.startOffset, this.startOffset + length));
        this.stats.bytesCopied += length;
      } else {
        // A plain Uint8Array view, so decoded bin values are plain Uint8Arrays whatever the transport sends.
        bytes = new Uint8Array(first.buffer, start, length);
      }
    } else {
      bytes = allocate(length);
      let filled = first.length - this.startOffset;
      bytes.set(first.subarray(this.startOffset), 0);
      for (let index = 1; index < endChunk; index++) {
        const chunk = chunks[index]!;
        bytes.set(chunk, filled);
        filled += chunk.length;
      }
      bytes.set(chunks[endChunk]!.subarray(0, endOffset), filled);
      this.stats.bytesCopied += length;
    }
    const frame: Frame = {
      bytes,
      offset: this.streamOffset,
      hasBin: this.hasBin,
      hasExt: this.hasExt,
      hasUnsafeInteger: this.hasUnsafeInteger,
      messageType: this.topIsArray ? this.messageType : undefined,
      msgid: this.topIsArray ? this.msgid : undefined,
    };
    this.stats.frames++;

    // Drop consumed chunks; what is left of the last one stays as is (no copy).
    if (endChunk > 0) chunks.splice(0, endChunk);
    this.startOffset = endOffset;
    this.cursorChunk = 0;
    this.cursorOffset = endOffset;
    if (chunks.length === 1 && endOffset === chunks[0]!.length) {
      chunks.length = 0;
      this.startOffset = 0;
      this.cursorOffset = 0;
    }
    this.streamOffset += length;
    this.frameLength = 0;
    this.pendingItems = 0;
    this.hasBin = false;
    this.hasExt = false;
    this.hasUnsafeInteger = false;
    this.topIsArray = false;
    this.topCount = 0;
    this.messageType = undefined;
    this.msgid = undefined;
    return frame;
  }

  private fail(error: ProtocolError): ProtocolError {
    this.failure = error;
    this.chunks = [];
    this.available = 0;
    return error;
  }

  private peekDetails(): { messageType?: number; msgid?: number } {
    if (!this.topIsArray) return {};
    const details: { messageType?: number; msgid?: number } = {};
    if (this.messageType !== undefined) details.messageType = this.messageType;
    if (this.msgid !== undefined) details.msgid = this.msgid;
    return details;
  }

  private structureError(reason: ProtocolErrorReason, message: string): ProtocolError {
    return new ProtocolError(reason, message, {
      ...this.peekDetails(),
      offset: this.streamOffset + this.frameLength,
      preview: this.preview(),
    });
  }

  private capError(
    reason: 'limit-exceeded' | 'depth-exceeded' | 'frame-too-large',
    limit: number,
    message: string,
    delta: number,
  ): ProtocolError {
    return new FrameTooLargeError(reason, limit, message, {
      ...this.peekDetails(),
      offset: this.streamOffset + this.frameLength + delta,
      preview: this.preview(),
    });
  }

  /** Hex of the first (up to 32) buffered bytes of the current frame. */
  private preview(): string {
    const out = new Uint8Array(32);
    let filled = 0;
    let offset = this.startOffset;
    for (const chunk of this.chunks) {
      if (filled === 32) break;
      const take = Math.min(32 - filled, chunk.length - offset);
      out.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      offset = 0;
    }
    return hexPreview(out.subarray(0, filled));
  }
}
