/**
 * The environment variables of the go-plugin protocol (`hashicorp/go-plugin: server.go`, `client.go`).
 */
import { PortRangeError } from './errors.js';
import { parseGoInt } from './goint.js';

/** Names of every variable a go-plugin host sets for its plugin. */
export const PLUGIN_ENV = {
  /** Comma-joined application protocol versions of the host. */
  protocolVersions: 'PLUGIN_PROTOCOL_VERSIONS',
  /** Lowest TCP port the plugin may bind. */
  minPort: 'PLUGIN_MIN_PORT',
  /** Highest TCP port the plugin may bind. */
  maxPort: 'PLUGIN_MAX_PORT',
  /** The host's AutoMTLS client certificate, PEM. */
  clientCert: 'PLUGIN_CLIENT_CERT',
  /** Directory for the plugin's Unix socket (go-plugin v1.5+). */
  unixSocketDir: 'PLUGIN_UNIX_SOCKET_DIR',
  /** Group (name or gid) that should own the plugin's Unix socket (go-plugin v1.5+). */
  unixSocketGroup: 'PLUGIN_UNIX_SOCKET_GROUP',
  /** Set by hosts that want gRPC broker multiplexing (go-plugin v1.6+). */
  multiplexGrpc: 'PLUGIN_MULTIPLEX_GRPC',
} as const;

/** Default TCP port range a Go host sends when none is configured. */
export const DEFAULT_PORT_RANGE: {
  /** Lowest port tried (`PLUGIN_MIN_PORT`'s default). */
  readonly min: 10_000;
  /** Highest port tried (`PLUGIN_MAX_PORT`'s default). */
  readonly max: 25_000;
} = { min: 10_000, max: 25_000 };

/**
 * The three lines (each ending in `\n`) a go-plugin plugin writes to stderr, before exiting with status 1, when
 * its magic cookie is missing or wrong (`hashicorp/go-plugin: server.go`).
 */
export const MAGIC_COOKIE_MESSAGE =
  'This binary is a plugin. These are not meant to be executed directly.\n' +
  'Please execute the program that consumes these plugins, which will\n' +
  'load any plugins automatically\n';

/**
 * The magic-cookie check of a Go plugin: an exact string compare (no trimming; unset equals `''`).
 *
 * @param env - the plugin's environment.
 * @param key - the cookie variable name, e.g. `BASIC_PLUGIN`.
 * @param value - the expected value, e.g. `hello`.
 * @returns whether the cookie matches.
 */
export function checkMagicCookie(
  env: Readonly<Record<string, string | undefined>>,
  key: string,
  value: string,
): boolean {
  return (env[key] ?? '') === value;
}

/** A TCP port range; `min === max === 0` means one OS-assigned ephemeral port. */
export interface PortRange {
  /** Lowest port to try. */
  min: number;
  /** Highest port to try. */
  max: number;
}

/**
 * Reads `PLUGIN_MIN_PORT` and `PLUGIN_MAX_PORT` as a Go plugin does: an empty or unset value is 0, otherwise a
 * base-10 signed 32-bit integer (Go `strconv.ParseInt`); `min > max` is an error.
 *
 * @param env - the plugin's environment.
 * @returns the range to scan in ascending order.
 * @throws {@link PortRangeError} `GOPLUGIN_INVALID_PORT_RANGE` naming the variable or both values.
 */
export function readPortRange(env: Readonly<Record<string, string | undefined>>): PortRange {
  const read = (name: string): number => {
    const text = env[name] ?? '';
    if (text === '') return 0;
    const value = parseGoInt(text, 32);
    if (value === undefined) {
      throw new PortRangeError(`couldn't get value from ${name}: invalid integer ${JSON.stringify(text)}`);
    }
    return Number(value);
  };
  const min = read(PLUGIN_ENV.minPort);
  const max = read(PLUGIN_ENV.maxPort);
  if (min > max) {
    throw new PortRangeError(
      `PLUGIN_MIN_PORT value of ${min} is greater than PLUGIN_MAX_PORT value of ${max}`,
    );
  }
  return { min, max };
}

/** Input of {@link buildPluginEnv}. */
export interface PluginEnvOptions {
  /** The cookie variable name. */
  magicCookieKey: string;
  /** The cookie value. */
  magicCookieValue: string;
  /** The host's application protocol versions. */
  versions: readonly number[];
  /** TCP range; default 10000–25000 (Go substitutes these when both are 0). */
  minPort?: number;
  /** See {@link PluginEnvOptions.minPort}. */
  maxPort?: number;
  /** The host's AutoMTLS certificate, PEM; sets `PLUGIN_CLIENT_CERT`. */
  clientCertPem?: string;
  /** Sets `PLUGIN_UNIX_SOCKET_DIR`. */
  unixSocketDir?: string;
  /** Sets `PLUGIN_UNIX_SOCKET_GROUP`. */
  unixSocketGroup?: string;
}

/**
 * The variables a host adds to its plugin's environment (on top of the inherited one, whose same-named values they
 * replace). Versions are written in descending order for reproducible logs; `PLUGIN_MULTIPLEX_GRPC` is never set.
 *
 * @param options - cookie, versions, ports and optional AutoMTLS certificate and socket settings.
 * @returns the variables to set.
 * @example
 * ```ts
 * buildPluginEnv({ magicCookieKey: 'BASIC_PLUGIN', magicCookieValue: 'hello', versions: [5, 6] });
 * // { BASIC_PLUGIN: 'hello', PLUGIN_PROTOCOL_VERSIONS: '6,5', PLUGIN_MIN_PORT: '10000', PLUGIN_MAX_PORT: '25000' }
 * ```
 */
export function buildPluginEnv(options: PluginEnvOptions): Record<string, string> {
  let min = options.minPort ?? DEFAULT_PORT_RANGE.min;
  let max = options.maxPort ?? DEFAULT_PORT_RANGE.max;
  if (min === 0 && max === 0) {
    min = DEFAULT_PORT_RANGE.min;
    max = DEFAULT_PORT_RANGE.max;
  }
  const env: Record<string, string> = {
    [options.magicCookieKey]: options.magicCookieValue,
    [PLUGIN_ENV.protocolVersions]: [...options.versions].sort((a, b) => b - a).join(','),
    [PLUGIN_ENV.minPort]: String(min),
    [PLUGIN_ENV.maxPort]: String(max),
  };
  if (options.clientCertPem !== undefined) env[PLUGIN_ENV.clientCert] = options.clientCertPem;
  if (options.unixSocketDir !== undefined) env[PLUGIN_ENV.unixSocketDir] = options.unixSocketDir;
  if (options.unixSocketGroup !== undefined) env[PLUGIN_ENV.unixSocketGroup] = options.unixSocketGroup;
  return env;
}
