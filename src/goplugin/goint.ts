const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Go's `strconv.Atoi` on a 64-bit platform: an optional `+` or `-`, then one or more ASCII digits (leading zeros
 * allowed), within the int64 range. No trimming, no `0x`, no `_`. Returns `undefined` for anything Go rejects.
 */
export function parseGoInt(text: string, bits: 32 | 64 = 64): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  const min = bits === 64 ? INT64_MIN : -(2n ** 31n);
  const max = bits === 64 ? INT64_MAX : 2n ** 31n - 1n;
  return value < min || value > max ? undefined : value;
}
