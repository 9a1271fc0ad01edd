import type { Socket } from 'node:net';
import { type ConnectOptions, connectUnix } from './client.js';
import {
  ConnectionLostError,
  LeaseEndedError,
  PoolClosedError,
  PoolTimeoutError,
  ReadTimeoutError,
  WriteFailedError,
} from './connect-errors.js';
import { resolveAddress, type SocketAddress } from './path.js';

/** Options of {@link UnixSocketPool}. Defaults are Kong's (nginx cosocket pool). */
export interface PoolOptions {
  /** Most connections at once (leased, connecting and idle). Default 256 (`lua_socket_pool_size`). */
  max?: number;
  /** Close an idle pooled connection after this long, ms. Default 60000 (nginx keepalive timeout). */
  idleTimeout?: number;
  /** Fail an exchange that waited this long for a free connection, ms. Default 60000. */
  acquireTimeout?: number;
  /** Fail a read with no data for this long, ms. Default 60000 (nginx's read timeout, Kong/kong#8546). */
  readTimeout?: number;
  /** `keepalive` reuses connections; `perExchange` opens and closes one per exchange. Default `keepalive`. */
  mode?: 'keepalive' | 'perExchange';
  /** How new connections are made (retry while the server boots, timeout). Default `{ retry: true }`. */
  connect?: Omit<ConnectOptions, 'signal'>;
}

class PooledSocket {
  readonly socket: Socket;
  readonly chunks: Buffer[] = [];
  closed = false;
  closeError: unknown;
  waiter: { resolve: (chunk: Buffer) => void; reject: (error: unknown) => void } | undefined;
  onClosedIdle: (() => void) | undefined;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      const waiter = this.waiter;
      if (waiter === undefined) {
        // Bytes on an idle connection (go-pdk's serverPid notification after accept) are kept for the next lessee.
        this.chunks.push(chunk);
        return;
      }
      this.waiter = undefined;
      waiter.resolve(chunk);
    });
    socket.on('error', (error) => this.#gone(error));
    socket.on('end', () => this.#gone());
    socket.on('close', () => this.#gone());
  }

  #gone(error?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
    this.onClosedIdle?.();
  }

  destroy(): void {
    clearTimeout(this.idleTimer);
    this.socket.destroy();
    // A pending read fails now (ConnectionLost), not whenever 'close' arrives.
    this.#gone();
  }
}

/**
 * The connection leased to one exchange of {@link UnixSocketPool.exchange}. Only this exchange writes to it and
 * reads from it until the callback returns: one request in flight per connection, never pipelined.
 */
export class PoolLease {
  readonly #pooled: PooledSocket;
  readonly #path: string;
  readonly #readTimeout: number;
  #bytesReceived = 0;
  #failed = false;
  #ended = false;

  /** @internal */
  constructor(pooled: PooledSocket, path: string, readTimeout: number) {
    this.#pooled = pooled;
    this.#path = path;
    this.#readTimeout = readTimeout;
  }

  /** The raw socket, for protocol layers that need it (do not keep it past the exchange). */
  get socket(): Socket {
    return this.#pooled.socket;
  }

  /** Bytes received during this exchange so far. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** @internal Whether the exchange asked for the connection to be destroyed. */
  get failed(): boolean {
    return this.#failed;
  }

  /** @internal Called when the exchange is over: the connection may now belong to another exchange. */
  end(): void {
    this.#ended = true;
  }

  #checkActive(): void {
    if (this.#ended) throw new LeaseEndedError(this.#path);
  }

  /**
   * Writes bytes; resolves when they were handed to the kernel.
   *
   * @throws {@link WriteFailedError} when the connection is broken; {@link LeaseEndedError} after the exchange.
   */
  write(data: Uint8Array | string): Promise<void> {
    this.#checkActive();
    return new Promise((resolve, reject) => {
      if (this.#pooled.closed) {
        reject(new WriteFailedError(this.#path, this.#pooled.closeError ?? new Error('connection closed')));
        return;
      }
      this.#pooled.socket.write(data, (error) => {
        if (error) reject(new WriteFailedError(this.#path, error));
        else resolve();
      });
    });
  }

  /**
   * The next chunk of bytes: first any bytes that arrived while the connection sat idle, then new data.
   *
   * @throws {@link ConnectionLostError} on EOF or reset (with the bytes received so far);
   *   {@link ReadTimeoutError} after `readTimeout` ms without data (the connection is destroyed);
   *   {@link LeaseEndedError} after the exchange.
   */
  read(): Promise<Buffer> {
    this.#checkActive();
    const pooled = this.#pooled;
    const buffered = pooled.chunks.shift();
    if (buffered !== undefined) {
      this.#bytesReceived += buffered.length;
      return Promise.resolve(buffered);
    }
    if (pooled.closed)
      return Promise.reject(new ConnectionLostError(this.#path, this.#bytesReceived, pooled.closeError));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pooled.waiter = undefined;
        this.#failed = true;
        pooled.destroy();
        reject(new ReadTimeoutError(this.#path, this.#readTimeout));
      }, this.#readTimeout);
      pooled.waiter = {
        resolve: (chunk) => {
          clearTimeout(timer);
          this.#bytesReceived += chunk.length;
          resolve(chunk);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(new ConnectionLostError(this.#path, this.#bytesReceived, error));
        },
      };
    });
  }

  /** Marks the connection broken: it is destroyed after the exchange instead of returned to the pool. */
  fail(): void {
    this.#failed = true;
  }
}

interface Waiter {
  resolve: (pooled: PooledSocket) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

/**
 * A pool of connections to one Unix socket with Kong's semantics (`Kong/kong:
 * kong/runloop/plugin_servers/rpc/mp_rpc.lua`): every exchange leases a connection for exactly one
 * request/response (however many frames), then returns it; one outstanding request per connection; idle
 * connections reused LIFO and closed after `idleTimeout`; broken ones discarded. Pipelining is impossible by
 * construction (kong-js-pluginserver crashes when two messages arrive in one read).
 *
 * @example
 * ```ts
 * const pool = new UnixSocketPool('/usr/local/kong/js_pluginserver.sock');
 * const reply = await pool.exchange(async (conn) => {
 *   await conn.write(request);
 *   return conn.read();
 * });
 * await pool.close();
 * ```
 */
export class UnixSocketPool {
  readonly #address: SocketAddress;
  readonly #path: string;
  readonly #max: number;
  readonly #idleTimeout: number;
  readonly #acquireTimeout: number;
  readonly #readTimeout: number;
  readonly #perExchange: boolean;
  readonly #connect: Omit<ConnectOptions, 'signal'>;
  readonly #idle: PooledSocket[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #leased = new Set<PooledSocket>();
  #total = 0;
  #closed = false;

  /**
   * @param address - the server's socket.
   * @param options - see {@link PoolOptions}.
   * @throws the address errors of {@link resolveAddress}.
   */
  constructor(address: SocketAddress, options: PoolOptions = {}) {
    this.#path = resolveAddress(address).display;
    this.#address = address;
    this.#max = options.max ?? 256;
    this.#idleTimeout = options.idleTimeout ?? 60_000;
    this.#acquireTimeout = options.acquireTimeout ?? 60_000;
    this.#readTimeout = options.readTimeout ?? 60_000;
    this.#perExchange = options.mode === 'perExchange';
    this.#connect = options.connect ?? { retry: true };
  }

  /** Connections that exist now (leased, connecting or idle). */
  get size(): number {
    return this.#total;
  }

  /** Idle connections ready for reuse. */
  get idle(): number {
    return this.#idle.length;
  }

  /** Exchanges waiting for a free connection. */
  get pending(): number {
    return this.#waiters.length;
  }

  /**
   * Runs one exchange on a leased connection. The connection is returned to the pool when `exchange` resolves,
   * and destroyed when it throws or calls {@link PoolLease.fail}.
   *
   * @returns what `exchange` returns.
   * @throws {@link PoolTimeoutError}, {@link PoolClosedError}, connect errors of {@link connectUnix}, and
   *   whatever `exchange` throws ({@link ConnectionLostError}, {@link ReadTimeoutError}, {@link WriteFailedError}
   *   from the lease).
   */
  async exchange<T>(exchange: (lease: PoolLease) => Promise<T>): Promise<T> {
    const pooled = await this.#acquire();
    if (this.#closed) {
      // The pool closed while this exchange was connecting.
      this.#discard(pooled);
      throw new PoolClosedError(this.#path);
    }
    this.#leased.add(pooled);
    const lease = new PoolLease(pooled, this.#path, this.#readTimeout);
    let ok = false;
    try {
      const result = await exchange(lease);
      ok = true;
      return result;
    } finally {
      lease.end();
      this.#leased.delete(pooled);
      this.#release(pooled, ok && !lease.failed);
    }
  }

  /** Closes every idle connection, e.g. after the server restarted (the supervisor's `restart` event). */
  dropIdle(): void {
    for (const pooled of this.#idle.splice(0)) this.#discard(pooled);
  }

  /**
   * Stops leasing (waiters fail with {@link PoolClosedError}), closes idle connections, waits up to `deadline`
   * ms (default 5000) for active exchanges, then destroys everything. Never rejects.
   */
  async close(options: { deadline?: number } = {}): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new PoolClosedError(this.#path));
    }
    this.dropIdle();
    const active = [...this.#leased];
    if (active.length === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, options.deadline ?? 5000);
      let left = active.length;
      function finish(): void {
        clearTimeout(timer);
        for (const pooled of active) pooled.destroy();
        resolve();
      }
      for (const pooled of active) {
        pooled.socket.once('close', () => {
          left--;
          if (left === 0) finish();
        });
      }
    });
  }

  async #acquire(): Promise<PooledSocket> {
    if (this.#closed) throw new PoolClosedError(this.#path);
    for (let pooled = this.#idle.pop(); pooled !== undefined; pooled = this.#idle.pop()) {
      clearTimeout(pooled.idleTimer);
      pooled.onClosedIdle = undefined;
      if (!pooled.closed) return pooled;
      this.#total--;
    }
    if (this.#total < this.#max) return this.#open();
    return new Promise<PooledSocket>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const index = this.#waiters.indexOf(waiter);
          if (index >= 0) this.#waiters.splice(index, 1);
          reject(new PoolTimeoutError(this.#path, this.#acquireTimeout, this.#max));
        }, this.#acquireTimeout),
      };
      this.#waiters.push(waiter);
    });
  }

  async #open(): Promise<PooledSocket> {
    this.#total++;
    try {
      return new PooledSocket(await connectUnix(this.#address, this.#connect));
    } catch (error) {
      this.#total--;
      this.#serveWaiter();
      throw error;
    }
  }

  #release(pooled: PooledSocket, reusable: boolean): void {
    if (!reusable || pooled.closed || this.#perExchange || this.#closed) {
      this.#discard(pooled);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      clearTimeout(waiter.timer);
      waiter.resolve(pooled);
      return;
    }
    // Peer closed or errored while idle: leave the pool at once, the next lease opens a fresh connection.
    pooled.onClosedIdle = () => {
      const index = this.#idle.indexOf(pooled);
      if (index >= 0) this.#idle.splice(index, 1);
      this.#discard(pooled);
    };
    pooled.idleTimer = setTimeout(() => pooled.onClosedIdle?.(), this.#idleTimeout);
    pooled.idleTimer.unref();
    this.#idle.push(pooled);
  }

  #discard(pooled: PooledSocket): void {
    pooled.onClosedIdle = undefined;
    pooled.destroy();
    this.#total--;
    this.#serveWaiter();
  }

  /** A slot became free: open a connection for the first waiter. */
  #serveWaiter(): void {
    if (this.#closed || this.#total >= this.#max) return;
    const waiter = this.#waiters.shift();
    if (waiter === undefined) return;
    clearTimeout(waiter.timer);
    this.#open().then(waiter.resolve, waiter.reject);
  }
}
