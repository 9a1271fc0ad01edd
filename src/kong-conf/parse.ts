/**
 * Stages 1–3 of Kong's configuration loading (spec §2): file text → logical lines (Penlight `config.lines`),
 * → raw key/value table (Penlight `config.read` with `smart = false`, `list_delim = "_blank_"`), → trailing
 * comments removed and `\#` unescaped (`Kong/kong: kong/conf_loader/init.lua`, `load_config`).
 *
 * One pass over the text, no backtracking: every rule below is a left-to-right scan, so the parse is linear in
 * the input whatever it contains.
 */
import { type Diagnostic, diagnostic } from './diagnostics.js';
import { isKnownOrDynamic } from './keys.js';
import { asciiLower, isLuaSpace, luaStrip } from './lua.js';
import {
  firstNonSpace,
  LUA_TABLE_VALUE,
  normalizeKey,
  penlightValue,
  sectionName,
  stripTrailingComment,
} from './syntax.js';
import { DEFAULT_KONG_VERSION, type KongVersion, kongProfile } from './versions.js';

/** One assignment (or section header) of a kong.conf file, in file order. */
export interface ConfEntry {
  /** The key after Kong's normalization (every byte not `[A-Za-z0-9]` becomes `_`). */
  key: string;
  /** The key as written. */
  rawKey: string;
  /** The value as Kong holds it after stages 1–3 (comments cut, `\#` unescaped, numbers canonicalized). */
  value: string;
  /** 1-based physical line of the first line of the logical line. */
  line: number;
  /** `section` for a `[name]` header (Kong stores {@link LUA_TABLE_VALUE} under the name). */
  kind: 'assignment' | 'section';
  /** For an assignment after a `[section]` header: that section. Kong never reads such keys. */
  section?: string;
}

/** The result of {@link parseKongConf}. */
export interface ParsedConf {
  /** The file name given, for messages. */
  readonly filename: string | undefined;
  /** Every assignment and section header in file order, duplicates included. */
  readonly entries: readonly ConfEntry[];
  /** Every finding, in line order. */
  readonly diagnostics: readonly Diagnostic[];
  /**
   * `false` when Kong cannot load the file at all (a `[` line Penlight fails on, spec S1). Then `entries` is
   * empty and `get` returns nothing from the file.
   */
  readonly loadable: boolean;
  /**
   * The environment overlay attached by {@link loadKongConf}; `undefined` for a plain parse. The resolver uses
   * it when its own `env` option is absent.
   */
  readonly env: Readonly<Record<string, string | undefined>> | undefined;
  /**
   * The effective value of a (normalized, case-sensitive) key: the last assignment outside any section, or,
   * after {@link loadKongConf}, the `KONG_<KEY>` environment variable when it is set (spec P3, P6).
   */
  get(key: string): string | undefined;
  /** The file entry `get(key)` would return without the environment overlay (its line, raw key, …). */
  entry(key: string): ConfEntry | undefined;
  /** Every key `get` can return a value for, in first-appearance order. */
  keys(): string[];
}

/** Options of {@link parseKongConf}. */
export interface ParseKongConfOptions {
  /** Used in diagnostics' messages. */
  filename?: string;
  /** Selects the known-key list for `unknown-key` / `case-mismatch` diagnostics; default `'3.9'`. */
  kongVersion?: KongVersion;
  /**
   * The text holds one character per byte (e.g. a file that is not UTF-8, decoded as Latin-1), so key
   * normalization turns each character, not each UTF-8 byte, into `_`. Default `false`.
   */
  binary?: boolean;
}

/**
 * Parses kong.conf text exactly as Kong's loader does (stages 1–3 of the spec): comment lines (`#`, `;`),
 * trailing comments cut at the first unescaped `#` and `\#` unescaped, `\` line continuation, split at the
 * first `=`, non-alphanumeric key bytes turned into `_` (case kept), quotes kept, the last duplicate winning,
 * Penlight's number canonicalization (`0123` → `123`). Never throws: everything unusual is a diagnostic.
 *
 * @param text - the file's text (a UTF-8 BOM is kept, as Kong keeps it).
 * @param options - `filename` for messages; `kongVersion` for the known-key list.
 * @returns entries in file order, a `get` view of the effective values, and diagnostics with line numbers.
 * @example
 * ```ts
 * const conf = parseKongConf('pg_password = test\\#123  # keep the escaped one\n');
 * conf.get('pg_password'); // 'test#123'
 * ```
 */
export function parseKongConf(text: string, options: ParseKongConfOptions = {}): ParsedConf {
  const binary = options.binary ?? false;
  const entries: ConfEntry[] = [];
  const diagnostics: Diagnostic[] = [];
  let profile: ReturnType<typeof kongProfile>;
  try {
    profile = kongProfile(options.kongVersion ?? DEFAULT_KONG_VERSION);
  } catch (error) {
    // parse never throws; the version only selects the known-key list, so say so and use the default's.
    profile = kongProfile(DEFAULT_KONG_VERSION);
    const reason = error instanceof Error ? error.message : String(error);
    diagnostics.push(
      diagnostic(
        'unsupported-version',
        'error',
        'resolver',
        `${reason}; known keys of ${DEFAULT_KONG_VERSION} used`,
      ),
    );
  }
  const effective = new Map<string, ConfEntry>();
  let loadable = true;
  let section: string | undefined;

  if (text.charCodeAt(0) === 0xfeff || (binary && text.startsWith('\xEF\xBB\xBF'))) {
    diagnostics.push(
      diagnostic(
        'bom',
        'warning',
        'file',
        'the file starts with a UTF-8 byte-order mark; Kong keeps its bytes, so the first key gets a `___` prefix',
        { line: 1 },
      ),
    );
  }

  const handleLogical = (line: string, lineNumber: number): boolean => {
    if (line.charCodeAt(0) === 0x5b) {
      const raw = sectionName(line);
      if (raw === undefined) {
        diagnostics.push(
          diagnostic(
            'section-header',
            'error',
            'file',
            `\`${line}\` is a section header Penlight cannot parse: Kong fails to load the file`,
            { line: lineNumber },
          ),
        );
        loadable = false;
        return false;
      }
      const key = normalizeKey(raw, binary);
      section = key;
      const entry: ConfEntry = {
        key,
        rawKey: raw,
        value: LUA_TABLE_VALUE,
        line: lineNumber,
        kind: 'section',
      };
      entries.push(entry);
      effective.set(key, entry);
      const corrupts = isKnownOrDynamic(key, profile)
        ? ` and overwrites the property \`${key}\` with garbage`
        : '';
      diagnostics.push(
        diagnostic(
          'section-header',
          'error',
          'file',
          `section header [${raw}]: Kong never reads the keys after it${corrupts}`,
          { line: lineNumber, key },
        ),
      );
      return true;
    }
    // S2: `^%s*` removed, then the leftmost `%s*=%s*`.
    const start = firstNonSpace(line);
    const equals = line.indexOf('=', start);
    if (equals < 0) {
      diagnostics.push(
        diagnostic(
          'no-equals',
          'warning',
          'file',
          `line has no \`=\`; Kong ignores it: ${line.slice(start)}`,
          {
            line: lineNumber,
          },
        ),
      );
      return true;
    }
    let keyEnd = equals;
    while (keyEnd > start && isLuaSpace(line.charCodeAt(keyEnd - 1))) keyEnd--;
    let valueStart = equals + 1;
    while (valueStart < line.length && isLuaSpace(line.charCodeAt(valueStart))) valueStart++;
    const rawKey = line.slice(start, keyEnd);
    const key = normalizeKey(rawKey, binary);
    const penlight = penlightValue(line.slice(valueStart));
    const value = penlight.table ? penlight.text : stripTrailingComment(penlight.text);
    const entry: ConfEntry = { key, rawKey, value, line: lineNumber, kind: 'assignment' };
    if (section !== undefined) entry.section = section;
    entries.push(entry);
    const where = { line: lineNumber, key };
    if (penlight.table) {
      diagnostics.push(
        diagnostic(
          'value-blank-marker',
          'error',
          'file',
          `the value of ${key} contains \`_blank_\`, Penlight's list delimiter in Kong: Kong turns it into \`${LUA_TABLE_VALUE}\``,
          where,
        ),
      );
    } else if (penlight.converted) {
      const plain = stripTrailingComment(luaStrip(line.slice(valueStart)));
      if (plain !== value) {
        diagnostics.push(
          diagnostic(
            'value-number-canonicalized',
            'warning',
            'file',
            `Penlight reads the value of ${key} as a number: \`${plain}\` becomes \`${value}\``,
            where,
          ),
        );
      }
    }
    if (rawKey !== key) {
      diagnostics.push(
        diagnostic('key-normalized', 'info', 'file', `key \`${rawKey}\` is read as \`${key}\``, where),
      );
    }
    if (section !== undefined) return true;
    const earlier = effective.get(key);
    if (earlier !== undefined) {
      diagnostics.push(
        diagnostic(
          'duplicate-key',
          'warning',
          'file',
          `${key} is set again; this value overrides the one on line ${earlier.line}`,
          where,
        ),
      );
    }
    effective.set(key, entry);
    if (!isKnownOrDynamic(key, profile)) {
      const lower = asciiLower(key);
      if (lower !== key && isKnownOrDynamic(lower, profile)) {
        diagnostics.push(
          diagnostic(
            'case-mismatch',
            'warning',
            'file',
            `Kong's keys are case-sensitive: \`${key}\` is dropped; did you mean \`${lower}\`?`,
            where,
          ),
        );
      } else {
        diagnostics.push(
          diagnostic('unknown-key', 'info', 'file', `Kong does not know \`${key}\` and drops it`, where),
        );
      }
    } else if (/^pluginserver_/.test(key) && asciiLower(key) !== key) {
      diagnostics.push(
        diagnostic(
          'case-mismatch',
          'warning',
          'file',
          `\`${key}\` has upper-case letters; Kong looks plugin-server properties up with lower-case names`,
          where,
        ),
      );
    }
    return true;
  };

  // Stage 1 (Penlight config.lines): split on \n, drop blank and comment lines, join `\` continuations.
  let pending: string | undefined;
  let pendingLine = 0;
  let lineNumber = 0;
  let position = 0;
  while (position <= text.length) {
    let newline = text.indexOf('\n', position);
    if (newline < 0) newline = text.length;
    // `f:read()` yields no final empty line after a trailing newline.
    if (newline === text.length && position === text.length) break;
    const lineStart = position;
    position = newline + 1;
    lineNumber++;
    // Look at the line inside `text` first: blank and comment lines (most of a kong.conf) are never sliced.
    let first = lineStart;
    while (first < newline && isLuaSpace(text.charCodeAt(first))) first++;
    if (first === newline) continue;
    const firstCode = text.charCodeAt(first);
    if (firstCode === 0x23 || firstCode === 0x3b) continue;
    // L3: `^(.-)\\%s*$`: the last non-space byte is a backslash.
    let last = newline - 1;
    while (last > first && isLuaSpace(text.charCodeAt(last))) last--;
    if (text.charCodeAt(last) === 0x5c) {
      const kept = text.slice(lineStart, last);
      if (pending === undefined) {
        pending = kept;
        pendingLine = lineNumber;
      } else pending += kept;
      continue;
    }
    const physical = text.slice(lineStart, newline);
    const logicalLine = pending === undefined ? lineNumber : pendingLine;
    const logical = pending === undefined ? physical : pending + physical;
    pending = undefined;
    if (!handleLogical(logical, logicalLine)) break;
  }
  if (loadable && pending !== undefined) {
    diagnostics.push(
      diagnostic(
        'continuation-at-eof',
        'warning',
        'file',
        'the file ends inside a `\\` continuation: Kong discards this last logical line',
        { line: pendingLine },
      ),
    );
  }

  if (!loadable) {
    entries.length = 0;
    effective.clear();
  }
  return makeParsedConf(options.filename, entries, diagnostics, loadable, effective);
}

function makeParsedConf(
  filename: string | undefined,
  entries: readonly ConfEntry[],
  diagnostics: readonly Diagnostic[],
  loadable: boolean,
  effective: ReadonlyMap<string, ConfEntry>,
): ParsedConf {
  return {
    filename,
    entries,
    diagnostics,
    loadable,
    env: undefined,
    get: (key) => effective.get(key)?.value,
    entry: (key) => effective.get(key),
    keys: () => [...effective.keys()],
  };
}
