import type { ConnectionClosedError, ProtocolError } from './errors.js';

/** The kind of a msgpack-RPC message. */
export type MessageKind = 'request' | 'response' | 'notification';

/** A message was written to the stream. */
export interface SendTraceEvent {
  /** Discriminant. */
  readonly type: 'send';
  /** `performance.now()` when it happened. */
  readonly time: number;
  /** What was sent. */
  readonly kind: MessageKind;
  /** The msgid (requests and responses). */
  readonly msgid?: number;
  /** The method (requests and notifications). */
  readonly method?: string;
  /** Encoded size in bytes. */
  readonly bytes: number;
  /** The value as encoded (the whole envelope array). */
  readonly message: unknown;
  /** A copy of the encoded bytes, with `traceFrames: true` only. */
  readonly frame?: Uint8Array;
}

/** A valid message was received. */
export interface ReceiveTraceEvent {
  /** Discriminant. */
  readonly type: 'receive';
  /** `performance.now()` when it happened. */
  readonly time: number;
  /** What was received. */
  readonly kind: MessageKind;
  /** The msgid (requests and responses). */
  readonly msgid?: number;
  /** The method (requests, notifications, and responses to our requests). */
  readonly method?: string;
  /** Frame size in bytes. */
  readonly bytes: number;
  /** The decoded envelope array. */
  readonly message: unknown;
  /** Responses to our requests: milliseconds from writing the request to this response. */
  readonly durationMs?: number;
  /** A copy of the frame bytes, with `traceFrames: true` only. */
  readonly frame?: Uint8Array;
}

/** A response arrived for a request that had already timed out or been aborted; it was dropped. */
export interface LateResponseTraceEvent {
  /** Discriminant. */
  readonly type: 'late-response';
  /** `performance.now()` when it happened. */
  readonly time: number;
  /** The request's msgid. */
  readonly msgid: number;
  /** The request's method. */
  readonly method: string;
  /** Milliseconds since the request was abandoned. */
  readonly sinceAbandonMs: number;
}

/** A handler finished after the connection closed; its response was not sent. */
export interface ResponseDroppedTraceEvent {
  /** Discriminant. */
  readonly type: 'response-dropped';
  /** `performance.now()` when it happened. */
  readonly time: number;
  /** The incoming request's msgid. */
  readonly msgid: number;
  /** The incoming request's method. */
  readonly method: string;
  /** Why: the connection was closed. */
  readonly reason: 'closed';
}

/** A notification arrived for which no handler is registered; it was dropped. */
export interface UnhandledNotificationTraceEvent {
  /** Discriminant. */
  readonly type: 'unhandled-notification';
  /** `performance.now()` when it happened. */
  readonly time: number;
  /** The notification's method. */
  readonly method: string;
}

/** Malformed input was detected (also delivered to `onError`). */
export interface ProtocolErrorTraceEvent {
  /** Discriminant. */
  readonly type: 'protocol-error';
  /** `performance.now()` when it happened. */
  readonly time: number;
  /** The error. */
  readonly error: ProtocolError;
}

/** The write queue or the read side changed state. */
export interface BackpressureTraceEvent {
  /** Discriminant. */
  readonly type: 'backpressure';
  /** `performance.now()` when it happened. */
  readonly time: number;
  /**
   * `queued`: `write()` returned false, messages now wait; `drained`: `'drain'` came and the queue was written;
   * `paused`/`resumed`: reading stopped/restarted because incoming requests or queued responses hit their bound.
   */
  readonly state: 'queued' | 'drained' | 'paused' | 'resumed';
  /** Bytes waiting in the outgoing queue. */
  readonly queuedBytes: number;
}

/** The connection closed. */
export interface CloseTraceEvent {
  /** Discriminant. */
  readonly type: 'close';
  /** `performance.now()` when it happened. */
  readonly time: number;
  /** The error pending calls were rejected with (its `cause` says why). */
  readonly error: ConnectionClosedError;
}

/** Everything the trace hook can observe. When no hook is set, no event objects are built. */
export type TraceEvent =
  | SendTraceEvent
  | ReceiveTraceEvent
  | LateResponseTraceEvent
  | ResponseDroppedTraceEvent
  | UnhandledNotificationTraceEvent
  | ProtocolErrorTraceEvent
  | BackpressureTraceEvent
  | CloseTraceEvent;

/** The trace hook's signature. Exceptions it throws are caught and sent to `onError`. */
export type TraceHook = (event: TraceEvent) => void;
