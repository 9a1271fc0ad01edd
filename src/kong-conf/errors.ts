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
 * A kong.conf file that cannot be read: `KONG_CONF_FILE_NOT_FOUND` (message `no file at: <path>`, Kong's text),
 * `KONG_CONF_FILE_UNREADABLE` (any other I/O error, with the `cause`).
 *
 * @example
 * ```ts
 * const conf = await loadKongConf(path).catch((error: unknown) => {
 *   if (error instanceof KongConfFileError && error.code === 'KONG_CONF_FILE_NOT_FOUND') return parseKongConf('');
 *   throw error;
 * });
 * ```
 */
export class KongConfFileError extends KongConfError {
  /** The path that was asked for. */
  readonly path: string;

  /**
   * @param code - `KONG_CONF_FILE_NOT_FOUND` or `KONG_CONF_FILE_UNREADABLE`.
   * @param path - the file asked for.
   * @param options - the underlying I/O error as `cause`.
   */
  constructor(
    code: 'KONG_CONF_FILE_NOT_FOUND' | 'KONG_CONF_FILE_UNREADABLE',
    path: string,
    options?: PluginwireErrorOptions,
  ) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      code,
      code === 'KONG_CONF_FILE_NOT_FOUND' ? `no file at: ${path}` : `cannot read ${path}${reason}`,
      options,
    );
    this.path = path;
  }
}

/**
 * A `kongVersion` outside 2.3–3.10 or one that does not parse: `KONG_CONF_UNSUPPORTED_VERSION`.
 *
 * @example
 * ```ts
 * kongProfile('2.2'); // throws KongConfVersionError: 2.0–2.2 have no pluginserver_names
 * ```
 */
export class KongConfVersionError extends KongConfError {
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
 * A configuration Kong refuses to start with. `message` is Kong's own text where Kong has one (for example
 * `query_command undefined for pluginserver gopher`, code `KONG_CONF_QUERY_COMMAND_UNDEFINED`);
 * `diagnostics` holds every finding gathered before the failure.
 *
 * Codes: `KONG_CONF_QUERY_COMMAND_UNDEFINED`, `KONG_CONF_FILE_INVALID` (a `[` line Penlight cannot parse),
 * `KONG_CONF_PREFIX_UNSET`, `KONG_CONF_CWD_REQUIRED` (a relative `prefix` and no `cwd` option).
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
  /** Every diagnostic gathered before the failure, in order. */
  readonly diagnostics: readonly Diagnostic[];
  /** The file line the failure comes from, when there is one. */
  readonly line: number | undefined;

  /**
   * @param code - the stable code of the case.
   * @param message - Kong's text, verbatim where Kong has one.
   * @param options - diagnostics so far and the line.
   */
  constructor(code: string, message: string, options?: KongConfErrorOptions) {
    super(code, message, options);
    this.diagnostics = options?.diagnostics ?? [];
    this.line = options?.line;
  }
}

/**
 * Query-command output Kong would reject (§9 of the spec). `message` is Kong's text
 * (`failed decoding plugin info: …`, `not a plugin info table: …`); `output` is the offending stdout.
 *
 * Codes: `KONG_CONF_DUMP_INVALID_JSON`, `KONG_CONF_DUMP_NOT_A_TABLE`, `KONG_CONF_DUMP_NO_PLUGIN` (3.9+: an empty
 * dump or one without plugin info, on which Kong crashes), `KONG_CONF_DUMP_BAD_PLUGIN_INFO` (an element that is
 * not an object).
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
  /** The whole stdout that was parsed. */
  readonly output: string;

  /**
   * @param code - the stable code of the case.
   * @param message - Kong's text.
   * @param output - the offending stdout.
   * @param options - the JSON error as `cause`.
   */
  constructor(code: string, message: string, output: string, options?: PluginwireErrorOptions) {
    super(code, message, options);
    this.output = output;
  }
}

/**
 * Running a query command failed before its output could be read: `KONG_CONF_QUERY_TIMEOUT`,
 * `KONG_CONF_QUERY_OUTPUT_TOO_LARGE`, `KONG_CONF_QUERY_SPAWN_FAILED`, `KONG_CONF_QUERY_ABORTED`,
 * `KONG_CONF_NO_QUERY_COMMAND` (`no info query for <name>`, Kong's text).
 *
 * @example
 * ```ts
 * await queryPluginServer('slow-server -dump', { timeout: 5_000 }).catch((error: unknown) => {
 *   if (error instanceof KongConfQueryError && error.code === 'KONG_CONF_QUERY_TIMEOUT') console.error(error.stderr);
 *   throw error;
 * });
 * ```
 */
export class KongConfQueryError extends KongConfError {
  /** The command that was run (or would have been). */
  readonly command: string | undefined;
  /** What the command had written to stdout so far (at most the output cap). */
  readonly output: string;
  /** The last bytes the command wrote to stderr (at most 8 KiB), to explain the failure. */
  readonly stderr: string;

  /**
   * @param code - the stable code of the case.
   * @param message - what happened.
   * @param details - the command and what it printed.
   * @param options - the underlying error as `cause`.
   */
  constructor(
    code: string,
    message: string,
    details: { command?: string; output?: string; stderr?: string },
    options?: PluginwireErrorOptions,
  ) {
    super(code, message, options);
    this.command = details.command;
    this.output = details.output ?? '';
    this.stderr = details.stderr ?? '';
  }
}
