import { EventEmitter } from 'node:events';
import type { Duplex, Readable, Writable } from 'node:stream';
import { OutgoingCalls } from './calls.js';
import { MessageCodec } from './codec.js';
import { resolveErrorCodec } from './error-values.js';
import { type ConnectionClosedError, ProtocolError, RpcUsageError } from './errors.js';
import { type Frame, FrameDecoder } from './framer.js';
import { PeerHooks } from './hooks.js';
import { IncomingDispatcher } from './incoming.js';
import { ConnectionLifecycle } from './lifecycle.js';
import { type Message, type ParseMessageOptions, parseMessage } from './message.js';
import { MsgidAllocator } from './msgid.js';
import {
  DEFAULT_MAX_QUEUED_BYTES,
  optionalPositive,
  type ProtocolErrorPolicy,
  positiveInteger,
  type RpcPeerOptions,
} from './options.js';
import { OutgoingWriter } from './outgoing.js';
import type {
  AnySchema,
  FallbackNotificationHandler,
  FallbackRequestHandler,
  NotificationHandler,
  Params,
  RequestHandler,
  RequestOptions,
  Result,
  RpcSchema,
  RpcTransport,
} from './schema.js';

export type {
  AnySchema,
  FallbackNotificationHandler,
  FallbackRequestHandler,
  NotificationContext,
  NotificationHandler,
  Params,
  RequestContext,
  RequestHandler,
  RequestOptions,
  Result,
  RpcSchema,
  RpcTransport,
  StreamPair,
} from './schema.js';

/**
 * The events of an {@link RpcPeer}, for Node's typed `EventEmitter`.
 */
export interface RpcPeerEvents {
  /**
   * An error nobody else receives: a `ProtocolError`, the `EncodeError` of a response, the `HandlerError` of a
   * notification handler, or an error thrown by a user hook or listener. Emitted only while someone listens:
   * unlike a plain EventEmitter, a peer without an `'error'` listener does not throw (the error is then only traced).
   */
  error: [error: Error];
  /** The connection closed, with the `ConnectionClosedError` pending calls were rejected with. Emitted once. */
  close: [error: ConnectionClosedError];
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
 *   rejects at once), and settles exactly once: result, `RemoteError`, `RpcTimeoutError`, `RequestAbortedError`, or
 *   `ConnectionClosedError` (whose `cause` says why).
 * - Writes (default mode): the messages of one event-loop turn go out in one `write()`; the answers that
 *   synchronous handlers give while one incoming chunk is dispatched are written as soon as that chunk is done.
 * - One-in-flight mode (`maxOutgoingInFlight: 1`, as in {@link KONG_PEER_OPTIONS}): never pipelines; every message is one
 *   `write()` call; notifications before a response are handled before the caller's continuation.
 * - Malformed input never throws out: it becomes a `ProtocolError` for the `'error'` event and the trace hook; fatal ones
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
export class RpcPeer<
  Local extends RpcSchema = AnySchema,
  Remote extends RpcSchema = AnySchema,
> extends EventEmitter<RpcPeerEvents> {
  /** The codec in use (encoding, limits); may be shared with other peers. */
  readonly codec: MessageCodec;
  /**
   * Resolves once the connection is closed, with the `ConnectionClosedError` pending calls were rejected with (the
   * payload of the `'close'` event, also for a caller that arrives after it). Never rejects.
   */
  readonly closed: Promise<ConnectionClosedError>;

  private readonly readable: Readable;
  private readonly writable: Writable;
  private readonly isDuplex: boolean;
  private readonly framer: FrameDecoder;
  private readonly writer: OutgoingWriter;
  private readonly hooks: PeerHooks;
  private readonly calls: OutgoingCalls;
  private readonly incoming: IncomingDispatcher;
  private readonly parseOptions: ParseMessageOptions;
  private readonly policy: ProtocolErrorPolicy;

  private readonly lifecycle: ConnectionLifecycle;
  private reading = true;
  private readonly paused = new Set<'requests' | 'writes'>();
  private inDataPass = false;

  /**
   * @param transport - a `Duplex` (a socket) or `{ readable, writable }`; must carry bytes (not object mode).
   * @param options - see {@link RpcPeerOptions}; spread {@link KONG_PEER_OPTIONS} for Kong.
   * @throws {@link RpcUsageError} when the stream is in object mode or an option is invalid.
   */
  constructor(transport: RpcTransport, options: RpcPeerOptions = {}) {
    super();
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
      throw new RpcUsageError('RpcPeer needs a Duplex stream or { readable, writable }');
    }
    if (this.readable.readableObjectMode || this.writable.writableObjectMode) {
      throw new RpcUsageError('RpcPeer needs a byte stream; this stream is in object mode');
    }

    this.codec = options.codec ?? new MessageCodec(options);
    this.framer = new FrameDecoder({ ...this.codec.limits, binary: options.binary ?? 'copy' });
    const nonArrayParams = options.nonArrayParams ?? 'reject';
    if (nonArrayParams !== 'reject' && nonArrayParams !== 'wrap') {
      throw new RpcUsageError(`nonArrayParams must be 'reject' or 'wrap', got ${String(nonArrayParams)}`);
    }
    this.parseOptions = { nonArrayParams };
    const maxInFlight = options.maxOutgoingInFlight ?? Number.POSITIVE_INFINITY;
    if (maxInFlight !== Number.POSITIVE_INFINITY) positiveInteger('maxOutgoingInFlight', maxInFlight, 1);
    const maxQueuedBytes = positiveInteger(
      'maxQueuedBytes',
      options.maxQueuedBytes,
      DEFAULT_MAX_QUEUED_BYTES,
    );
    const closeTimeout = optionalPositive('closeTimeout', options.closeTimeout) ?? 5000;
    const policy = options.protocolErrorPolicy ?? 'continue';
    if (policy !== 'continue' && policy !== 'close' && typeof policy !== 'function') {
      throw new RpcUsageError(
        `protocolErrorPolicy must be 'continue', 'close' or a function, got ${String(policy)}`,
      );
    }
    this.policy = policy;
    const errorCodec = resolveErrorCodec(options.errors);
    let resolveClosed!: (error: ConnectionClosedError) => void;
    this.closed = new Promise((resolve) => {
      resolveClosed = resolve;
    });
    this.hooks = new PeerHooks(options.trace, options.traceFrames ?? false, {
      // 'error' only while someone listens: a missing listener must never crash the process.
      error: (error) => {
        if (this.listenerCount('error') > 0) this.emit('error', error);
      },
      close: (error) => {
        resolveClosed(error);
        this.emit('close', error);
      },
    });
    this.writer = new OutgoingWriter(this.writable, {
      maxInFlight,
      maxQueuedBytes,
      onBackpressure: (state, queuedBytes) => {
        if (state === 'drained') this.incoming.drained();
        if (this.hooks.tracing)
          this.hooks.emit({ type: 'backpressure', time: performance.now(), state, queuedBytes });
      },
    });
    this.lifecycle = new ConnectionLifecycle({
      readable: this.readable,
      writable: this.writable,
      isDuplex: this.isDuplex,
      writer: this.writer,
      hooks: this.hooks,
      closeTimeout,
      stopReading: () => {
        this.reading = false;
        this.readable.off('data', this.onData);
      },
      dropWork: (error) => {
        this.calls.rejectAll(error);
        this.incoming.dropWaiting();
      },
      runningHandlers: () => this.incoming.running,
    });
    this.calls = new OutgoingCalls({
      codec: this.codec,
      writer: this.writer,
      allocator: new MsgidAllocator(options.msgidBase ?? 1, options.initialMsgid ?? options.msgidBase ?? 1),
      errorCodec,
      hooks: this.hooks,
      defaultTimeout: optionalPositive('requestTimeout', options.requestTimeout),
      lateResponseMemory: positiveInteger('lateResponseMemory', options.lateResponseMemory, 1024),
      closeOnAbandon: options.closeOnAbandon ?? maxInFlight === 1,
      closeAfterAbandon: (cause) => this.lifecycle.shutdown('local', cause, 'flush'),
    });
    this.incoming = new IncomingDispatcher({
      codec: this.codec,
      writer: this.writer,
      errorCodec,
      hooks: this.hooks,
      maxConcurrentHandlers: positiveInteger('maxConcurrentHandlers', options.maxConcurrentHandlers, 128),
      maxQueuedRequests: positiveInteger('maxQueuedRequests', options.maxQueuedRequests, 1024),
      maxQueuedBytes,
      signal: this.lifecycle.signal,
      accepting: () => this.lifecycle.isOpen,
      answering: () => this.lifecycle.answering,
      pause: (why) => this.pauseInput(why),
      resume: (why) => this.resumeInput(why),
      handlerFinished: () => this.lifecycle.handlerFinished(),
    });

    for (const [method, handler] of Object.entries(options.handlers ?? {}))
      this.incoming.handlers.set(method, handler);
    for (const [method, handler] of Object.entries(options.notificationHandlers ?? {})) {
      this.incoming.notificationHandlers.set(method, handler);
    }

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
  get isClosed(): boolean {
    return !this.lifecycle.isOpen;
  }

  /** Outgoing requests not settled yet (queued or written). */
  get pendingCount(): number {
    return this.calls.pending.size;
  }

  /**
   * Calls a method on the other side.
   *
   * @param method - the method name.
   * @param params - the parameters (an array).
   * @param options - `timeout` and `signal`.
   * @returns the result. Rejects with `RemoteError` (the peer answered an error; `data` is its raw value),
   *   `RpcTimeoutError`, `RequestAbortedError`, `EncodeError` (nothing written), `QueueFullError`, or
   *   `ConnectionClosedError`. Never throws synchronously.
   */
  request<M extends keyof Remote['requests'] & string>(
    method: M,
    params: Params<Remote['requests'][M]>,
    options: RequestOptions = {},
  ): Promise<Result<Remote['requests'][M]>> {
    if (!this.lifecycle.isOpen) return Promise.reject(this.lifecycle.errorForNewWork());
    return this.calls.call(method, params as unknown[], options) as Promise<Result<Remote['requests'][M]>>;
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
    if (!this.lifecycle.isOpen) throw this.lifecycle.errorForNewWork();
    const message = [2, method, params];
    const bytes = this.codec.encode(message);
    const hooks = this.hooks;
    this.writer.enqueue({
      bytes,
      kind: 'notification',
      state: 0,
      onWritten: hooks.tracing
        ? () => hooks.send('notification', undefined, method, bytes, message)
        : undefined,
    });
  }

  /**
   * Serves a request method. Replaces an earlier handler for the same method.
   *
   * @returns a function that removes the handler.
   */
  handle<M extends keyof Local['requests'] & string>(
    method: M,
    handler: RequestHandler<Params<Local['requests'][M]>, Result<Local['requests'][M]>>,
  ): () => void {
    const handlers = this.incoming.handlers;
    const registered = handler as unknown as RequestHandler;
    handlers.set(method, registered);
    return () => {
      if (handlers.get(method) === registered) handlers.delete(method);
    };
  }

  /**
   * Takes a notification method. Replaces an earlier handler for the same method.
   *
   * @returns a function that removes the handler.
   */
  handleNotification<M extends keyof Local['notifications'] & string>(
    method: M,
    handler: NotificationHandler<Params<Local['notifications'][M]>>,
  ): () => void {
    const handlers = this.incoming.notificationHandlers;
    const registered = handler as unknown as NotificationHandler;
    handlers.set(method, registered);
    return () => {
      if (handlers.get(method) === registered) handlers.delete(method);
    };
  }

  /**
   * Serves every request method that has no handler of its own (instead of answering `method not found`).
   *
   * @returns a function that removes it.
   */
  handleUnknown(handler: FallbackRequestHandler): () => void {
    this.incoming.fallbackHandler = handler;
    return () => {
      if (this.incoming.fallbackHandler === handler) this.incoming.fallbackHandler = undefined;
    };
  }

  /**
   * Takes every notification that has no handler of its own (instead of tracing `unhandled-notification`).
   *
   * @returns a function that removes it.
   */
  handleUnknownNotification(handler: FallbackNotificationHandler): () => void {
    this.incoming.fallbackNotificationHandler = handler;
    return () => {
      if (this.incoming.fallbackNotificationHandler === handler)
        this.incoming.fallbackNotificationHandler = undefined;
    };
  }

  /**
   * Closes gracefully: new calls reject at once, nothing more is read, pending calls reject with
   * `ConnectionClosedError` (initiator `local`), running handlers may finish and their responses are flushed for
   * up to `closeTimeout`; then the stream is ended (destroyed if it does not finish in time).
   *
   * @returns resolves when the stream is closed. Never rejects.
   */
  close(): Promise<void> {
    this.lifecycle.shutdown('local', undefined, 'graceful');
    return this.lifecycle.whenClosed();
  }

  /**
   * Destroys the stream at once, without flushing. Pending calls reject with `ConnectionClosedError` (initiator
   * `local`, `cause` = `cause`).
   */
  destroy(cause?: unknown): void {
    this.lifecycle.shutdown('local', cause, 'destroy');
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
    this.writer.hold();
    try {
      while (this.reading && this.paused.size === 0) {
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
      this.writer.releaseHold();
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
    if (this.hooks.tracing) {
      this.hooks.receive(
        message,
        frame,
        value,
        message.kind === 'response' ? this.calls.written(message.msgid) : undefined,
      );
    }
    if (message.kind === 'response') {
      // Never answer a response, not even an unknown one.
      if (this.calls.respond(message.msgid, message.error, message.result) === 'unknown') {
        this.frameError(
          new ProtocolError('unknown-msgid', `response for msgid ${message.msgid}, which is not pending`, {
            fatal: false,
            msgid: message.msgid,
            messageType: 1,
            offset: frame.offset,
          }),
        );
      }
    } else if (message.kind === 'request') {
      if (!this.lifecycle.isOpen) return;
      if (!this.incoming.request(message)) {
        this.frameError(
          new ProtocolError(
            'duplicate-request-id',
            `request msgid ${message.msgid} is already being handled`,
            {
              fatal: false,
              msgid: message.msgid,
              messageType: 0,
              offset: frame.offset,
            },
          ),
          false,
        );
      }
    } else {
      this.incoming.notification(message.method, message.params, message.paramsWrapped);
    }
  }

  /** A frame-level problem: answer a broken request, fail the call a broken response belongs to, apply policy. */
  private frameError(error: ProtocolError, answer = true): void {
    const msgid = error.msgid;
    if (answer && error.messageType === 0 && isMsgid(msgid)) this.answerInvalidRequest(error, msgid);
    if (error.messageType === 1 && isMsgid(msgid) && error.reason !== 'unknown-msgid')
      this.calls.fail(msgid, error);
    this.hooks.reportError(error);
    if (!this.lifecycle.isOpen) return;
    let decision: 'continue' | 'close' = 'continue';
    const policy = this.policy;
    if (policy === 'close') decision = 'close';
    else if (typeof policy === 'function')
      this.hooks.run('protocolErrorPolicy', () => (decision = policy(error)));
    if (decision === 'close') this.lifecycle.shutdown('remote', error, 'flush');
  }

  /** Answers a request that cannot be processed; the error text names the reason (spec §2.3). */
  private answerInvalidRequest(error: ProtocolError, msgid: number): void {
    if (this.incoming.isActive(msgid) || this.writable.destroyed || this.writable.writableEnded) return;
    const reply = new ProtocolError(error.reason, `invalid request: ${error.reason}: ${error.message}`, {
      fatal: error.fatal,
      msgid,
    });
    this.incoming.respond(msgid, '', reply, true);
  }

  /** A stream-level problem: nothing more from the peer is trusted, and there is no way to resynchronise. */
  private fatal(error: ProtocolError): void {
    this.reading = false;
    if (error.messageType === 0 && isMsgid(error.msgid)) this.answerInvalidRequest(error, error.msgid);
    this.hooks.reportError(error);
    this.lifecycle.shutdown('remote', error, 'flush');
  }

  private readonly onEnd = (): void => {
    if (this.lifecycle.isClosed) return;
    if (this.reading) {
      try {
        this.framer.end();
      } catch (error) {
        this.fatal(error as ProtocolError);
        return;
      }
    }
    this.lifecycle.shutdown('remote', undefined, 'flush');
  };

  private readonly onStreamError = (error: Error): void => {
    this.lifecycle.shutdown('remote', error, 'destroy');
  };

  private readonly onStreamClose = (): void => {
    if (this.lifecycle.isOpen) this.lifecycle.shutdown('remote', undefined, 'destroy');
    else this.lifecycle.streamClosed();
  };

  private readonly onDrain = (): void => {
    this.writer.drain();
  };

  private pauseInput(why: 'requests' | 'writes'): void {
    this.paused.add(why);
    this.readable.pause();
    const hooks = this.hooks;
    if (hooks.tracing) {
      hooks.emit({
        type: 'backpressure',
        time: performance.now(),
        state: 'paused',
        queuedBytes: this.writer.queuedBytes,
      });
    }
  }

  private resumeInput(why: 'requests' | 'writes'): void {
    this.paused.delete(why);
    if (this.paused.size > 0 || !this.reading) return;
    const hooks = this.hooks;
    if (hooks.tracing) {
      hooks.emit({
        type: 'backpressure',
        time: performance.now(),
        state: 'resumed',
        queuedBytes: this.writer.queuedBytes,
      });
    }
    // Frames buffered while paused come first, then the stream flows again.
    setImmediate(() => {
      this.processFrames();
      if (this.paused.size === 0 && this.reading) this.readable.resume();
    });
  }
}
