/**
 * The per-line rules of Kong's file layer (spec §2.2–2.4): key normalization, Penlight's value processing,
 * Kong's trailing-comment removal, section-header matching. Each is one left-to-right scan. Private to the module.
 */
import { isLuaAlnum, isLuaSpace, luaNumberToString, luaStrip, luaToNumber } from './lua.js';

/**
 * What Kong stores for a value it turned into a Lua table (`_blank_` in a value, spec V4; a `[section]` header,
 * S1) and then stringified: `table: 0x…` followed by an address. The address differs per run, so the module
 * stores this fixed text.
 */
export const LUA_TABLE_VALUE = 'table: 0x…';

/**
 * K2: every byte that is not ASCII alphanumeric becomes `_` (Penlight's `variabilize`, `[^%w]` → `_`); a
 * non-ASCII character is several bytes in UTF-8 and so several underscores. With `binary`, `raw` holds one
 * character per byte (a Latin-1 decoded file), so every character is one byte.
 */
export function normalizeKey(raw: string, binary = false): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (isLuaAlnum(code)) out += raw[i];
    else if (code < 0x80 || binary) out += '_';
    else if (code < 0x800) out += '__';
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < raw.length) {
      const next = raw.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += '____';
        i++;
      } else out += '___';
    } else out += '___';
  }
  return out;
}

/**
 * V5: Kong's `ngx.re.sub(value, [[\s*(?<!\\)#.*$]], "")` then `gsub(value, "\\#", "#")`. The first `#` not
 * directly after a backslash starts the comment; the whitespace run before it goes too.
 */
export function stripTrailingComment(value: string): string {
  let hash = value.indexOf('#');
  while (hash > 0 && value.charCodeAt(hash - 1) === 0x5c) hash = value.indexOf('#', hash + 1);
  let result = value;
  if (hash >= 0) {
    let start = hash;
    // PCRE's \s: space, \t, \n, \v, \f, \r, the same bytes as Lua's %s.
    while (start > 0 && isLuaSpace(value.charCodeAt(start - 1))) start--;
    result = value.slice(0, start);
  }
  if (!result.includes('\\#')) return result;
  return result.length < 4096 ? result.replaceAll('\\#', '#') : unescapeLong(result);
}

/**
 * `\#` → `#` for long values through a code-unit buffer: V8's `replaceAll` builds one string piece per
 * match, which turns superlinear (garbage collection) on hundreds of thousands of matches.
 */
function unescapeLong(value: string): string {
  const out = new Uint16Array(value.length);
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x5c && value.charCodeAt(i + 1) === 0x23) continue;
    out[length++] = code;
  }
  let text = '';
  for (let i = 0; i < length; i += 8192) {
    text += String.fromCharCode(...out.subarray(i, Math.min(length, i + 8192)));
  }
  return text;
}

/** What Penlight's `process_value` makes of the text after `=` (spec V1–V4), before Kong's stage 3. */
export interface PenlightValue {
  text: string;
  table: boolean;
  converted: boolean;
}

export function penlightValue(raw: string): PenlightValue {
  // V4: list_delim "_blank_" splits the value into a table, which Kong later stringifies.
  if (raw.includes('_blank_')) return { text: LUA_TABLE_VALUE, table: true, converted: false };
  let value = raw;
  const first = value.charCodeAt(0);
  // V3: `value:find('^[%d%+%-]')`, then tonumber on the untrimmed value, comment included.
  if ((first >= 0x30 && first <= 0x39) || first === 0x2b || first === 0x2d) {
    let number = luaToNumber(value);
    if (number === undefined && value.endsWith(' kB')) {
      // Penlight keeps the gsub result even when the second tonumber fails (`1a kB` becomes `1a`).
      value = value.replaceAll(' kB', '');
      number = luaToNumber(value);
    }
    if (number !== undefined) return { text: luaNumberToString(number), table: false, converted: true };
    if (value !== raw) return { text: luaStrip(value), table: false, converted: true };
  }
  return { text: luaStrip(value), table: false, converted: false };
}

/**
 * S1: Penlight's `line:match('%[([^%]]+)%]')` (unanchored). Returns the raw section name, or `undefined` where
 * the match fails and Penlight errors out (`[]`, `[` without `]`).
 */
export function sectionName(line: string): string | undefined {
  const close = line.indexOf(']');
  if (close < 0) return undefined;
  let open = line.indexOf('[');
  while (open >= 0 && open < close) {
    // `[^%]]+` needs one non-`]` byte after the `[`; the greedy run then stops at the first `]`.
    if (open + 1 < close) return line.slice(open + 1, close);
    open = line.indexOf('[', open + 1);
  }
  // Every `[` before the first `]` was directly followed by it; a later `[…]` may still match.
  open = line.indexOf('[', close);
  while (open >= 0) {
    const next = line.indexOf(']', open + 1);
    if (next < 0) return undefined;
    if (next > open + 1) return line.slice(open + 1, next);
    open = line.indexOf('[', next);
  }
  return undefined;
}

export function firstNonSpace(line: string): number {
  for (let i = 0; i < line.length; i++) if (!isLuaSpace(line.charCodeAt(i))) return i;
  return -1;
}
