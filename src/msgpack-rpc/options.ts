import type { CodecOptions, MessageCodec } from './codec.js';
import type { ErrorCodec } from './error-values.js';
import type { ProtocolError } from './errors.js';
import { RpcUsageError } from './errors.js';
import type { NotificationHandler, RequestHandler } from './schema.js';
import type { TraceHook } from './trace.js';

/** What to do after a frame-level {@link ProtocolError} (fatal ones always close). */
export type ProtocolErrorPolicy = 'continue' | 'close' | ((error: ProtocolError) => 'continue' | 'close');

/**
 * Options of an `RpcPeer`. Every time is in milliseconds; every limit must be a positive integer (an `RpcUsageError`
 * at construction otherwise). The codec options (encoding, int64, limits, …) are those of `MessageCodec`.
 */
export interface RpcPeerOptions extends CodecOptions {
  /**
   * `'copy'` (default): decoded bin/ext values never alias transport chunks (a frame that holds one is copied
   * once). `'view'`: no copy; values alias the chunk (unsafe to retain if the transport reuses buffers).
   */
  binary?: 'copy' | 'view';
  /** First msgid and the value the counter wraps to: 1 (default, as Kong) or 0. */
  msgidBase?: 0 | 1;
  /** Where the msgid counter starts (default `msgidBase`); for tests. */
  initialMsgid?: number;
  /** Default per-request timeout, counted from the call (queueing included). Default: none. */
  requestTimeout?: number;
  /** How many abandoned (timed-out or aborted) msgids to remember, so their late responses are dropped quietly. Default 1,024. */
  lateResponseMemory?: number;
  /** At most this many requests written and unanswered; `1` is one-in-flight mode. Default unlimited. */
  maxOutgoingInFlight?: number;
  /**
   * Close the connection when a written request times out or is aborted (its answer may still come, or not).
   * Default `true` in one-in-flight mode, else `false`.
   */
  closeOnAbandon?: boolean;
  /** Incoming request handlers running at once. Default 128. */
  maxConcurrentHandlers?: number;
  /** Incoming requests waiting for a handler slot before reading pauses. Default 1,024. */
  maxQueuedRequests?: number;
  /** After a frame-level protocol error: `'continue'` (default), `'close'`, or a function deciding. */
  protocolErrorPolicy?: ProtocolErrorPolicy;
  /** How thrown values become error slots and back: `'string'` (default), `'raw'`, or a custom codec. */
  errors?: 'string' | 'raw' | ErrorCodec;
  /** `'reject'` (default) or `'wrap'` non-array params as `[value]` (Go plugin servers' `serverPid`). */
  nonArrayParams?: 'reject' | 'wrap';
  /** Bound on bytes waiting to be written (for a slot, the turn's flush, or `'drain'`). Default 32 MiB. */
  maxQueuedBytes?: number;
  /** Observe every message and state change; no event objects are built without it. */
  trace?: TraceHook;
  /** Attach a copy of the raw bytes to `send`/`receive` trace events. Default `false`. */
  traceFrames?: boolean;
  /** How long a graceful `close()` (or a close after a fatal error) waits before destroying the stream. Default 5,000. */
  closeTimeout?: number;
  /** Request handlers to register at construction (as `handle(method, fn)` for each entry). */
  handlers?: Readonly<Record<string, RequestHandler>>;
  /** Notification handlers to register at construction (as `handleNotification(method, fn)` for each entry). */
  notificationHandlers?: Readonly<Record<string, NotificationHandler>>;
  /**
   * A codec to use instead of one built from the codec options (share one between many peers with the same
   * options). When set, the codec options here are ignored.
   */
  codec?: MessageCodec;
}

/**
 * Options for talking to or as Kong's plugin-server protocol, to spread into `RpcPeer` options: Kong encoding, string
 * errors, wrapped non-array params, msgids from 1, no ext, one request in flight with a single `write()` per message,
 * nginx's 60 s timeout, close on any protocol error (Kong asserts), and the Kong layers' 128 MiB message cap.
 *
 * @example
 * ```ts
 * const peer = new RpcPeer(socket, { ...KONG_PEER_OPTIONS, trace: (event) => log(event) });
 * ```
 */
export const KONG_PEER_OPTIONS: Readonly<RpcPeerOptions> = Object.freeze({
  encoding: 'kong',
  errors: 'string',
  nonArrayParams: 'wrap',
  msgidBase: 1,
  ext: 'reject',
  maxOutgoingInFlight: 1,
  requestTimeout: 60_000,
  protocolErrorPolicy: 'close',
  maxFrameBytes: 128 * 1024 * 1024,
});

/** Default `maxQueuedBytes`: 32 MiB. */
export const DEFAULT_MAX_QUEUED_BYTES = 32 * 1024 * 1024;

/** @internal */
export function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RpcUsageError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** @internal */
export function optionalPositive(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new RpcUsageError(`${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}
