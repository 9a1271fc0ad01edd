import type { Duplex } from 'node:stream';
import { onAbort } from '../abort.js';
import { type ConnectOptions, connectUnix } from './client.js';
import { PoolClosedError, PoolTimeoutError } from './connect-errors.js';
import { SocketAbortedError } from './errors.js';
import { formatAddress, resolveAddress, type SocketAddress } from './path.js';
import { type PoolLease, rawConnections } from './pool-connection.js';

/**
 * What lives on a pooled connection, and how the pool handles it: {@link UnixSocketPool} opens streams and
 * hands each to `create`; the exchanges get what `create` returned (raw bytes by default, or for example an
 * `RpcPeer`).
 */
export interface PoolConnectionFactory<C> {
  /** Wraps a freshly connected stream. */
  create(stream: Duplex): C;
  /** Whether the connection can still carry an exchange (checked before an idle one is reused). */
  isOpen(connection: C): boolean;
  /** Closes the connection for good; an exchange in progress on it fails. */
  destroy(connection: C): void;
  /** Calls `listener` once when the connection closes by itself, so an idle one leaves the pool at once. */
  onClose?(connection: C, listener: () => void): void;
  /** Called when an exchange takes the connection. */
  acquired?(connection: C): void;
  /** Called when the exchange is over; `false` destroys the connection instead of keeping it. */
  released?(connection: C): boolean;
}

/** Opens one connection to the server; `signal` cancels the attempt. */
export type PoolConnector = (signal: AbortSignal | undefined) => Promise<Duplex>;

/** Options of {@link UnixSocketPool}. Defaults are Kong's (nginx cosocket pool). */
export interface UnixSocketPoolOptions<C = PoolLease> {
  /** Most connections at once (leased, connecting and idle). Default 256. */
  max?: number;
  /** Most idle connections kept; a released connection beyond it is closed. Default 256 (`lua_socket_pool_size`). */
  maxIdle?: number;
  /** Close an idle pooled connection after this long, ms. Default 60000 (nginx keepalive timeout). */
  idleTimeout?: number;
  /** Fail an exchange that waited this long for a free connection, ms; 0 = no limit. Default 60000. */
  acquireTimeout?: number;
  /** Raw connections: fail a read with no data for this long, ms. Default 60000 (nginx's, Kong/kong#8546). */
  readTimeout?: number;
  /** `keepalive` reuses connections; `perExchange` opens and closes one per exchange. Default `keepalive`. */
  mode?: 'keepalive' | 'perExchange';
  /** How the default connector connects (retry while the server boots, timeout). Default `{ retry: true }`. */
  connect?: Omit<ConnectOptions, 'signal'>;
  /**
   * Opens one connection; replaces the default, {@link connectUnix} on the pool's address with `connect`.
   * Inject one to pool something other than a Unix socket (an in-memory duplex in tests, a TLS stream).
   */
  connector?: PoolConnector;
  /** What lives on a connection; default raw {@link PoolLease}s. */
  connection?: PoolConnectionFactory<C>;
  /**
   * Whether a connection whose exchange threw `error` may be reused (e.g. an error answer from the server);
   * default never: a failed exchange destroys its connection.
   */
  reusableAfter?: (error: unknown) => boolean;
  /** The error an exchange fails with once the pool is closed; default {@link PoolClosedError}. */
  closedError?: () => unknown;
}

/** Options of one {@link UnixSocketPool.exchange}. */
export interface ExchangeOptions {
  /** Cancels the wait for a connection (and the connect); the exchange itself watches it on its own. */
  signal?: AbortSignal | undefined;
  /** The error the exchange fails with when `signal` aborts the wait; default {@link SocketAbortedError}. */
  abortError?: (reason: unknown) => unknown;
}

interface Waiter<C> {
  grant(connection: C | undefined): void;
  fail(error: unknown): void;
}

/**
 * A pool of connections to one Unix socket with Kong's semantics (`Kong/kong:
 * kong/runloop/plugin_servers/rpc/mp_rpc.lua`): every exchange leases a connection for exactly one
 * request/response (however many frames), then returns it; one outstanding request per connection; idle
 * connections reused LIFO and closed after `idleTimeout`; broken ones discarded. Pipelining is impossible by
 * construction (kong-js-pluginserver crashes when two messages arrive in one read).
 *
 * Generic over what lives on a connection ({@link PoolConnectionFactory}) and over how connections are made
 * ({@link PoolConnector}), after undici's Pool over an injected connector.
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
export class UnixSocketPool<C = PoolLease> {
  readonly #path: string;
  readonly #max: number;
  readonly #maxIdle: number;
  readonly #idleTimeout: number;
  readonly #acquireTimeout: number;
  readonly #perExchange: boolean;
  readonly #connector: PoolConnector;
  readonly #factory: PoolConnectionFactory<C>;
  readonly #reusableAfter: ((error: unknown) => boolean) | undefined;
  readonly #closedError: () => unknown;
  /** Idle connections, least recently used first; `#idleSince` in parallel. */
  readonly #idle: C[] = [];
  readonly #idleSince: number[] = [];
  readonly #all = new Set<C>();
  readonly #leased = new Set<C>();
  readonly #waiters: Waiter<C>[] = [];
  #connecting = 0;
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #onLeasedEmpty: (() => void) | undefined;

  /**
   * @param address - the server's socket (also named in errors when a `connector` is injected).
   * @param options - see {@link UnixSocketPoolOptions}.
   * @throws the address errors ({@link InvalidSocketPathError}, {@link SocketPathTooLongError},
   *   {@link UnsupportedPlatformError}).
   */
  constructor(address: SocketAddress, options: UnixSocketPoolOptions<C> = {}) {
    // An injected connector decides what the address means; only the default one needs a valid socket path.
    this.#path = options.connector === undefined ? resolveAddress(address).display : formatAddress(address);
    this.#max = options.max ?? 256;
    this.#maxIdle = options.maxIdle ?? 256;
    this.#idleTimeout = options.idleTimeout ?? 60_000;
    this.#acquireTimeout = options.acquireTimeout ?? 60_000;
    this.#perExchange = options.mode === 'perExchange';
    const connect = options.connect ?? { retry: true };
    this.#connector =
      options.connector ??
      ((signal) => connectUnix(address, signal === undefined ? connect : { ...connect, signal }));
    this.#factory =
      options.connection ??
      (rawConnections(this.#path, options.readTimeout ?? 60_000) as unknown as PoolConnectionFactory<C>);
    this.#reusableAfter = options.reusableAfter;
    this.#closedError = options.closedError ?? (() => new PoolClosedError(this.#path));
  }

  /** Connections that exist now (leased, connecting or idle). */
  get size(): number {
    return this.#all.size + this.#connecting;
  }

  /** Idle connections ready for reuse. */
  get idle(): number {
    return this.#idle.length;
  }

  /** Exchanges waiting for a free connection. */
  get pending(): number {
    return this.#waiters.length;
  }

  /** Whether {@link UnixSocketPool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs one exchange on a leased connection. The connection is returned to the pool when `exchange` resolves,
   * and destroyed when it throws (unless `reusableAfter` says otherwise) or the factory's `released` says so.
   *
   * @returns what `exchange` returns.
   * @throws {@link PoolTimeoutError}, {@link PoolClosedError}, {@link SocketAbortedError} when `signal` aborts
   *   the wait, the connector's errors (by default those of {@link connectUnix}), and whatever `exchange` throws.
   */
  exchange<T>(exchange: (connection: C) => Promise<T>, options?: ExchangeOptions): Promise<T> {
    // The common case, an idle connection at hand, takes no extra promise.
    const idle = this.#takeIdle();
    if (idle !== undefined) return this.#run(idle, exchange);
    return this.#acquire(options).then((connection) => this.#run(connection, exchange));
  }

  /** Closes every idle connection, e.g. after the server restarted (the supervisor's `restart` event). */
  dropIdle(): void {
    const idle = this.#idle.splice(0);
    this.#idleSince.length = 0;
    this.#stopSweep();
    for (const connection of idle) this.#discard(connection);
  }

  /**
   * Stops leasing (waiters fail with {@link PoolClosedError}), closes idle connections, waits up to `deadline`
   * ms (default 5000) for active exchanges, then destroys everything. Never rejects.
   */
  async close(options: { deadline?: number } = {}): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.fail(this.#closedError());
    this.dropIdle();
    if (this.#leased.size > 0 && (options.deadline ?? 5000) > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, options.deadline ?? 5000);
        function finish(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#onLeasedEmpty = finish;
      });
      this.#onLeasedEmpty = undefined;
    }
    for (const connection of [...this.#all]) this.#discard(connection);
  }

  #run<T>(connection: C, exchange: (connection: C) => Promise<T>): Promise<T> {
    if (this.#closed) {
      // The pool closed while this exchange was connecting.
      this.#discard(connection);
      return Promise.reject(this.#closedError());
    }
    this.#leased.add(connection);
    this.#factory.acquired?.(connection);
    let running: Promise<T>;
    try {
      running = exchange(connection);
    } catch (error) {
      running = Promise.reject(error);
    }
    return running.then(
      (result) => {
        this.#release(connection, true);
        return result;
      },
      (error: unknown) => {
        this.#release(connection, this.#reusableAfter?.(error) === true);
        throw error;
      },
    );
  }

  async #acquire(options: ExchangeOptions | undefined): Promise<C> {
    const signal = options?.signal;
    for (;;) {
      if (this.#closed) throw this.#closedError();
      if (signal?.aborted) throw this.#abortError(options, signal.reason);
      const idle = this.#takeIdle();
      if (idle !== undefined) return idle;
      if (this.size < this.#max) return this.#open(signal);
      // At the cap: wait for a released connection, or for a free slot when one closes.
      const granted = await this.#wait(options);
      if (granted !== undefined) return granted;
    }
  }

  /** The most recently used idle connection that is still open (LIFO, as nginx's keepalive pool). */
  #takeIdle(): C | undefined {
    for (;;) {
      const connection = this.#idle.pop();
      if (connection === undefined) return undefined;
      this.#idleSince.pop();
      if (this.#factory.isOpen(connection)) return connection;
      this.#discard(connection);
    }
  }

  #abortError(options: ExchangeOptions | undefined, reason: unknown): unknown {
    return options?.abortError?.(reason) ?? new SocketAbortedError(`connect to ${this.#path}`, reason);
  }

  #wait(options: ExchangeOptions | undefined): Promise<C | undefined> {
    const signal = options?.signal;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const leave = (): void => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
      };
      const settle = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        disposeAbort();
      };
      const waiter: Waiter<C> = {
        grant: (connection) => {
          settle();
          resolve(connection);
        },
        fail: (error) => {
          settle();
          reject(error);
        },
      };
      this.#waiters.push(waiter);
      if (this.#acquireTimeout > 0) {
        timer = setTimeout(() => {
          leave();
          waiter.fail(new PoolTimeoutError(this.#path, this.#acquireTimeout, this.#max));
        }, this.#acquireTimeout);
        timer.unref();
      }
      const disposeAbort = onAbort(signal, (reason) => {
        leave();
        waiter.fail(this.#abortError(options, reason));
      });
    });
  }

  async #open(signal: AbortSignal | undefined): Promise<C> {
    this.#connecting++;
    let stream: Duplex;
    try {
      stream = await this.#connector(signal);
    } catch (error) {
      this.#connecting--;
      this.#slotFreed();
      throw error;
    }
    this.#connecting--;
    const connection = this.#factory.create(stream);
    this.#all.add(connection);
    this.#factory.onClose?.(connection, () => this.#forget(connection));
    return connection;
  }

  #release(connection: C, reusable: boolean): void {
    this.#leased.delete(connection);
    const kept = this.#factory.released?.(connection) ?? true;
    if (
      !reusable ||
      !kept ||
      this.#perExchange ||
      this.#closed ||
      !this.#factory.isOpen(connection) ||
      this.#idle.length >= this.#maxIdle
    ) {
      // nginx closes connections that do not fit in the keepalive pool.
      this.#discard(connection);
    } else {
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter.grant(connection);
      else {
        this.#idle.push(connection);
        this.#idleSince.push(performance.now());
        this.#startSweep();
      }
    }
    if (this.#leased.size === 0) this.#onLeasedEmpty?.();
  }

  /** Closes connections idle for longer than `idleTimeout` (one unref'd timer while any are idle). */
  #startSweep(): void {
    if (this.#sweepTimer !== undefined) return;
    const every = Math.max(10, this.#idleTimeout / 2);
    this.#sweepTimer = setInterval(() => {
      const expiry = performance.now() - this.#idleTimeout;
      let expired = 0;
      while (expired < this.#idleSince.length && (this.#idleSince[expired] as number) <= expiry) expired++;
      const stale = this.#idle.splice(0, expired);
      this.#idleSince.splice(0, expired);
      for (const connection of stale) this.#discard(connection);
      if (this.#idle.length === 0) this.#stopSweep();
    }, every);
    this.#sweepTimer.unref();
  }

  #stopSweep(): void {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  #discard(connection: C): void {
    this.#forget(connection);
    this.#factory.destroy(connection);
  }

  /** The connection is gone (closed by the peer, or discarded): off the idle list, and its slot is free. */
  #forget(connection: C): void {
    const index = this.#idle.lastIndexOf(connection);
    if (index >= 0) {
      this.#idle.splice(index, 1);
      this.#idleSince.splice(index, 1);
    }
    if (this.#all.delete(connection)) this.#slotFreed();
  }

  /** A slot became free: the first waiter may connect in it. */
  #slotFreed(): void {
    if (this.#closed) return;
    this.#waiters.shift()?.grant(undefined);
  }
}
