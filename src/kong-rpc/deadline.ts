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

/** One event's deadline and cancellation, shared by its requests and PDK calls; one timer per event. */
export class EventDeadline {
  private readonly deadline: Deadline;
  private readonly timeout: number;
  private callOptions: CallOptions | undefined;

  constructor(timeout: number, external: AbortSignal | undefined) {
    this.timeout = timeout;
    this.deadline = new Deadline({
      timeout,
      signal: external,
      timeoutReason: () => new RpcTimeoutError('kong event', undefined, timeout),
    });
  }

  /** The call options of the event's requests (one object for the whole event). */
  options(): CallOptions {
    this.callOptions ??= { signal: this.deadline.signal };
    return this.callOptions;
  }

  /** Waits for a PDK call, or fails when the deadline passes or the event is cancelled first. */
  race(work: Promise<unknown>, method: string): Promise<unknown> {
    return raceAbort(work, this.deadline.signal, () => this.abortError(method));
  }

  /** Maps the abort caused by the deadline to `RpcTimeoutError`. */
  translate(error: unknown): unknown {
    if (this.deadline.expired && error instanceof RequestAbortedError) {
      return new RpcTimeoutError(error.method, error.msgid, this.timeout);
    }
    return error;
  }

  dispose(): void {
    this.deadline.dispose();
  }

  private abortError(method: string): Error {
    if (this.deadline.expired) return new RpcTimeoutError(method, undefined, this.timeout);
    return new RequestAbortedError(method, undefined, false, this.deadline.signal.reason);
  }
}
