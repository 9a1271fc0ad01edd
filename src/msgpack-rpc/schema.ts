import type { Duplex, Readable, Writable } from 'node:stream';

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
  /** Reject with `RpcTimeoutError` after this many milliseconds (from the call). Default: the peer's `requestTimeout`. */
  timeout?: number;
  /** Cancel the call: it rejects with `RequestAbortedError` (and is never written if it was still queued). */
  signal?: AbortSignal;
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

/**
 * Handler contexts share one lazily created signal per peer, so a call costs no AbortController.
 *
 * @internal
 */
export class Context implements RequestContext, NotificationContext {
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
