import { Duplex } from 'node:stream';
import type { RpcPeerOptions } from './options.js';
import { type AnySchema, RpcPeer, type RpcSchema } from './peer.js';

/** Options of {@link createMemoryDuplexPair}. */
export interface MemoryDuplexOptions {
  /** Bytes buffered on the receiving side before the sender's `write()` returns false. Default 16 KiB. */
  highWaterMark?: number;
}

function connectionReset(): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(
    'read ECONNRESET (the other end of the memory duplex was destroyed)',
  );
  error.code = 'ECONNRESET';
  return error;
}

class MemoryDuplex extends Duplex {
  other: MemoryDuplex | undefined;
  private pendingWrite: (() => void) | undefined;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // Deliver a private copy, as a socket would (the writer may reuse its buffer after the callback), and on a
    // later event-loop turn, as I/O arrives: synchronous delivery would let two peers ping-pong inside
    // microtasks forever and starve timers and I/O.
    const copy = Buffer.from(chunk);
    setImmediate(() => {
      const other = this.other!;
      if (other.destroyed || other.readableEnded) {
        callback();
        return;
      }
      if (other.push(copy)) callback();
      else other.pendingWrite = callback;
    });
  }

  override _read(): void {
    const callback = this.pendingWrite;
    if (callback) {
      this.pendingWrite = undefined;
      callback();
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    const other = this.other!;
    if (!other.destroyed) other.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const other = this.other!;
    // An abrupt destroy (not after a clean end) resets the other side, as closing a socket with data in flight does.
    if (!other.destroyed && !this.writableFinished) other.destroy(connectionReset());
    const waiting = this.pendingWrite;
    this.pendingWrite = undefined;
    waiting?.();
    callback(error);
  }
}

/**
 * Two connected in-memory byte streams: what one writes, the other reads on a later event-loop turn (as from a
 * socket), with backpressure (`write()` returns false once the other side has `highWaterMark` bytes unread). `end()` on one side is EOF on the other;
 * `destroy()` before `end()` makes the other side fail with `ECONNRESET`.
 *
 * @returns the two ends.
 */
export function createMemoryDuplexPair(options: MemoryDuplexOptions = {}): [Duplex, Duplex] {
  const highWaterMark = options.highWaterMark ?? 16 * 1024;
  const a = new MemoryDuplex({ highWaterMark, allowHalfOpen: true });
  const b = new MemoryDuplex({ highWaterMark, allowHalfOpen: true });
  a.other = b;
  b.other = a;
  return [a, b];
}

/** Two connected peers from {@link createPeerPair}. */
export interface PeerPair<A extends RpcSchema, B extends RpcSchema> {
  /** The first peer: serves `A`, calls `B`. */
  readonly a: RpcPeer<A, B>;
  /** The second peer: serves `B`, calls `A`. */
  readonly b: RpcPeer<B, A>;
  /** The streams under them (`streams[0]` under `a`). */
  readonly streams: readonly [Duplex, Duplex];
}

/**
 * Two `RpcPeer`s connected over an in-memory duplex pair, for tests of code that uses this module.
 *
 * @param optionsA - options of peer `a`.
 * @param optionsB - options of peer `b` (default: the same as `optionsA`).
 * @example
 * ```ts
 * const { a, b } = createPeerPair();
 * b.handle('add', ([x, y]) => (x as number) + (y as number));
 * await a.request('add', [2, 3]); // 5
 * await Promise.all([a.close(), b.close()]);
 * ```
 */
export function createPeerPair<A extends RpcSchema = AnySchema, B extends RpcSchema = AnySchema>(
  optionsA: RpcPeerOptions = {},
  optionsB: RpcPeerOptions = optionsA,
): PeerPair<A, B> {
  const streams = createMemoryDuplexPair();
  return {
    a: new RpcPeer<A, B>(streams[0], optionsA),
    b: new RpcPeer<B, A>(streams[1], optionsB),
    streams,
  };
}
