import { SocketError, SocketPathError } from './errors.js';

/** The classes of connect failure of the socket spec §3.2; `retryOn` takes these names. */
export type ConnectFailureKind =
  | 'NotFound'
  | 'Refused'
  | 'NotASocket'
  | 'Busy'
  | 'Timeout'
  | 'PermissionDenied'
  | 'BadPath'
  | 'ConnectFailed';

/** The code of each {@link ConnectFailureKind}. */
const CODES = {
  NotFound: 'SOCKET_NOT_FOUND',
  Refused: 'SOCKET_REFUSED',
  NotASocket: 'SOCKET_NOT_A_SOCKET',
  Busy: 'SOCKET_BUSY',
  Timeout: 'SOCKET_CONNECT_TIMEOUT',
  PermissionDenied: 'SOCKET_CONNECT_PERMISSION_DENIED',
  BadPath: 'SOCKET_BAD_PATH',
  ConnectFailed: 'SOCKET_CONNECT_FAILED',
} as const satisfies Record<ConnectFailureKind, SocketConnectErrorCode>;

/** Every code of a {@link SocketConnectError}, one per {@link ConnectFailureKind}. */
export type SocketConnectErrorCode =
  | 'SOCKET_NOT_FOUND'
  | 'SOCKET_REFUSED'
  | 'SOCKET_NOT_A_SOCKET'
  | 'SOCKET_BUSY'
  | 'SOCKET_CONNECT_TIMEOUT'
  | 'SOCKET_CONNECT_PERMISSION_DENIED'
  | 'SOCKET_BAD_PATH'
  | 'SOCKET_CONNECT_FAILED';

const DESCRIPTIONS: Record<ConnectFailureKind, string> = {
  NotFound: 'no socket file at the path (server not bound yet, gone, or wrong path)',
  Refused: 'a socket file exists but no process accepts on it (stale socket or server restarting)',
  NotASocket: 'the file at the path is not a socket',
  Busy: 'the server is alive but its backlog is full (it does not accept fast enough)',
  Timeout: 'no answer within the connect timeout',
  PermissionDenied: 'no write permission on the socket or no search permission on a directory of its path',
  BadPath: 'a component of the path is not a directory, or a symlink loop',
  ConnectFailed: 'connect failed',
};

/** What a failed {@link connectUnix} tried. */
export interface ConnectErrorDetails {
  /** The errno of the last attempt (`ENOENT`, …), or `ETIMEDOUT` for a timeout. */
  errno: string;
  /** Number of connect attempts made. */
  attempts: number;
  /** Time from the first attempt to giving up, ms. */
  elapsed: number;
  /** Hints about the likely cause (sibling `.sock`/`.socket` file, missing directory, …). */
  hints: string[];
  /** The underlying error of the last attempt. */
  cause?: unknown;
}

/**
 * `connectUnix` failed. The subclass (and `code`) names the class of the last failure; `attempts`, `elapsed`
 * and `hints` say what was tried for how long.
 */
export class SocketConnectError extends SocketPathError {
  declare readonly code: SocketConnectErrorCode;
  /** The failure class (§3.2 of the socket spec). */
  readonly kind: ConnectFailureKind;
  /** Number of connect attempts made. */
  readonly attempts: number;
  /** Time from the first attempt to giving up, ms. */
  readonly elapsed: number;
  /** Hints about the likely cause. */
  readonly hints: readonly string[];

  /**
   * @param kind - the failure class.
   * @param path - the address.
   * @param details - errno, attempts, elapsed time, hints, cause.
   */
  protected constructor(kind: ConnectFailureKind, path: string, details: ConnectErrorDetails) {
    const tried =
      details.attempts > 1
        ? ` after ${details.attempts} attempts over ${Math.round(details.elapsed)} ms`
        : '';
    const hints = details.hints.length > 0 ? `; ${details.hints.join('; ')}` : '';
    super(
      CODES[kind],
      `cannot connect to unix socket ${path}${tried}: ${details.errno}: ${DESCRIPTIONS[kind]}${hints}`,
      path,
      { errno: details.errno, ...(details.cause === undefined ? {} : { cause: details.cause }) },
    );
    this.kind = kind;
    this.attempts = details.attempts;
    this.elapsed = details.elapsed;
    this.hints = details.hints;
  }
}

/** `ENOENT`: nothing at the path. Retried during boot. */
export class SocketNotFoundError extends SocketConnectError {
  declare readonly code: 'SOCKET_NOT_FOUND';
  /** @param path - the address. @param details - see {@link ConnectErrorDetails}. */
  constructor(path: string, details: ConnectErrorDetails) {
    super('NotFound', path, details);
  }
}

/** `ECONNREFUSED` on a socket file: stale socket or a restarting server. Retried during boot. */
export class SocketRefusedError extends SocketConnectError {
  declare readonly code: 'SOCKET_REFUSED';
  /** @param path - the address. @param details - see {@link ConnectErrorDetails}. */
  constructor(path: string, details: ConnectErrorDetails) {
    super('Refused', path, details);
  }
}

/** The file at the path is not a socket (Linux reports `ECONNREFUSED`). Never retried. */
export class NotASocketError extends SocketConnectError {
  declare readonly code: 'SOCKET_NOT_A_SOCKET';
  /** @param path - the address. @param details - see {@link ConnectErrorDetails}. */
  constructor(path: string, details: ConnectErrorDetails) {
    super('NotASocket', path, details);
  }
}

/** `EAGAIN`: the server's backlog is full. Retried only when in `retryOn`. */
export class SocketBusyError extends SocketConnectError {
  declare readonly code: 'SOCKET_BUSY';
  /** @param path - the address. @param details - see {@link ConnectErrorDetails}. */
  constructor(path: string, details: ConnectErrorDetails) {
    super('Busy', path, details);
  }
}

/** No connection within the per-attempt `timeout`. Retried only when in `retryOn`. */
export class ConnectTimeoutError extends SocketConnectError {
  declare readonly code: 'SOCKET_CONNECT_TIMEOUT';
  /** @param path - the address. @param details - see {@link ConnectErrorDetails}. */
  constructor(path: string, details: ConnectErrorDetails) {
    super('Timeout', path, details);
  }
}

/** `EACCES`/`EPERM`: no write permission on the socket or no search permission on a directory. Never retried. */
export class ConnectPermissionDeniedError extends SocketConnectError {
  declare readonly code: 'SOCKET_CONNECT_PERMISSION_DENIED';
  /** @param path - the address. @param details - see {@link ConnectErrorDetails}. */
  constructor(path: string, details: ConnectErrorDetails) {
    super('PermissionDenied', path, details);
  }
}

/** `ENOTDIR`/`ELOOP`: the path cannot be resolved. Never retried. */
export class SocketBadPathError extends SocketConnectError {
  declare readonly code: 'SOCKET_BAD_PATH';
  /** @param path - the address. @param details - see {@link ConnectErrorDetails}. */
  constructor(path: string, details: ConnectErrorDetails) {
    super('BadPath', path, details);
  }
}

/** Any other connect failure. Never retried. */
export class ConnectFailedError extends SocketConnectError {
  declare readonly code: 'SOCKET_CONNECT_FAILED';
  /** @param path - the address. @param details - see {@link ConnectErrorDetails}. */
  constructor(path: string, details: ConnectErrorDetails) {
    super('ConnectFailed', path, details);
  }
}

/** @internal Creates the error class of a failure kind. */
export function connectError(
  kind: ConnectFailureKind,
  path: string,
  details: ConnectErrorDetails,
): SocketConnectError {
  switch (kind) {
    case 'NotFound':
      return new SocketNotFoundError(path, details);
    case 'Refused':
      return new SocketRefusedError(path, details);
    case 'NotASocket':
      return new NotASocketError(path, details);
    case 'Busy':
      return new SocketBusyError(path, details);
    case 'Timeout':
      return new ConnectTimeoutError(path, details);
    case 'PermissionDenied':
      return new ConnectPermissionDeniedError(path, details);
    case 'BadPath':
      return new SocketBadPathError(path, details);
    case 'ConnectFailed':
      return new ConnectFailedError(path, details);
  }
}

/** A pool could not lease a connection within `acquireTimeout`. */
export class PoolTimeoutError extends SocketError {
  declare readonly code: 'SOCKET_POOL_TIMEOUT';
  /** @param path - the pool's address. @param timeout - the acquire timeout, ms. @param max - the pool size. */
  constructor(path: string, timeout: number, max: number) {
    super(
      'SOCKET_POOL_TIMEOUT',
      `no connection to ${path} became free within ${timeout} ms (all ${max} in use)`,
    );
  }
}

/** The pool is closed; no further exchanges. */
export class PoolClosedError extends SocketError {
  declare readonly code: 'SOCKET_POOL_CLOSED';
  /** @param path - the pool's address. */
  constructor(path: string) {
    super('SOCKET_POOL_CLOSED', `the connection pool for ${path} is closed`);
  }
}

/** The peer closed or reset the connection before the exchange completed. */
export class ConnectionLostError extends SocketError {
  declare readonly code: 'SOCKET_CONNECTION_LOST';
  /** Bytes received during the exchange before the loss (0 is Kong's "no data" case). */
  readonly bytesReceived: number;

  /**
   * @param path - the address.
   * @param bytesReceived - bytes received during this exchange.
   * @param cause - the socket error, if any.
   */
  constructor(path: string, bytesReceived: number, cause?: unknown) {
    super(
      'SOCKET_CONNECTION_LOST',
      `connection to ${path} lost before the exchange completed (${bytesReceived} bytes received)`,
      cause === undefined ? undefined : { cause },
    );
    this.bytesReceived = bytesReceived;
  }
}

/** No data arrived for `readTimeout` ms during an exchange; the connection was destroyed. */
export class ReadTimeoutError extends SocketError {
  declare readonly code: 'SOCKET_READ_TIMEOUT';
  /** @param path - the address. @param timeout - the read timeout, ms. */
  constructor(path: string, timeout: number) {
    super('SOCKET_READ_TIMEOUT', `no data from ${path} for ${timeout} ms during an exchange`);
  }
}

/** Writing to the connection failed (`EPIPE`, `ECONNRESET`). */
export class WriteFailedError extends SocketError {
  declare readonly code: 'SOCKET_WRITE_FAILED';
  /** @param path - the address. @param cause - the socket error. */
  constructor(path: string, cause: unknown) {
    super('SOCKET_WRITE_FAILED', `write to ${path} failed: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

/** A {@link PoolLease} was used after its exchange ended (its connection may serve another exchange now). */
export class LeaseEndedError extends SocketError {
  declare readonly code: 'SOCKET_LEASE_ENDED';
  /** @param path - the pool's address. */
  constructor(path: string) {
    super('SOCKET_LEASE_ENDED', `a pooled connection to ${path} was used after its exchange ended`);
  }
}
