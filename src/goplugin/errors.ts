import { PluginwireError, type PluginwireErrorOptions } from '../errors.js';

/**
 * Base class of every error the `pluginwire/goplugin` module throws or rejects with. Its subclasses carry
 * `code`s that start with `GOPLUGIN_`.
 *
 * Catch this class to handle any go-plugin failure; check `code` (or a subclass) for a specific one.
 */
export class GoPluginError extends PluginwireError {}

/**
 * Every code of a {@link HandshakeError}: one per failure kind of the handshake table (`NoHandshake` →
 * `GOPLUGIN_NO_HANDSHAKE`, …), plus the emitter's `CertNotRequested` and `UnrepresentableAddress`.
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
  | 'GOPLUGIN_CERT_NOT_REQUESTED'
  | 'GOPLUGIN_UNREPRESENTABLE_ADDRESS';

/** Options of a {@link HandshakeError}. */
export interface HandshakeErrorOptions extends PluginwireErrorOptions {
  /** The raw handshake line the error is about, when there is one. */
  line?: string;
}

/**
 * A go-plugin handshake line could not be read, parsed, accepted or written: the family of one class per
 * {@link HandshakeErrorCode} (e.g. {@link AppVersionUnsupportedError}). Catch it to handle them all; the message
 * text is for people and may change.
 *
 * @example
 * ```ts
 * try {
 *   parseHandshake(line, { versions: [5, 6] });
 * } catch (error) {
 *   if (error instanceof AppVersionUnsupportedError) upgrade();
 *   else throw error;
 * }
 * ```
 */
export class HandshakeError extends GoPluginError {
  declare readonly code: HandshakeErrorCode;
  /** The raw first stdout line (as read, before trimming) when the error concerns one. */
  readonly line: string | undefined;

  /**
   * @param code - the code of the subclass.
   * @param message - a human-readable description.
   * @param options - the offending `line` and the `cause`.
   */
  protected constructor(code: HandshakeErrorCode, message: string, options?: HandshakeErrorOptions) {
    super(code, message, options);
    this.line = options?.line;
  }
}

/** The plugin's stdout ended before a handshake line (Go: `failed to read any lines from plugin's stdout`). */
export class NoHandshakeError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_NO_HANDSHAKE';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_NO_HANDSHAKE', message, options);
  }
}

/** The first stdout line is longer than `maxLineBytes` (Go's `bufio.Scanner` limit). */
export class HandshakeLineTooLongError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_LINE_TOO_LONG';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_LINE_TOO_LONG', message, options);
  }
}

/** The line has fewer than 4 `|`-separated fields: usually something printed to stdout before the handshake (Go: `Unrecognized remote plugin message`). */
export class HandshakeTooFewFieldsError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_TOO_FEW_FIELDS';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_TOO_FEW_FIELDS', message, options);
  }
}

/** The core protocol version field is not an integer. */
export class CoreVersionSyntaxError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_CORE_VERSION_SYNTAX';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_CORE_VERSION_SYNTAX', message, options);
  }
}

/** The core protocol version is not 1, the only one go-plugin speaks. */
export class CoreVersionMismatchError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_CORE_VERSION_MISMATCH';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_CORE_VERSION_MISMATCH', message, options);
  }
}

/** The application protocol version is not a non-negative integer. */
export class AppVersionSyntaxError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_APP_VERSION_SYNTAX';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_APP_VERSION_SYNTAX', message, options);
  }
}

/** The plugin speaks an application protocol version the host did not offer. */
export class AppVersionUnsupportedError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_APP_VERSION_UNSUPPORTED';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_APP_VERSION_UNSUPPORTED', message, options);
  }
}

/** The network field is neither `unix` nor `tcp`. */
export class HandshakeUnknownNetworkError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_UNKNOWN_NETWORK';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_UNKNOWN_NETWORK', message, options);
  }
}

/** The address cannot be dialled (an empty path, a bad `host:port`). */
export class HandshakeInvalidAddressError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_INVALID_ADDRESS';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_INVALID_ADDRESS', message, options);
  }
}

/** The plugin serves a protocol the host does not take, e.g. `netrpc` (Go-only). */
export class UnsupportedProtocolError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_UNSUPPORTED_PROTOCOL';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_UNSUPPORTED_PROTOCOL', message, options);
  }
}

/** The server certificate field is not valid base64. */
export class CertDecodeError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_CERT_DECODE';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_CERT_DECODE', message, options);
  }
}

/** The server certificate field decodes to something that is not an X.509 certificate. */
export class CertParseError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_CERT_PARSE';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_CERT_PARSE', message, options);
  }
}

/** The plugin sent a server certificate although the host did not ask for AutoMTLS. */
export class CertWithoutAutoMTLSError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_CERT_WITHOUT_AUTO_MTLS';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_CERT_WITHOUT_AUTO_MTLS', message, options);
  }
}

/** The host asked for AutoMTLS but the plugin sent no server certificate. */
export class CertMissingError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_CERT_MISSING';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_CERT_MISSING', message, options);
  }
}

/** The plugin announced gRPC broker multiplexing, which the host did not enable. */
export class MultiplexUnsupportedError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_MULTIPLEX_UNSUPPORTED';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_MULTIPLEX_UNSUPPORTED', message, options);
  }
}

/** The multiplexing field is not a boolean. */
export class MultiplexParseError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_MULTIPLEX_PARSE';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_MULTIPLEX_PARSE', message, options);
  }
}

/** `formatHandshake` was given a server certificate although the host did not set `PLUGIN_CLIENT_CERT`. */
export class CertNotRequestedError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_CERT_NOT_REQUESTED';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_CERT_NOT_REQUESTED', message, options);
  }
}

/** `formatHandshake` was given an address containing `|`, CR or LF, which a handshake line cannot carry. */
export class UnrepresentableAddressError extends HandshakeError {
  declare readonly code: 'GOPLUGIN_UNREPRESENTABLE_ADDRESS';
  /**
   * @param message - what is wrong.
   * @param options - the offending `line` and the `cause`.
   */
  constructor(message: string, options?: HandshakeErrorOptions) {
    super('GOPLUGIN_UNREPRESENTABLE_ADDRESS', message, options);
  }
}

const HANDSHAKE_ERRORS: Record<
  HandshakeErrorCode,
  new (
    message: string,
    options?: HandshakeErrorOptions,
  ) => HandshakeError
> = {
  GOPLUGIN_NO_HANDSHAKE: NoHandshakeError,
  GOPLUGIN_LINE_TOO_LONG: HandshakeLineTooLongError,
  GOPLUGIN_TOO_FEW_FIELDS: HandshakeTooFewFieldsError,
  GOPLUGIN_CORE_VERSION_SYNTAX: CoreVersionSyntaxError,
  GOPLUGIN_CORE_VERSION_MISMATCH: CoreVersionMismatchError,
  GOPLUGIN_APP_VERSION_SYNTAX: AppVersionSyntaxError,
  GOPLUGIN_APP_VERSION_UNSUPPORTED: AppVersionUnsupportedError,
  GOPLUGIN_UNKNOWN_NETWORK: HandshakeUnknownNetworkError,
  GOPLUGIN_INVALID_ADDRESS: HandshakeInvalidAddressError,
  GOPLUGIN_UNSUPPORTED_PROTOCOL: UnsupportedProtocolError,
  GOPLUGIN_CERT_DECODE: CertDecodeError,
  GOPLUGIN_CERT_PARSE: CertParseError,
  GOPLUGIN_CERT_WITHOUT_AUTO_MTLS: CertWithoutAutoMTLSError,
  GOPLUGIN_CERT_MISSING: CertMissingError,
  GOPLUGIN_MULTIPLEX_UNSUPPORTED: MultiplexUnsupportedError,
  GOPLUGIN_MULTIPLEX_PARSE: MultiplexParseError,
  GOPLUGIN_CERT_NOT_REQUESTED: CertNotRequestedError,
  GOPLUGIN_UNREPRESENTABLE_ADDRESS: UnrepresentableAddressError,
};

/**
 * The {@link HandshakeError} subclass of a code.
 *
 * @internal
 */
export function handshakeError(
  code: HandshakeErrorCode,
  message: string,
  options?: HandshakeErrorOptions,
): HandshakeError {
  return new HANDSHAKE_ERRORS[code](message, options);
}

/**
 * `PLUGIN_MIN_PORT`/`PLUGIN_MAX_PORT` cannot be used: a value is not a base-10 32-bit integer, or the minimum
 * is greater than the maximum.
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

/** Every code of a {@link ServeError}. */
export type ServeErrorCode =
  | 'GOPLUGIN_COOKIE_MISMATCH'
  | 'GOPLUGIN_SOCKET_PATH_TOO_LONG'
  | 'GOPLUGIN_SOCKET_GROUP'
  | 'GOPLUGIN_BIND_FAILED'
  | 'GOPLUGIN_CLIENT_CERT_INVALID';

/**
 * The plugin runtime could not start serving: the family of {@link CookieMismatchError},
 * {@link ServeSocketPathTooLongError}, {@link ServeSocketGroupError}, {@link ServeBindFailedError} and
 * {@link ClientCertInvalidError}. (A bad `servePlugin` configuration is an `InvalidPluginOptionsError`.)
 */
export class ServeError extends GoPluginError {
  declare readonly code: ServeErrorCode;
  /**
   * @param code - the code of the subclass.
   * @param message - what failed, with the values involved.
   * @param options - the `cause`.
   */
  protected constructor(code: ServeErrorCode, message: string, options?: PluginwireErrorOptions) {
    super(code, message, options);
  }
}

/** The magic cookie in the environment does not match (`servePlugin` with `exit: false`; Go prints its message and exits). */
export class CookieMismatchError extends ServeError {
  declare readonly code: 'GOPLUGIN_COOKIE_MISMATCH';
  /**
   * @param message - what is wrong, with the values involved.
   * @param options - the `cause`.
   */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_COOKIE_MISMATCH', message, options);
  }
}

/** A Unix socket in the plugin's socket directory would be longer than the platform's `sun_path` limit. */
export class ServeSocketPathTooLongError extends ServeError {
  declare readonly code: 'GOPLUGIN_SOCKET_PATH_TOO_LONG';
  /**
   * @param message - what is wrong, with the values involved.
   * @param options - the `cause`.
   */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_SOCKET_PATH_TOO_LONG', message, options);
  }
}

/** `PLUGIN_UNIX_SOCKET_GROUP` names no known group, or the socket cannot be given to it. */
export class ServeSocketGroupError extends ServeError {
  declare readonly code: 'GOPLUGIN_SOCKET_GROUP';
  /**
   * @param message - what is wrong, with the values involved.
   * @param options - the `cause`.
   */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_SOCKET_GROUP', message, options);
  }
}

/** No address could be bound: every TCP port in the range was taken, or the Unix socket could not be made. */
export class ServeBindFailedError extends ServeError {
  declare readonly code: 'GOPLUGIN_BIND_FAILED';
  /**
   * @param message - what is wrong, with the values involved.
   * @param options - the `cause`.
   */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_BIND_FAILED', message, options);
  }
}

/** `PLUGIN_CLIENT_CERT` is not a PEM certificate (Go: `client cert provided but failed to parse`). */
export class ClientCertInvalidError extends ServeError {
  declare readonly code: 'GOPLUGIN_CLIENT_CERT_INVALID';
  /**
   * @param message - what is wrong, with the values involved.
   * @param options - the `cause`.
   */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_CLIENT_CERT_INVALID', message, options);
  }
}

const SERVE_ERRORS: Record<
  ServeErrorCode,
  new (
    message: string,
    options?: PluginwireErrorOptions,
  ) => ServeError
> = {
  GOPLUGIN_COOKIE_MISMATCH: CookieMismatchError,
  GOPLUGIN_SOCKET_PATH_TOO_LONG: ServeSocketPathTooLongError,
  GOPLUGIN_SOCKET_GROUP: ServeSocketGroupError,
  GOPLUGIN_BIND_FAILED: ServeBindFailedError,
  GOPLUGIN_CLIENT_CERT_INVALID: ClientCertInvalidError,
};

/**
 * The {@link ServeError} subclass of a code.
 *
 * @internal
 */
export function serveError(
  code: ServeErrorCode,
  message: string,
  options?: PluginwireErrorOptions,
): ServeError {
  return new SERVE_ERRORS[code](message, options);
}

/** Every code of a {@link BrokerError}. */
export type BrokerErrorCode =
  | 'GOPLUGIN_BROKER_TIMEOUT'
  | 'GOPLUGIN_BROKER_CLOSED'
  | 'GOPLUGIN_BROKER_UNKNOWN_NETWORK'
  | 'GOPLUGIN_BROKER_DUPLICATE_ID';

/**
 * A GRPCBroker operation failed: the family of {@link BrokerTimeoutError}, {@link BrokerClosedError},
 * {@link BrokerUnknownNetworkError} and {@link BrokerDuplicateIdError}.
 */
export class BrokerError extends GoPluginError {
  declare readonly code: BrokerErrorCode;
  /**
   * @param code - the code of the subclass.
   * @param message - what failed.
   * @param options - the `cause`.
   */
  protected constructor(code: BrokerErrorCode, message: string, options?: PluginwireErrorOptions) {
    super(code, message, options);
  }
}

/** No connection info arrived for a broker id within the wait (Go: `timeout waiting for connection info`), or the host never opened the broker stream. */
export class BrokerTimeoutError extends BrokerError {
  declare readonly code: 'GOPLUGIN_BROKER_TIMEOUT';
  /**
   * @param message - what failed.
   * @param options - the `cause`.
   */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_BROKER_TIMEOUT', message, options);
  }
}

/** The broker was closed. */
export class BrokerClosedError extends BrokerError {
  declare readonly code: 'GOPLUGIN_BROKER_CLOSED';
  /**
   * @param message - what failed.
   * @param options - the `cause`.
   */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_BROKER_CLOSED', message, options);
  }
}

/** The peer announced a broker network other than `unix`/`tcp`. */
export class BrokerUnknownNetworkError extends BrokerError {
  declare readonly code: 'GOPLUGIN_BROKER_UNKNOWN_NETWORK';
  /**
   * @param message - what failed.
   * @param options - the `cause`.
   */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_BROKER_UNKNOWN_NETWORK', message, options);
  }
}

/** A broker id is already being accepted or dialled. */
export class BrokerDuplicateIdError extends BrokerError {
  declare readonly code: 'GOPLUGIN_BROKER_DUPLICATE_ID';
  /**
   * @param message - what failed.
   * @param options - the `cause`.
   */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_BROKER_DUPLICATE_ID', message, options);
  }
}

/**
 * A protobuf message of go-plugin's internal services (health, controller, broker, stdio) does not parse. Thrown
 * by the deserializer, which grpc-js turns into an `INTERNAL` status on the call.
 */
export class MalformedMessageError extends GoPluginError {
  declare readonly code: 'GOPLUGIN_MALFORMED_MESSAGE';
  /** @param message - which message type. */
  constructor(message: string) {
    super('GOPLUGIN_MALFORMED_MESSAGE', message);
  }
}
