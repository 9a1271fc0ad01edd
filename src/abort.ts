/**
 * Cancellation helpers shared by every pluginwire module: one place that adds and removes abort listeners, so
 * no path (success, failure, timeout, abort) leaves a listener on the caller's `AbortSignal` or a timer running.
 *
 * Internal: modules import this file directly; nothing here is part of the public API.
 *
 * @module
 */

/**
 * Calls `listener` once when `signal` aborts: at once (synchronously) when it already has, else on its
 * `abort` event. The returned function removes the listener; call it on every path that no longer needs it
 * (calling it twice, or after the abort, is harmless).
 *
 * @param signal - the signal to watch; `undefined` watches nothing.
 * @param listener - receives `signal.reason`.
 * @returns a function that removes the listener.
 */
export function onAbort(signal: AbortSignal | undefined, listener: (reason: unknown) => void): () => void {
  if (signal === undefined) return noop;
  if (signal.aborted) {
    listener(signal.reason);
    return noop;
  }
  const handler = (): void => listener(signal.reason);
  signal.addEventListener('abort', handler, { once: true });
  return () => signal.removeEventListener('abort', handler);
}

function noop(): void {}

/** Options of {@link abortableSleep}. */
export interface SleepOptions {
  /** Cancels the wait. */
  signal?: AbortSignal | undefined;
  /** Builds the rejection from the abort reason; default: the reason itself. */
  abortError?: (reason: unknown) => unknown;
  /**
   * Whether the timer may let the process exit meanwhile. Default `false`: a wait that someone awaits (a
   * connect retry's back-off) keeps the process alive, as any pending I/O would.
   */
  unref?: boolean;
}

/**
 * Waits `ms` milliseconds, or rejects as soon as `signal` aborts. The timer is cleared on abort and the
 * listener removed on both paths.
 *
 * @param ms - how long to wait.
 * @param options - see {@link SleepOptions}.
 */
export function abortableSleep(ms: number, options: SleepOptions = {}): Promise<void> {
  const { signal, abortError = identity } = options;
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal.reason));
      return;
    }
    const timer = setTimeout(() => {
      dispose();
      resolve();
    }, ms);
    if (options.unref === true) timer.unref();
    const dispose = onAbort(signal, (reason) => {
      clearTimeout(timer);
      reject(abortError(reason));
    });
  });
}

function identity(reason: unknown): unknown {
  return reason;
}

/**
 * Settles like `work`, unless `signal` aborts first: then it rejects with `abortError(signal.reason)` (`work`
 * keeps running; its late result is ignored). The listener is removed on every path.
 *
 * @param work - the promise to wait for.
 * @param signal - cancels the wait.
 * @param abortError - builds the rejection from the abort reason; default: the reason itself.
 */
export function raceAbort<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  abortError: (reason: unknown) => unknown = identity,
): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(abortError(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const dispose = onAbort(signal, (reason) => reject(abortError(reason)));
    work.then(
      (value) => {
        dispose();
        resolve(value);
      },
      (error: unknown) => {
        dispose();
        reject(error);
      },
    );
  });
}

/** Options of {@link Deadline}. */
export interface DeadlineOptions {
  /** Abort after this many ms; `undefined` means no time limit. */
  timeout?: number | undefined;
  /** The caller's cancellation; its abort aborts the deadline with the same reason. */
  signal?: AbortSignal | undefined;
  /** The abort reason when the time runs out; default a `TimeoutError` DOMException, as `AbortSignal.timeout`. */
  timeoutReason?: () => unknown;
}

/**
 * One bound built from a `timeout` and a caller's `signal`: a single {@link Deadline.signal} that aborts when
 * either fires, with {@link Deadline.expired} telling which. One timer (unref'ed), one listener on the caller's
 * signal; {@link Deadline.dispose} clears both and must be called when the bounded work is over.
 *
 * Unlike `AbortSignal.any([AbortSignal.timeout(ms), signal])` it says which one fired, and it releases its timer
 * and listener at once instead of when garbage collection gets to them.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #disposeExternal: () => void;
  #expired = false;

  /** @param options - see {@link DeadlineOptions}. */
  constructor(options: DeadlineOptions) {
    const { timeout, signal } = options;
    if (timeout !== undefined) {
      this.#timer = setTimeout(() => {
        this.#expired = true;
        this.#disposeExternal();
        this.#controller.abort(
          options.timeoutReason?.() ?? new DOMException(`timed out after ${timeout} ms`, 'TimeoutError'),
        );
      }, timeout);
      this.#timer.unref();
    }
    this.#disposeExternal = onAbort(signal, (reason) => {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#controller.abort(reason);
    });
  }

  /** Aborts when the time runs out or the caller's signal aborts, whichever comes first. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether the time ran out (as opposed to the caller aborting). */
  get expired(): boolean {
    return this.#expired;
  }

  /** Clears the timer and removes the listener on the caller's signal. Idempotent. */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#disposeExternal();
  }
}
