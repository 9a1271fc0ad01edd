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
