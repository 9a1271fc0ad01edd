/**
 * msgpack header facts shared by the boundary scanner and the encoder's structure-aware passes. Private to the
 * module.
 *
 * @internal
 * @module
 */

// What follows a header byte (plain constants: the scanner's hot loop compares against them).
/** 0xc1: never valid. */
export const KIND_INVALID = 0;
/** The header is the whole item (fixint, nil, bool, and fixed-width numbers whose bytes count as header). */
export const KIND_SCALAR = 1;
/** A str: the header ends with a byte length, the payload follows. */
export const KIND_STR = 2;
/** A bin: as str. */
export const KIND_BIN = 3;
/** An ext (ext8/16/32): length, then a type byte, then the payload. */
export const KIND_EXT = 4;
/** A fixext: a type byte, then a payload of fixed size. */
export const KIND_FIXEXT = 5;
/** An array: the header ends with an item count. */
export const KIND_ARRAY = 6;
/** A map: the header ends with an entry count (two items per entry). */
export const KIND_MAP = 7;

/** Total header size (including the first byte) for each first byte; 0 for 0xc1. */
export const HEADER_SIZE = new Uint8Array(256);
/** The `KIND_*` for each first byte. */
export const HEADER_KIND = new Uint8Array(256);
/**
 * For Str/Bin/Ext/Array/Map headers with an explicit length field: its width in bytes (1, 2 or 4), at offset 1.
 * 0 when the length is in the first byte (fix types). For FixExt: the fixed payload size.
 */
export const LENGTH_WIDTH = new Uint8Array(256);

function define(from: number, to: number, kind: number, size: number, width = 0): void {
  for (let byte = from; byte <= to; byte++) {
    HEADER_KIND[byte] = kind;
    HEADER_SIZE[byte] = size;
    LENGTH_WIDTH[byte] = width;
  }
}

define(0x00, 0x7f, KIND_SCALAR, 1);
define(0x80, 0x8f, KIND_MAP, 1);
define(0x90, 0x9f, KIND_ARRAY, 1);
define(0xa0, 0xbf, KIND_STR, 1);
define(0xc0, 0xc0, KIND_SCALAR, 1);
define(0xc1, 0xc1, KIND_INVALID, 0);
define(0xc2, 0xc3, KIND_SCALAR, 1);
define(0xc4, 0xc4, KIND_BIN, 2, 1);
define(0xc5, 0xc5, KIND_BIN, 3, 2);
define(0xc6, 0xc6, KIND_BIN, 5, 4);
define(0xc7, 0xc7, KIND_EXT, 3, 1);
define(0xc8, 0xc8, KIND_EXT, 4, 2);
define(0xc9, 0xc9, KIND_EXT, 6, 4);
define(0xca, 0xca, KIND_SCALAR, 5);
define(0xcb, 0xcb, KIND_SCALAR, 9);
define(0xcc, 0xcc, KIND_SCALAR, 2);
define(0xcd, 0xcd, KIND_SCALAR, 3);
define(0xce, 0xce, KIND_SCALAR, 5);
define(0xcf, 0xcf, KIND_SCALAR, 9);
define(0xd0, 0xd0, KIND_SCALAR, 2);
define(0xd1, 0xd1, KIND_SCALAR, 3);
define(0xd2, 0xd2, KIND_SCALAR, 5);
define(0xd3, 0xd3, KIND_SCALAR, 9);
define(0xd4, 0xd4, KIND_FIXEXT, 2, 1);
define(0xd5, 0xd5, KIND_FIXEXT, 2, 2);
define(0xd6, 0xd6, KIND_FIXEXT, 2, 4);
define(0xd7, 0xd7, KIND_FIXEXT, 2, 8);
define(0xd8, 0xd8, KIND_FIXEXT, 2, 16);
define(0xd9, 0xd9, KIND_STR, 2, 1);
define(0xda, 0xda, KIND_STR, 3, 2);
define(0xdb, 0xdb, KIND_STR, 5, 4);
define(0xdc, 0xdc, KIND_ARRAY, 3, 2);
define(0xdd, 0xdd, KIND_ARRAY, 5, 4);
define(0xde, 0xde, KIND_MAP, 3, 2);
define(0xdf, 0xdf, KIND_MAP, 5, 4);
define(0xe0, 0xff, KIND_SCALAR, 1);

/** The length or count a header declares (`bytes[offset]` is the first header byte). */
export function declaredLength(bytes: Uint8Array, offset: number): number {
  const first = bytes[offset]!;
  const width = LENGTH_WIDTH[first]!;
  switch (HEADER_KIND[first]) {
    case KIND_FIXEXT:
      return width;
    case KIND_STR:
      if (width === 0) return first & 0x1f;
      break;
    case KIND_ARRAY:
    case KIND_MAP:
      if (width === 0) return first & 0x0f;
      break;
    default:
      break;
  }
  if (width === 1) return bytes[offset + 1]!;
  if (width === 2) return (bytes[offset + 1]! << 8) | bytes[offset + 2]!;
  return (
    bytes[offset + 1]! * 0x1000000 +
    ((bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 8) | bytes[offset + 4]!)
  );
}

/** Reads a big-endian uint32 at `offset`. */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    bytes[offset]! * 0x1000000 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!)
  );
}

/**
 * The integer value of a scalar integer header (fixint, negative fixint, `cc`–`d3`), or `undefined` when the
 * header is not an integer. 64-bit values beyond 2^53 come out rounded; callers only compare them to small
 * ranges.
 */
export function integerValue(bytes: Uint8Array, offset: number): number | undefined {
  const first = bytes[offset]!;
  if (first <= 0x7f) return first;
  if (first >= 0xe0) return first - 0x100;
  switch (first) {
    case 0xcc:
      return bytes[offset + 1]!;
    case 0xcd:
      return (bytes[offset + 1]! << 8) | bytes[offset + 2]!;
    case 0xce:
      return readUint32(bytes, offset + 1);
    case 0xcf:
      return readUint32(bytes, offset + 1) * 0x100000000 + readUint32(bytes, offset + 5);
    case 0xd0:
      return (bytes[offset + 1]! << 24) >> 24;
    case 0xd1:
      return (((bytes[offset + 1]! << 8) | bytes[offset + 2]!) << 16) >> 16;
    case 0xd2:
      return readUint32(bytes, offset + 1) | 0;
    case 0xd3:
      return (readUint32(bytes, offset + 1) | 0) * 0x100000000 + readUint32(bytes, offset + 5);
    default:
      return undefined;
  }
}

/** Whether a `cf`/`d3` header at `offset` holds a value outside ±(2^53−1). */
export function isUnsafeInt64(bytes: Uint8Array, offset: number): boolean {
  const high = readUint32(bytes, offset + 1);
  if (bytes[offset] === 0xcf) return high >= 0x200000;
  const signedHigh = high | 0;
  if (signedHigh >= 0) return signedHigh >= 0x200000;
  // Negative: the value is ≤ −2^53 when high < −2^21, or high = −2^21 with a zero low word.
  return signedHigh < -0x200000 || (signedHigh === -0x200000 && readUint32(bytes, offset + 5) === 0);
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Hex of at most the first `limit` bytes, space separated. */
export function hexPreview(bytes: Uint8Array, limit = 32): string {
  const end = Math.min(bytes.length, limit);
  let text = '';
  for (let index = 0; index < end; index++) text += (index === 0 ? '' : ' ') + HEX[bytes[index]!];
  return text;
}
