/**
 * Options of `startPlugin` and `reattachPlugin`, their defaults (those of Go's `NewClient`), and the environment
 * the plugin is started with.
 */

import { completeLogger, type Logger, type LogLevel } from '../../logger.js';
import { buildPluginEnv, PLUGIN_ENV } from '../env.js';
import { InvalidPluginOptionsError } from './errors.js';
import type { OutputSink } from './stdio.js';

/** Options shared by {@link StartPluginOptions} and {@link ReattachPluginOptions}. */
export interface PluginConnectionOptions {
  /**
   * Receives the plugin's log lines (parsed from its stderr, at their hclog level) and the host runtime's
   * diagnostics. Fields: the plugin's own hclog fields, `plugin` (the command's basename), `origin` (`plugin` or
   * `host`), and for plugin lines `timestamp` (a Date, when the line had one), `raw` (the line as read) and
   * `malformed` (a JSON line a Go host would panic on, logged as text). Default: dropped.
   */
  logger?: Logger;
  /** Entries below this level are dropped before they reach `logger`, as a Go host's logger level does. Default `trace`. */
  logLevel?: LogLevel;
  /** Where the plugin's stdout written after the handshake goes (via `GRPCStdio`). Default: discarded. */
  stdout?: OutputSink;
  /** Where the plugin's `os.Stderr`/`process.stderr` writes after the handshake go (via `GRPCStdio`). Default: discarded. */
  stderr?: OutputSink;
  /** Largest gRPC message sent or received, bytes. Default 2147483647 (go-plugin's `MaxInt32`). */
  maxMessageBytes?: number;
}

/** Options of `startPlugin`. */
export interface StartPluginOptions extends PluginConnectionOptions {
  /** The plugin executable (run directly, no shell). */
  command: string;
  /** Its arguments. Default none. */
  args?: readonly string[];
  /**
   * Extra environment variables. The child gets the host's environment (unless `skipHostEnv`), then these, then
   * the protocol variables, each layer overriding the one before.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Do not pass the host's own environment to the plugin. Default `false`. */
  skipHostEnv?: boolean;
  /** Working directory of the plugin. Default the host's. */
  cwd?: string;
  /** The magic cookie variable name, e.g. `BASIC_PLUGIN`. Required. */
  magicCookieKey: string;
  /** The magic cookie value, e.g. `hello`. Required. */
  magicCookieValue: string;
  /** The application protocol versions the host speaks, e.g. `[5, 6]`. Default `[1]`. */
  versions?: readonly number[];
  /** Accepted protocols: only `['grpc']` (`netrpc` is Go-only and rejected). Default `['grpc']`. */
  allowedProtocols?: readonly string[];
  /**
   * AutoMTLS: a fresh host certificate goes to the plugin in `PLUGIN_CLIENT_CERT`, the plugin's certificate comes
   * back in handshake field 6, and the connection is mutual TLS with `localhost` as the name. Default `false`.
   */
  autoMTLS?: boolean;
  /**
   * Highest TLS version of the AutoMTLS connection. `'TLSv1.2'` works around TLS 1.3 handshake failures seen in
   * hardened environments (`hashicorp/terraform-plugin-go#582`). Default: Node's (TLS 1.3).
   */
  tlsMaxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Bound on spawn → handshake → connection ready, ms. Default 60000 (Go's `StartTimeout`). */
  startTimeout?: number;
  /**
   * Directory in which the host creates the plugin's private socket directory (`PLUGIN_UNIX_SOCKET_DIR`, mode
   * 0700), removed after the plugin exited. Default the temp dir.
   */
  unixSocketDir?: string;
  /** `PLUGIN_UNIX_SOCKET_GROUP`: group (name or gid) that may connect; the socket dir becomes 0770. */
  unixSocketGroup?: string;
  /**
   * Also point the plugin's `TMPDIR` at the private socket directory. Plugins on go-plugin < 1.5 ignore
   * `PLUGIN_UNIX_SOCKET_DIR` and create their socket in the temp dir; with this, that socket is inside the
   * directory the host removes, so nothing is left behind even after SIGKILL or a crash. Default `false` (Go hosts
   * do not do this; the plugin's other temporary files go there too).
   */
  tmpdirInSocketDir?: boolean;
  /** Lowest TCP port a plugin may bind (`PLUGIN_MIN_PORT`). Default 10000. */
  minPort?: number;
  /** Highest TCP port a plugin may bind (`PLUGIN_MAX_PORT`). Default 25000. */
  maxPort?: number;
  /** The plugin's stdin. Default `'ignore'` (Go hosts pass their own; use `'inherit'` for that). */
  stdin?: 'ignore' | 'inherit';
  /** Start the plugin in its own process group and signal the group (POSIX). Default `true`. */
  processGroup?: boolean;
  /** Deadline of the `GRPCController.Shutdown` call in `kill()`, ms. Default 2000. */
  shutdownTimeout?: number;
  /** How long `kill()` waits for a graceful exit before SIGKILL, ms. Default 2000 (as Go). */
  killTimeout?: number;
  /** Cancels the start: the plugin is killed and `startPlugin` rejects with `PluginAbortedError`. */
  signal?: AbortSignal;
}

/** Options of `reattachPlugin`. */
export interface ReattachPluginOptions extends PluginConnectionOptions {
  /** Bound on connecting, ms. Default 10000. */
  connectTimeout?: number;
  /** Poll the plugin's pid for liveness every second (signal 0) and resolve `exited` when it is gone. Default `true`. */
  watchPid?: boolean;
}

/** {@link StartPluginOptions} with defaults applied. */
export interface ResolvedStartOptions {
  command: string;
  args: readonly string[];
  versions: number[];
  startTimeout: number;
  shutdownTimeout: number;
  killTimeout: number;
  processGroup: boolean;
  maxMessageBytes: number;
}

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

/**
 * Validates options and fills in defaults.
 *
 * @throws {@link InvalidPluginOptionsError} for a missing command or cookie, bad versions, ports or timeouts, or an
 *   allowed protocol other than `grpc`.
 */
export function resolveStartOptions(options: StartPluginOptions): ResolvedStartOptions {
  if (typeof options.command !== 'string' || options.command === '') {
    throw new InvalidPluginOptionsError('command must be a non-empty string');
  }
  if (!options.magicCookieKey || !options.magicCookieValue) {
    throw new InvalidPluginOptionsError('magicCookieKey and magicCookieValue must be non-empty');
  }
  const versions = [...(options.versions ?? [1])];
  if (versions.length === 0 || !versions.every(isPositiveInteger)) {
    throw new InvalidPluginOptionsError(
      `versions must be positive integers, got ${JSON.stringify(options.versions)}`,
    );
  }
  for (const protocol of options.allowedProtocols ?? ['grpc']) {
    if (protocol !== 'grpc') {
      const why = protocol === 'netrpc' ? 'netrpc is Go-only (net/rpc + gob over yamux)' : 'unknown protocol';
      throw new InvalidPluginOptionsError(
        `allowedProtocols: ${JSON.stringify(protocol)} is not supported: ${why}`,
      );
    }
  }
  const min = options.minPort ?? 10_000;
  const max = options.maxPort ?? 25_000;
  const isPort = (port: number): boolean => Number.isInteger(port) && port >= 0 && port <= 65535;
  if (!isPort(min) || !isPort(max) || min > max) {
    throw new InvalidPluginOptionsError(
      `minPort/maxPort must be ports with minPort <= maxPort, got ${min}/${max}`,
    );
  }
  const timeouts = ['startTimeout', 'shutdownTimeout', 'killTimeout'] as const;
  for (const name of timeouts) {
    const value = options[name];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new InvalidPluginOptionsError(`${name} must be a positive number of milliseconds`);
    }
  }
  return {
    command: options.command,
    args: options.args ?? [],
    versions,
    startTimeout: options.startTimeout ?? 60_000,
    shutdownTimeout: options.shutdownTimeout ?? 2000,
    killTimeout: options.killTimeout ?? 2000,
    processGroup: options.processGroup ?? true,
    maxMessageBytes: options.maxMessageBytes ?? 2_147_483_647,
  };
}

/**
 * The plugin's environment: the host's (unless `skipHostEnv`), then `env`, then the protocol variables.
 *
 * Inherited protocol variables the host does not set itself are removed: a host that itself runs as a plugin
 * inherits its own host's `PLUGIN_CLIENT_CERT` and friends, and passing those on would make the child offer a
 * certificate nobody asked for (which is an error here, and a panic in a Go host).
 */
export function pluginEnvironment(
  options: StartPluginOptions,
  versions: readonly number[],
  extra: { clientCertPem?: string; socketDir?: string },
): Record<string, string> {
  const env: Record<string, string> = {};
  if (!options.skipHostEnv) {
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
    for (const name of Object.values(PLUGIN_ENV)) delete env[name];
  }
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  Object.assign(
    env,
    buildPluginEnv({
      magicCookieKey: options.magicCookieKey,
      magicCookieValue: options.magicCookieValue,
      versions,
      ...(options.minPort !== undefined && { minPort: options.minPort }),
      ...(options.maxPort !== undefined && { maxPort: options.maxPort }),
      ...(extra.clientCertPem !== undefined && { clientCertPem: extra.clientCertPem }),
      ...(extra.socketDir !== undefined && { unixSocketDir: extra.socketDir }),
      ...(options.unixSocketGroup !== undefined && { unixSocketGroup: options.unixSocketGroup }),
    }),
  );
  if (options.tmpdirInSocketDir && extra.socketDir !== undefined) env.TMPDIR = extra.socketDir;
  return env;
}

/** The user's logger behind the `logLevel` filter (or `undefined` when there is no logger). */
export function levelledLogger(options: PluginConnectionOptions): Logger | undefined {
  const { logger, logLevel } = options;
  if (logger === undefined || logLevel === undefined || logLevel === 'trace') return logger;
  return completeLogger(logger, logLevel);
}
