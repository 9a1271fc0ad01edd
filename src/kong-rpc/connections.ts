/**
 * Kong's connection model on the Kong side (kong-rpc spec §1) on the socket module's pool: per socket path, each
 * connection carries one request at a time, never pipelined; idle connections are kept (up to `maxIdle`, LIFO)
 * and closed after `idleTimeout`, as nginx's keepalive pool does. The pool knows nothing of the wire protocol:
 * each protocol wraps a connected stream in its own connection (MsgPack:1 in an `RpcPeer`, ProtoBuf:1 in a
 * frame reader), which has the {@link PooledConnection} shape.
 */
import type { Duplex } from 'node:stream';
import { ConnectionClosedError, RequestAbortedError } from '../msgpack-rpc/index.js';
import { type ConnectOptions, connectUnix, UnixSocketPool } from '../socket/index.js';
import { KongConnectError } from './errors.js';

/** What the pool needs of a connection, whatever its protocol. */
export interface PooledConnection {
  /** Whether the connection is gone. */
  readonly closed: boolean;
  /** Closes it now; a call in progress fails. */
  destroy(): void;
  /** Called once when the connection closes, for whatever reason. */
  onClose(listener: () => void): void;
}

/** Per-call options. */
export interface CallOptions {
  timeout?: number;
  signal?: AbortSignal;
}

/** Options of {@link KongConnections}, as {@link KongPluginClient} resolves them. */
export interface KongPoolOptions {
  socketPath: string;
  maxConnections: number;
  maxIdle: number;
  idleTimeout: number;
  connectTimeout: number;
  connectRetry: number;
  /** Opens one connection instead of connecting to `socketPath` (an in-memory duplex in tests). */
  connect: (() => Promise<Duplex>) | undefined;
}

/**
 * Connects to the plugin server's socket with the socket module's `connectUnix`: within `connectRetry` ms, a
 * socket that is not there yet (ENOENT), refuses (ECONNREFUSED, a stale file) or has a full backlog (EAGAIN)
 * is tried again, as a server that is still starting. Every failure becomes {@link KongConnectError}.
 */
function unixConnector(options: KongPoolOptions): (signal: AbortSignal | undefined) => Promise<Duplex> {
  const { socketPath, connectTimeout, connectRetry, connect } = options;
  const connectOptions: ConnectOptions = {
    timeout: connectTimeout,
    retry:
      connectRetry > 0
        ? {
            deadline: connectRetry,
            initialDelay: 10,
            maxDelay: 200,
            retryOn: ['NotFound', 'Refused', 'Busy'],
          }
        : false,
  };
  return (signal) => {
    const opened =
      connect !== undefined
        ? connect()
        : connectUnix(socketPath, signal === undefined ? connectOptions : { ...connectOptions, signal });
    return opened.catch((error: unknown) => {
      throw new KongConnectError(socketPath, { cause: error });
    });
  };
}

/**
 * How one call waits for a connection: a class rather than an object of closures, as it is built for every call
 * and used only when no idle connection is at hand. The pool reads `signal` only then, so a function given as
 * the signal is called only then.
 */
class WaitOptions {
  constructor(
    private readonly method: string,
    private readonly source: AbortSignal | (() => AbortSignal),
  ) {}

  get signal(): AbortSignal {
    return typeof this.source === 'function' ? this.source() : this.source;
  }

  abortError(reason: unknown): RequestAbortedError {
    return new RequestAbortedError(this.method, undefined, false, reason);
  }
}

/** @internal The pooled connections of one Kong client, for one protocol's connection type. */
export class KongConnections<C extends PooledConnection> {
  private readonly pool: UnixSocketPool<C>;

  /**
   * @param options - the client's pool options.
   * @param open - wraps a connected stream in the protocol's connection.
   * @param reusableAfter - whether a call's error leaves its connection fit for the next call (an error answer).
   */
  constructor(
    options: KongPoolOptions,
    open: (stream: Duplex) => C,
    reusableAfter: (error: unknown) => boolean,
  ) {
    this.pool = new UnixSocketPool<C>(options.socketPath, {
      max: options.maxConnections,
      maxIdle: options.maxIdle,
      idleTimeout: options.idleTimeout,
      acquireTimeout: 0,
      connector: unixConnector(options),
      connection: {
        create: open,
        isOpen: (connection) => !connection.closed,
        destroy: (connection) => connection.destroy(),
        onClose: (connection, listener) => connection.onClose(listener),
      },
      reusableAfter,
      closedError: () => new ConnectionClosedError('local', undefined, 'Kong plugin client is closed'),
    });
  }

  /** Connections open now (idle, busy and connecting). */
  get size(): number {
    return this.pool.size;
  }

  /**
   * Runs `work` on a pooled connection (an idle one, or a new one when under `maxConnections`, else the next one
   * released). When `work` resolves, the connection goes back to the pool unless it was closed meanwhile; when it
   * rejects, `reusableAfter` decides (default: discard), so the pool never hands out a connection in an unknown
   * state. Waiting for a connection ends with `RequestAbortedError` when `signal` aborts; a function is asked for
   * the signal only if the call has to wait (an idle connection at hand needs none, so none is built).
   */
  use<T>(
    method: string,
    signal: AbortSignal | (() => AbortSignal) | undefined,
    work: (connection: C) => Promise<T>,
  ): Promise<T> {
    if (signal === undefined) return this.pool.exchange(work);
    return this.pool.exchange(work, new WaitOptions(method, signal));
  }

  /** Closes every connection; calls in progress and waiting reject with `ConnectionClosedError`. */
  close(): void {
    void this.pool.close({ deadline: 0 });
  }
}
