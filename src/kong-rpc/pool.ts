/**
 * Kong's connection model on the Kong side (kong-rpc spec §1): a pool of Unix-socket connections per socket
 * path, each carrying one request at a time, never pipelined; idle connections are kept (up to `maxIdle`) and
 * closed after `idleTimeout`, as nginx's keepalive pool does. The pool knows nothing of the wire protocol: a
 * factory turns each connected socket into a MsgPack:1 or ProtoBuf:1 connection. Private to the Kong layer
 * until the socket module's pool can take its place.
 */
import { createConnection, type Socket } from 'node:net';
import { ConnectionClosedError, RequestAbortedError } from '../msgpack-rpc/index.js';
import { KongConnectError } from './errors.js';

/** What the pool needs of a connection, whatever its protocol. */
export interface PooledConnection {
  /** Whether the connection is gone. */
  readonly closed: boolean;
  /** Closes it now. */
  destroy(): void;
  /** Called once when the connection closes, for whatever reason. */
  onClose(listener: () => void): void;
}

/** Options of the pool. */
export interface PoolOptions<C extends PooledConnection> {
  socketPath: string;
  maxConnections: number;
  maxIdle: number;
  idleTimeout: number;
  connectTimeout: number;
  connectRetry: number;
  /** Wraps a freshly connected socket in the protocol's connection. */
  open: (socket: Socket) => C;
}

/** Per-call options. */
export interface CallOptions {
  timeout?: number;
  signal?: AbortSignal;
}

const RETRYABLE_CONNECT_ERRORS = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

/** A call waiting for a connection: it gets a released one, or `undefined` (a slot to connect in). */
interface Waiter<C> {
  grant(connection: C | undefined): void;
}

/** @internal */
export class ConnectionPool<C extends PooledConnection> {
  private readonly options: PoolOptions<C>;
  /** Idle connections, least recently used first; `idleSince` in parallel. */
  private readonly idle: C[] = [];
  private readonly idleSince: number[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly all = new Set<C>();
  private readonly waiters: Waiter<C>[] = [];
  private connecting = 0;
  private closed = false;

  constructor(options: PoolOptions<C>) {
    this.options = options;
  }

  /** Connections open now (idle and busy). */
  get size(): number {
    return this.all.size;
  }

  /** Idle connections now. */
  get idleCount(): number {
    return this.idle.length;
  }

  /**
   * Runs `work` on a pooled connection (an idle one, or a new one when under `maxConnections`, else the next
   * one released). When `work` resolves, the connection goes back to the pool, unless it was closed meanwhile;
   * when it rejects, `keep(error)` decides (default: discard), so the pool never hands out a connection in an
   * unknown state.
   */
  use<T>(
    method: string,
    signal: AbortSignal | undefined,
    work: (connection: C) => Promise<T>,
    keep?: (error: unknown) => boolean,
  ): Promise<T> {
    // The common case, an idle connection at hand, takes no extra promise.
    const idle = this.takeIdle();
    if (idle !== undefined) return this.useOn(idle, work, keep);
    return this.acquire(method, signal).then((connection) => this.useOn(connection, work, keep));
  }

  private useOn<T>(
    connection: C,
    work: (connection: C) => Promise<T>,
    keep: ((error: unknown) => boolean) | undefined,
  ): Promise<T> {
    return work(connection).then(
      (result) => {
        this.release(connection);
        return result;
      },
      (error: unknown) => {
        if (keep?.(error) === true) this.release(connection);
        else this.discard(connection);
        throw error;
      },
    );
  }

  /** Closes every connection; calls in progress reject with `ConnectionClosedError`. */
  close(): void {
    this.closed = true;
    this.stopSweep();
    for (const waiter of this.waiters.splice(0)) waiter.grant(undefined);
    for (const connection of this.all) connection.destroy();
    this.all.clear();
    this.idle.length = 0;
    this.idleSince.length = 0;
  }

  private async acquire(method: string, signal: AbortSignal | undefined): Promise<C> {
    for (;;) {
      if (this.closed) throw new ConnectionClosedError('local', undefined, 'Kong plugin client is closed');
      const connection = this.takeIdle();
      if (connection !== undefined) return connection;
      if (this.all.size + this.connecting < this.options.maxConnections) return this.open(signal);
      // At the cap: wait for a released connection, or for a slot when one closes.
      const granted = await this.wait(method, signal);
      if (granted !== undefined) return granted;
    }
  }

  /** The most recently used idle connection that is still open (LIFO, as nginx's keepalive pool). */
  private takeIdle(): C | undefined {
    for (;;) {
      const connection = this.idle.pop();
      if (connection === undefined) return undefined;
      this.idleSince.pop();
      if (!connection.closed) return connection;
      this.forget(connection);
    }
  }

  private wait(method: string, signal: AbortSignal | undefined): Promise<C | undefined> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new RequestAbortedError(method, undefined, false, signal.reason));
        return;
      }
      const onAbort = () => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new RequestAbortedError(method, undefined, false, signal?.reason));
      };
      const waiter: Waiter<C> = {
        grant: (connection) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(connection);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private async open(signal: AbortSignal | undefined): Promise<C> {
    this.connecting++;
    let socket: Socket;
    try {
      socket = await this.connect(signal);
    } catch (error) {
      this.connecting--;
      this.slotFreed();
      throw error;
    }
    this.connecting--;
    if (this.closed) {
      socket.destroy();
      throw new ConnectionClosedError('local', undefined, 'Kong plugin client is closed');
    }
    const connection = this.options.open(socket);
    this.all.add(connection);
    connection.onClose(() => this.forget(connection));
    return connection;
  }

  /** A connection attempt failed: its slot is free again. */
  private slotFreed(): void {
    this.waiters.shift()?.grant(undefined);
  }

  private release(connection: C): void {
    if (this.closed || connection.closed) {
      this.discard(connection);
      return;
    }
    if (this.idle.length >= this.options.maxIdle) {
      // nginx closes connections that do not fit in the keepalive pool.
      this.discard(connection);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter.grant(connection);
      return;
    }
    this.idle.push(connection);
    this.idleSince.push(performance.now());
    this.startSweep();
  }

  /** Closes connections idle for longer than `idleTimeout` (one unref'd timer while any are idle). */
  private startSweep(): void {
    if (this.sweepTimer !== undefined) return;
    const every = Math.max(10, this.options.idleTimeout / 2);
    this.sweepTimer = setInterval(() => {
      const expiry = performance.now() - this.options.idleTimeout;
      let expired = 0;
      while (expired < this.idleSince.length && (this.idleSince[expired] as number) <= expiry) expired++;
      const stale = this.idle.splice(0, expired);
      this.idleSince.splice(0, expired);
      for (const connection of stale) this.discard(connection);
      if (this.idle.length === 0) this.stopSweep();
    }, every);
    this.sweepTimer.unref();
  }

  private stopSweep(): void {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  private discard(connection: C): void {
    connection.destroy();
    this.forget(connection);
  }

  private forget(connection: C): void {
    const index = this.idle.indexOf(connection);
    if (index >= 0) {
      this.idle.splice(index, 1);
      this.idleSince.splice(index, 1);
    }
    if (this.all.delete(connection)) this.slotFreed();
  }

  /** Connects, retrying ENOENT/ECONNREFUSED for `connectRetry` ms (a server that is still starting). */
  private async connect(signal: AbortSignal | undefined): Promise<Socket> {
    const { socketPath, connectTimeout, connectRetry } = this.options;
    const giveUpAt = performance.now() + connectRetry;
    for (let attempt = 0; ; attempt++) {
      try {
        return await connectOnce(socketPath, connectTimeout, signal);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const retry =
          code !== undefined && RETRYABLE_CONNECT_ERRORS.has(code) && performance.now() < giveUpAt;
        if (!retry || signal?.aborted) throw new KongConnectError(socketPath, { cause: error });
        await delay(Math.min(10 * 2 ** attempt, 200), signal);
      }
    }
  }
}

function connectOnce(path: string, timeout: number, signal: AbortSignal | undefined): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const socket = createConnection(path);
    const fail = (error: unknown) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onAbort = () => fail(signal?.reason);
    const timer = setTimeout(
      () => fail(Object.assign(new Error(`connect timed out after ${timeout} ms`), { code: 'ETIMEDOUT' })),
      timeout,
    );
    timer.unref();
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('error', fail);
      signal?.removeEventListener('abort', onAbort);
    };
    socket.once('error', fail);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      cleanup();
      resolve(socket);
    });
  });
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
