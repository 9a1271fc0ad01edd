/**
 * A JSON decoder that accepts what Kong's lua-cjson accepts and fails with lua-cjson's messages
 * (`Expected value but found invalid token at character 1`; `openresty/lua-cjson: lua_cjson.c`,
 * `json_throw_parse_error`), so `failed decoding plugin info: <error>` reads as in Kong's log. Objects are
 * created without a prototype, so keys such as `__proto__` are plain data.
 */

/** A decoded JSON value; objects have a null prototype. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Thrown by {@link decodeJson} with lua-cjson's message. */
export class JsonDecodeError extends Error {}

const STRING_STOP = /["\\]/g;

const MAX_DEPTH = 1000; // lua-cjson's default decode_max_depth

type Token =
  | {
      type: 'T_OBJ_BEGIN' | 'T_OBJ_END' | 'T_ARR_BEGIN' | 'T_ARR_END' | 'T_COLON' | 'T_COMMA' | 'T_END';
      index: number;
    }
  | { type: 'T_STRING' | 'T_NUMBER' | 'T_BOOLEAN' | 'T_NULL'; index: number; value: JsonValue }
  | { type: 'T_ERROR'; index: number; error: string };

const NUMBER =
  /-?(?:0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI]nf(?:inity)?|[nN]an)/y;

class Lexer {
  index = 0;
  constructor(readonly text: string) {}

  next(): Token {
    const text = this.text;
    while (this.index < text.length) {
      const c = text.charCodeAt(this.index);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.index++;
    }
    const index = this.index;
    if (index >= text.length) return { type: 'T_END', index };
    const char = text[index];
    const single: Record<string, Token['type']> = {
      '{': 'T_OBJ_BEGIN',
      '}': 'T_OBJ_END',
      '[': 'T_ARR_BEGIN',
      ']': 'T_ARR_END',
      ':': 'T_COLON',
      ',': 'T_COMMA',
    };
    const type = char === undefined ? undefined : single[char];
    if (type !== undefined) {
      this.index++;
      return { type, index } as Token;
    }
    if (char === '"') return this.string(index);
    if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) {
      NUMBER.lastIndex = index;
      const match = NUMBER.exec(text);
      if (!match) return { type: 'T_ERROR', index, error: 'invalid number' };
      this.index = index + match[0].length;
      const raw = match[0];
      const lower = raw.toLowerCase();
      const value = lower.includes('nan')
        ? Number.NaN
        : lower.includes('inf')
          ? (raw.startsWith('-') ? -1 : 1) * Number.POSITIVE_INFINITY
          : /0x/i.test(raw)
            ? (raw.startsWith('-') ? -1 : 1) * Number.parseInt(raw.replace(/^-?0[xX]/, ''), 16)
            : Number(raw);
      return { type: 'T_NUMBER', index, value };
    }
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, index)) {
        this.index = index + word.length;
        return { type: value === null ? 'T_NULL' : 'T_BOOLEAN', index, value };
      }
    }
    return { type: 'T_ERROR', index, error: 'invalid token' };
  }

  private string(index: number): Token {
    const text = this.text;
    let out = '';
    let i = index + 1;
    for (;;) {
      STRING_STOP.lastIndex = i;
      const stop = STRING_STOP.exec(text);
      if (!stop) return { type: 'T_ERROR', index, error: 'unexpected end of string' };
      out += text.slice(i, stop.index);
      i = stop.index;
      if (text[i] === '"') break;
      const escaped = text[i + 1];
      const simple: Record<string, string> = {
        '"': '"',
        '\\': '\\',
        '/': '/',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
      };
      if (escaped === undefined) return { type: 'T_ERROR', index, error: 'unexpected end of string' };
      const mapped = simple[escaped];
      if (mapped !== undefined) {
        out += mapped;
        i += 2;
        continue;
      }
      if (escaped !== 'u' || !/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        return {
          type: 'T_ERROR',
          index,
          error: escaped === 'u' ? 'invalid unicode escape code' : 'invalid escape code',
        };
      }
      const unit = Number.parseInt(text.slice(i + 2, i + 6), 16);
      i += 6;
      if (unit >= 0xd800 && unit <= 0xdbff) {
        const low = /^\\u([dD][c-fC-F][0-9a-fA-F]{2})/.exec(text.slice(i, i + 6));
        if (!low?.[1]) return { type: 'T_ERROR', index, error: 'invalid unicode escape code' };
        out += String.fromCharCode(unit, Number.parseInt(low[1], 16));
        i += 6;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        return { type: 'T_ERROR', index, error: 'invalid unicode escape code' };
      } else out += String.fromCharCode(unit);
    }
    this.index = i + 1;
    return { type: 'T_STRING', index, value: out };
  }
}

function fail(expected: string, token: Token): never {
  const found = token.type === 'T_ERROR' ? token.error : token.type;
  throw new JsonDecodeError(`Expected ${expected} but found ${found} at character ${token.index + 1}`);
}

function value(lexer: Lexer, token: Token, depth: number): JsonValue {
  switch (token.type) {
    case 'T_STRING':
    case 'T_NUMBER':
    case 'T_BOOLEAN':
    case 'T_NULL':
      return token.value;
    case 'T_OBJ_BEGIN':
    case 'T_ARR_BEGIN':
      if (depth >= MAX_DEPTH) {
        throw new JsonDecodeError(
          `Found too many nested data structures (${depth + 1}) at character ${token.index + 1}`,
        );
      }
      return token.type === 'T_OBJ_BEGIN' ? object(lexer, depth + 1) : array(lexer, depth + 1);
    default:
      return fail('value', token);
  }
}

function object(lexer: Lexer, depth: number): JsonValue {
  const result: { [key: string]: JsonValue } = Object.create(null);
  let token = lexer.next();
  if (token.type === 'T_OBJ_END') return result;
  for (;;) {
    if (token.type !== 'T_STRING') fail('object key string', token);
    const key = token.value as string;
    token = lexer.next();
    if (token.type !== 'T_COLON') fail('colon', token);
    result[key] = value(lexer, lexer.next(), depth);
    token = lexer.next();
    if (token.type === 'T_OBJ_END') return result;
    if (token.type !== 'T_COMMA') fail('comma or object end', token);
    token = lexer.next();
  }
}

function array(lexer: Lexer, depth: number): JsonValue {
  const result: JsonValue[] = [];
  let token = lexer.next();
  if (token.type === 'T_ARR_END') return result;
  for (;;) {
    result.push(value(lexer, token, depth));
    token = lexer.next();
    if (token.type === 'T_ARR_END') return result;
    if (token.type !== 'T_COMMA') fail('comma or array end', token);
    token = lexer.next();
  }
}

/**
 * Decodes one JSON document (surrounding whitespace allowed).
 *
 * @throws {@link JsonDecodeError} with lua-cjson's message.
 */
export function decodeJson(text: string): JsonValue {
  const lexer = new Lexer(text);
  const result = value(lexer, lexer.next(), 0);
  const end = lexer.next();
  if (end.type !== 'T_END') fail('the end', end);
  return result;
}
