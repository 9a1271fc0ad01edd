import { ExtData, type ExtensionCodecType } from '@msgpack/msgpack';
import { EncodeError } from './errors.js';

/**
 * The explicit empty map. In Kong encoding an empty plain object goes out as `90` (Lua cannot tell an empty map
 * from an empty array, and Kong encodes every empty table as `90`); pass `EMPTY_MAP` where the peer needs `80`,
 * as Kong itself does with its `fix_mmap` helper. In standard encoding it is `80` too, so code using the marker
 * works in both. Recognised by identity; frozen.
 */
export const EMPTY_MAP: Readonly<Record<string, never>> = Object.freeze({});

/**
 * Throws for values `@msgpack/msgpack` would silently mangle into an empty map `80`, and for functions and
 * symbols. Shared by both encoders.
 *
 * @internal
 */
export function rejectUnsupported(value: unknown): void {
  const type = typeof value;
  if (type === 'function' || type === 'symbol') {
    throw new EncodeError('unsupported-type', `cannot encode a ${type}`);
  }
  if (
    value instanceof Map ||
    value instanceof Set ||
    value instanceof WeakMap ||
    value instanceof WeakSet ||
    value instanceof Promise ||
    value instanceof RegExp ||
    value instanceof Error ||
    value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)
  ) {
    const name = (value as object).constructor?.name ?? 'object';
    throw new EncodeError('unsupported-type', `cannot encode a ${name} (msgpack would send an empty map)`);
  }
}

const MAX_DEPTH = 100;
const TWO_32 = 0x100000000;
// Kong's integer range is exclusive of ±(2^53−1): Lua numbers are doubles and Kong's packer writes those two
// values as float64 (see the kong-rpc spec §9.1).
const KONG_INT_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * A small msgpack writer that produces the bytes Kong produces (lua-MessagePack 0.5 with `string_compat`,
 * `unsigned` integers, `double` floats; `Kong/kong: kong/runloop/plugin_servers/rpc/mp_rpc.lua`):
 * - strings of 32–255 bytes as `str16` (`da 00 LL`), never `str8`;
 * - non-negative integers always unsigned (`cc`/`cd`/`ce`/`cf`); floats always float64;
 * - an empty plain object as `90`, {@link EMPTY_MAP} as `80`;
 * - map entries whose value is `undefined` omitted (a Lua nil cannot be a table value); `null` kept as `c0`;
 * - no ext values at all (Kong decodes them to nil), no bigint.
 *
 * A dedicated writer rather than fix-ups of `@msgpack/msgpack`'s output: widening `d9` to `da` changes lengths,
 * and a byte-level pass would have to re-walk the whole structure.
 *
 * @internal
 */
export class KongEncoder {
  private bytes = new Uint8Array(2048);
  private view = new DataView(this.bytes.buffer);
  private position = 0;
  private entered = false;

  /** @param extensionCodec - consulted only to refuse values it would encode as ext. */
  constructor(private readonly extensionCodec: ExtensionCodecType<undefined> | undefined) {}

  /**
   * @returns a fresh copy of the encoded bytes, in a Buffer (see {@link MessageCodec.encode} for why).
   * @throws EncodeError for unsupported values, ext values, bigints and nesting over 100.
   */
  encode(value: unknown): Uint8Array {
    if (this.entered) return new KongEncoder(this.extensionCodec).encode(value);
    this.entered = true;
    try {
      this.position = 0;
      this.write(value, 1);
      const out = Buffer.allocUnsafe(this.position);
      out.set(this.bytes.subarray(0, this.position));
      return out;
    } finally {
      this.entered = false;
    }
  }

  private ensure(extra: number): void {
    const needed = this.position + extra;
    if (needed <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(needed, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.position));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  private byte(value: number): void {
    this.ensure(1);
    this.bytes[this.position++] = value;
  }

  private write(value: unknown, depth: number): void {
    if (depth > MAX_DEPTH) throw new EncodeError('too-deep', `nesting deeper than ${MAX_DEPTH}`);
    if (value === null || value === undefined) {
      this.byte(0xc0);
      return;
    }
    switch (typeof value) {
      case 'boolean':
        this.byte(value ? 0xc3 : 0xc2);
        return;
      case 'number':
        this.number(value);
        return;
      case 'string':
        this.string(value);
        return;
      case 'bigint':
        throw new EncodeError(
          'bigint-disabled',
          'Kong encoding cannot carry a bigint (Lua numbers are doubles)',
        );
      default:
        break;
    }
    if (value === EMPTY_MAP) {
      this.byte(0x80);
      return;
    }
    if (Array.isArray(value)) {
      this.header(value.length, 0x90, 0xdc, 0xdd);
      for (let index = 0; index < value.length; index++) this.write(value[index], depth + 1);
      return;
    }
    if (ArrayBuffer.isView(value)) {
      this.binary(value);
      return;
    }
    rejectUnsupported(value);
    if (
      value instanceof Date ||
      value instanceof ExtData ||
      this.extensionCodec?.tryToEncode(value, undefined)
    ) {
      throw new EncodeError('ext-in-kong-mode', 'Kong decodes ext values to nil; refusing to send one');
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    let count = 0;
    for (const key of keys) if (record[key] !== undefined) count++;
    if (count === 0) {
      this.byte(0x90);
      return;
    }
    this.header(count, 0x80, 0xde, 0xdf);
    for (const key of keys) {
      const item = record[key];
      if (item === undefined) continue;
      this.string(key);
      this.write(item, depth + 1);
    }
  }

  private header(count: number, fix: number, wide16: number, wide32: number): void {
    this.ensure(5);
    if (count < 16) {
      this.bytes[this.position++] = fix | count;
    } else if (count < 0x10000) {
      this.bytes[this.position++] = wide16;
      this.view.setUint16(this.position, count);
      this.position += 2;
    } else {
      this.bytes[this.position++] = wide32;
      this.view.setUint32(this.position, count);
      this.position += 4;
    }
  }

  private number(value: number): void {
    this.ensure(9);
    const bytes = this.bytes;
    const view = this.view;
    if (Number.isInteger(value) && value > -KONG_INT_LIMIT && value < KONG_INT_LIMIT) {
      if (value >= 0) {
        // Kong's `unsigned` mode: a non-negative integer is never written in a signed form (-0 included).
        if (value < 0x80) {
          bytes[this.position++] = value;
        } else if (value < 0x100) {
          bytes[this.position++] = 0xcc;
          bytes[this.position++] = value;
        } else if (value < 0x10000) {
          bytes[this.position++] = 0xcd;
          view.setUint16(this.position, value);
          this.position += 2;
        } else if (value < TWO_32) {
          bytes[this.position++] = 0xce;
          view.setUint32(this.position, value);
          this.position += 4;
        } else {
          bytes[this.position++] = 0xcf;
          view.setUint32(this.position, Math.floor(value / TWO_32));
          view.setUint32(this.position + 4, value >>> 0);
          this.position += 8;
        }
        return;
      }
      if (value >= -0x20) {
        bytes[this.position++] = value & 0xff;
      } else if (value >= -0x80) {
        bytes[this.position++] = 0xd0;
        view.setInt8(this.position++, value);
      } else if (value >= -0x8000) {
        bytes[this.position++] = 0xd1;
        view.setInt16(this.position, value);
        this.position += 2;
      } else if (value >= -0x80000000) {
        bytes[this.position++] = 0xd2;
        view.setInt32(this.position, value);
        this.position += 4;
      } else {
        const high = Math.floor(value / TWO_32);
        bytes[this.position++] = 0xd3;
        view.setInt32(this.position, high);
        view.setUint32(this.position + 4, value - high * TWO_32);
        this.position += 8;
      }
      return;
    }
    bytes[this.position++] = 0xcb;
    view.setFloat64(this.position, value);
    this.position += 8;
  }

  private string(value: string): void {
    // Worst case 3 bytes per UTF-16 unit; write the payload after the widest header, then move it if shorter.
    const maximum = value.length * 3;
    this.ensure(5 + maximum);
    const bytes = this.bytes;
    const headerSize = value.length < 32 / 3 ? 1 : maximum < 0x10000 ? 3 : 5;
    const start = this.position + headerSize;
    const length = writeUtf8(value, bytes, start);
    let size: number;
    if (length < 32) size = 1;
    else if (length < 0x10000) size = 3;
    else size = 5;
    if (size !== headerSize) bytes.copyWithin(this.position + size, start, start + length);
    if (size === 1) {
      bytes[this.position] = 0xa0 | length;
    } else if (size === 3) {
      // str16 also for 32–255 bytes: lua-MessagePack's string_compat never writes str8.
      bytes[this.position] = 0xda;
      this.view.setUint16(this.position + 1, length);
    } else {
      bytes[this.position] = 0xdb;
      this.view.setUint32(this.position + 1, length);
    }
    this.position += size + length;
  }

  private binary(value: ArrayBufferView): void {
    const source = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    const length = source.length;
    this.ensure(5 + length);
    if (length < 0x100) {
      this.bytes[this.position++] = 0xc4;
      this.bytes[this.position++] = length;
    } else if (length < 0x10000) {
      this.bytes[this.position++] = 0xc5;
      this.view.setUint16(this.position, length);
      this.position += 2;
    } else {
      this.bytes[this.position++] = 0xc6;
      this.view.setUint32(this.position, length);
      this.position += 4;
    }
    this.bytes.set(source, this.position);
    this.position += length;
  }
}

/** Writes `value` as UTF-8 (lone surrogates as U+FFFD, as `TextEncoder` does); returns the byte count. */
function writeUtf8(value: string, bytes: Uint8Array, offset: number): number {
  let position = offset;
  const length = value.length;
  for (let index = 0; index < length; index++) {
    let code = value.charCodeAt(index);
    if (code < 0x80) {
      bytes[position++] = code;
      continue;
    }
    if (code < 0x800) {
      bytes[position++] = 0xc0 | (code >> 6);
      bytes[position++] = 0x80 | (code & 0x3f);
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = index + 1 < length ? value.charCodeAt(index + 1) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        index++;
        bytes[position++] = 0xf0 | (code >> 18);
        bytes[position++] = 0x80 | ((code >> 12) & 0x3f);
        bytes[position++] = 0x80 | ((code >> 6) & 0x3f);
        bytes[position++] = 0x80 | (code & 0x3f);
        continue;
      }
      code = 0xfffd;
    }
    bytes[position++] = 0xe0 | (code >> 12);
    bytes[position++] = 0x80 | ((code >> 6) & 0x3f);
    bytes[position++] = 0x80 | (code & 0x3f);
  }
  return position - offset;
}
