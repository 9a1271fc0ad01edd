/**
 * Stage 4, sources and precedence (spec §4): built-in defaults < file < environment `KONG_<KEY>` < programmatic
 * overrides, and Kong's dynamic `pluginserver_*` key namespace (`Kong/kong: kong/conf_loader/init.lua`, `load`;
 * `kong/conf_loader/parse.lua`, `overrides`). Environment values and overrides never go through stages 1–3.
 */
import { readFile } from 'node:fs/promises';
import { type Diagnostic, diagnostic } from './diagnostics.js';
import { KongConfFileNotFoundError, KongConfFileUnreadableError } from './errors.js';
import { PLUGINSERVER_KEY } from './keys.js';
import { asciiLower, asciiUpper, luaNumberToString } from './lua.js';
import { type ConfEntry, type ParsedConf, type ParseKongConfOptions, parseKongConf } from './parse.js';
import type { RawValue } from './typing.js';
import { isTwoX, type KongProfile } from './versions.js';

/** Environment variables, e.g. `process.env` (never read implicitly). */
export type Env = Readonly<Record<string, string | undefined>>;

/** Programmatic overrides (Kong's `custom_conf`): keys verbatim, values of any kong.conf type. */
export type Overrides = Readonly<Record<string, RawValue>>;

/** Where an effective value comes from. */
export type ValueSource = 'default' | 'file' | 'env' | 'override';

/** An effective value with its origin. */
export interface LayeredValue {
  /** The value as the winning layer holds it (not typed yet). */
  value: RawValue;
  /** The layer it comes from. */
  source: ValueSource;
  /** The file line, when it comes from the file. */
  line?: number;
}

/**
 * The built-in defaults this module types (spec §3), after stages 1–3 and the `NONE` placeholder rule:
 * a default of `NONE` reads as `""`.
 */
function defaultsFor(profile: KongProfile): ReadonlyMap<string, string> {
  const defaults = new Map<string, string>([
    ['prefix', '/usr/local/kong/'],
    ['plugins', 'bundled'],
    ['pluginserver_names', ''],
    ['log_level', 'notice'],
    ['database', 'postgres'],
    ['pg_ssl', 'off'],
    ['pg_password', ''],
  ]);
  if (isTwoX(profile)) {
    defaults.set('go_plugins_dir', 'off');
    defaults.set('go_pluginserver_exe', '/usr/local/bin/go-pluginserver');
  }
  return defaults;
}

/** The merged view of every layer; see {@link kongProperties}. */
export interface KongProperties {
  /** The effective value of a key with its origin, or `undefined` when Kong has no such key. */
  lookup(key: string): LayeredValue | undefined;
  /** The effective value of a key (shorthand for `lookup(key)?.value`). */
  get(key: string): RawValue | undefined;
  /** Every key of the dynamic `pluginserver_` namespace Kong registers, from every layer. */
  dynamicKeys(): string[];
  /** Findings about the environment and the overrides. */
  readonly diagnostics: readonly Diagnostic[];
}

/** Builds the layered view. `file` may be absent (Kong then runs on defaults). */
export function layerProperties(
  file: ParsedConf | undefined,
  env: Env,
  overrides: Overrides,
  profile: KongProfile,
): KongProperties {
  const defaults = defaultsFor(profile);
  const diagnostics: Diagnostic[] = [];
  // P6: every variable whose lower-cased name is `kong_<x>` registers `<x>`, lower-cased, as a candidate key.
  const dynamic = new Set<string>();
  for (const key of file?.keys() ?? [])
    if (PLUGINSERVER_KEY.test(key) && fileEntry(file, key)) dynamic.add(key);
  for (const name of Object.keys(env)) {
    const lower = asciiLower(name);
    if (!lower.startsWith('kong_')) continue;
    const key = lower.slice(5);
    if (!PLUGINSERVER_KEY.test(key)) continue;
    dynamic.add(key);
    if (name !== asciiUpper(name) || name.includes('-')) {
      const reason =
        name !== asciiUpper(name)
          ? `Kong reads it back as \`KONG_${asciiUpper(key)}\`, which is not set`
          : `the resolver looks properties up with \`_\`, never \`-\``;
      diagnostics.push(
        diagnostic(
          'pluginserver-env-name',
          'warning',
          'env',
          `environment variable ${name} has no effect: ${reason}`,
          {
            key,
          },
        ),
      );
    }
  }
  for (const key of Object.keys(overrides)) if (PLUGINSERVER_KEY.test(key)) dynamic.add(key);

  const lookup = (key: string): LayeredValue | undefined => {
    const isDynamic = PLUGINSERVER_KEY.test(key);
    if (isDynamic && !dynamic.has(key) && !defaults.has(key)) return undefined;
    let result: LayeredValue | undefined;
    const entry = fileEntry(file, key);
    if (entry !== undefined) result = { value: entry.value, source: 'file', line: entry.line };
    else {
      const fallback = defaults.get(key);
      if (fallback !== undefined) result = { value: fallback, source: 'default' };
    }
    // P3: `"KONG_" .. string.upper(k)`, used as-is (an empty string counts).
    const fromEnv = Object.hasOwn(env, `KONG_${asciiUpper(key)}`)
      ? env[`KONG_${asciiUpper(key)}`]
      : undefined;
    if (fromEnv !== undefined) result = { value: fromEnv, source: 'env' };
    if (Object.hasOwn(overrides, key)) {
      const value = overrides[key] as RawValue;
      // P4: on dynamic keys booleans become on/off and numbers strings.
      const typed =
        isDynamic && typeof value === 'boolean'
          ? value
            ? 'on'
            : 'off'
          : isDynamic && typeof value === 'number'
            ? luaNumberToString(value)
            : value;
      result = { value: typed, source: 'override' };
    }
    return result;
  };
  return {
    lookup,
    get: (key) => lookup(key)?.value,
    dynamicKeys: () => [...dynamic],
    diagnostics,
  };
}

function fileEntry(file: ParsedConf | undefined, key: string): ConfEntry | undefined {
  return file?.entry(key);
}

/** Options of {@link loadKongConf}. */
export interface LoadOptions extends ParseKongConfOptions {
  /** The environment to overlay (e.g. `process.env`); none when absent. */
  env?: Env;
}

/**
 * Reads a kong.conf file and parses it as Kong does ({@link parseKongConf}), then overlays the environment:
 * `get(key)` returns `KONG_<KEY>` when set (verbatim, never comment-stripped), and every
 * `KONG_PLUGINSERVER_*` variable registers its key (spec P3, P6).
 *
 * @param path - the file; Kong's error for a missing one is `no file at: <path>`.
 * @param options - `env` to overlay, `kongVersion`, `filename` (defaults to `path`).
 * @throws {@link KongConfFileError} `KONG_CONF_FILE_NOT_FOUND` for a missing file,
 *   `KONG_CONF_FILE_UNREADABLE` for any other read error (with `cause`).
 * @example
 * ```ts
 * const conf = await loadKongConf('/etc/kong/kong.conf', { env: process.env });
 * const { servers } = resolvePluginServers(conf, { kongVersion: '3.9' });
 * ```
 */
export async function loadKongConf(path: string, options: LoadOptions = {}): Promise<ParsedConf> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw code === 'ENOENT'
      ? new KongConfFileNotFoundError(path, { cause: error })
      : new KongConfFileUnreadableError(path, { cause: error });
  }
  let text: string;
  let latin1 = false;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    // Kong works on bytes. Invalid UTF-8 is read as Latin-1, one character per byte, so that key normalization
    // (one `_` per byte) and values keep Kong's byte counts; `Buffer.from(value, 'latin1')` gives the bytes back.
    text = bytes.toString('latin1');
    latin1 = true;
  }
  let parsed = parseKongConf(text, { ...options, filename: options.filename ?? path, binary: latin1 });
  if (latin1) {
    const note = diagnostic(
      'not-utf8',
      'info',
      'file',
      'the file is not valid UTF-8: it was read as Latin-1, one character per byte',
    );
    parsed = { ...parsed, diagnostics: [note, ...parsed.diagnostics] };
  }
  return options.env === undefined ? parsed : withEnv(parsed, options.env);
}

/**
 * Returns a copy of `conf` whose `get` overlays the environment (spec P3, P6) and which carries `env` for
 * the resolver.
 *
 * @param conf - a parsed file.
 * @param env - the environment, e.g. `process.env`.
 * @example
 * ```ts
 * const conf = withEnv(parseKongConf('log_level = info\n'), { KONG_LOG_LEVEL: 'debug' });
 * conf.get('log_level'); // 'debug'
 * ```
 */
export function withEnv(conf: ParsedConf, env: Env): ParsedConf {
  const registered = new Set<string>();
  for (const name of Object.keys(env)) {
    const lower = asciiLower(name);
    if (lower.startsWith('kong_') && PLUGINSERVER_KEY.test(lower.slice(5))) registered.add(lower.slice(5));
  }
  const envValue = (key: string): string | undefined => {
    if (PLUGINSERVER_KEY.test(key) && conf.entry(key) === undefined && !registered.has(key)) return undefined;
    const name = `KONG_${asciiUpper(key)}`;
    return Object.hasOwn(env, name) ? env[name] : undefined;
  };
  return {
    ...conf,
    env,
    get: (key) => envValue(key) ?? conf.get(key),
    keys: () => {
      const keys = new Set(conf.keys());
      for (const key of registered) if (envValue(key) !== undefined) keys.add(key);
      return [...keys];
    },
  };
}

/** Kong's default kong.conf locations, in the order it tries them (`Kong/kong: kong/conf_loader/constants.lua`). */
export const DEFAULT_CONF_PATHS: readonly string[] = ['/etc/kong/kong.conf', '/etc/kong.conf'];

/**
 * Kong's file discovery without an explicit path (spec P2): the first of {@link DEFAULT_CONF_PATHS} that
 * exists, or `undefined` (Kong then runs on defaults).
 *
 * @param fileExists - the probe, e.g. `fs.existsSync`.
 * @example
 * ```ts
 * const path = findKongConf(existsSync);
 * const conf = path === undefined ? parseKongConf('') : await loadKongConf(path, { env: process.env });
 * ```
 */
export function findKongConf(fileExists: (path: string) => boolean): string | undefined {
  return DEFAULT_CONF_PATHS.find((path) => fileExists(path));
}
