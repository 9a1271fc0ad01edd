/**
 * Writing kong.conf text that parses back to the same values (spec §8.5). Kong's own writer for
 * `<prefix>/.kong_env` (`Kong/kong: kong/cmd/utils/prefix_handler.lua`) only escapes `#`; this one also guards
 * against Penlight's number conversion and line continuation, and refuses what no kong.conf line can carry.
 */
import { type Diagnostic, diagnostic } from './diagnostics.js';
import { isLuaSpace } from './lua.js';
import { DEFAULT_KONG_VERSION, type KongVersion, kongProfile } from './versions.js';

/** Options of {@link stringifyKongConf}. */
export interface StringifyOptions {
  /** The Kong version the text is for (only `3.10` differs: it cannot carry empty array elements). */
  kongVersion?: KongVersion;
  /**
   * Write an empty value as `key =` (an explicit empty override, which differs from an absent key); by
   * default an empty value or array is skipped, as Kong's own writer does.
   */
  writeEmpty?: boolean;
}

/** The result of {@link stringifyKongConf}. */
export interface StringifyResult {
  /** The kong.conf text, one `key = value` line per written entry, each ending in `\n`. */
  text: string;
  /** `unrepresentable` (error, entry skipped) and `empty-skipped` (info) findings. */
  diagnostics: Diagnostic[];
}

function problemOf(value: string): string | undefined {
  if (
    value.length > 0 &&
    (isLuaSpace(value.charCodeAt(0)) || isLuaSpace(value.charCodeAt(value.length - 1)))
  ) {
    return 'leading or trailing whitespace, which Kong strips';
  }
  if (value.includes('\n')) return 'a newline';
  if (value.includes('_blank_')) return '`_blank_`, which Kong turns into a table';
  return undefined;
}

/**
 * Writes entries as kong.conf text that reads back (with {@link parseKongConf} and the same version) to the
 * same values: every `#` escaped as `\#`, a ` #` guard comment after values that start with a digit, `+` or `-`
 * (Penlight would canonicalize them as numbers) or end with `\` (a continuation), arrays joined with `,`.
 *
 * Never throws for bad entries: an entry that cannot round-trip is skipped with an `unrepresentable` error
 * diagnostic (keys other than `[A-Za-z0-9_]+`; values with leading or trailing whitespace, a newline or
 * `_blank_`; array elements with `,`, surrounding whitespace, or empty on 3.10).
 *
 * @param entries - `[key, value]` pairs in the order to write.
 * @param options - the Kong version; whether to write empty values.
 * @throws {@link KongConfVersionError} for an unsupported `kongVersion`.
 * @example
 * ```ts
 * stringifyKongConf([['pg_password', 'a#b'], ['pg_port', '05432']]).text;
 * // 'pg_password = a\\#b\npg_port = 05432 #\n'
 * ```
 */
export function stringifyKongConf(
  entries: ReadonlyArray<readonly [string, string | readonly string[]]>,
  options: StringifyOptions = {},
): StringifyResult {
  const profile = kongProfile(options.kongVersion ?? DEFAULT_KONG_VERSION);
  const diagnostics: Diagnostic[] = [];
  let text = '';
  for (const [key, value] of entries) {
    const refuse = (why: string): void => {
      diagnostics.push(
        diagnostic('unrepresentable', 'error', 'resolver', `${key} cannot be written: ${why}`, { key }),
      );
    };
    if (!/^[A-Za-z0-9_]+$/.test(key)) {
      refuse('keys must be [A-Za-z0-9_]+ (Kong turns every other byte into _)');
      continue;
    }
    let joined: string;
    if (typeof value === 'string') {
      joined = value;
    } else {
      const bad = value.find(
        (element) =>
          element.includes(',') ||
          problemOf(element) !== undefined ||
          (element === '' && (profile === '3.10' || value.length === 1)),
      );
      if (bad !== undefined) {
        refuse(
          bad.includes(',')
            ? `the array element ${JSON.stringify(bad)} contains a comma`
            : bad === ''
              ? 'an empty array element does not survive the version’s array rule'
              : `the array element ${JSON.stringify(bad)} has ${problemOf(bad)}`,
        );
        continue;
      }
      joined = value.join(',');
    }
    const problem = problemOf(joined);
    if (problem !== undefined) {
      refuse(`the value has ${problem}`);
      continue;
    }
    if (joined === '') {
      if (options.writeEmpty) text += `${key} =\n`;
      else {
        diagnostics.push(
          diagnostic('empty-skipped', 'info', 'resolver', `${key} is empty and was not written`, { key }),
        );
      }
      continue;
    }
    let written = joined.replaceAll('#', '\\#');
    const first = written.charCodeAt(0);
    if ((first >= 0x30 && first <= 0x39) || first === 0x2b || first === 0x2d || written.endsWith('\\')) {
      written += ' #';
    }
    text += `${key} = ${written}\n`;
  }
  return { text, diagnostics };
}
