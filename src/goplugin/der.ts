/**
 * A minimal DER (ASN.1 Distinguished Encoding Rules) writer: exactly the element types an X.509 certificate of
 * go-plugin's AutoMTLS template needs. Node can sign but not build certificates, and no runtime dependency is
 * worth this much code.
 */

/** One encoded DER element (tag, length, content). */
export type Der = Buffer;

/** Encodes a DER length: short form below 128, else long form with the minimal number of bytes. */
export function derLength(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`invalid DER length ${length}`);
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** An element with the given tag byte and content. */
export function tlv(tag: number, content: Uint8Array): Der {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

/** SEQUENCE of the given elements. */
export function sequence(...elements: Der[]): Der {
  return tlv(0x30, Buffer.concat(elements));
}

/** SET of the given elements (callers pass one element per RDN, so no sorting is needed). */
export function set(...elements: Der[]): Der {
  return tlv(0x31, Buffer.concat(elements));
}

/** Context-specific constructed tag `[n]` (EXPLICIT tagging). */
export function explicit(tagNumber: number, element: Der): Der {
  return tlv(0xa0 | tagNumber, element);
}

/** INTEGER from unsigned big-endian magnitude bytes: minimal, with a 0x00 prefix when the top bit is set. */
export function unsignedInteger(magnitude: Uint8Array): Der {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let bytes = Buffer.from(magnitude.subarray(start));
  if (bytes.length === 0) bytes = Buffer.from([0]);
  if ((bytes[0] as number) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

/** INTEGER of a small non-negative number. */
export function smallInteger(value: number): Der {
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return unsignedInteger(Buffer.from(bytes));
}

/** BOOLEAN (DER: TRUE is 0xff). */
export function boolean(value: boolean): Der {
  return tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
}

/** OBJECT IDENTIFIER from dotted text, e.g. `2.5.4.3`. */
export function oid(dotted: string): Der {
  const arcs = dotted.split('.').map((arc) => {
    if (!/^[0-9]+$/.test(arc)) throw new RangeError(`invalid OID ${dotted}`);
    return BigInt(arc);
  });
  if (arcs.length < 2) throw new RangeError(`invalid OID ${dotted}`);
  const bytes: number[] = [];
  const first = (arcs[0] as bigint) * 40n + (arcs[1] as bigint);
  for (const arc of [first, ...arcs.slice(2)]) {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) group.unshift(Number(rest & 0x7fn) | 0x80);
    bytes.push(...group);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** OCTET STRING. */
export function octetString(content: Uint8Array): Der {
  return tlv(0x04, content);
}

/** BIT STRING with the given number of unused bits in the last byte. */
export function bitString(content: Uint8Array, unusedBits = 0): Der {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), content]));
}

/** PrintableString (caller guarantees the PrintableString alphabet). */
export function printableString(text: string): Der {
  return tlv(0x13, Buffer.from(text, 'latin1'));
}

/**
 * X.509 Time: UTCTime (`YYMMDDHHMMSSZ`) for 1950–2049, GeneralizedTime (`YYYYMMDDHHMMSSZ`) otherwise, as RFC 5280
 * §4.1.2.5 requires (and Go's `x509` writes).
 */
export function time(date: Date): Der {
  const year = date.getUTCFullYear();
  const pad = (n: number) => String(n).padStart(2, '0');
  const rest = `${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(`${pad(year % 100)}${rest}`, 'latin1'));
  return tlv(0x18, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'latin1'));
}

/** Splits one DER element off the front of `der`: returns tag, content and the total encoded length. */
export function readElement(der: Uint8Array, offset = 0): { tag: number; content: Buffer; end: number } {
  const view = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  if (offset + 2 > view.length) throw new RangeError('truncated DER element');
  const tag = view[offset] as number;
  let length = view[offset + 1] as number;
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || offset + 2 + count > view.length) throw new RangeError('bad DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (view[offset + 2 + i] as number);
    header += count;
  }
  const end = offset + header + length;
  if (end > view.length) throw new RangeError('truncated DER element');
  return { tag, content: view.subarray(offset + header, end), end };
}
