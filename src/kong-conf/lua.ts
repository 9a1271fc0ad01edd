/**
 * The few Lua / LuaJIT primitives Kong's configuration loader relies on, reproduced byte for byte: the `%s`
 * whitespace class, ASCII case mapping, `tonumber` (LuaJIT's `lj_strscan.c`), `tostring` of a number
 * (`%.14g`, LuaJIT's `lj_strfmt_num.c`) and `string.format('%q')` (LuaJIT's `lj_strfmt.c`). Private to the module.
 */

/** Lua's `%s` class (ASCII only): space, `\t`, `\n`, `\v`, `\f`, `\r`. */
export function isLuaSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

/** Lua's `%w` class (ASCII only, LuaJIT ignores the locale). */
export function isLuaAlnum(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** Penlight's `stringx.strip`: removes `%s` from both ends. */
export function luaStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isLuaSpace(text.charCodeAt(start))) start++;
  while (end > start && isLuaSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** `string.lower` in the C locale: only `A`–`Z` change. */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (run) => run.toLowerCase());
}

/** `string.upper` in the C locale: only `a`–`z` change. */
export function asciiUpper(text: string): string {
  return text.replace(/[a-z]+/g, (run) => run.toUpperCase());
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function matchesWordAt(text: string, index: number, word: string): boolean {
  if (index + word.length > text.length) return false;
  return text.slice(index, index + word.length).toLowerCase() === word;
}

/**
 * LuaJIT's `tonumber(s)` for a string (`lj_strscan.c` with `STRSCAN_OPT_TONUM`): optional surrounding `%s`, an
 * optional sign, then a decimal number, a hexadecimal one (`0x`, fraction and `p` exponent allowed), a binary
 * integer (`0b`), `inf`/`infinity` or `nan` (any case). No `LL`/`i` suffixes outside FFI. Returns `undefined`
 * where LuaJIT returns `nil`.
 */
export function luaToNumber(text: string): number | undefined {
  let index = 0;
  let end = text.length;
  while (index < end && isLuaSpace(text.charCodeAt(index))) index++;
  while (end > index && isLuaSpace(text.charCodeAt(end - 1))) end--;
  if (index === end) return undefined;
  let negative = false;
  const sign = text.charCodeAt(index);
  if (sign === 0x2d || sign === 0x2b) {
    negative = sign === 0x2d;
    index++;
  }
  const body = text.slice(index, end);
  const value = scanUnsigned(body);
  if (value === undefined) return undefined;
  return negative ? -value : value;
}

function scanUnsigned(body: string): number | undefined {
  if (body.length === 0) return undefined;
  const first = body.charCodeAt(0);
  if (!isDigit(first) && first !== 0x2e) {
    if (matchesWordAt(body, 0, 'infinity') && body.length === 8) return Number.POSITIVE_INFINITY;
    if (matchesWordAt(body, 0, 'inf') && body.length === 3) return Number.POSITIVE_INFINITY;
    if (matchesWordAt(body, 0, 'nan') && body.length === 3) return Number.NaN;
    return undefined;
  }
  const prefix = body.length > 1 && first === 0x30 ? body.charCodeAt(1) | 0x20 : 0;
  if (prefix === 0x78) return scanHex(body.slice(2));
  if (prefix === 0x62) return /^[01]+$/.test(body.slice(2)) ? scanBinary(body.slice(2)) : undefined; // no backtracking
  // Decimal: digits with at most one point and at least one digit, then an optional exponent with digits.
  // Scanned by hand: a regex such as `[0-9]+\.?[0-9]*` backtracks quadratically on a long run of digits.
  if (!isDecimal(body)) return undefined;
  // LuaJIT converts decimals with correct rounding, as JavaScript's Number() does.
  return Number(body);
}

function isDecimal(body: string): boolean {
  let i = 0;
  let digits = 0;
  while (i < body.length && isDigit(body.charCodeAt(i))) {
    i++;
    digits++;
  }
  if (body.charCodeAt(i) === 0x2e) {
    i++;
    while (i < body.length && isDigit(body.charCodeAt(i))) {
      i++;
      digits++;
    }
  }
  if (digits === 0) return false;
  if (i < body.length && (body.charCodeAt(i) | 0x20) === 0x65) {
    i++;
    const sign = body.charCodeAt(i);
    if (sign === 0x2b || sign === 0x2d) i++;
    const start = i;
    while (i < body.length && isDigit(body.charCodeAt(i))) i++;
    if (i === start) return false;
  }
  return i === body.length;
}

function scanBinary(digits: string): number {
  let value = 0;
  for (let i = 0; i < digits.length; i++) value = value * 2 + (digits.charCodeAt(i) - 0x30);
  return value;
}

function scanHex(text: string): number | undefined {
  let index = 0;
  let mantissa = 0n;
  let significant = 0;
  let exponent = 0;
  let digits = 0;
  let sawPoint = false;
  // Keep at most ~80 significant hex digits exactly; the rest only shift the exponent (enough for doubles).
  for (; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === 0x2e) {
      if (sawPoint) return undefined;
      sawPoint = true;
      continue;
    }
    const digit = hexValue(code);
    if (digit < 0) break;
    digits++;
    if (significant < 80) {
      mantissa = mantissa * 16n + BigInt(digit);
      if (mantissa !== 0n) significant++;
      if (sawPoint) exponent -= 4;
    } else {
      if (digit !== 0) mantissa |= 1n; // sticky bit keeps the rounding direction
      if (!sawPoint) exponent += 4;
    }
  }
  if (digits === 0) return undefined;
  if (index < text.length) {
    const marker = text.charCodeAt(index) | 0x20;
    if (marker !== 0x70) return undefined;
    const match = /^[+-]?[0-9]+$/.exec(text.slice(index + 1));
    if (!match) return undefined;
    exponent += Math.max(-100_000, Math.min(100_000, Number(match[0])));
  }
  return scaleBigInt(mantissa, exponent);
}

function scaleBigInt(mantissa: bigint, exponent: number): number {
  if (mantissa === 0n) return 0;
  // Number(bigint) rounds to nearest; for the usual short hex literals this is exact.
  const bits = mantissa.toString(2).length;
  if (bits > 64) {
    const shift = bits - 64;
    const kept = mantissa >> BigInt(shift);
    const sticky = mantissa & ((1n << BigInt(shift)) - 1n) ? 1n : 0n;
    return Number(kept | sticky) * 2 ** (exponent + shift);
  }
  const scaled = Number(mantissa) * 2 ** exponent;
  return Number.isFinite(scaled) || exponent <= 0 ? scaled : Number.POSITIVE_INFINITY;
}

/**
 * LuaJIT's `tostring(number)`: `%.14g`, with `inf`, `-inf` and `nan` (LuaJIT 2.1 prints `nan` whatever the
 * sign) and `-0` kept.
 */
export function luaNumberToString(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const exponential = value.toExponential(13);
  const ePos = exponential.indexOf('e');
  const exponent = Number(exponential.slice(ePos + 1));
  if (exponent < -4 || exponent >= 14) {
    const mantissa = stripFractionZeros(exponential.slice(0, ePos));
    const sign = exponent < 0 ? '-' : '+';
    const magnitude = Math.abs(exponent);
    return `${mantissa}e${sign}${magnitude < 10 ? '0' : ''}${magnitude}`;
  }
  return stripFractionZeros(value.toFixed(13 - exponent));
}

function stripFractionZeros(text: string): string {
  if (!text.includes('.')) return text;
  let end = text.length;
  while (text.charCodeAt(end - 1) === 0x30) end--;
  if (text.charCodeAt(end - 1) === 0x2e) end--;
  return text.slice(0, end);
}

/**
 * LuaJIT's `string.format('%q', s)` (`lj_strfmt.c`, `lj_strfmt_putquoted`): wraps in `"`, escapes `"` and `\`
 * with a backslash, a newline as backslash + newline, other control bytes (0x00–0x1F, 0x7F) as `\` + decimal
 * (three digits when a digit follows), everything else unchanged.
 */
export function luaQuote(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22 || code === 0x5c || code === 0x0a) {
      out += `\\${text[i]}`;
    } else if (code < 0x20 || code === 0x7f) {
      const nextIsDigit = i + 1 < text.length && isDigit(text.charCodeAt(i + 1));
      out += `\\${nextIsDigit || code >= 100 ? String(code).padStart(3, '0') : String(code)}`;
    } else {
      out += text[i];
    }
  }
  return `${out}"`;
}

/** Number of bytes `text` takes in UTF-8 (lone surrogates count as three, as WTF-8 writes them). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
