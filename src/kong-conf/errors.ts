import { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
import type { Diagnostic } from './diagnostics.js';

/**
 * Base class of every error the `pluginwire/kong-conf` module throws or rejects with. Its subclasses carry
 * `code`s that start with `KONG_CONF_`.
 *
 * Catch this class to handle any kong.conf failure; check `code` (or a subclass) for a specific one.
 *
 * @example
 * ```ts
 * try {
 *   resolvePluginServers(await loadKongConf(path, { env: process.env }));
 * } catch (error) {
 *   if (error instanceof KongConfError) console.error(`${error.code}: ${error.message}`);
 *   else throw error;
 * }
 * ```
 */
export class KongConfError extends PluginwireError {}

/** Options of the kong-conf errors that carry what was found before the failure. */
export interface KongConfErrorOptions extends PluginwireErrorOptions {
  /** Every diagnostic gathered before the failure. */
  diagnostics?: readonly Diagnostic[];
  /** 1-based physical line in the file the failure comes from. */
  line?: number;
}

/**
 * A kong.conf file that cannot be read. The family of {@link KongConfFileNotFoundError} and
 * {@link KongConfFileUnreadableError}; catch it to handle both.
 *
 * @example
 * ```ts
 * const conf = await loadKongConf(path).catch((error: unknown) => {
 *   if (error instanceof KongConfFileNotFoundError) return parseKongConf('');
 *   throw error;
 * });
 * ```
 */
export class KongConfFileError extends KongConfError {
  declare readonly code: 'KONG_CONF_FILE_NOT_FOUND' | 'KONG_CONF_FILE_UNREADABLE';
  /** The path that was asked for. */
  readonly path: string;

  /**
   * @param code - the code of the subclass.
   * @param message - what happened.
   * @param path - the file asked for.
   * @param options - the underlying I/O error as `cause`.
   */
  protected constructor(
    code: 'KONG_CONF_FILE_NOT_FOUND' | 'KONG_CONF_FILE_UNREADABLE',
    message: string,
    path: string,
    options?: PluginwireErrorOptions,
  ) {
    super(code, message, options);
    this.path = path;
  }
}

/** There is no file at the kong.conf path (message `no file at: <path>`, Kong's text). */
export class KongConfFileNotFoundError extends KongConfFileError {
  declare readonly code: 'KONG_CONF_FILE_NOT_FOUND';
  /**
   * @param path - the file asked for.
   * @param options - the `ENOENT` error as `cause`.
   */
  constructor(path: string, options?: PluginwireErrorOptions) {
    super('KONG_CONF_FILE_NOT_FOUND', `no file at: ${path}`, path, options);
  }
}

/** The kong.conf file exists but cannot be read (any I/O error other than a missing file). */
export class KongConfFileUnreadableError extends KongConfFileError {
  declare readonly code: 'KONG_CONF_FILE_UNREADABLE';
  /**
   * @param path - the file asked for.
   * @param options - the I/O error as `cause`.
   */
  constructor(path: string, options?: PluginwireErrorOptions) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super('KONG_CONF_FILE_UNREADABLE', `cannot read ${path}${reason}`, path, options);
  }
}

/**
 * A `kongVersion` outside 2.3–3.10, or one that does not parse.
 *
 * @example
 * ```ts
 * resolvePluginServers(text, { kongVersion: '2.2' }); // throws: 2.0–2.2 have no pluginserver_names
 * ```
 */
export class KongConfVersionError extends KongConfError {
  declare readonly code: 'KONG_CONF_UNSUPPORTED_VERSION';
  /** The version string given. */
  readonly version: string;

  /** @param version - the version string given. */
  constructor(version: string) {
    super(
      'KONG_CONF_UNSUPPORTED_VERSION',
      `unsupported kongVersion ${JSON.stringify(version)}: expected a Kong version from 2.3 to 3.10 (e.g. '3.9', '2.8.1')`,
    );
    this.version = version;
  }
}

/**
 * A legacy `go_pluginserver_exe` command could not be built: the template has a `%` option LuaJIT's `format`
 * rejects, or too few values (Kong fails the same way, `kong/runloop/plugin_servers/process.lua` in 2.3–2.8).
 */
export class KongConfLuaFormatError extends KongConfError {
  declare readonly code: 'KONG_CONF_LUA_FORMAT';
  /** @param message - LuaJIT's error text. */
  constructor(message: string) {
    super('KONG_CONF_LUA_FORMAT', message);
  }
}

/** Every code of a {@link KongConfStartupError}. */
export type KongConfStartupCode =
  | 'KONG_CONF_QUERY_COMMAND_UNDEFINED'
  | 'KONG_CONF_FILE_INVALID'
  | 'KONG_CONF_PREFIX_UNSET'
  | 'KONG_CONF_CWD_REQUIRED';

/**
 * A configuration Kong refuses to start with: the family of {@link KongConfQueryCommandUndefinedError},
 * {@link KongConfFileInvalidError}, {@link KongConfPrefixUnsetError} and {@link KongConfCwdRequiredError}.
 * `message` is Kong's own text where Kong has one; `diagnostics` holds every finding gathered before the failure.
 *
 * @example
 * ```ts
 * try {
 *   resolvePluginServers('pluginserver_names = gopher\n', { fileExists: () => false });
 * } catch (error) {
 *   if (!(error instanceof KongConfStartupError)) throw error;
 *   error.message;     // 'query_command undefined for pluginserver gopher'
 *   error.diagnostics; // what was found before, e.g. pluginserver-no-query
 * }
 * ```
 */
export class KongConfStartupError extends KongConfError {
  declare readonly code: KongConfStartupCode;
  /** Every diagnostic gathered before the failure, in order. */
  readonly diagnostics: readonly Diagnostic[];
  /** The file line the failure comes from, when there is one. */
  readonly line: number | undefined;

  /**
   * @param code - the code of the subclass.
   * @param message - Kong's text, verbatim where Kong has one.
   * @param options - diagnostics so far and the line.
   */
  protected constructor(code: KongConfStartupCode, message: string, options?: KongConfErrorOptions) {
    super(code, message, options);
    this.diagnostics = options?.diagnostics ?? [];
    this.line = options?.line;
  }
}

/** Kong 3.9+ refuses a plugin server with no query command (`query_command undefined for pluginserver <name>`). */
export class KongConfQueryCommandUndefinedError extends KongConfStartupError {
  declare readonly code: 'KONG_CONF_QUERY_COMMAND_UNDEFINED';
  /**
   * @param message - Kong's text.
   * @param options - diagnostics so far.
   */
  constructor(message: string, options?: KongConfErrorOptions) {
    super('KONG_CONF_QUERY_COMMAND_UNDEFINED', message, options);
  }
}

/** The file has a `[` line Penlight's config reader cannot parse, so Kong cannot load it. */
export class KongConfFileInvalidError extends KongConfStartupError {
  declare readonly code: 'KONG_CONF_FILE_INVALID';
  /**
   * @param message - which line.
   * @param options - diagnostics so far and the line.
   */
  constructor(message: string, options?: KongConfErrorOptions) {
    super('KONG_CONF_FILE_INVALID', message, options);
  }
}

/** `prefix` is empty: Kong cannot start without one. */
export class KongConfPrefixUnsetError extends KongConfStartupError {
  declare readonly code: 'KONG_CONF_PREFIX_UNSET';
  /**
   * @param message - what is missing.
   * @param options - diagnostics so far.
   */
  constructor(message: string, options?: KongConfErrorOptions) {
    super('KONG_CONF_PREFIX_UNSET', message, options);
  }
}

/** `prefix` is relative and no `cwd` option says what it is relative to. */
export class KongConfCwdRequiredError extends KongConfStartupError {
  declare readonly code: 'KONG_CONF_CWD_REQUIRED';
  /**
   * @param message - the relative prefix.
   * @param options - diagnostics so far.
   */
  constructor(message: string, options?: KongConfErrorOptions) {
    super('KONG_CONF_CWD_REQUIRED', message, options);
  }
}

/** Every code of a {@link KongConfDumpError}. */
export type KongConfDumpCode =
  | 'KONG_CONF_DUMP_INVALID_JSON'
  | 'KONG_CONF_DUMP_NOT_A_TABLE'
  | 'KONG_CONF_DUMP_NO_PLUGIN'
  | 'KONG_CONF_DUMP_BAD_PLUGIN_INFO';

/**
 * Query-command output Kong would reject (§9 of the spec): the family of {@link KongConfDumpInvalidJsonError},
 * {@link KongConfDumpNotATableError}, {@link KongConfDumpNoPluginError} and {@link KongConfDumpBadPluginInfoError}.
 * `message` is Kong's text; `output` is the offending stdout.
 *
 * @example
 * ```ts
 * try {
 *   parseDump('plugin loaded\n[{"Name":"x"}]');
 * } catch (error) {
 *   if (error instanceof KongConfDumpError) console.error(error.message, '\n', error.output);
 * }
 * ```
 */
export class KongConfDumpError extends KongConfError {
  declare readonly code: KongConfDumpCode;
  /** The whole stdout that was parsed. */
  readonly output: string;

  /**
   * @param code - the code of the subclass.
   * @param message - Kong's text.
   * @param output - the offending stdout.
   * @param options - the JSON error as `cause`.
   */
  protected constructor(
    code: KongConfDumpCode,
    message: string,
    output: string,
    options?: PluginwireErrorOptions,
  ) {
    super(code, message, options);
    this.output = output;
  }
}

/** The dump is not JSON (`failed decoding plugin info: …`, Kong's text). */
export class KongConfDumpInvalidJsonError extends KongConfDumpError {
  declare readonly code: 'KONG_CONF_DUMP_INVALID_JSON';
  /**
   * @param message - Kong's text.
   * @param output - the offending stdout.
   * @param options - the JSON error as `cause`.
   */
  constructor(message: string, output: string, options?: PluginwireErrorOptions) {
    super('KONG_CONF_DUMP_INVALID_JSON', message, output, options);
  }
}

/** The dump is JSON but not an object or array (`not a plugin info table: …`, Kong's text). */
export class KongConfDumpNotATableError extends KongConfDumpError {
  declare readonly code: 'KONG_CONF_DUMP_NOT_A_TABLE';
  /**
   * @param message - Kong's text.
   * @param output - the offending stdout.
   */
  constructor(message: string, output: string) {
    super('KONG_CONF_DUMP_NOT_A_TABLE', message, output);
  }
}

/** Kong 3.9+: the dump is empty or holds no plugin info, on which Kong crashes. */
export class KongConfDumpNoPluginError extends KongConfDumpError {
  declare readonly code: 'KONG_CONF_DUMP_NO_PLUGIN';
  /**
   * @param message - Kong's (Lua) text.
   * @param output - the offending stdout.
   */
  constructor(message: string, output: string) {
    super('KONG_CONF_DUMP_NO_PLUGIN', message, output);
  }
}

/** An element of the dump's plugin list is not an object. */
export class KongConfDumpBadPluginInfoError extends KongConfDumpError {
  declare readonly code: 'KONG_CONF_DUMP_BAD_PLUGIN_INFO';
  /**
   * @param message - Kong's (Lua) text.
   * @param output - the offending stdout.
   */
  constructor(message: string, output: string) {
    super('KONG_CONF_DUMP_BAD_PLUGIN_INFO', message, output);
  }
}

/** Every code of a {@link KongConfQueryError}. */
export type KongConfQueryCode =
  | 'KONG_CONF_QUERY_TIMEOUT'
  | 'KONG_CONF_QUERY_OUTPUT_TOO_LARGE'
  | 'KONG_CONF_QUERY_SPAWN_FAILED'
  | 'KONG_CONF_QUERY_ABORTED'
  | 'KONG_CONF_NO_QUERY_COMMAND';

/** What a query command had printed when it failed. */
export interface KongConfQueryDetails {
  /** The command that was run (or would have been). */
  command?: string;
  /** What the command had written to stdout so far. */
  output?: string;
  /** The last bytes the command wrote to stderr. */
  stderr?: string;
}

/**
 * Running a query command failed before its output could be read: the family of
 * {@link KongConfQueryTimeoutError}, {@link KongConfQueryOutputTooLargeError}, {@link KongConfQuerySpawnFailedError},
 * {@link KongConfQueryAbortedError} and {@link KongConfNoQueryCommandError}.
 *
 * @example
 * ```ts
 * await queryPluginServer('slow-server -dump', { timeout: 5_000 }).catch((error: unknown) => {
 *   if (error instanceof KongConfQueryTimeoutError) console.error(error.stderr);
 *   throw error;
 * });
 * ```
 */
export class KongConfQueryError extends KongConfError {
  declare readonly code: KongConfQueryCode;
  /** The command that was run (or would have been). */
  readonly command: string | undefined;
  /** What the command had written to stdout so far (at most the output cap). */
  readonly output: string;
  /** The last bytes the command wrote to stderr (at most 8 KiB), to explain the failure. */
  readonly stderr: string;

  /**
   * @param code - the code of the subclass.
   * @param message - what happened.
   * @param details - the command and what it printed.
   * @param options - the underlying error as `cause`.
   */
  protected constructor(
    code: KongConfQueryCode,
    message: string,
    details: KongConfQueryDetails,
    options?: PluginwireErrorOptions,
  ) {
    super(code, message, options);
    this.command = details.command;
    this.output = details.output ?? '';
    this.stderr = details.stderr ?? '';
  }
}

/** The query command did not finish within `timeout`; it has been stopped. */
export class KongConfQueryTimeoutError extends KongConfQueryError {
  declare readonly code: 'KONG_CONF_QUERY_TIMEOUT';
  /**
   * @param message - what happened.
   * @param details - the command and what it printed.
   */
  constructor(message: string, details: KongConfQueryDetails) {
    super('KONG_CONF_QUERY_TIMEOUT', message, details);
  }
}

/** The query command wrote more than `maxOutputBytes` to stdout; it has been stopped. */
export class KongConfQueryOutputTooLargeError extends KongConfQueryError {
  declare readonly code: 'KONG_CONF_QUERY_OUTPUT_TOO_LARGE';
  /**
   * @param message - what happened.
   * @param details - the command and what it printed.
   */
  constructor(message: string, details: KongConfQueryDetails) {
    super('KONG_CONF_QUERY_OUTPUT_TOO_LARGE', message, details);
  }
}

/** The shell running the query command could not be started. */
export class KongConfQuerySpawnFailedError extends KongConfQueryError {
  declare readonly code: 'KONG_CONF_QUERY_SPAWN_FAILED';
  /**
   * @param message - what happened.
   * @param details - the command.
   * @param options - the spawn error as `cause`.
   */
  constructor(message: string, details: KongConfQueryDetails, options?: PluginwireErrorOptions) {
    super('KONG_CONF_QUERY_SPAWN_FAILED', message, details, options);
  }
}

/** The query was cancelled through its `signal`; `cause` is the abort reason. */
export class KongConfQueryAbortedError extends KongConfQueryError {
  declare readonly code: 'KONG_CONF_QUERY_ABORTED';
  /**
   * @param message - what happened.
   * @param details - the command and what it printed.
   * @param options - the abort reason as `cause`.
   */
  constructor(message: string, details: KongConfQueryDetails, options?: PluginwireErrorOptions) {
    super('KONG_CONF_QUERY_ABORTED', message, details, options);
  }
}

/** The plugin server has no query command (`no info query for <name>`, Kong's text). */
export class KongConfNoQueryCommandError extends KongConfQueryError {
  declare readonly code: 'KONG_CONF_NO_QUERY_COMMAND';
  /** @param message - Kong's text. */
  constructor(message: string) {
    super('KONG_CONF_NO_QUERY_COMMAND', message, {});
  }
}
