import { RemoteError, RpcUsageError } from './errors.js';

/** Where an error value is being converted, for custom {@link ErrorCodec}s. */
export interface ErrorValueContext {
  /** The method of the request. */
  readonly method: string;
  /** The msgid of the request. */
  readonly msgid: number;
}

/**
 * Converts between thrown values and the `error` slot of a response. msgpack-RPC allows any value there; Kong
 * requires a string (it calls `err:lower()` and matches `no plugin instance`,
 * `Kong/kong: kong/runloop/plugin_servers/rpc/mp_rpc.lua`).
 */
export interface ErrorCodec {
  /**
   * The wire value for what a handler threw. It must not be `null`/`undefined`: a nil error slot reads as success.
   */
  toWire(thrown: unknown, context: ErrorValueContext): unknown;
  /** The error a call rejects with for a non-nil error slot. */
  fromWire(value: unknown, context: ErrorValueContext): Error;
}

function compactJson(value: unknown): string | undefined {
  try {
    const text = JSON.stringify(value);
    return typeof text === 'string' ? text : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The message of a {@link RemoteError} for a wire error value: a string as is; the string at index 1 of an array
 * (Neovim's `[type, message]`); a map's string `message`; else a compact preview of at most 200 characters.
 */
export function describeErrorValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[1] === 'string') return value[1];
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { message?: unknown }).message === 'string'
  ) {
    return (value as { message: string }).message;
  }
  const text = compactJson(value) ?? (typeof value === 'bigint' ? `${value}n` : String(value));
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

function defaultFromWire(value: unknown, context: ErrorValueContext): Error {
  return new RemoteError(describeErrorValue(value), value, context.method, context.msgid);
}

/**
 * The default error codec: the error slot is always a string. An `Error` gives its `message` verbatim (no
 * `Error: ` prefix, so Kong's substring match works); a re-thrown {@link RemoteError} its string `data`; another
 * value its string `message`, else compact JSON, else `String(x)`; `undefined`/`null` give `"unknown error"`.
 */
export const stringErrorCodec: ErrorCodec = {
  toWire(thrown) {
    if (typeof thrown === 'string') return thrown;
    if (thrown === undefined || thrown === null) return 'unknown error';
    if (thrown instanceof RemoteError) return typeof thrown.data === 'string' ? thrown.data : thrown.message;
    if (thrown instanceof Error) return thrown.message;
    const message = (thrown as { message?: unknown }).message;
    if (typeof message === 'string') return message;
    return compactJson(thrown) ?? String(thrown);
  },
  fromWire: defaultFromWire,
};

/**
 * The raw error codec: strings and other values go out verbatim (a {@link RemoteError}'s `data` too); an `Error`
 * as its `message` (it would otherwise encode as an empty map, `message` and `stack` being non-enumerable);
 * `undefined`/`null` as `"unknown error"`. A value the encoder cannot take falls back to `String(x)` in the peer.
 */
export const rawErrorCodec: ErrorCodec = {
  toWire(thrown) {
    if (thrown === undefined || thrown === null) return 'unknown error';
    if (thrown instanceof RemoteError) return thrown.data ?? thrown.message;
    if (thrown instanceof Error) return thrown.message;
    return thrown;
  },
  fromWire: defaultFromWire,
};

/** Resolves the `errors` option. */
export function resolveErrorCodec(errors: 'string' | 'raw' | ErrorCodec | undefined): ErrorCodec {
  if (errors === undefined || errors === 'string') return stringErrorCodec;
  if (errors === 'raw') return rawErrorCodec;
  if (typeof errors.toWire !== 'function' || typeof errors.fromWire !== 'function') {
    throw new RpcUsageError("errors must be 'string', 'raw' or an object with toWire and fromWire");
  }
  return errors;
}
