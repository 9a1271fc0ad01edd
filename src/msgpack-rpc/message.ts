import { ProtocolError, type ProtocolErrorReason } from './errors.js';

/** An incoming or outgoing request: `[0, msgid, method, params]`. */
export interface RequestMessage {
  /** Discriminant. */
  readonly kind: 'request';
  /** Unsigned 32-bit id, echoed by the response. */
  readonly msgid: number;
  /** The method name. */
  readonly method: string;
  /** The parameters (always an array; see {@link ParseMessageOptions.nonArrayParams}). */
  readonly params: unknown[];
  /** Whether a non-array params value was wrapped as `[value]`. */
  readonly paramsWrapped: boolean;
}

/** A response: `[1, msgid, error, result]`. */
export interface ResponseMessage {
  /** Discriminant. */
  readonly kind: 'response';
  /** The id of the request answered. */
  readonly msgid: number;
  /** `null` on success; otherwise the error value (any value, `false` included). */
  readonly error: unknown;
  /** The result (meaningful when `error` is `null`). */
  readonly result: unknown;
}

/** A notification: `[2, method, params]`; never answered. */
export interface NotificationMessage {
  /** Discriminant. */
  readonly kind: 'notification';
  /** The method name. */
  readonly method: string;
  /** The parameters (always an array; see {@link ParseMessageOptions.nonArrayParams}). */
  readonly params: unknown[];
  /** Whether a non-array params value was wrapped as `[value]`. */
  readonly paramsWrapped: boolean;
}

/** A validated msgpack-RPC message. */
export type Message = RequestMessage | ResponseMessage | NotificationMessage;

/** Options of {@link parseMessage}. */
export interface ParseMessageOptions {
  /**
   * `'reject'` (default): non-array params are `bad-params`. `'wrap'`: a non-array value `v` is delivered as
   * `[v]` with `paramsWrapped: true`; go-pluginserver and go-pdk send `[2, "serverPid", <pid>]` with a bare
   * integer (`Kong/go-pluginserver: main.go`).
   */
  nonArrayParams?: 'reject' | 'wrap';
}

const MAX_MSGID = 0xffffffff;

/**
 * Normalises a msgid: any integer encoding is accepted (Go sends signed forms such as `d1 04 d2`), a `bigint`
 * in range becomes a number; returns `undefined` when it is not an integer in 0…2^32−1.
 */
function toMsgid(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 0 && value <= MAX_MSGID ? value : undefined;
  }
  if (typeof value === 'bigint') {
    return value >= 0n && value <= 0xffffffffn ? Number(value) : undefined;
  }
  return undefined;
}

function invalid(
  reason: ProtocolErrorReason,
  message: string,
  messageType: number | undefined,
  msgid: number | undefined,
): ProtocolError {
  return new ProtocolError(reason, message, {
    fatal: false,
    ...(messageType !== undefined ? { messageType } : {}),
    ...(msgid !== undefined ? { msgid } : {}),
  });
}

/**
 * Validates a decoded value as a msgpack-RPC envelope (the shape only: params and results are the
 * application's business). Checks, in order: an array (`not-an-array`); element 0 is 0, 1 or 2 (`bad-type`);
 * length 4 for requests and responses, 3 for notifications (`bad-length`); msgid an integer in 0…2^32−1
 * (`bad-msgid`); method a string (`bad-method`); params an array (`bad-params`).
 *
 * The thrown error carries `messageType`, and `msgid` when element 1 is a valid msgid, so a caller can answer a
 * broken request or fail the call a broken response belongs to.
 *
 * @throws ProtocolError (not fatal) with one of the reasons above.
 * @example
 * ```ts
 * parseMessage([0, 1, 'ping', []]); // { kind: 'request', msgid: 1, method: 'ping', params: [], paramsWrapped: false }
 * ```
 */
export function parseMessage(value: unknown, options: ParseMessageOptions = {}): Message {
  if (!Array.isArray(value))
    throw invalid('not-an-array', 'a msgpack-RPC message must be an array', undefined, undefined);
  const type = value[0];
  if (type !== 0 && type !== 1 && type !== 2) {
    throw invalid('bad-type', `unknown message type ${previewValue(type)}`, undefined, undefined);
  }
  const msgid = type === 2 ? undefined : toMsgid(value[1]);
  const expectedLength = type === 2 ? 3 : 4;
  if (value.length !== expectedLength) {
    throw invalid(
      'bad-length',
      `a ${TYPE_NAMES[type]} must have ${expectedLength} elements, got ${value.length}`,
      type,
      msgid,
    );
  }
  if (type !== 2 && msgid === undefined) {
    throw invalid('bad-msgid', `msgid must be an integer in 0…${MAX_MSGID}`, type, undefined);
  }
  if (type === 1) return { kind: 'response', msgid: msgid!, error: value[2], result: value[3] };
  const method = value[type === 0 ? 2 : 1];
  if (typeof method !== 'string') throw invalid('bad-method', 'method must be a string', type, msgid);
  let params = value[type === 0 ? 3 : 2];
  let paramsWrapped = false;
  if (!Array.isArray(params)) {
    if (options.nonArrayParams !== 'wrap')
      throw invalid('bad-params', 'params must be an array', type, msgid);
    params = [params];
    paramsWrapped = true;
  }
  if (type === 0) return { kind: 'request', msgid: msgid!, method, params, paramsWrapped };
  return { kind: 'notification', method, params, paramsWrapped };
}

const TYPE_NAMES = ['request', 'response', 'notification'] as const;

function previewValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40));
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (value === undefined) return '(missing)';
  return value === null ? 'nil' : typeof value;
}
