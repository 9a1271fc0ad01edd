import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  ConnectionLostError,
  LeaseEndedError,
  ReadTimeoutError,
  WriteFailedError,
} from './connect-errors.js';
import type { PoolConnectionFactory } from './pool.js';

/**
 * A raw pooled connection, the default of {@link UnixSocketPool}: bytes in, bytes out, one exchange at a time.
 * Only the exchange that leased it writes to it and reads from it until the callback returns: one request in
 * flight per connection, never pipelined.
 */
export class PoolLease {
  readonly #stream: Duplex;
  readonly #path: string;
  readonly #readTimeout: number;
  readonly #chunks: Buffer[] = [];
  #waiter: { resolve: (chunk: Buffer) => void; reject: (error: unknown) => void } | undefined;
  #closed = false;
  #closeError: unknown;
  #onClose: (() => void) | undefined;
  #bytesReceived = 0;
  #failed = false;
  #ended = true;

  /** @internal */
  constructor(stream: Duplex, path: string, readTimeout: number) {
    this.#stream = stream;
    this.#path = path;
    this.#readTimeout = readTimeout;
    stream.on('data', (chunk: Buffer) => {
      const waiter = this.#waiter;
      if (waiter === undefined) {
        // Bytes on an idle connection (go-pdk's serverPid notification after accept) are kept for the next lessee.
        this.#chunks.push(chunk);
        return;
      }
      this.#waiter = undefined;
      waiter.resolve(chunk);
    });
    stream.on('error', (error) => this.#gone(error));
    stream.on('end', () => this.#gone());
    stream.on('close', () => this.#gone());
  }

  /** The raw socket, for protocol layers that need it (do not keep it past the exchange). */
  get socket(): Socket {
    return this.#stream as Socket;
  }

  /** Bytes received during this exchange so far. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** @internal Whether the connection is still usable. */
  get open(): boolean {
    return !this.#closed;
  }

  /** @internal The pool leased it to a new exchange. */
  begin(): void {
    this.#ended = false;
    this.#failed = false;
    this.#bytesReceived = 0;
  }

  /** @internal The exchange is over; whether the connection may be reused. */
  end(): boolean {
    this.#ended = true;
    return !this.#failed;
  }

  /** @internal */
  onClose(listener: () => void): void {
    this.#onClose = listener;
    if (this.#closed) listener();
  }

  /**
   * @internal Closes the connection now. Unlike a probe (which closes before it could read the server's first
   * bytes, hence `closeGently`), a pooled connection is read continuously, so no greeting sits unread in the
   * kernel's queue to make the close reset the server; a plain destroy also keeps `perExchange` as cheap as a raw
   * connect per exchange.
   */
  destroy(): void {
    this.#gone();
    this.#stream.destroy();
  }

  #gone(error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(error);
    this.#onClose?.();
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
      if (this.#closed) {
        reject(new WriteFailedError(this.#path, this.#closeError ?? new Error('connection closed')));
        return;
      }
      this.#stream.write(data, (error) => {
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
    const buffered = this.#chunks.shift();
    if (buffered !== undefined) {
      this.#bytesReceived += buffered.length;
      return Promise.resolve(buffered);
    }
    if (this.#closed)
      return Promise.reject(new ConnectionLostError(this.#path, this.#bytesReceived, this.#closeError));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        this.#failed = true;
        this.destroy();
        reject(new ReadTimeoutError(this.#path, this.#readTimeout));
      }, this.#readTimeout);
      this.#waiter = {
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

/** The default connection factory of {@link UnixSocketPool}: raw {@link PoolLease}s. */
export function rawConnections(path: string, readTimeout: number): PoolConnectionFactory<PoolLease> {
  return {
    create: (stream) => new PoolLease(stream, path, readTimeout),
    isOpen: (lease) => lease.open,
    destroy: (lease) => lease.destroy(),
    onClose: (lease, listener) => lease.onClose(listener),
    acquired: (lease) => lease.begin(),
    released: (lease) => lease.end(),
  };
}
