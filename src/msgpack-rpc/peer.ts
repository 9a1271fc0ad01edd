import type { Duplex, Readable, Writable } from 'node:stream';
import { MessageCodec } from './codec.js';
import { type ErrorCodec, resolveErrorCodec } from './error-values.js';
import {
  type CloseInitiator,
  ConnectionClosedError,
  EncodeError,
  HandlerError,
  MethodNotFoundError,
  ProtocolError,
  RequestAbortedError,
  TimeoutError,
} from './errors.js';
import { type Frame, FrameDecoder } from './framer.js';
import { type Message, type ParseOptions, parseMessage } from './message.js';
import { MsgidAllocator } from './msgid.js';
import {
  DEFAULT_MAX_QUEUED_BYTES,
  optionalPositive,
  type ProtocolErrorPolicy,
  positiveInteger,
  type RpcPeerOptions,
} from './options.js';
import { ITEM_WRITTEN, type OutgoingItem, OutgoingWriter } from './outgoing.js';
import type { MessageKind, TraceEvent, TraceHook } from './trace.js';

/**
 * Describes one direction of a connection: the requests a side serves (params tuple → result) and the
 * notifications it takes. Used as `RpcPeer<Local, Remote>` to type every call at compile time.
 *
 * @example
 * ```ts
 * interface Calculator extends RpcSchema {
 *   requests: { add(a: number, b: number): number };
 *   notifications: { log(line: string): void };
 * }
 * const peer = new RpcPeer<AnySchema, Calculator>(socket);
 * const sum: number = await peer.request('add', [2, 3]);
 * ```
 */
export interface RpcSchema {
  /** Request methods: params tuple → result (a promise is unwrapped). */
  requests: Record<string, (...params: never) => unknown>;
  /** Notification methods: params tuple. */
  notifications: Record<string, (...params: never) => void>;
}

/** A schema that accepts any method name, with `unknown[]` params and `unknown` results (the default). */
export interface AnySchema extends RpcSchema {
  /** Any request method. */
  requests: Record<string, (...params: unknown[]) => unknown>;
  /** Any notification method. */
  notifications: Record<string, (...params: unknown[]) => void>;
}

/** The params tuple of a schema method (`Params<(a: number) => string>` is `[a: number]`). */
export type Params<F> = F extends (...params: infer P) => unknown ? P : never;
/** The (awaited) result of a schema method. */
export type Result<F> = F extends (...params: never) => infer R ? Awaited<R> : never;

/** What a request handler learns about the request besides its params. */
export interface RequestContext {
  /** The request's msgid (the other side's id space). */
  readonly msgid: number;
  /** The method called. */
  readonly method: string;
  /** Whether a non-array params value was wrapped (`nonArrayParams: 'wrap'`). */
  readonly paramsWrapped: boolean;
  /** Aborts when the connection closes; the response would then be dropped. */
  readonly signal: AbortSignal;
}

/** What a notification handler learns besides its params. */
export interface NotificationContext {
  /** The notification's method. */
  readonly method: string;
  /** Whether a non-array params value was wrapped (`nonArrayParams: 'wrap'`). */
  readonly paramsWrapped: boolean;
  /** Aborts when the connection closes. */
  readonly signal: AbortSignal;
}

/** Serves one request method: return (or resolve) the result, or throw (reject) to send an error response. */
export type RequestHandler<P extends unknown[] = unknown[], R = unknown> = (
  params: P,
  context: RequestContext,
) => R | PromiseLike<R>;

/** Takes one notification method. A throw or rejection goes to `onError` as a `HandlerError`. */
export type NotificationHandler<P extends unknown[] = unknown[]> = (
  params: P,
  context: NotificationContext,
) => void | PromiseLike<void>;

/** Serves requests whose method has no handler of its own. */
export type FallbackRequestHandler = (method: string, params: unknown[], context: RequestContext) => unknown;

/** Takes notifications whose method has no handler of its own. */
export type FallbackNotificationHandler = (
  method: string,
  params: unknown[],
  context: NotificationContext,
) => void | PromiseLike<void>;

/** Per-call options of `RpcPeer.request`. */
export interface RequestOptions {
  /** Reject with `TimeoutError` after this many milliseconds (from the call). Default: the peer's `requestTimeout`. */
  timeout?: number;
  /** Cancel the call: it rejects with `RequestAbortedError` (and is never written if it was still queued). */
  signal?: AbortSignal;
}

/** Returned by every registration; `dispose()` undoes it. */
export interface RpcDisposable {
  /** Undo the registration (idempotent). */
  dispose(): void;
}

/** A separate readable and writable carrying one connection (e.g. a child's stdout and stdin). */
export interface StreamPair {
  /** Where the other side's bytes come from. */
  readable: Readable;
  /** Where this side's bytes go. */
  writable: Writable;
}

/** A `Duplex` (a socket), or a {@link StreamPair}. */
export type RpcTransport = Duplex | StreamPair;

interface PendingCall {
  readonly msgid: number;
  readonly method: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  item: OutgoingItem | undefined;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  writtenAt: number;
  readonly timeoutMs: number | undefined;
}

interface IncomingRequest {
  readonly msgid: number;
  readonly method: string;
  readonly params: unknown[];
  readonly paramsWrapped: boolean;
}

interface AbandonedCall {
  readonly method: string;
  readonly at: number;
}

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;

/** Handler contexts share one lazily created signal per peer, so a call costs no AbortController. */
class Context implements RequestContext, NotificationContext {
  constructor(
    private readonly signalOf: () => AbortSignal,
    readonly msgid: number,
    readonly method: string,
    readonly paramsWrapped: boolean,
  ) {}

  get signal(): AbortSignal {
    return this.signalOf();
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function isMsgid(value: number | undefined): value is number {
  return value !== undefined && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

/**
 * One end of a msgpack-RPC connection over any byte stream: correlates requests and responses, dispatches
 * incoming requests and notifications to handlers, and enforces limits, timeouts, cancellation and backpressure.
 * Calls go both ways on one connection; responses may come in any order.
 *
 * - `request()` allocates a msgid (wrapping at 2^32, skipping ids in use), encodes at call time (an encode error
 *   rejects at once), and settles exactly once: result, `RemoteError`, `TimeoutError`, `RequestAbortedError`, or
 *   `ConnectionClosedError` (whose `cause` says why).
 * - One-in-flight mode (`maxOutgoingInFlight: 1`, as in {@link KONG_PROFILE}): never pipelines; every message is one
 *   `write()` call; notifications before a response are handled before the caller's continuation.
 * - Malformed input never throws out: it becomes a `ProtocolError` for `onError` and the trace hook; fatal ones
 *   close the connection (after answering the broken request when its msgid is known).
 * - No console output; user hooks that throw are contained.
 *
 * @typeParam Local - what this side serves.
 * @typeParam Remote - what the other side serves.
 * @example
 * ```ts
 * const peer = new RpcPeer(socket);
 * peer.handle('add', ([a, b]) => (a as number) + (b as number));
 * const result = await peer.request('mul', [2, 3], { timeout: 1_000 });
 * await peer.close();
 * ```
 */
export class RpcPeer<Local extends RpcSchema = AnySchema, Remote extends RpcSchema = AnySchema> {
  /** The codec in use (encoding, limits); may be shared with other peers. */
  readonly codec: MessageCodec;

  private readonly readable: Readable;
  private readonly writable: Writable;
  private readonly isDuplex: boolean;
  private readonly framer: FrameDecoder;
  private readonly writer: OutgoingWriter;
  private readonly allocator: MsgidAllocator;
  private readonly errorCodec: ErrorCodec;
  private readonly parseOptions: ParseOptions;
  private readonly traceHook: TraceHook | undefined;
  private readonly traceFrames: boolean;
  private readonly defaultTimeout: number | undefined;
  private readonly lateResponseMemory: number;
  private readonly closeOnAbandon: boolean;
  private readonly maxConcurrentHandlers: number;
  private readonly maxQueuedRequests: number;
  private readonly maxQueuedBytes: number;
  private readonly policy: ProtocolErrorPolicy;
  private readonly closeTimeout: number;

  private readonly pending = new Map<number, PendingCall>();
  private readonly abandoned = new Map<number, AbandonedCall>();
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly notificationHandlers = new Map<string, NotificationHandler>();
  private fallbackHandler: FallbackRequestHandler | undefined;
  private fallbackNotificationHandler: FallbackNotificationHandler | undefined;
  private readonly errorListeners = new Set<(error: Error) => void>();
  private readonly closeListeners = new Set<(error: ConnectionClosedError) => void>();
  /** Incoming requests running or waiting for a handler slot, by msgid. */
  private readonly active = new Map<number, IncomingRequest>();
  private readonly waiting: IncomingRequest[] = [];
  private running = 0;

  private state = OPEN;
  private reading = true;
  private pausedForRequests = false;
  private pausedForWrites = false;
  private inDataPass = false;
  private closeError: ConnectionClosedError | undefined;
  private lifetime: AbortController | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private gracefulWait = false;
  private closedPromise: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;
  private reportingError = false;

  /**
   * @param transport - a `Duplex` (a socket) or `{ readable, writable }`; must carry bytes (not object mode).
   * @param options - see {@link RpcPeerOptions}; spread {@link KONG_PROFILE} for Kong.
   * @throws TypeError when the stream is in object mode or an option is invalid.
   */
  constructor(transport: RpcTransport, options: RpcPeerOptions = {}) {
    const pair = transport as { readable?: unknown; writable?: unknown };
    if (typeof (transport as Duplex).write === 'function' && typeof (transport as Duplex).on === 'function') {
      this.readable = transport as Duplex;
      this.writable = transport as Duplex;
      this.isDuplex = true;
    } else if (pair.readable && pair.writable && typeof pair.readable === 'object') {
      this.readable = pair.readable as Readable;
      this.writable = pair.writable as Writable;
      this.isDuplex = pair.readable === pair.writable;
    } else {
      throw new TypeError('RpcPeer needs a Duplex stream or { readable, writable }');
    }
    if (this.readable.readableObjectMode || this.writable.writableObjectMode) {
      throw new TypeError('RpcPeer needs a byte stream; this stream is in object mode');
    }

    this.codec = options.codec ?? new MessageCodec(options);
    this.framer = new FrameDecoder({ ...this.codec.limits, binary: options.binary ?? 'copy' });
    this.allocator = new MsgidAllocator(
      options.msgidBase ?? 1,
      options.initialMsgid ?? options.msgidBase ?? 1,
    );
    this.errorCodec = resolveErrorCodec(options.errors);
    const nonArrayParams = options.nonArrayParams ?? 'reject';
    if (nonArrayParams !== 'reject' && nonArrayParams !== 'wrap') {
      throw new TypeError(`nonArrayParams must be 'reject' or 'wrap', got ${String(nonArrayParams)}`);
    }
    this.parseOptions = { nonArrayParams };
    this.traceHook = options.trace;
    this.traceFrames = options.traceFrames ?? false;
    this.defaultTimeout = optionalPositive('requestTimeout', options.requestTimeout);
    this.lateResponseMemory = positiveInteger('lateResponseMemory', options.lateResponseMemory, 1024);
    const maxInFlight = options.maxOutgoingInFlight ?? Number.POSITIVE_INFINITY;
    if (maxInFlight !== Number.POSITIVE_INFINITY) positiveInteger('maxOutgoingInFlight', maxInFlight, 1);
    this.closeOnAbandon = options.closeOnAbandon ?? maxInFlight === 1;
    this.maxConcurrentHandlers = positiveInteger('maxConcurrentHandlers', options.maxConcurrentHandlers, 128);
    this.maxQueuedRequests = positiveInteger('maxQueuedRequests', options.maxQueuedRequests, 1024);
    this.maxQueuedBytes = positiveInteger('maxQueuedBytes', options.maxQueuedBytes, DEFAULT_MAX_QUEUED_BYTES);
    this.closeTimeout = optionalPositive('closeTimeout', options.closeTimeout) ?? 5000;
    const policy = options.protocolErrorPolicy ?? 'continue';
    if (policy !== 'continue' && policy !== 'close' && typeof policy !== 'function') {
      throw new TypeError(
        `protocolErrorPolicy must be 'continue', 'close' or a function, got ${String(policy)}`,
      );
    }
    this.policy = policy;

    this.writer = new OutgoingWriter(this.writable, {
      maxInFlight,
      maxQueuedBytes: this.maxQueuedBytes,
      onBackpressure: (state, queuedBytes) => this.onBackpressure(state, queuedBytes),
    });

    // Always an 'error' listener: without one a stream error would kill the process.
    this.readable.on('data', this.onData);
    this.readable.on('end', this.onEnd);
    this.readable.on('error', this.onStreamError);
    this.readable.on('close', this.onStreamClose);
    if (!this.isDuplex) {
      this.writable.on('error', this.onStreamError);
      this.writable.on('close', this.onStreamClose);
    }
    this.writable.on('drain', this.onDrain);
  }

  /** Whether the peer is closing or closed (new calls reject at once). */
  get closed(): boolean {
    return this.state !== OPEN;
  }

  /** Outgoing requests not settled yet (queued or written). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Calls a method on the other side.
   *
   * @param method - the method name.
   * @param params - the parameters (an array).
   * @param options - `timeout` and `signal`.
   * @returns the result. Rejects with `RemoteError` (the peer answered an error; `data` is its raw value),
   *   `TimeoutError`, `RequestAbortedError`, `EncodeError` (nothing written), `QueueFullError`, or
   *   `ConnectionClosedError`. Never throws synchronously.
   */
  request<M extends keyof Remote['requests'] & string>(
    method: M,
    params: Params<Remote['requests'][M]>,
    options: RequestOptions = {},
  ): Promise<Result<Remote['requests'][M]>> {
    return this.call(method, params as unknown[], options) as Promise<Result<Remote['requests'][M]>>;
  }

  /**
   * Sends a notification (never answered).
   *
   * @throws EncodeError, QueueFullError or ConnectionClosedError synchronously; a failure after queueing (the
   *   connection closed before the flush) goes to `onError`.
   */
  notify<M extends keyof Remote['notifications'] & string>(
    method: M,
    params: Params<Remote['notifications'][M]>,
  ): void {
    if (this.state !== OPEN) throw this.closedErrorForNewWork();
    const message = [2, method, params];
    const bytes = this.codec.encode(message);
    this.writer.enqueue({
      bytes,
      kind: 'notification',
      state: 0,
      onWritten: this.traceHook
        ? () => this.traceSend('notification', undefined, method, bytes, message)
        : undefined,
    });
  }

  /**
   * Serves a request method. Replaces an earlier handler for the same method.
   *
   * @returns a disposable that removes the handler.
   */
  handle<M extends keyof Local['requests'] & string>(
    method: M,
    handler: RequestHandler<Params<Local['requests'][M]>, Result<Local['requests'][M]>>,
  ): RpcDisposable {
    const registered = handler as unknown as RequestHandler;
    this.handlers.set(method, registered);
    return {
      dispose: () => {
        if (this.handlers.get(method) === registered) this.handlers.delete(method);
      },
    };
  }

  /**
   * Takes a notification method. Replaces an earlier handler for the same method.
   *
   * @returns a disposable that removes the handler.
   */
  onNotification<M extends keyof Local['notifications'] & string>(
    method: M,
    handler: NotificationHandler<Params<Local['notifications'][M]>>,
  ): RpcDisposable {
    const registered = handler as unknown as NotificationHandler;
    this.notificationHandlers.set(method, registered);
    return {
      dispose: () => {
        if (this.notificationHandlers.get(method) === registered) this.notificationHandlers.delete(method);
      },
    };
  }

  /**
   * Serves every request method that has no handler of its own (instead of answering `method not found`).
   *
   * @returns a disposable that removes it.
   */
  handleUnknown(handler: FallbackRequestHandler): RpcDisposable {
    this.fallbackHandler = handler;
    return {
      dispose: () => {
        if (this.fallbackHandler === handler) this.fallbackHandler = undefined;
      },
    };
  }

  /**
   * Takes every notification that has no handler of its own (instead of tracing `unhandled-notification`).
   *
   * @returns a disposable that removes it.
   */
  onUnknownNotification(handler: FallbackNotificationHandler): RpcDisposable {
    this.fallbackNotificationHandler = handler;
    return {
      dispose: () => {
        if (this.fallbackNotificationHandler === handler) this.fallbackNotificationHandler = undefined;
      },
    };
  }

  /**
   * Listens for errors nobody else receives: `ProtocolError`s, `EncodeError`s of responses, `HandlerError`s of
   * notification handlers, and errors thrown by user hooks. Unlike an EventEmitter `'error'`, having no listener
   * is fine (errors are then only traced).
   *
   * @returns a disposable that removes the listener.
   */
  onError(listener: (error: Error) => void): RpcDisposable {
    this.errorListeners.add(listener);
    return { dispose: () => this.errorListeners.delete(listener) };
  }

  /**
   * Runs once when the connection closes, with the `ConnectionClosedError` pending calls were rejected with.
   * Registered after the close, it runs on the next tick.
   *
   * @returns a disposable that removes the listener.
   */
  onClose(listener: (error: ConnectionClosedError) => void): RpcDisposable {
    if (this.state === CLOSED && this.closeError) {
      const error = this.closeError;
      process.nextTick(() => this.runHook('onClose', () => listener(error)));
      return { dispose: () => {} };
    }
    this.closeListeners.add(listener);
    return { dispose: () => this.closeListeners.delete(listener) };
  }

  /**
   * Closes gracefully: new calls reject at once, nothing more is read, pending calls reject with
   * `ConnectionClosedError` (initiator `local`), running handlers may finish and their responses are flushed for
   * up to `closeTimeout`; then the stream is ended (destroyed if it does not finish in time).
   *
   * @returns resolves when the stream is closed. Never rejects.
   */
  close(): Promise<void> {
    this.shutdown('local', undefined, 'graceful');
    return this.whenClosed();
  }

  /**
   * Destroys the stream at once, without flushing. Pending calls reject with `ConnectionClosedError` (initiator
   * `local`, `cause` = `cause`).
   */
  destroy(cause?: unknown): void {
    this.shutdown('local', cause, 'destroy');
  }

  // ---------------------------------------------------------------------------------------------------------
  // Outgoing requests

  private call(method: string, params: unknown[], options: RequestOptions): Promise<unknown> {
    if (this.state !== OPEN) return Promise.reject(this.closedErrorForNewWork());
    const signal = options.signal;
    if (signal?.aborted)
      return Promise.reject(new RequestAbortedError(method, undefined, false, signal.reason));
    let timeoutMs: number | undefined;
    try {
      timeoutMs =
        options.timeout === undefined ? this.defaultTimeout : optionalPositive('timeout', options.timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    const msgid = this.allocator.next(this.isMsgidInUse);
    const message = [0, msgid, method, params];
    let bytes: Uint8Array;
    try {
      bytes = this.codec.encode(message);
    } catch (error) {
      this.allocator.unallocate(msgid);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const call: PendingCall = {
        msgid,
        method,
        resolve,
        reject,
        item: undefined,
        timer: undefined,
        signal,
        onAbort: undefined,
        writtenAt: 0,
        timeoutMs,
      };
      const item: OutgoingItem = {
        bytes,
        kind: 'request',
        state: 0,
        onWritten: this.traceHook
          ? () => {
              call.writtenAt = performance.now();
              this.traceSend('request', msgid, method, bytes, message);
            }
          : undefined,
      };
      call.item = item;
      // Registered before the write: a transport may deliver the answer synchronously inside write().
      this.pending.set(msgid, call);
      try {
        this.writer.enqueue(item);
      } catch (error) {
        this.pending.delete(msgid);
        this.allocator.unallocate(msgid);
        reject(error);
        return;
      }
      if (timeoutMs !== undefined) {
        call.timer = setTimeout(() => this.expire(call), timeoutMs);
        call.timer.unref?.();
      }
      if (signal) {
        call.onAbort = () => this.abort(call);
        signal.addEventListener('abort', call.onAbort, { once: true });
      }
    });
  }

  private readonly isMsgidInUse = (id: number): boolean => this.pending.has(id) || this.abandoned.has(id);

  /** Removes a call from every structure; returns whether it had been written. */
  private settle(call: PendingCall): boolean {
    this.pending.delete(call.msgid);
    this.clearCallTimers(call);
    const item = call.item!;
    const written = item.state === ITEM_WRITTEN;
    if (written) this.writer.release();
    else this.writer.cancel(item);
    return written;
  }

  private abandon(call: PendingCall, error: Error): void {
    if (!this.pending.has(call.msgid)) return;
    if (call.item?.state === ITEM_WRITTEN && this.closeOnAbandon) {
      // The peer may still answer, or not have read it yet: the connection is in an unknown state. Close it
      // before the freed slot could let a queued call through.
      this.pending.delete(call.msgid);
      this.clearCallTimers(call);
      call.reject(error);
      this.shutdown('local', error, 'flush');
      return;
    }
    const written = this.settle(call);
    if (written) {
      this.abandoned.set(call.msgid, { method: call.method, at: performance.now() });
      if (this.abandoned.size > this.lateResponseMemory) {
        const oldest = this.abandoned.keys().next().value;
        if (oldest !== undefined) this.abandoned.delete(oldest);
      }
    }
    call.reject(error);
  }

  private clearCallTimers(call: PendingCall): void {
    if (call.timer) clearTimeout(call.timer);
    if (call.signal && call.onAbort) call.signal.removeEventListener('abort', call.onAbort);
    call.timer = undefined;
    call.onAbort = undefined;
  }

  private expire(call: PendingCall): void {
    call.timer = undefined;
    this.abandon(call, new TimeoutError(call.method, call.msgid, call.timeoutMs ?? 0));
  }

  private abort(call: PendingCall): void {
    const sent = call.item?.state === ITEM_WRITTEN;
    this.abandon(call, new RequestAbortedError(call.method, call.msgid, sent, call.signal?.reason));
  }

  // ---------------------------------------------------------------------------------------------------------
  // Reading

  private readonly onData = (chunk: Uint8Array): void => {
    if (!this.reading) return;
    try {
      this.framer.push(chunk);
    } catch (error) {
      this.fatal(error as ProtocolError);
      return;
    }
    this.processFrames();
  };

  /** Dispatches every complete buffered frame, in order, in one synchronous pass (unless paused or closed). */
  private processFrames(): void {
    if (this.inDataPass) return;
    this.inDataPass = true;
    try {
      while (this.reading && !this.pausedForRequests && !this.pausedForWrites) {
        let frame: Frame | undefined;
        try {
          frame = this.framer.next();
        } catch (error) {
          this.fatal(error as ProtocolError);
          return;
        }
        if (!frame) return;
        this.dispatchFrame(frame);
      }
    } finally {
      this.inDataPass = false;
    }
  }

  private dispatchFrame(frame: Frame): void {
    let message: Message;
    let value: unknown;
    try {
      value = this.codec.decode(frame);
      message = parseMessage(value, this.parseOptions);
    } catch (error) {
      const problem = error as ProtocolError;
      this.frameError(
        problem.offset === undefined
          ? new ProtocolError(problem.reason, problem.message, {
              fatal: false,
              ...(problem.msgid !== undefined ? { msgid: problem.msgid } : {}),
              ...(problem.messageType !== undefined ? { messageType: problem.messageType } : {}),
              offset: frame.offset,
            })
          : problem,
      );
      return;
    }
    if (this.traceHook) this.traceReceive(message, frame, value);
    if (message.kind === 'response') this.onResponse(message.msgid, message.error, message.result);
    else if (message.kind === 'request') this.onRequest(message);
    else this.onIncomingNotification(message.method, message.params, message.paramsWrapped);
  }

  private onResponse(msgid: number, error: unknown, result: unknown): void {
    const call = this.pending.get(msgid);
    if (call && call.item?.state === ITEM_WRITTEN) {
      this.settle(call);
      if (error !== null && error !== undefined) {
        call.reject(this.errorCodec.fromWire(error, { method: call.method, msgid }));
      } else {
        call.resolve(result);
      }
      return;
    }
    const abandoned = this.abandoned.get(msgid);
    if (abandoned) {
      this.abandoned.delete(msgid);
      if (this.traceHook) {
        const time = performance.now();
        this.emitTrace({
          type: 'late-response',
          time,
          msgid,
          method: abandoned.method,
          sinceAbandonMs: time - abandoned.at,
        });
      }
      return;
    }
    // Never answer a response, not even an unknown one.
    this.frameError(
      new ProtocolError('unknown-msgid', `response for msgid ${msgid}, which is not pending`, {
        fatal: false,
        msgid,
        messageType: 1,
      }),
    );
  }

  private onRequest(request: IncomingRequest): void {
    if (this.active.has(request.msgid)) {
      this.frameError(
        new ProtocolError('duplicate-request-id', `request msgid ${request.msgid} is already being handled`, {
          fatal: false,
          msgid: request.msgid,
          messageType: 0,
        }),
        false,
      );
      return;
    }
    if (this.state !== OPEN) return;
    this.active.set(request.msgid, request);
    if (this.running < this.maxConcurrentHandlers) {
      this.startHandler(request);
      return;
    }
    this.waiting.push(request);
    if (this.waiting.length >= this.maxQueuedRequests && !this.pausedForRequests) {
      this.pausedForRequests = true;
      this.pauseInput();
    }
  }

  private startHandler(request: IncomingRequest): void {
    this.running++;
    const context = new Context(this.lifetimeSignal, request.msgid, request.method, request.paramsWrapped);
    const handler = this.handlers.get(request.method);
    let result: unknown;
    try {
      if (handler) {
        result = handler(request.params, context);
      } else if (this.fallbackHandler) {
        result = this.fallbackHandler(request.method, request.params, context);
      } else {
        throw new MethodNotFoundError(request.method);
      }
    } catch (error) {
      this.finishHandler(request, error, true);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (value) => this.finishHandler(request, value, false),
        (error: unknown) => this.finishHandler(request, error, true),
      );
    } else {
      this.finishHandler(request, result, false);
    }
  }

  private finishHandler(request: IncomingRequest, value: unknown, failed: boolean): void {
    this.active.delete(request.msgid);
    this.running--;
    if (this.state === CLOSED || (this.state === CLOSING && !this.gracefulWait)) {
      if (this.traceHook) {
        this.emitTrace({
          type: 'response-dropped',
          time: performance.now(),
          msgid: request.msgid,
          method: request.method,
          reason: 'closed',
        });
      }
    } else {
      this.sendResponse(request.msgid, request.method, value, failed);
    }
    while (this.running < this.maxConcurrentHandlers && this.waiting.length > 0 && this.state === OPEN) {
      this.startHandler(this.waiting.shift()!);
    }
    if (this.pausedForRequests && this.waiting.length < this.maxQueuedRequests / 2) {
      this.pausedForRequests = false;
      this.resumeInput();
    }
    if (this.state === CLOSING && this.gracefulWait && this.running === 0) this.finishGraceful();
  }

  private sendResponse(msgid: number, method: string, value: unknown, failed: boolean): void {
    let message: unknown[];
    let bytes: Uint8Array | undefined;
    if (!failed) {
      message = [1, msgid, null, value];
      try {
        bytes = this.codec.encode(message);
      } catch (error) {
        this.reportError(error as Error);
        failed = true;
        value = new EncodeError(
          (error as EncodeError).reason ?? 'unsupported-type',
          `result could not be encoded: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    if (failed) {
      let wire = this.errorCodec.toWire(value, { method, msgid });
      // A nil error slot would read as success on the other side.
      if (wire === null || wire === undefined) wire = 'unknown error';
      const encoded = this.encodeErrorResponse(msgid, wire);
      if (!encoded) return;
      [message, bytes] = encoded;
    }
    const sent = message!;
    const encoded = bytes!;
    this.writer.enqueue({
      bytes: encoded,
      kind: 'response',
      state: 0,
      onWritten: this.traceHook
        ? () => this.traceSend('response', msgid, undefined, encoded, sent)
        : undefined,
    });
    if (this.writer.queuedBytes > this.maxQueuedBytes && !this.pausedForWrites) {
      this.pausedForWrites = true;
      this.pauseInput();
    }
  }

  /** Encodes `[1, msgid, wire, nil]`; falls back to a (shortened) string so that every request gets its answer. */
  private encodeErrorResponse(msgid: number, wire: unknown): [unknown[], Uint8Array] | undefined {
    const attempts: unknown[] = [wire];
    const text = typeof wire === 'string' ? wire : String(wire);
    if (text !== wire) attempts.push(text);
    // Room for the envelope: 94 01 ce xx xx xx xx db xx xx xx xx … c0 is at most 12 bytes.
    const budget = this.codec.maxOutgoingFrameBytes - 12;
    if (budget > 0) attempts.push(text.slice(0, budget), text.slice(0, Math.floor(budget / 3)));
    let failure: unknown;
    for (const attempt of attempts) {
      const message = [1, msgid, attempt, null];
      try {
        return [message, this.codec.encode(message)];
      } catch (error) {
        failure = error;
      }
    }
    this.reportError(failure as Error);
    return undefined;
  }

  private onIncomingNotification(method: string, params: unknown[], paramsWrapped: boolean): void {
    const handler = this.notificationHandlers.get(method);
    const fallback = this.fallbackNotificationHandler;
    if (!handler && !fallback) {
      if (this.traceHook) this.emitTrace({ type: 'unhandled-notification', time: performance.now(), method });
      return;
    }
    const context = new Context(this.lifetimeSignal, 0, method, paramsWrapped);
    try {
      const result = handler ? handler(params, context) : fallback!(method, params, context);
      if (isPromiseLike(result)) {
        result.then(undefined, (error: unknown) => this.reportError(new HandlerError(method, error)));
      }
    } catch (error) {
      this.reportError(new HandlerError(method, error));
    }
  }

  /** A frame-level problem: answer a broken request, fail the call a broken response belongs to, apply policy. */
  private frameError(error: ProtocolError, answer = true): void {
    const msgid = error.msgid;
    if (answer && error.messageType === 0 && isMsgid(msgid) && !this.active.has(msgid)) {
      this.sendInvalidRequestResponse(error, msgid);
    }
    if (error.messageType === 1 && isMsgid(msgid) && error.reason !== 'unknown-msgid') {
      const call = this.pending.get(msgid);
      if (call && call.item?.state === ITEM_WRITTEN) {
        this.settle(call);
        call.reject(error);
      }
    }
    this.reportError(error);
    if (this.state !== OPEN) return;
    let decision: 'continue' | 'close' = 'continue';
    if (this.policy === 'close') decision = 'close';
    else if (typeof this.policy === 'function') {
      const policy = this.policy;
      decision = 'continue';
      this.runHook('protocolErrorPolicy', () => {
        decision = policy(error);
      });
    }
    if (decision === 'close') this.shutdown('remote', error, 'flush');
  }

  private sendInvalidRequestResponse(error: ProtocolError, msgid: number): void {
    if (this.writable.destroyed || this.writable.writableEnded) return;
    const reply = new ProtocolError(error.reason, `invalid request: ${error.reason}: ${error.message}`, {
      fatal: error.fatal,
      msgid,
    });
    this.sendResponse(msgid, '', reply, true);
  }

  /** A stream-level problem: nothing more from the peer is trusted. */
  private fatal(error: ProtocolError): void {
    this.reading = false;
    if (error.messageType === 0 && isMsgid(error.msgid) && !this.active.has(error.msgid)) {
      this.sendInvalidRequestResponse(error, error.msgid);
    }
    this.reportError(error);
    this.shutdown('remote', error, 'flush');
  }

  private readonly onEnd = (): void => {
    if (this.state === CLOSED) return;
    if (this.reading) {
      try {
        this.framer.end();
      } catch (error) {
        this.fatal(error as ProtocolError);
        return;
      }
    }
    this.shutdown('remote', undefined, 'flush');
  };

  private readonly onStreamError = (error: Error): void => {
    this.shutdown('remote', error, 'destroy');
  };

  private readonly onStreamClose = (): void => {
    if (this.state === OPEN) this.shutdown('remote', undefined, 'destroy');
    else if (this.state === CLOSING) this.finishClose();
  };

  private readonly onDrain = (): void => {
    this.writer.drain();
  };

  private onBackpressure(state: 'queued' | 'drained', queuedBytes: number): void {
    if (state === 'drained' && this.pausedForWrites && this.writer.queuedBytes <= this.maxQueuedBytes) {
      this.pausedForWrites = false;
      this.resumeInput();
    }
    if (this.traceHook) this.emitTrace({ type: 'backpressure', time: performance.now(), state, queuedBytes });
  }

  private pauseInput(): void {
    this.readable.pause();
    if (this.traceHook) {
      this.emitTrace({
        type: 'backpressure',
        time: performance.now(),
        state: 'paused',
        queuedBytes: this.writer.queuedBytes,
      });
    }
  }

  private resumeInput(): void {
    if (this.pausedForRequests || this.pausedForWrites || !this.reading) return;
    if (this.traceHook) {
      this.emitTrace({
        type: 'backpressure',
        time: performance.now(),
        state: 'resumed',
        queuedBytes: this.writer.queuedBytes,
      });
    }
    // Frames buffered while paused come first, then the stream flows again.
    setImmediate(() => {
      this.processFrames();
      if (!this.pausedForRequests && !this.pausedForWrites && this.reading) this.readable.resume();
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Closing

  /** The signal every handler context exposes; aborts when the connection closes. */
  private readonly lifetimeSignal = (): AbortSignal => {
    if (!this.lifetime) {
      this.lifetime = new AbortController();
      if (this.state === CLOSED || (this.state === CLOSING && !this.gracefulWait)) {
        this.lifetime.abort(this.closeError);
      }
    }
    return this.lifetime.signal;
  };

  private closedErrorForNewWork(): ConnectionClosedError {
    return new ConnectionClosedError(
      this.closeError?.initiator ?? 'local',
      this.closeError && 'cause' in this.closeError ? { cause: this.closeError.cause } : undefined,
      'msgpack-RPC connection is closed',
    );
  }

  /**
   * Starts closing. `graceful`: let handlers finish (bounded), flush, end. `flush`: abort handlers, flush what is
   * queued, end. `destroy`: destroy now. A harder mode overrides a softer one already in progress.
   */
  private shutdown(initiator: CloseInitiator, cause: unknown, mode: 'graceful' | 'flush' | 'destroy'): void {
    if (this.state === CLOSED) return;
    if (this.state === CLOSING) {
      if (mode === 'destroy') this.destroyStream();
      else if (mode === 'flush' && this.gracefulWait) this.finishGraceful();
      return;
    }
    this.state = CLOSING;
    this.reading = false;
    this.readable.off('data', this.onData);
    this.closeError = new ConnectionClosedError(initiator, cause === undefined ? undefined : { cause });
    const closeError = this.closeError;

    for (const call of [...this.pending.values()]) {
      this.settle(call);
      call.reject(closeError);
    }
    for (const request of this.waiting) this.active.delete(request.msgid);
    this.waiting.length = 0;
    this.writer.dropUnsent();

    if (mode === 'destroy') {
      this.abortHandlers();
      this.destroyStream();
      return;
    }
    if (mode === 'graceful' && this.running > 0) {
      this.gracefulWait = true;
      this.closeTimer = setTimeout(() => this.finishGraceful(), this.closeTimeout);
      this.closeTimer.unref?.();
      return;
    }
    this.abortHandlers();
    this.endStream();
  }

  private finishGraceful(): void {
    if (!this.gracefulWait) return;
    this.gracefulWait = false;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.abortHandlers();
    this.endStream();
  }

  private abortHandlers(): void {
    this.lifetime?.abort(this.closeError);
    this.notifyClosed();
  }

  private endStream(): void {
    this.writer.flushNow();
    const writable = this.writable;
    if (writable.destroyed) {
      this.finishClose();
      return;
    }
    if (!writable.writableEnded) writable.end();
    if (writable.writableFinished) {
      this.destroyStream();
      return;
    }
    writable.once('finish', () => this.destroyStream());
    this.closeTimer = setTimeout(() => this.destroyStream(), this.closeTimeout);
    this.closeTimer.unref?.();
  }

  private destroyStream(): void {
    this.writer.stop();
    if (this.gracefulWait) {
      this.gracefulWait = false;
      this.abortHandlers();
    }
    // Everything written has reached the system (or never will); the read side is not trusted any more.
    if (!this.writable.destroyed) this.writable.destroy();
    if (!this.isDuplex && !this.readable.destroyed) this.readable.destroy();
    this.finishClose();
  }

  private finishClose(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.gracefulWait = false;
    this.writer.stop();
    this.lifetime?.abort(this.closeError);
    this.notifyClosed();
    this.resolveClosed?.();
  }

  private closeNotified = false;

  private notifyClosed(): void {
    if (this.closeNotified || !this.closeError) return;
    this.closeNotified = true;
    const error = this.closeError;
    if (this.traceHook) this.emitTrace({ type: 'close', time: performance.now(), error });
    for (const listener of [...this.closeListeners]) this.runHook('onClose', () => listener(error));
    this.closeListeners.clear();
  }

  private whenClosed(): Promise<void> {
    if (this.state === CLOSED) return Promise.resolve();
    this.closedPromise ??= new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
    });
    return this.closedPromise;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Hooks

  private reportError(error: Error): void {
    if (this.traceHook && error instanceof ProtocolError) {
      this.emitTrace({ type: 'protocol-error', time: performance.now(), error });
    }
    if (this.reportingError) return;
    this.reportingError = true;
    try {
      for (const listener of [...this.errorListeners]) {
        try {
          listener(error);
        } catch {
          // An onError listener that throws has nowhere else to report to; contained.
        }
      }
    } finally {
      this.reportingError = false;
    }
  }

  private runHook(name: string, body: () => void): void {
    try {
      body();
    } catch (error) {
      this.reportError(new HandlerError(name, error));
    }
  }

  private emitTrace(event: TraceEvent): void {
    const hook = this.traceHook!;
    try {
      hook(event);
    } catch (error) {
      this.reportError(new HandlerError('trace', error));
    }
  }

  private traceSend(
    kind: MessageKind,
    msgid: number | undefined,
    method: string | undefined,
    bytes: Uint8Array,
    message: unknown,
  ): void {
    this.emitTrace({
      type: 'send',
      time: performance.now(),
      kind,
      ...(msgid !== undefined ? { msgid } : {}),
      ...(method !== undefined ? { method } : {}),
      bytes: bytes.length,
      message,
      ...(this.traceFrames ? { frame: bytes.slice() } : {}),
    });
  }

  private traceReceive(message: Message, frame: Frame, value: unknown): void {
    const time = performance.now();
    let method: string | undefined;
    let durationMs: number | undefined;
    if (message.kind === 'response') {
      const call = this.pending.get(message.msgid);
      if (call && call.item?.state === ITEM_WRITTEN) {
        method = call.method;
        durationMs = time - call.writtenAt;
      }
    } else {
      method = message.method;
    }
    this.emitTrace({
      type: 'receive',
      time,
      kind: message.kind,
      ...(message.kind !== 'notification' ? { msgid: message.msgid } : {}),
      ...(method !== undefined ? { method } : {}),
      bytes: frame.bytes.length,
      message: value,
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(this.traceFrames ? { frame: frame.bytes.slice() } : {}),
    });
  }
}
