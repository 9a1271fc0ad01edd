import { PluginwireError, type PluginwireErrorOptions } from '../errors.js';

/**
 * Base class of every error the `pluginwire/goplugin` module throws or rejects with. Its subclasses carry
 * `code`s that start with `GOPLUGIN_`.
 *
 * Catch this class to handle any go-plugin failure; check `code` (or a subclass) for a specific one.
 */
export class GoPluginError extends PluginwireError {}

// ---- handshake, negotiation, environment (plugin-side engineer) ----

/**
 * Every code a {@link HandshakeError} can carry: one per failure kind of the handshake table
 * (`NoHandshake` → `GOPLUGIN_NO_HANDSHAKE`, …), plus the emitter's `CertNotRequested` and
 * `UnrepresentableAddress`. `GOPLUGIN_TIMEOUT` and `GOPLUGIN_EXITED_BEFORE_HANDSHAKE` are raised by the host
 * runtime only, never by the parser.
 */
export type HandshakeErrorCode =
  | 'GOPLUGIN_NO_HANDSHAKE'
  | 'GOPLUGIN_LINE_TOO_LONG'
  | 'GOPLUGIN_TOO_FEW_FIELDS'
  | 'GOPLUGIN_CORE_VERSION_SYNTAX'
  | 'GOPLUGIN_CORE_VERSION_MISMATCH'
  | 'GOPLUGIN_APP_VERSION_SYNTAX'
  | 'GOPLUGIN_APP_VERSION_UNSUPPORTED'
  | 'GOPLUGIN_UNKNOWN_NETWORK'
  | 'GOPLUGIN_INVALID_ADDRESS'
  | 'GOPLUGIN_UNSUPPORTED_PROTOCOL'
  | 'GOPLUGIN_CERT_DECODE'
  | 'GOPLUGIN_CERT_PARSE'
  | 'GOPLUGIN_CERT_WITHOUT_AUTO_MTLS'
  | 'GOPLUGIN_CERT_MISSING'
  | 'GOPLUGIN_MULTIPLEX_UNSUPPORTED'
  | 'GOPLUGIN_MULTIPLEX_PARSE'
  | 'GOPLUGIN_TIMEOUT'
  | 'GOPLUGIN_EXITED_BEFORE_HANDSHAKE'
  | 'GOPLUGIN_CERT_NOT_REQUESTED'
  | 'GOPLUGIN_UNREPRESENTABLE_ADDRESS';

/** Options of a {@link HandshakeError}. */
export interface HandshakeErrorOptions extends PluginwireErrorOptions {
  /** The raw handshake line the error is about, when there is one. */
  line?: string;
}

/**
 * A go-plugin handshake line could not be read, parsed, accepted or written. Branch on {@link code}; the
 * message text is for people and may change.
 *
 * @example
 * ```ts
 * try {
 *   parseHandshake(line, { versions: [5, 6] });
 * } catch (error) {
 *   if (error instanceof HandshakeError && error.code === 'GOPLUGIN_APP_VERSION_UNSUPPORTED') upgrade();
 *   else throw error;
 * }
 * ```
 */
export class HandshakeError extends GoPluginError {
  declare readonly code: HandshakeErrorCode;
  /** The raw first stdout line (as read, before trimming) when the error concerns one. */
  readonly line: string | undefined;

  /**
   * @param code - the failure kind.
   * @param message - a human-readable description.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(code: HandshakeErrorCode, message: string, options?: HandshakeErrorOptions) {
    super(code, message, options);
    this.line = options?.line;
  }
}

/**
 * `PLUGIN_MIN_PORT`/`PLUGIN_MAX_PORT` cannot be used: a value is not a base-10 32-bit integer, or the minimum
 * is greater than the maximum. Code `GOPLUGIN_INVALID_PORT_RANGE`.
 */
export class PortRangeError extends GoPluginError {
  declare readonly code: 'GOPLUGIN_INVALID_PORT_RANGE';
  /**
   * @param message - which variable is wrong and why (Go's wording).
   * @param options - the `cause`.
   */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_INVALID_PORT_RANGE', message, options);
  }
}

// ---- plugin runtime (plugin-side engineer) ----

/** Every code a {@link ServeError} can carry. */
export type ServeErrorCode =
  | 'GOPLUGIN_INVALID_CONFIG'
  | 'GOPLUGIN_COOKIE_MISMATCH'
  | 'GOPLUGIN_SOCKET_PATH_TOO_LONG'
  | 'GOPLUGIN_SOCKET_GROUP'
  | 'GOPLUGIN_BIND_FAILED'
  | 'GOPLUGIN_CLIENT_CERT_INVALID';

/**
 * The plugin runtime could not start serving: a bad `servePlugin` configuration
 * (`GOPLUGIN_INVALID_CONFIG`), a wrong magic cookie with `exit: false` (`GOPLUGIN_COOKIE_MISMATCH`), a Unix socket path over the `sun_path` limit (`GOPLUGIN_SOCKET_PATH_TOO_LONG`), an
 * unknown `PLUGIN_UNIX_SOCKET_GROUP` (`GOPLUGIN_SOCKET_GROUP`), no address to bind (`GOPLUGIN_BIND_FAILED`), or a
 * `PLUGIN_CLIENT_CERT` that is not a PEM certificate (`GOPLUGIN_CLIENT_CERT_INVALID`).
 */
export class ServeError extends GoPluginError {
  declare readonly code: ServeErrorCode;
  /**
   * @param code - the failure kind.
   * @param message - what failed, with the values involved.
   * @param options - the `cause`.
   */
  constructor(code: ServeErrorCode, message: string, options?: PluginwireErrorOptions) {
    super(code, message, options);
  }
}

/** Every code a {@link BrokerError} can carry. */
export type BrokerErrorCode =
  | 'GOPLUGIN_BROKER_TIMEOUT'
  | 'GOPLUGIN_BROKER_CLOSED'
  | 'GOPLUGIN_BROKER_UNKNOWN_NETWORK'
  | 'GOPLUGIN_BROKER_DUPLICATE_ID';

/**
 * A GRPCBroker operation failed: no connection info for an id within the wait (`GOPLUGIN_BROKER_TIMEOUT`, Go's
 * `timeout waiting for connection info`), the broker was closed (`GOPLUGIN_BROKER_CLOSED`), the peer announced a
 * network other than `unix`/`tcp` (`GOPLUGIN_BROKER_UNKNOWN_NETWORK`), or an id is already being accepted or
 * dialled (`GOPLUGIN_BROKER_DUPLICATE_ID`).
 */
export class BrokerError extends GoPluginError {
  declare readonly code: BrokerErrorCode;
  /**
   * @param code - the failure kind.
   * @param message - what failed.
   * @param options - the `cause`.
   */
  constructor(code: BrokerErrorCode, message: string, options?: PluginwireErrorOptions) {
    super(code, message, options);
  }
}
