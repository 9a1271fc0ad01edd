import { onAbort } from '../abort.js';
import type { MessageCodec } from './codec.js';
import type { ErrorCodec } from './error-values.js';
import { RequestAbortedError, RpcTimeoutError } from './errors.js';
import type { PeerHooks } from './hooks.js';
import type { MsgidAllocator } from './msgid.js';
import { optionalPositive } from './options.js';
import { ITEM_WRITTEN, type OutgoingItem, type OutgoingWriter } from './outgoing.js';
import type { RequestOptions } from './schema.js';

/**
 * A call waiting for its response. It is also its request's {@link OutgoingItem}: one object per call.
 *
 * @internal
 */
export interface PendingCall extends OutgoingItem {
  readonly msgid: number;
  readonly method: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  /** Removes the abort listener from `signal`. */
  disposeAbort: (() => void) | undefined;
  writtenAt: number;
  readonly timeoutMs: number | undefined;
}

interface AbandonedCall {
  readonly method: string;
  readonly at: number;
}

/** @internal */
export interface OutgoingCallsOptions {
  readonly codec: MessageCodec;
  readonly writer: OutgoingWriter;
  readonly allocator: MsgidAllocator;
  readonly errorCodec: ErrorCodec;
  readonly hooks: PeerHooks;
  readonly defaultTimeout: number | undefined;
  readonly lateResponseMemory: number;
  readonly closeOnAbandon: boolean;
  /** A written call was abandoned under `closeOnAbandon`: close the connection with this cause. */
  readonly closeAfterAbandon: (cause: Error) => void;
}

/**
 * This side's outgoing requests (spec §6.2–§6.3): msgid allocation, the pending map, timeouts, cancellation, and
 * the bounded set of recently abandoned ids whose late responses are dropped quietly.
 *
 * @internal
 */
export class OutgoingCalls {
  readonly pending = new Map<number, PendingCall>();
  private readonly abandoned = new Map<number, AbandonedCall>();

  constructor(private readonly options: OutgoingCallsOptions) {}

  /** Starts a call on an open peer. Never throws; every failure is a rejection. */
  call(method: string, params: unknown[], options: RequestOptions): Promise<unknown> {
    const { codec, allocator, writer, hooks } = this.options;
    const signal = options.signal;
    if (signal?.aborted)
      return Promise.reject(new RequestAbortedError(method, undefined, false, signal.reason));
    let timeoutMs: number | undefined;
    try {
      timeoutMs =
        options.timeout === undefined
          ? this.options.defaultTimeout
          : optionalPositive('timeout', options.timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    // Allocated and encoded at call time, so an encode error rejects at once and queued bytes can be counted.
    const msgid = allocator.next(this.isMsgidInUse);
    const message = [0, msgid, method, params];
    let bytes: Uint8Array;
    try {
      bytes = codec.encode(message);
    } catch (error) {
      allocator.unallocate(msgid);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const call: PendingCall = {
        bytes,
        kind: 'request',
        state: 0,
        onWritten: hooks.tracing
          ? (item) => {
              (item as PendingCall).writtenAt = performance.now();
              hooks.send('request', msgid, method, bytes, message);
            }
          : undefined,
        msgid,
        method,
        resolve,
        reject,
        timer: undefined,
        signal,
        disposeAbort: undefined,
        writtenAt: 0,
        timeoutMs,
      };
      // Registered before the write: a transport may deliver the answer synchronously inside write().
      this.pending.set(msgid, call);
      try {
        writer.enqueue(call);
      } catch (error) {
        this.pending.delete(msgid);
        allocator.unallocate(msgid);
        reject(error);
        return;
      }
      if (timeoutMs !== undefined) {
        call.timer = setTimeout(() => this.expire(call), timeoutMs);
        call.timer.unref?.();
      }
      if (signal) call.disposeAbort = onAbort(signal, () => this.abort(call));
    });
  }

  /** The pending call a response for `msgid` may settle (only a written request can be answered). */
  written(msgid: number): PendingCall | undefined {
    const call = this.pending.get(msgid);
    return call !== undefined && call.state === ITEM_WRITTEN ? call : undefined;
  }

  /**
   * Settles the call a response belongs to. Returns `'settled'`, `'late'` (an abandoned id: dropped and traced),
   * or `'unknown'` (neither pending nor recently abandoned).
   */
  respond(msgid: number, error: unknown, result: unknown): 'settled' | 'late' | 'unknown' {
    const call = this.written(msgid);
    if (call) {
      this.settle(call);
      if (error !== null && error !== undefined) {
        call.reject(this.options.errorCodec.fromWire(error, { method: call.method, msgid }));
      } else {
        call.resolve(result);
      }
      return 'settled';
    }
    const abandoned = this.abandoned.get(msgid);
    if (!abandoned) return 'unknown';
    this.abandoned.delete(msgid);
    const hooks = this.options.hooks;
    if (hooks.tracing) {
      const time = performance.now();
      hooks.emit({
        type: 'late-response',
        time,
        msgid,
        method: abandoned.method,
        sinceAbandonMs: time - abandoned.at,
      });
    }
    return 'late';
  }

  /** Rejects the written call `msgid` with `error` (its response could not be used); returns whether one did. */
  fail(msgid: number, error: Error): boolean {
    const call = this.written(msgid);
    if (!call) return false;
    this.settle(call);
    call.reject(error);
    return true;
  }

  /** Rejects every pending and queued call (the connection closed). */
  rejectAll(error: Error): void {
    for (const call of [...this.pending.values()]) {
      this.settle(call);
      call.reject(error);
    }
  }

  private readonly isMsgidInUse = (id: number): boolean => this.pending.has(id) || this.abandoned.has(id);

  /** Removes a call from every structure; returns whether it had been written. */
  private settle(call: PendingCall): boolean {
    this.pending.delete(call.msgid);
    this.clearTimers(call);
    const written = call.state === ITEM_WRITTEN;
    if (written) this.options.writer.release();
    else this.options.writer.cancel(call);
    return written;
  }

  private clearTimers(call: PendingCall): void {
    if (call.timer) clearTimeout(call.timer);
    call.disposeAbort?.();
    call.timer = undefined;
    call.disposeAbort = undefined;
  }

  private abandon(call: PendingCall, error: Error): void {
    if (!this.pending.has(call.msgid)) return;
    if (call.state === ITEM_WRITTEN && this.options.closeOnAbandon) {
      // The peer may still answer, or not have read it yet: the connection is in an unknown state. Close it
      // before the freed slot could let a queued call through.
      this.pending.delete(call.msgid);
      this.clearTimers(call);
      call.reject(error);
      this.options.closeAfterAbandon(error);
      return;
    }
    if (this.settle(call)) {
      this.abandoned.set(call.msgid, { method: call.method, at: performance.now() });
      if (this.abandoned.size > this.options.lateResponseMemory) {
        const oldest = this.abandoned.keys().next().value;
        if (oldest !== undefined) this.abandoned.delete(oldest);
      }
    }
    call.reject(error);
  }

  private expire(call: PendingCall): void {
    call.timer = undefined;
    this.abandon(call, new RpcTimeoutError(call.method, call.msgid, call.timeoutMs ?? 0));
  }

  private abort(call: PendingCall): void {
    const sent = call.state === ITEM_WRITTEN;
    this.abandon(call, new RequestAbortedError(call.method, call.msgid, sent, call.signal?.reason));
  }
}
