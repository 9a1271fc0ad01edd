/**
 * The Kong side's per-event bound: one deadline (Kong's read timeout is 60 s per operation; here it bounds the
 * whole event) and the caller's cancellation, shared by the event's requests and PDK calls, with one timer.
 */
import { Deadline, raceAbort } from '../abort.js';
import { RequestAbortedError, RpcTimeoutError } from '../msgpack-rpc/index.js';
import type { CallOptions } from './connections.js';
import { KongPdkError } from './errors.js';

/** The caller's PDK implementation, as the event loop calls it. */
export type PdkFunction = (method: string, args: unknown[]) => unknown;

/** Runs one PDK call; a throw, or a rejection of its promise, becomes {@link KongPdkError}. */
export function runPdk(pdk: PdkFunction, method: string, args: unknown[]): unknown {
  let result: unknown;
  try {
    result = pdk(method, args);
  } catch (error) {
    throw new KongPdkError(method, { cause: error });
  }
  if (!isPromiseLike(result)) return result;
  return Promise.resolve(result).catch((error: unknown) => {
    throw new KongPdkError(method, { cause: error });
  });
}

/** Whether a value is a thenable (a PDK implementation may return any). */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * One event's deadline and cancellation, shared by its requests and PDK calls. The common path costs no
 * `AbortController` and no abort listener: each request gets the time left as its own `timeout` and the
 * caller's `signal` only when one was given ({@link EventDeadline.requestOptions}). The combined signal (one
 * timer, one listener on the caller's signal) is built only when something must wait on it: an asynchronous PDK
 * answer, a wait for a pooled connection, or a ProtoBuf:1 event.
 */
export class EventDeadline {
  private readonly timeout: number;
  private readonly external: AbortSignal | undefined;
  /** `performance.now()` when the time runs out. */
  private readonly end: number;
  private deadline: Deadline | undefined;
  private callOptions: CallOptions | undefined;

  constructor(timeout: number, external: AbortSignal | undefined) {
    this.timeout = timeout;
    this.external = external;
    this.end = performance.now() + timeout;
  }

  /**
   * Aborts when the time runs out or the caller's signal aborts: built on first use, with the time left then.
   */
  get signal(): AbortSignal {
    this.deadline ??= new Deadline({
      timeout: Math.max(0, this.end - performance.now()),
      signal: this.external,
      timeoutReason: () => new RpcTimeoutError('kong event', undefined, this.timeout),
    });
    return this.deadline.signal;
  }

  /** The call options of the event's requests that watch {@link EventDeadline.signal} (one object per event). */
  options(): CallOptions {
    this.callOptions ??= { signal: this.signal };
    return this.callOptions;
  }

  /**
   * One request's own bound: the time left (whole ms, rounded up so it never ends early) as its `timeout`, and
   * the caller's signal. `undefined` once the time has run out: such a request watches
   * {@link EventDeadline.options} instead.
   */
  requestOptions(): CallOptions | undefined {
    const left = Math.ceil(this.end - performance.now());
    if (left <= 0) return undefined;
    return this.external === undefined ? { timeout: left } : { timeout: left, signal: this.external };
  }

  /** Waits for a PDK call, or fails when the deadline passes or the event is cancelled first. */
  race(work: Promise<unknown>, method: string): Promise<unknown> {
    return raceAbort(work, this.signal, () => this.abortError(method));
  }

  /**
   * Reports a timed-out request as the event's timeout (`RpcTimeoutError` with the event's `timeout`, whatever
   * time was left for that request), and maps the abort caused by the combined signal's timer to it.
   */
  translate(error: unknown): unknown {
    if (error instanceof RpcTimeoutError && error.timeout !== this.timeout) {
      return new RpcTimeoutError(error.method, error.msgid, this.timeout);
    }
    if (this.deadline?.expired === true && error instanceof RequestAbortedError) {
      return new RpcTimeoutError(error.method, error.msgid, this.timeout);
    }
    return error;
  }

  dispose(): void {
    this.deadline?.dispose();
  }

  private abortError(method: string): Error {
    if (this.deadline?.expired === true) return new RpcTimeoutError(method, undefined, this.timeout);
    return new RequestAbortedError(method, undefined, false, this.signal.reason);
  }
}
