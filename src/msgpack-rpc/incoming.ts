import type { MessageCodec } from './codec.js';
import type { ErrorCodec } from './error-values.js';
import { EncodeError, HandlerError, MethodNotFoundError } from './errors.js';
import type { PeerHooks } from './hooks.js';
import type { RequestMessage } from './message.js';
import type { OutgoingWriter } from './outgoing.js';
import {
  Context,
  type FallbackNotificationHandler,
  type FallbackRequestHandler,
  type NotificationHandler,
  type RequestHandler,
} from './schema.js';

/** @internal */
export interface IncomingHost {
  readonly codec: MessageCodec;
  readonly writer: OutgoingWriter;
  readonly errorCodec: ErrorCodec;
  readonly hooks: PeerHooks;
  readonly maxConcurrentHandlers: number;
  readonly maxQueuedRequests: number;
  readonly maxQueuedBytes: number;
  /** The signal handler contexts expose. */
  readonly signal: () => AbortSignal;
  /** Whether queued requests may still start (the peer is open). */
  readonly accepting: () => boolean;
  /** Whether a finished handler's response is still sent (open, or draining during a graceful close). */
  readonly answering: () => boolean;
  /** Stop or restart consuming frames. */
  readonly pause: (why: 'requests' | 'writes') => void;
  readonly resume: (why: 'requests' | 'writes') => void;
  /** A handler finished (a graceful close may be waiting for the last one). */
  readonly handlerFinished: () => void;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Incoming requests and notifications (spec §6.5–§6.6): handler registry, the concurrency limit with its FIFO,
 * and the responses, one per request, in handler completion order.
 *
 * @internal
 */
export class IncomingDispatcher {
  readonly handlers = new Map<string, RequestHandler>();
  readonly notificationHandlers = new Map<string, NotificationHandler>();
  fallbackHandler: FallbackRequestHandler | undefined;
  fallbackNotificationHandler: FallbackNotificationHandler | undefined;
  /** Requests running or waiting for a slot, by msgid. */
  private readonly active = new Map<number, RequestMessage>();
  private readonly waiting: RequestMessage[] = [];
  private pausedForRequests = false;
  private pausedForWrites = false;
  running = 0;

  constructor(private readonly host: IncomingHost) {}

  /** Whether a request with this msgid is running or waiting (a second one would be a duplicate). */
  isActive(msgid: number): boolean {
    return this.active.has(msgid);
  }

  /** Starts or queues a request; returns false for a duplicate msgid (not dispatched). */
  request(request: RequestMessage): boolean {
    if (this.active.has(request.msgid)) return false;
    this.active.set(request.msgid, request);
    if (this.running < this.host.maxConcurrentHandlers) {
      this.start(request);
      return true;
    }
    this.waiting.push(request);
    if (this.waiting.length >= this.host.maxQueuedRequests && !this.pausedForRequests) {
      this.pausedForRequests = true;
      this.host.pause('requests');
    }
    return true;
  }

  /** Drops the requests still waiting for a slot (the connection is closing). */
  dropWaiting(): void {
    for (const request of this.waiting) this.active.delete(request.msgid);
    this.waiting.length = 0;
  }

  /** The write queue drained: reading may resume if it was paused for queued responses. */
  drained(): void {
    if (this.pausedForWrites && this.host.writer.queuedBytes <= this.host.maxQueuedBytes) {
      this.pausedForWrites = false;
      this.host.resume('writes');
    }
  }

  notification(method: string, params: unknown[], paramsWrapped: boolean): void {
    const hooks = this.host.hooks;
    const handler = this.notificationHandlers.get(method);
    const fallback = this.fallbackNotificationHandler;
    if (!handler && !fallback) {
      // Kong likewise ignores notification labels it does not know.
      if (hooks.tracing) hooks.emit({ type: 'unhandled-notification', time: performance.now(), method });
      return;
    }
    const context = new Context(this.host.signal, 0, method, paramsWrapped);
    try {
      const result = handler ? handler(params, context) : fallback!(method, params, context);
      if (isPromiseLike(result)) {
        result.then(undefined, (error: unknown) => hooks.reportError(new HandlerError(method, error)));
      }
    } catch (error) {
      hooks.reportError(new HandlerError(method, error));
    }
  }

  /**
   * Sends the response for `msgid`: `[1, msgid, nil, value]`, or an error response when `failed` (the error
   * codec turns `value` into the error slot, never nil). A result that cannot be encoded becomes an error
   * response, and its `EncodeError` goes to `onError`.
   */
  respond(msgid: number, method: string, value: unknown, failed: boolean): void {
    const { codec, hooks } = this.host;
    let message: unknown[] | undefined;
    let bytes: Uint8Array | undefined;
    if (!failed) {
      message = [1, msgid, null, value];
      try {
        bytes = codec.encode(message);
      } catch (error) {
        hooks.reportError(error as Error);
        failed = true;
        value = new EncodeError(
          (error as EncodeError).reason ?? 'unsupported-type',
          `result could not be encoded: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    if (failed) {
      let wire = this.host.errorCodec.toWire(value, { method, msgid });
      // A nil error slot would read as success on the other side.
      if (wire === null || wire === undefined) wire = 'unknown error';
      const encoded = this.encodeError(msgid, wire);
      if (!encoded) return;
      [message, bytes] = encoded;
    }
    const sent = message!;
    const encoded = bytes!;
    const writer = this.host.writer;
    writer.enqueue({
      bytes: encoded,
      kind: 'response',
      state: 0,
      onWritten: hooks.tracing ? () => hooks.send('response', msgid, undefined, encoded, sent) : undefined,
    });
    // Responses are never refused (the remote would hang), but reading pauses until they drain.
    if (writer.queuedBytes > this.host.maxQueuedBytes && !this.pausedForWrites) {
      this.pausedForWrites = true;
      this.host.pause('writes');
    }
  }

  /** Encodes `[1, msgid, wire, nil]`; falls back to a (shortened) string so that every request gets its answer. */
  private encodeError(msgid: number, wire: unknown): [unknown[], Uint8Array] | undefined {
    const attempts: unknown[] = [wire];
    const text = typeof wire === 'string' ? wire : String(wire);
    if (text !== wire) attempts.push(text);
    // Room for the envelope: 94 01 ce xx xx xx xx db xx xx xx xx … c0 is at most 12 bytes.
    const budget = this.host.codec.maxOutgoingFrameBytes - 12;
    if (budget > 0) attempts.push(text.slice(0, budget), text.slice(0, Math.floor(budget / 3)));
    let failure: unknown;
    for (const attempt of attempts) {
      const message = [1, msgid, attempt, null];
      try {
        return [message, this.host.codec.encode(message)];
      } catch (error) {
        failure = error;
      }
    }
    this.host.hooks.reportError(failure as Error);
    return undefined;
  }

  private start(request: RequestMessage): void {
    this.running++;
    const context = new Context(this.host.signal, request.msgid, request.method, request.paramsWrapped);
    const handler = this.handlers.get(request.method);
    let result: unknown;
    try {
      if (handler) result = handler(request.params, context);
      else if (this.fallbackHandler) result = this.fallbackHandler(request.method, request.params, context);
      else throw new MethodNotFoundError(request.method);
    } catch (error) {
      this.finish(request, error, true);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (value) => this.finish(request, value, false),
        (error: unknown) => this.finish(request, error, true),
      );
    } else {
      this.finish(request, result, false);
    }
  }

  private finish(request: RequestMessage, value: unknown, failed: boolean): void {
    this.active.delete(request.msgid);
    this.running--;
    const host = this.host;
    if (host.answering()) {
      this.respond(request.msgid, request.method, value, failed);
    } else if (host.hooks.tracing) {
      host.hooks.emit({
        type: 'response-dropped',
        time: performance.now(),
        msgid: request.msgid,
        method: request.method,
        reason: 'closed',
      });
    }
    while (this.running < host.maxConcurrentHandlers && this.waiting.length > 0 && host.accepting()) {
      this.start(this.waiting.shift()!);
    }
    if (this.pausedForRequests && this.waiting.length < host.maxQueuedRequests / 2) {
      this.pausedForRequests = false;
      host.resume('requests');
    }
    host.handlerFinished();
  }
}
