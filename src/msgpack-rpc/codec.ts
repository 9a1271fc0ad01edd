import { Decoder, Encoder, ExtensionCodec, type ExtensionCodecType } from '@msgpack/msgpack';
import { EncodeError, ProtocolError, type ProtocolErrorReason, RpcUsageError } from './errors.js';
import {
  declaredLength,
  HEADER_KIND,
  HEADER_SIZE,
  hexPreview,
  KIND_ARRAY,
  KIND_MAP,
  KIND_SCALAR,
} from './format.js';
import {
  type Frame,
  FrameDecoder,
  type FrameLimits,
  type ResolvedFrameLimits,
  resolveFrameLimits,
} from './framer.js';
import { EMPTY_MAP, KongEncoder, rejectUnsupported } from './kong-encoder.js';

export { EMPTY_MAP };

/** How 64-bit integers (`cf`/`d3`) decode; see {@link CodecOptions.int64}. */
export type Int64Policy = 'auto' | 'bigint' | 'lossy' | 'reject';

/** Options of a {@link MessageCodec}. The limits are passed to the `Decoder` too, as defence in depth. */
export interface CodecOptions extends FrameLimits {
  /**
   * `'standard'` (default): `@msgpack/msgpack`'s encoding. `'kong'`: the bytes Kong produces (no str8, empty
   * objects as `90`, `undefined` map entries omitted, no ext, no bigint); see {@link EMPTY_MAP}.
   */
  encoding?: 'standard' | 'kong';
  /**
   * `'auto'` (default): 64-bit values within ±(2^53−1) decode to `number`, others to `bigint` (lossless).
   * `'bigint'`: every 64-bit value is a `bigint`. `'lossy'`: always `number` (rounded, as Kong's Lua does).
   * `'reject'`: an unsafe 64-bit value makes the frame an `unsafe-integer` error.
   */
  int64?: Int64Policy;
  /**
   * Allow `bigint` values in outgoing messages (as `cf`/`d3`). Numbers keep exactly their usual encoding.
   * Default `false`: a `bigint` is an `EncodeError` (`bigint-disabled`). Ignored in Kong encoding (always refused).
   */
  encodeBigInt?: boolean;
  /** Extension types (default: `@msgpack/msgpack`'s, i.e. timestamp ↔ `Date`). */
  extensionCodec?: ExtensionCodecType<undefined>;
  /** `'decode'` (default) or `'reject'`: a frame containing an ext value becomes an `unexpected-ext` error. */
  ext?: 'decode' | 'reject';
  /** Largest message this side sends, in bytes. Default `maxFrameBytes`. */
  maxOutgoingFrameBytes?: number;
}

/**
 * Passes everything to the user's (or the default) extension codec, but first refuses the values that
 * `@msgpack/msgpack` would silently mangle. The Encoder consults its extension codec for every non-primitive
 * before anything else (`@msgpack/msgpack: src/Encoder.ts`, `encodeObject`), which makes this the one hook.
 */
class GuardedExtensionCodec implements ExtensionCodecType<undefined> {
  constructor(
    private readonly inner: ExtensionCodecType<undefined>,
    private readonly isDefault: boolean,
  ) {}

  tryToEncode(object: unknown, context: undefined) {
    // Hot path: arrays and plain objects are never an extension of the default codec.
    if (this.isDefault && (Array.isArray(object) || Object.getPrototypeOf(object) === Object.prototype))
      return null;
    if (typeof object === 'bigint') {
      throw new EncodeError('bigint-disabled', 'cannot encode a bigint without the encodeBigInt option');
    }
    rejectUnsupported(object);
    return this.inner.tryToEncode(object, context);
  }

  decode(data: Uint8Array, extensionType: number, context: undefined): unknown {
    return this.inner.decode(data, extensionType, context);
  }
}

const TWO_32 = 0x100000000;

/**
 * With `useBigInt64: true`, `@msgpack/msgpack` writes safe integers of magnitude ≥ 2^32 as float64
 * (`Encoder.encodeNumber`). This walks the headers of the output and rewrites each such `cb` in place to the
 * `cf`/`d3` form it has without the option (same 9 bytes), so numbers never change encoding with `encodeBigInt`.
 */
function restoreInt64Numbers(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let position = 0;
  while (position < bytes.length) {
    const first = bytes[position]!;
    const kind = HEADER_KIND[first]!;
    const size = HEADER_SIZE[first]!;
    if (kind === KIND_SCALAR) {
      if (first === 0xcb) {
        const value = view.getFloat64(position + 1);
        if (Number.isSafeInteger(value) && Math.abs(value) >= TWO_32) {
          const high = Math.floor(value / TWO_32);
          bytes[position] = value >= 0 ? 0xcf : 0xd3;
          view.setInt32(position + 1, high);
          view.setUint32(position + 5, value - high * TWO_32);
        }
      }
      position += size;
    } else if (kind === KIND_ARRAY || kind === KIND_MAP) {
      position += size; // container items follow inline
    } else {
      position += size + declaredLength(bytes, position);
    }
  }
}

function convertSafeBigInts(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value;
  }
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) value[index] = convertSafeBigInts(value[index]);
    return value;
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = convertSafeBigInts(record[key]);
  }
  return value;
}

/** Cache of Decoder pairs per limit set, shared by codecs with the default extension codec. */
const decoderCache = new Map<string, { numbers: Decoder; bigints: Decoder }>();

function decodersFor(limits: ResolvedFrameLimits, extensionCodec: ExtensionCodecType<undefined> | undefined) {
  const make = () => {
    const base = {
      maxStrLength: limits.maxStrLength,
      maxBinLength: limits.maxBinLength,
      maxExtLength: limits.maxExtLength,
      maxArrayLength: limits.maxArrayLength,
      maxMapLength: limits.maxMapLength,
      ...(extensionCodec ? { extensionCodec } : {}),
    };
    // v3 Decoders detect re-entrant use and clone themselves, so sharing them is safe.
    return { numbers: new Decoder(base), bigints: new Decoder({ ...base, useBigInt64: true }) };
  };
  if (extensionCodec) return make();
  const key = `${limits.maxStrLength},${limits.maxBinLength},${limits.maxExtLength},${limits.maxArrayLength},${limits.maxMapLength}`;
  let pair = decoderCache.get(key);
  if (!pair) {
    pair = make();
    decoderCache.set(key, pair);
  }
  return pair;
}

/**
 * Encodes and decodes msgpack values with long-lived `@msgpack/msgpack` instances and this module's rules:
 * unsupported values refused instead of mangled, int64 and bigint policies, Kong-compatible encoding, limits.
 * Usable without streams (to decode captured bytes, or payloads from WebSocket or `MessagePort`).
 *
 * @example
 * ```ts
 * const kong = new MessageCodec({ encoding: 'kong' });
 * kong.encode([0, 1, 'plugin.GetStatus', [{}]]); // 94 00 01 b1 … 91 90: `{}` is `90`, as Kong sends it
 * ```
 */
export class MessageCodec {
  /** The limits in force, defaults filled in. */
  readonly limits: ResolvedFrameLimits;
  /** The encoding in force. */
  readonly encoding: 'standard' | 'kong';
  private readonly int64: Int64Policy;
  private readonly rejectExt: boolean;
  /** Largest message this codec encodes, in bytes. */
  readonly maxOutgoingFrameBytes: number;
  private readonly encodeBigInt: boolean;
  private readonly encoder: Encoder<undefined> | undefined;
  private readonly kongEncoder: KongEncoder | undefined;
  private readonly numberDecoder: Decoder;
  private readonly bigintDecoder: Decoder;

  /**
   * @param options - encoding, integer policies, extensions and limits.
   * @throws {@link RpcUsageError} when a limit is not a positive integer or an option has an unknown value.
   */
  constructor(options: CodecOptions = {}) {
    this.limits = resolveFrameLimits(options);
    this.encoding = options.encoding ?? 'standard';
    if (this.encoding !== 'standard' && this.encoding !== 'kong') {
      throw new RpcUsageError(`encoding must be 'standard' or 'kong', got ${String(this.encoding)}`);
    }
    this.int64 = options.int64 ?? 'auto';
    if (!['auto', 'bigint', 'lossy', 'reject'].includes(this.int64)) {
      throw new RpcUsageError(
        `int64 must be 'auto', 'bigint', 'lossy' or 'reject', got ${String(this.int64)}`,
      );
    }
    this.rejectExt = (options.ext ?? 'decode') === 'reject';
    this.encodeBigInt = options.encodeBigInt ?? false;
    const maxOutgoing = options.maxOutgoingFrameBytes ?? this.limits.maxFrameBytes;
    if (!Number.isSafeInteger(maxOutgoing) || maxOutgoing <= 0) {
      throw new RpcUsageError(`maxOutgoingFrameBytes must be a positive integer, got ${String(maxOutgoing)}`);
    }
    this.maxOutgoingFrameBytes = maxOutgoing;
    const extensionCodec = options.extensionCodec;
    if (this.encoding === 'kong') {
      this.kongEncoder = new KongEncoder(extensionCodec);
    } else {
      this.encoder = new Encoder({
        extensionCodec: new GuardedExtensionCodec(
          extensionCodec ?? ExtensionCodec.defaultCodec,
          extensionCodec === undefined,
        ),
        useBigInt64: this.encodeBigInt,
      });
    }
    const decoders = decodersFor(this.limits, extensionCodec);
    this.numberDecoder = decoders.numbers;
    this.bigintDecoder = decoders.bigints;
  }

  /**
   * Encodes one value.
   *
   * @returns fresh bytes, safe to hand to `write()`: a `Buffer` (from Node's pool for small messages). Not a
   *   plain `Uint8Array`, because `write()` must turn that into a Buffer through its `.buffer`, and for a small
   *   array V8 then has to move the bytes off its heap, which costs more than the encoding itself.
   * @throws EncodeError (`unsupported-type`, `bigint-disabled`, `too-deep`, `frame-too-large`, `ext-in-kong-mode`).
   */
  encode(value: unknown): Uint8Array {
    let bytes: Uint8Array;
    if (this.kongEncoder) {
      bytes = this.kongEncoder.encode(value);
    } else {
      let shared: Uint8Array;
      try {
        shared = this.encoder!.encodeSharedRef(value);
      } catch (error) {
        throw toEncodeError(error);
      }
      bytes = Buffer.allocUnsafe(shared.length);
      bytes.set(shared);
      if (this.encodeBigInt) restoreInt64Numbers(bytes);
    }
    if (bytes.length > this.maxOutgoingFrameBytes) {
      throw new EncodeError(
        'frame-too-large',
        `message of ${bytes.length} bytes exceeds maxOutgoingFrameBytes (${this.maxOutgoingFrameBytes})`,
      );
    }
    return bytes;
  }

  /**
   * Decodes one complete frame from a {@link FrameDecoder} (or the bytes of exactly one msgpack object).
   *
   * @throws ProtocolError (frame-level, not fatal) `decode-failed` with the decoder's error as `cause`,
   *   `unsafe-integer` under `int64: 'reject'`, `unexpected-ext` under `ext: 'reject'`; for raw bytes also the
   *   framer's errors, or `truncated`/`decode-failed` when they are not exactly one object.
   */
  decode(frame: Frame | Uint8Array): unknown {
    const info = frame instanceof Uint8Array ? this.scan(frame) : frame;
    if (this.rejectExt && info.hasExt) {
      throw frameError(
        'unexpected-ext',
        'the frame contains an ext value, which this peer does not accept',
        info,
      );
    }
    if (info.hasUnsafeInteger && this.int64 === 'reject') {
      throw frameError('unsafe-integer', 'the frame contains a 64-bit integer outside ±(2^53−1)', info);
    }
    const useBigInts = this.int64 === 'bigint' || (this.int64 === 'auto' && info.hasUnsafeInteger);
    let value: unknown;
    try {
      value = (useBigInts ? this.bigintDecoder : this.numberDecoder).decode(info.bytes);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      throw frameError('decode-failed', `could not decode frame: ${text}`, info, error);
    }
    return this.int64 === 'auto' && useBigInts ? convertSafeBigInts(value) : value;
  }

  private scan(bytes: Uint8Array): Frame {
    const framer = new FrameDecoder({ ...this.limits, binary: 'view' });
    framer.push(bytes);
    const frame = framer.next();
    if (!frame) throw new ProtocolError('truncated', 'the bytes end inside a msgpack object', { offset: 0 });
    if (framer.bufferedBytes > 0) {
      throw frameError('decode-failed', `${framer.bufferedBytes} bytes follow the first object`, frame);
    }
    return frame;
  }
}

function frameError(
  reason: ProtocolErrorReason,
  message: string,
  frame: Frame,
  cause?: unknown,
): ProtocolError {
  return new ProtocolError(reason, message, {
    fatal: false,
    ...(frame.msgid !== undefined ? { msgid: frame.msgid } : {}),
    ...(frame.messageType !== undefined ? { messageType: frame.messageType } : {}),
    offset: frame.offset,
    preview: hexPreview(frame.bytes),
    ...(cause !== undefined ? { cause } : {}),
  });
}

function toEncodeError(error: unknown): EncodeError {
  if (error instanceof EncodeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/too deep/i.test(message)) return new EncodeError('too-deep', message, { cause: error });
  return new EncodeError('unsupported-type', message, { cause: error });
}
