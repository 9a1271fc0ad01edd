/**
 * Stage 5, value typing (`Kong/kong: kong/conf_loader/parse.lua`, `parse_value`; spec §3). Each helper takes a
 * value as a layer holds it (a file or environment string, or an override of any type) and returns what Kong's
 * typed configuration holds.
 */
import { luaNumberToString, luaStrip, luaToNumber } from './lua.js';
import { DEFAULT_KONG_VERSION, type KongVersion, kongProfile } from './versions.js';

/** A value as one of the layers holds it: strings from the file and the environment, anything from overrides. */
export type RawValue = string | number | boolean | readonly string[];

function stripped(value: RawValue | undefined): RawValue | undefined {
  return typeof value === 'string' ? luaStrip(value) : value;
}

/**
 * Kong's `boolean` type: `true` iff the value is `true` or exactly the string `on` or `true` (after stripping);
 * `ON`, `yes`, `1` are `false`.
 *
 * @example
 * ```ts
 * asBoolean('on'); // true
 * asBoolean('ON'); // false
 * ```
 */
export function asBoolean(value: RawValue | undefined): boolean {
  const v = stripped(value);
  return v === true || v === 'on' || v === 'true';
}

/**
 * Kong's `ngx_boolean` type: `'on'` if the value is `on` or `true` (boolean), else `'off'`.
 *
 * @example
 * ```ts
 * asNgxBoolean('on');  // 'on'
 * asNgxBoolean('yes'); // 'off'
 * ```
 */
export function asNgxBoolean(value: RawValue | undefined): 'on' | 'off' {
  const v = stripped(value);
  return v === 'on' || v === true ? 'on' : 'off';
}

/**
 * Kong's `number` type: LuaJIT `tonumber`, so environment strings that look like numbers work.
 *
 * @example
 * ```ts
 * asNumber('0x10'); // 16
 * asNumber('5s');   // undefined
 * ```
 */
export function asNumber(value: RawValue | undefined): number | undefined {
  const v = stripped(value);
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return luaToNumber(v);
  return undefined;
}

/**
 * Kong's `string` type (and dynamic keys): stripped, `""` is unset; numbers and booleans are stringified.
 *
 * @example
 * ```ts
 * asString('  /opt/go -dump '); // '/opt/go -dump'
 * asString('');                 // undefined: Kong treats it as unset
 * ```
 */
export function asString(value: RawValue | undefined): string | undefined {
  const v = stripped(value);
  if (v === undefined) return undefined;
  if (typeof v === 'number') return luaNumberToString(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') return v.join(',');
  return v === '' ? undefined : v;
}

/**
 * Kong's `array` type: a string is split on every `,` and each element stripped. Kong ≤ 3.9.x (Penlight's
 * `stringx.split`) keeps empty elements (`a,,b` → `['a', '', 'b']`, `a,` → `['a', '']`); master / 3.10 (Kong's
 * own splitter, `Kong/kong` da0e7efd) drops empty pieces before stripping. A whole value of `""` is `[]`.
 *
 * @param value - the layered value.
 * @param kongVersion - selects the empty-element rule; default `'3.9'`.
 * @throws {@link KongConfVersionError} for an unsupported version.
 * @example
 * ```ts
 * asArray('go , js ,', '3.9');  // ['go', 'js', '']
 * asArray('go , js ,', '3.10'); // ['go', 'js']
 * ```
 */
export function asArray(
  value: RawValue | undefined,
  kongVersion: KongVersion = DEFAULT_KONG_VERSION,
): string[] {
  const profile = kongProfile(kongVersion);
  const v = stripped(value);
  if (v === undefined) return [];
  if (Array.isArray(v)) return [...v];
  if (typeof v !== 'string') return [typeof v === 'number' ? luaNumberToString(v) : String(v)];
  if (v === '') return [];
  const pieces = v.split(',');
  const kept = profile === '3.10' ? pieces.filter((piece) => piece !== '') : pieces;
  return kept.map(luaStrip);
}
