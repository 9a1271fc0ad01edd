/**
 * One event on the plugin-server side: a phase handler that runs in this process while its PDK calls travel to
 * Kong inside the results of `plugin.HandleEvent` and `plugin.Step*` (kong-rpc spec §4). Kong may send each Step
 * on a different connection, so an event is keyed by its EventId only, never by connection.
 *
 * The handler may issue PDK calls concurrently (`Promise.all`); they are sent to Kong one at a time, in call
 * order, because every Step carries exactly one result.
 */
import { KongEventClosedError, KongStepError } from './errors.js';
import { createPdk, type KongPdk } from './pdk.js';
import { TERMINAL_PDK_METHODS } from './steps.js';

/** The StepData Kong receives as the result of HandleEvent and Step*. */
export interface StepData {
  /** The event id. */
  EventId: number;
  /** `"ret"` when the handler is done, else the next PDK call. */
  Data: 'ret' | { Method: string; Args: unknown[] };
}

interface PdkCallEntry {
  method: string;
  args: unknown[];
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** The promise the plugin holds; marked handled only when it is rejected (see {@link rejectCall}). */
  promise: Promise<unknown>;
}

const RESOLVED = Promise.resolve();
const ignore = () => {};

/**
 * Rejects a PDK call. Plugins often fire PDK calls without awaiting them (`kong.log.info(…)`); when the event then
 * ends (exit, expiry, server close) or Kong answers with an error, the rejection would be unhandled and could
 * take the whole server down, so it is marked handled first (awaiting callers still see it). Done here rather
 * than with a `catch` on every call, which would cost a promise and a microtask per PDK call.
 */
function rejectCall(entry: PdkCallEntry, error: unknown): void {
  entry.promise.catch(ignore);
  entry.reject(error);
}

interface Reply {
  resolve: (value: StepData) => void;
  reject: (error: Error) => void;
}

/** What the server learns about an event's end (for logging and bookkeeping). */
export interface EventHooks {
  /** The event is over and must be forgotten. */
  finished(event: ServerEvent): void;
  /** The handler threw; the text has been (or will be) sent to Kong. */
  failed(event: ServerEvent, error: unknown): void;
}

/** @internal */
export class ServerEvent {
  readonly id: number;
  readonly plugin: string;
  readonly phase: string;
  /** `performance.now()` of the last HandleEvent/Step for this event, for the expiry sweep. */
  lastActivity: number;
  private reply: Reply | undefined;
  private pending: PdkCallEntry | undefined;
  private readonly queue: PdkCallEntry[] = [];
  private done = false;
  private failure: string | undefined;
  private closedReason: string | undefined;
  private readonly hooks: EventHooks;

  constructor(id: number, plugin: string, phase: string, hooks: EventHooks, now: number) {
    this.id = id;
    this.plugin = plugin;
    this.phase = phase;
    this.hooks = hooks;
    this.lastActivity = now;
  }

  /** Whether the event is over. */
  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /**
   * Starts the handler and returns the HandleEvent result: the first PDK call, or `"ret"`.
   *
   * @param handler - the phase method, bound to its instance.
   */
  start(handler: (kong: KongPdk) => unknown): Promise<StepData> {
    const result = this.awaitReply();
    const kong = createPdk((method, args) => this.call(method, args));
    // A microtask, not setImmediate: the handler starts right after this RPC's bookkeeping, and its first PDK
    // call or its end settles the HandleEvent reply. The handler's promise is followed directly (not returned
    // from a then(), which would add a thenable-adoption job and a promise per event).
    RESOLVED.then(() => {
      let value: unknown;
      try {
        value = handler(kong);
      } catch (error) {
        this.handlerFailed(error);
        return;
      }
      if (isThenable(value)) {
        value.then(
          () => this.handlerDone(),
          (error: unknown) => this.handlerFailed(error),
        );
      } else {
        this.handlerDone();
      }
    });
    return result;
  }

  /**
   * Kong's answer to the pending PDK call (`plugin.Step*`, or `plugin.StepError` with `isError`). Resolves with
   * the next StepData.
   *
   * @throws Error `invalid request: …` when no PDK call is waiting for a result (Kong never does that).
   */
  step(data: unknown, isError: boolean, now: number): Promise<StepData> {
    const call = this.pending;
    if (call === undefined || this.reply !== undefined) {
      return Promise.reject(
        new Error(`invalid request: event ${this.id} has no PDK call waiting for a result`),
      );
    }
    this.lastActivity = now;
    this.pending = undefined;
    const result = this.awaitReply();
    if (isError)
      rejectCall(call, new KongStepError(call.method, typeof data === 'string' ? data : String(data)));
    else call.resolve(data);
    this.pump();
    return result;
  }

  /**
   * Ends the event from outside (expiry, server close): the waiting reply fails, pending PDK calls reject.
   *
   * @param reason - e.g. `expired`.
   */
  abort(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.reply?.reject(new Error(`plugin ${this.plugin} failed in phase ${this.phase}: event ${reason}`));
    this.reply = undefined;
    this.close(reason);
  }

  private awaitReply(): Promise<StepData> {
    return new Promise<StepData>((resolve, reject) => {
      this.reply = { resolve, reject };
    });
  }

  private call(method: string, args: unknown[]): Promise<unknown> {
    if (this.closedReason !== undefined) {
      const closed = Promise.reject(new KongEventClosedError(this.id, method, this.closedReason));
      // Not awaited by a fire-and-forget caller: see rejectCall.
      closed.catch(ignore);
      return closed;
    }
    let entry: PdkCallEntry | undefined;
    const promise = new Promise<unknown>((resolve, reject) => {
      entry = { method, args, resolve, reject, promise: RESOLVED };
    });
    entry!.promise = promise;
    this.queue.push(entry!);
    this.pump();
    return promise;
  }

  /** Sends the next queued PDK call, the end of the event, or the handler's failure, when Kong is waiting. */
  private pump(): void {
    const reply = this.reply;
    if (reply === undefined || this.pending !== undefined) return;
    const next = this.queue.shift();
    if (next !== undefined) {
      this.reply = undefined;
      reply.resolve({ EventId: this.id, Data: { Method: next.method, Args: next.args } });
      if (TERMINAL_PDK_METHODS.has(next.method)) {
        // Kong runs exit/error and ends the nginx request: no Step will come. The call resolves at once
        // ("fire and forget", as the JS PDK does) and the event is over.
        next.resolve(undefined);
        this.close(`ended by ${next.method}`);
      } else {
        this.pending = next;
      }
      return;
    }
    if (this.failure !== undefined) {
      this.reply = undefined;
      reply.reject(new Error(this.failure));
      this.close('failed');
    } else if (this.done) {
      this.reply = undefined;
      reply.resolve({ EventId: this.id, Data: 'ret' });
      this.close('finished');
    }
  }

  private handlerDone(): void {
    if (this.closedReason !== undefined) return;
    this.done = true;
    this.pump();
  }

  private handlerFailed(error: unknown): void {
    this.hooks.failed(this, error);
    if (this.closedReason !== undefined) return;
    this.failure = safeText(`plugin ${this.plugin} failed in phase ${this.phase}: ${describe(error)}`);
    // Calls the handler left behind can never be answered usefully now.
    for (const entry of this.queue.splice(0)) {
      rejectCall(entry, new KongEventClosedError(this.id, entry.method, 'failed'));
    }
    this.pump();
  }

  private close(reason: string): void {
    this.closedReason = reason;
    const orphans = this.queue.splice(0);
    if (this.pending !== undefined) orphans.push(this.pending);
    this.pending = undefined;
    for (const entry of orphans) rejectCall(entry, new KongEventClosedError(this.id, entry.method, reason));
    this.hooks.finished(this);
  }
}

/**
 * Kong restarts instances (and retries the event, without limit) when an error contains `no plugin instance`
 * (mp_rpc `handle_event`), so that text must appear only in the unknown-instance error (spec §6.1): anywhere
 * else, for example inside a plugin's own error message, it is defused.
 *
 * @internal
 */
export function safeText(text: string): string {
  return text.replace(/no plugin instance/gi, 'no plugin-instance');
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
