import { PluginwireError, type PluginwireErrorOptions } from '../errors.js';

/**
 * Base class of every error the `pluginwire/msgpack-rpc` module throws or rejects with. Its subclasses carry
 * `code`s that start with `MSGPACK_RPC_`, one class per code.
 *
 * Catch this class to handle any msgpack-RPC failure; check `code` (or a subclass) for a specific one.
 */
export class RpcError extends PluginwireError {}

/**
 * Why a message or a byte stream was refused. Fatal reasons (the stream cannot be trusted any more, because
 * msgpack has no frame marker to resynchronise on) are `invalid-byte`, `limit-exceeded`, `depth-exceeded`,
 * `frame-too-large`, `truncated` and `invalid-chunk`; the others concern one complete frame.
 */
export type ProtocolErrorReason =
  | 'invalid-byte'
  | 'limit-exceeded'
  | 'depth-exceeded'
  | 'frame-too-large'
  | 'truncated'
  | 'invalid-chunk'
  | 'decode-failed'
  | 'not-an-array'
  | 'bad-type'
  | 'bad-length'
  | 'bad-msgid'
  | 'bad-method'
  | 'bad-params'
  | 'unsafe-integer'
  | 'unexpected-ext'
  | 'unknown-msgid'
  | 'duplicate-request-id';

/** Fields of a {@link ProtocolError} besides its reason. */
export interface ProtocolErrorDetails extends PluginwireErrorOptions {
  /** Whether the stream is unusable after this error (see {@link ProtocolErrorReason}). */
  fatal?: boolean;
  /** The msgid of the broken message, when it is known (from the envelope or the scanner's peek). */
  msgid?: number;
  /** The message type (0 request, 1 response, 2 notification) of the broken message, when known. */
  messageType?: number;
  /** Byte offset in the stream (from its first byte) where the problem was found. */
  offset?: number;
  /** Hex of at most the first 32 bytes of the broken frame. */
  preview?: string;
}

const FATAL_REASONS: ReadonlySet<ProtocolErrorReason> = new Set([
  'invalid-byte',
  'limit-exceeded',
  'depth-exceeded',
  'frame-too-large',
  'truncated',
  'invalid-chunk',
]);

/** Reasons that mean a size or structure cap of the framer was hit ({@link FrameTooLargeError}). */
const CAP_REASONS: ReadonlySet<ProtocolErrorReason> = new Set([
  'limit-exceeded',
  'depth-exceeded',
  'frame-too-large',
]);

/**
 * Malformed input from the peer: raised by the framer (`FrameDecoder`), the validator (`parseMessage`) and the
 * peer. A peer never throws it to the event loop: it goes to `onError` listeners and the trace hook, and to the
 * pending call it belongs to when the msgid is known. When {@link ProtocolError.fatal} is true the connection is
 * closed; otherwise the message is dropped and the connection goes on (unless `protocolErrorPolicy` says close).
 */
export class ProtocolError extends RpcError {
  declare readonly code: 'MSGPACK_RPC_PROTOCOL' | 'MSGPACK_RPC_FRAME_TOO_LARGE';
  /** What was wrong; stable, branch on it. */
  readonly reason: ProtocolErrorReason;
  /** Whether the stream cannot be read further. */
  readonly fatal: boolean;
  /** The msgid of the broken message, when known. */
  readonly msgid: number | undefined;
  /** The message type (0 request, 1 response, 2 notification) when known. */
  readonly messageType: number | undefined;
  /** Stream byte offset where the problem was found, when known. */
  readonly offset: number | undefined;
  /** Hex of at most the first 32 bytes of the frame (empty when no frame bytes apply). */
  readonly preview: string;

  /**
   * @param reason - why the input was refused.
   * @param message - a description; defaults to one derived from `reason`.
   * @param details - msgid, offset, preview, cause.
   */
  constructor(reason: ProtocolErrorReason, message?: string, details: ProtocolErrorDetails = {}) {
    // One class per code: only FrameTooLargeError carries MSGPACK_RPC_FRAME_TOO_LARGE.
    super(
      new.target !== ProtocolError && CAP_REASONS.has(reason)
        ? 'MSGPACK_RPC_FRAME_TOO_LARGE'
        : 'MSGPACK_RPC_PROTOCOL',
      message ?? `msgpack-RPC protocol error: ${reason}`,
      details,
    );
    this.reason = reason;
    this.fatal = details.fatal ?? FATAL_REASONS.has(reason);
    this.msgid = details.msgid;
    this.messageType = details.messageType;
    this.offset = details.offset;
    this.preview = details.preview ?? '';
  }
}

/**
 * A cap of the framer was hit: a frame longer than `maxFrameBytes` (reason `frame-too-large`), a str/bin/ext
 * length or array/map count over its limit (`limit-exceeded`), or nesting deeper than `maxDepth`
 * (`depth-exceeded`). Always fatal, code `MSGPACK_RPC_FRAME_TOO_LARGE`. Raised as soon as the header that
 * declares the size is complete, before any payload is buffered or decoded.
 */
export class FrameTooLargeError extends ProtocolError {
  declare readonly code: 'MSGPACK_RPC_FRAME_TOO_LARGE';
  /** The limit that was exceeded (bytes, items or levels, per reason). */
  readonly limit: number;

  /**
   * @param reason - which cap was hit.
   * @param limit - the limit in force.
   * @param message - a description.
   * @param details - msgid, offset, preview.
   */
  constructor(
    reason: 'frame-too-large' | 'limit-exceeded' | 'depth-exceeded',
    limit: number,
    message?: string,
    details: ProtocolErrorDetails = {},
  ) {
    super(reason, message ?? `${reason}: limit ${limit}`, { ...details, fatal: true });
    this.limit = limit;
  }
}

/** Why a value could not be encoded. */
export type EncodeErrorReason =
  | 'unsupported-type'
  | 'bigint-disabled'
  | 'too-deep'
  | 'frame-too-large'
  | 'ext-in-kong-mode';

/**
 * A value cannot be sent: a type msgpack would silently mangle (`Map`, `Set`, `ArrayBuffer`, …), a function or
 * symbol, a `bigint` without `encodeBigInt`, nesting over 100, a message over `maxOutgoingFrameBytes`, or an
 * extension value in Kong encoding. Nothing is written when it is raised, and the connection stays usable.
 */
export class EncodeError extends RpcError {
  declare readonly code: 'MSGPACK_RPC_ENCODE';
  /** What could not be encoded; stable, branch on it. */
  readonly reason: EncodeErrorReason;

  /**
   * @param reason - why encoding failed.
   * @param message - a description.
   * @param options - `cause`, when an encoder error caused this one.
   */
  constructor(reason: EncodeErrorReason, message?: string, options?: PluginwireErrorOptions) {
    super('MSGPACK_RPC_ENCODE', message ?? `cannot encode value: ${reason}`, options);
    this.reason = reason;
  }
}

/**
 * The peer answered a request with an error. {@link RemoteError.data} holds the raw error value from the wire;
 * `message` is derived from it (a string as is, the string of a Neovim `[type, message]` pair, a map's
 * `message`, else a short preview).
 */
export class RemoteError extends RpcError {
  declare readonly code: 'MSGPACK_RPC_REMOTE';
  /** The raw error value the peer sent. */
  readonly data: unknown;
  /** The method of the failed request. */
  readonly method: string;
  /** The msgid of the failed request. */
  readonly msgid: number;

  /**
   * @param message - the derived text.
   * @param data - the raw wire value.
   * @param method - the request's method.
   * @param msgid - the request's msgid.
   */
  constructor(message: string, data: unknown, method: string, msgid: number) {
    super('MSGPACK_RPC_REMOTE', message);
    this.data = data;
    this.method = method;
    this.msgid = msgid;
  }
}

/**
 * A request got no response within its `timeout` (counted from the call, queueing included). A response that
 * arrives later is dropped with a `late-response` trace event.
 */
export class RpcTimeoutError extends RpcError {
  declare readonly code: 'MSGPACK_RPC_TIMEOUT';
  /** The method of the request. */
  readonly method: string;
  /** The msgid of the request, when one was allocated. */
  readonly msgid: number | undefined;
  /** The timeout that ran out, in milliseconds. */
  readonly timeout: number;

  /**
   * @param method - the request's method.
   * @param msgid - its msgid.
   * @param timeout - the timeout in milliseconds.
   */
  constructor(method: string, msgid: number | undefined, timeout: number) {
    super('MSGPACK_RPC_TIMEOUT', `request ${method} (msgid ${msgid}) timed out after ${timeout} ms`);
    this.method = method;
    this.msgid = msgid;
    this.timeout = timeout;
  }
}

/**
 * A request was cancelled through its `AbortSignal`. Like every pluginwire abort error, its `name` is
 * `'AbortError'` and its `cause` is `signal.reason`. {@link RequestAbortedError.sent}
 * says whether the request had already been written (the peer may then still act on it).
 */
export class RequestAbortedError extends RpcError {
  declare readonly code: 'MSGPACK_RPC_ABORTED';
  /** The method of the request. */
  readonly method: string;
  /** The msgid of the request, when one was allocated. */
  readonly msgid: number | undefined;
  /** Whether the request had been written to the stream before it was aborted. */
  readonly sent: boolean;

  /**
   * @param method - the request's method.
   * @param msgid - its msgid.
   * @param sent - whether it had been written.
   * @param reason - `signal.reason`, exposed as `cause`.
   */
  constructor(method: string, msgid: number | undefined, sent: boolean, reason: unknown) {
    super('MSGPACK_RPC_ABORTED', `request ${method} was aborted`, { cause: reason });
    this.method = method;
    this.msgid = msgid;
    this.sent = sent;
    Object.defineProperty(this, 'name', {
      value: 'AbortError',
      enumerable: false,
      writable: true,
      configurable: true,
    });
  }
}

/** Who started closing a connection. */
export type CloseInitiator = 'local' | 'remote';

/**
 * The connection closed (or was closed) before a request settled, or a call was made on a closed peer.
 * `cause` is the stream error, the `ProtocolError`, the `RpcTimeoutError` that made a one-in-flight peer close, or
 * `undefined` for a clean end or a local `close()`. {@link ConnectionClosedError.initiator} is `'local'` when this
 * side decided to close (`close()`, `destroy()`, a protocol-error policy, an abandoned one-in-flight call) and
 * `'remote'` when the stream ended or failed.
 */
export class ConnectionClosedError extends RpcError {
  declare readonly code: 'MSGPACK_RPC_CLOSED';
  /** Who started closing. */
  readonly initiator: CloseInitiator;

  /**
   * @param initiator - who started closing.
   * @param options - `cause`, when there is one.
   * @param message - a description.
   */
  constructor(initiator: CloseInitiator, options?: PluginwireErrorOptions, message?: string) {
    super('MSGPACK_RPC_CLOSED', message ?? `msgpack-RPC connection closed (${initiator})`, options);
    this.initiator = initiator;
  }
}

/**
 * The outgoing queue is full: a request or notification would take the bytes waiting for `'drain'` past
 * `maxQueuedBytes`. Nothing was queued. Responses are never refused this way.
 */
export class QueueFullError extends RpcError {
  declare readonly code: 'MSGPACK_RPC_QUEUE_FULL';
  /** Bytes queued when the message was refused. */
  readonly queuedBytes: number;
  /** The `maxQueuedBytes` limit. */
  readonly limit: number;

  /**
   * @param queuedBytes - bytes already queued.
   * @param limit - the limit.
   */
  constructor(queuedBytes: number, limit: number) {
    super('MSGPACK_RPC_QUEUE_FULL', `outgoing queue full (${queuedBytes} of ${limit} bytes queued)`);
    this.queuedBytes = queuedBytes;
    this.limit = limit;
  }
}

/**
 * No handler is registered for an incoming request's method. Used locally to build the error response
 * (`method not found: <name>` in string mode); the caller on the other side sees a `RemoteError`.
 */
export class MethodNotFoundError extends RpcError {
  declare readonly code: 'MSGPACK_RPC_METHOD_NOT_FOUND';
  /** The method that has no handler. */
  readonly method: string;

  /** @param method - the unknown method. */
  constructor(method: string) {
    super('MSGPACK_RPC_METHOD_NOT_FOUND', `method not found: ${method}`);
    this.method = method;
  }
}

/**
 * A notification handler (which cannot answer) threw or rejected, or a user hook (trace, `onClose`) threw.
 * Delivered to `onError` listeners; `cause` is what was thrown.
 */
export class HandlerError extends RpcError {
  declare readonly code: 'MSGPACK_RPC_HANDLER';
  /** The notification method, or the hook's name. */
  readonly method: string;

  /**
   * @param method - the notification's method.
   * @param cause - what the handler threw.
   */
  constructor(method: string, cause: unknown) {
    super('MSGPACK_RPC_HANDLER', `handler for ${method} failed`, { cause });
    this.method = method;
  }
}

/**
 * An `RpcPeer`, `MessageCodec` or `FrameDecoder` was given an unusable option (a limit that is not a positive
 * integer, an unknown mode, a stream in object mode). Thrown by the constructor, before any I/O.
 */
export class RpcUsageError extends RpcError {
  declare readonly code: 'MSGPACK_RPC_INVALID_OPTIONS';
  /** @param message - which option is wrong and why. */
  constructor(message: string) {
    super('MSGPACK_RPC_INVALID_OPTIONS', message);
  }
}
