import type { Writable } from 'node:stream';
import { QueueFullError } from './errors.js';
import type { MessageKind } from './trace.js';

/**
 * One encoded message on its way out. Requests carry the `slot` flag once they count against the in-flight
 * limit.
 *
 * @internal
 */
export interface OutgoingItem {
  /** The encoded message (owned: never a shared encoder buffer). */
  readonly bytes: Uint8Array;
  /** What it is. */
  readonly kind: MessageKind;
  /** 0 waiting for an in-flight slot, 1 ready (queued to write), 2 written, 3 cancelled. */
  state: number;
  /** Called as the bytes are handed to `write()` (just before the call). */
  readonly onWritten: ((item: OutgoingItem) => void) | undefined;
}

const RESOLVED = Promise.resolve();

/** @internal */
export const ITEM_WAITING = 0;
/** @internal */
export const ITEM_READY = 1;
/** @internal */
export const ITEM_WRITTEN = 2;
/** @internal */
export const ITEM_CANCELLED = 3;

/** @internal */
export interface OutgoingWriterOptions {
  /** At most this many requests written (or ready) and unanswered; `Infinity` for no limit. */
  readonly maxInFlight: number;
  /** Bound on bytes waiting (for a slot, for the turn's flush, or for `'drain'`). */
  readonly maxQueuedBytes: number;
  /** Backpressure transitions, for tracing and read-side pausing. */
  readonly onBackpressure: (state: 'queued' | 'drained', queuedBytes: number) => void;
}

/**
 * The write path: an in-flight gate (one-in-flight mode), per-turn batching (pipelined mode), and a bounded FIFO
 * that honours `write()` returning false until `'drain'`.
 *
 * - Pipelined mode (`maxInFlight` not 1): messages produced during one event-loop turn are combined into one
 *   `write()`, flushed from a microtask: after the current callback and the continuations it resolved (many
 *   callers issuing their next call) have run. During the peer's `'data'` pass the flush is held and done at its
 *   end ({@link OutgoingWriter.hold}), so the answers of synchronous handlers need no microtask.
 * - One-in-flight mode (`maxInFlight` 1): each message is its own `write()` call, never batched, never split;
 *   kong-pdk 0.6 crashes when two messages arrive in one read (`Kong/kong-js-pdk: listener.js`). Requests and
 *   notifications wait until no request is outstanding; responses are not gated.
 *
 * @internal
 */
export class OutgoingWriter {
  /** Bytes waiting (gated, ready, or blocked). */
  queuedBytes = 0;
  /** Requests ready or written and not yet released. */
  inFlight = 0;
  private readonly gated: OutgoingItem[] = [];
  private ready: OutgoingItem[] = [];
  private blocked = false;
  private flushScheduled = false;
  private holding = false;
  private stopped = false;
  private flushing = false;
  private readonly batching: boolean;

  constructor(
    private readonly writable: Writable,
    private readonly options: OutgoingWriterOptions,
  ) {
    this.batching = options.maxInFlight !== 1;
  }

  /** Whether `write()` returned false and `'drain'` has not come yet. */
  get isBlocked(): boolean {
    return this.blocked;
  }

  /** Whether nothing waits to be written. */
  get isIdle(): boolean {
    return this.gated.length === 0 && this.ready.length === 0;
  }

  /**
   * Queues a message. Requests and notifications over `maxQueuedBytes` are refused; responses never are.
   *
   * @throws QueueFullError for a request or notification that would pass the bound.
   */
  enqueue(item: OutgoingItem): void {
    const size = item.bytes.length;
    if (item.kind !== 'response' && this.queuedBytes + size > this.options.maxQueuedBytes) {
      throw new QueueFullError(this.queuedBytes, this.options.maxQueuedBytes);
    }
    this.queuedBytes += size;
    if (item.kind !== 'response' && (this.gated.length > 0 || !this.slotFree(item))) {
      item.state = ITEM_WAITING;
      this.gated.push(item);
      return;
    }
    this.makeReady(item);
  }

  /** Removes a message that was not written yet; returns false when it already was. */
  cancel(item: OutgoingItem): boolean {
    if (item.state === ITEM_WRITTEN || item.state === ITEM_CANCELLED) return false;
    if (item.state === ITEM_READY && item.kind === 'request') this.inFlight--;
    item.state = ITEM_CANCELLED;
    this.queuedBytes -= item.bytes.length;
    return true;
  }

  /** A written request settled: frees its in-flight slot and lets gated messages through. */
  release(): void {
    this.inFlight--;
    this.ungate();
  }

  /** `'drain'` came: write what waited. */
  drain(): void {
    if (!this.blocked) return;
    this.blocked = false;
    this.flush();
    if (!this.blocked) this.options.onBackpressure('drained', this.queuedBytes);
  }

  /** Drops every queued request and notification (on close); queued responses stay. */
  dropUnsent(): OutgoingItem[] {
    const dropped: OutgoingItem[] = [];
    for (const item of this.gated) if (this.cancel(item)) dropped.push(item);
    this.gated.length = 0;
    for (const item of this.ready) if (item.kind !== 'response' && this.cancel(item)) dropped.push(item);
    return dropped;
  }

  /**
   * Holds the per-turn flush while the peer dispatches one chunk's frames; {@link releaseHold} writes what they
   * produced. Responses of synchronous handlers then go out at the end of the pass without a microtask, which
   * saves a microtask checkpoint per incoming chunk; anything that becomes ready later (async handlers, the
   * continuations of settled calls) takes the microtask path as before.
   */
  hold(): void {
    this.holding = true;
  }

  /** Ends {@link hold}: writes the messages that became ready meanwhile, in one `write()`. */
  releaseHold(): void {
    this.holding = false;
    if (this.ready.length > 0) this.flush();
  }

  /** Writes everything ready now (used before ending the stream). */
  flushNow(): void {
    this.flushScheduled = false;
    this.flush();
  }

  /** Stops writing for good (the stream is gone); drops everything. */
  stop(): void {
    this.stopped = true;
    this.flushScheduled = false;
    for (const item of this.gated) this.cancel(item);
    for (const item of this.ready) this.cancel(item);
    this.gated.length = 0;
    this.ready = [];
  }

  private slotFree(item: OutgoingItem): boolean {
    const limit = this.options.maxInFlight;
    if (item.kind === 'request') return this.inFlight < limit;
    // One-in-flight: a notification goes out only when no request is outstanding.
    return limit !== 1 || this.inFlight === 0;
  }

  private ungate(): void {
    const gated = this.gated;
    while (gated.length > 0) {
      const item = gated[0]!;
      if (item.state === ITEM_CANCELLED) {
        gated.shift();
        continue;
      }
      if (!this.slotFree(item)) break;
      gated.shift();
      this.makeReady(item);
    }
  }

  private makeReady(item: OutgoingItem): void {
    item.state = ITEM_READY;
    if (item.kind === 'request') this.inFlight++;
    this.ready.push(item);
    if (this.stopped || this.blocked) return;
    if (!this.batching) {
      this.flush();
    } else if (!this.flushScheduled && !this.holding) {
      this.flushScheduled = true;
      // A resolved promise's then(), not queueMicrotask(): the same microtask queue, without the AsyncResource
      // queueMicrotask() creates per call (measurable at one call in flight).
      RESOLVED.then(this.scheduledFlush);
    }
  }

  private readonly scheduledFlush = (): void => {
    if (!this.flushScheduled) return;
    this.flushScheduled = false;
    this.flush();
  };

  private flush(): void {
    if (this.stopped || this.blocked || this.ready.length === 0) return;
    const writable = this.writable;
    if (writable.destroyed || writable.writableEnded) return;
    const items = this.ready;
    this.ready = [];
    if (this.batching) {
      let total = 0;
      let count = 0;
      let single: OutgoingItem | undefined;
      for (const item of items) {
        if (item.state !== ITEM_READY) continue;
        total += item.bytes.length;
        count++;
        single = item;
      }
      if (count === 0) return;
      let bytes: Uint8Array;
      if (count === 1) {
        bytes = single!.bytes;
      } else {
        bytes = Buffer.allocUnsafe(total);
        let offset = 0;
        for (const item of items) {
          if (item.state !== ITEM_READY) continue;
          bytes.set(item.bytes, offset);
          offset += item.bytes.length;
        }
      }
      this.queuedBytes -= total;
      // Marked written before write(): a transport may deliver the answer synchronously inside it.
      for (const item of items) {
        if (item.state !== ITEM_READY) continue;
        item.state = ITEM_WRITTEN;
        item.onWritten?.(item);
      }
      if (!writable.write(bytes)) this.block();
      return;
    }
    // One write() per message; nothing after the first false. A write's callbacks may queue more messages:
    // they join `ready` and go out after the ones already waiting.
    this.ready = items;
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.ready.length > 0 && !this.blocked && !this.stopped) {
        const item = this.ready.shift()!;
        if (item.state !== ITEM_READY) continue;
        if (writable.destroyed || writable.writableEnded) {
          this.ready.unshift(item);
          return;
        }
        this.queuedBytes -= item.bytes.length;
        item.state = ITEM_WRITTEN;
        item.onWritten?.(item);
        if (!writable.write(item.bytes)) this.block();
      }
    } finally {
      this.flushing = false;
    }
  }

  private block(): void {
    this.blocked = true;
    this.options.onBackpressure('queued', this.queuedBytes);
  }
}
