import { PluginwireError, type PluginwireErrorOptions } from '../errors.js';

/**
 * Base class of every error `pluginwire/kong-rpc` throws or rejects with. Codes start with `KONG_RPC_`.
 * Transport-level failures of the MsgPack:1 protocol (timeouts, aborts, closed connections) are
 * `pluginwire/msgpack-rpc`'s `RpcError` subclasses, because they come from its `RpcPeer`.
 */
export class KongRpcError extends PluginwireError {}

/**
 * The plugin server does not know the instance id it was asked about (`no plugin instance #<id>`, matched
 * case-insensitively, as Kong does in `Kong/kong: kong/runloop/plugin_servers/rpc/mp_rpc.lua`). The server was
 * most likely restarted; the instance cache of {@link KongPluginClient} restarts the instance and retries.
 *
 * Code `KONG_RPC_NO_PLUGIN_INSTANCE`. `cause` is the `RemoteError` the server answered with.
 */
export class NoPluginInstanceError extends KongRpcError {
  declare readonly code: 'KONG_RPC_NO_PLUGIN_INSTANCE';
  /** The instance id the server did not know. */
  readonly instanceId: number;

  /**
   * @param instanceId - the unknown instance id.
   * @param message - the server's error text.
   * @param options - `cause`: the `RemoteError`.
   */
  constructor(instanceId: number, message?: string, options?: PluginwireErrorOptions) {
    super('KONG_RPC_NO_PLUGIN_INSTANCE', message ?? `no plugin instance #${instanceId}`, options);
    this.instanceId = instanceId;
  }
}

/**
 * A plugin server answered with something Kong could not use: a result that is not StepData, a `Data` that
 * is neither `"ret"` nor `{Method, Args}`, a result of the wrong shape. Kong raises a Lua error in these cases;
 * the Kong side rejects the call with this error.
 *
 * Code `KONG_RPC_PROTOCOL`.
 */
export class KongProtocolError extends KongRpcError {
  declare readonly code: 'KONG_RPC_PROTOCOL';
  /** The plugin-server method whose result was unusable. */
  readonly method: string;

  /**
   * @param method - the method whose result was unusable.
   * @param message - what was wrong.
   */
  constructor(method: string, message: string) {
    super('KONG_RPC_PROTOCOL', `${method}: ${message}`);
    this.method = method;
  }
}

/**
 * The caller's PDK implementation threw while {@link KongPluginClient.handleEvent} ran one of the plugin's PDK
 * calls. Kong fails the nginx request in that case and never sends another Step, so the event is abandoned.
 *
 * Code `KONG_RPC_PDK`. `cause` is what the PDK implementation threw.
 */
export class KongPdkError extends KongRpcError {
  declare readonly code: 'KONG_RPC_PDK';
  /** The PDK method the plugin called, e.g. `kong.request.get_header`. */
  readonly method: string;

  /**
   * @param method - the PDK method.
   * @param options - `cause`: what the PDK implementation threw.
   */
  constructor(method: string, options?: PluginwireErrorOptions) {
    const cause = options?.cause;
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('KONG_RPC_PDK', `PDK method ${method} failed: ${detail}`, options);
    this.method = method;
  }
}

/**
 * A PDK call on the plugin-server side could not be answered because its event is over: the handler already
 * called `kong.response.exit`/`kong.response.error`, the event expired (no Step for longer than the server's
 * `eventTimeout`), Kong answered with `plugin.StepError` (Kong 2.x), or the server closed.
 *
 * Code `KONG_RPC_EVENT_CLOSED`.
 */
export class KongEventClosedError extends KongRpcError {
  declare readonly code: 'KONG_RPC_EVENT_CLOSED';
  /** The event id. */
  readonly eventId: number;
  /** The PDK method that could not be answered. */
  readonly method: string;

  /**
   * @param eventId - the event id.
   * @param method - the PDK method.
   * @param reason - why the event is over.
   */
  constructor(eventId: number, method: string, reason: string) {
    super('KONG_RPC_EVENT_CLOSED', `PDK method ${method} not answered: event ${eventId} ${reason}`);
    this.eventId = eventId;
    this.method = method;
  }
}

/**
 * Kong answered a plugin's PDK call with an error: `plugin.StepError` on MsgPack:1 (Kong 2.3–2.8 do this when the
 * PDK function returned `nil, err`), or a `RawBodyResult` with `error` set on ProtoBuf:1 (the only output message
 * that carries one). The plugin's awaiting call rejects with this error.
 *
 * Code `KONG_RPC_STEP_ERROR`.
 */
export class KongStepError extends KongRpcError {
  declare readonly code: 'KONG_RPC_STEP_ERROR';
  /** The PDK method that failed. */
  readonly method: string;
  /** The error text Kong sent. */
  readonly detail: string;

  /**
   * @param method - the PDK method.
   * @param detail - Kong's error text.
   */
  constructor(method: string, detail: string) {
    super('KONG_RPC_STEP_ERROR', `PDK method ${method} failed: ${detail}`);
    this.method = method;
    this.detail = detail;
  }
}

/**
 * {@link KongPluginServer.listen} could not create its socket: the directory is missing, read-only, full
 * (`ENOSPC`) or not writable by this user, or the stale socket at the path could not be inspected.
 *
 * Code `KONG_RPC_LISTEN`. `errno` is the system error code (`EROFS`, `EACCES`, `ENOSPC`, …) and `cause`
 * the system error.
 */
export class KongListenError extends KongRpcError {
  declare readonly code: 'KONG_RPC_LISTEN';
  /** The socket path. */
  readonly socketPath: string;
  /** The system error code, e.g. `EACCES`; `undefined` when the cause had none. */
  readonly errno: string | undefined;

  /**
   * @param socketPath - the socket path that could not be created.
   * @param cause - the system error.
   */
  constructor(socketPath: string, cause: unknown) {
    // A system error names it in `code`; pluginwire's socket errors in `errno` (their `code` is SOCKET_*).
    const errno = (cause as { errno?: unknown } | undefined)?.errno;
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('KONG_RPC_LISTEN', `cannot listen on ${socketPath}: ${detail}`, { cause });
    this.socketPath = socketPath;
    this.errno = typeof errno === 'string' ? errno : (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/**
 * The Kong side could not connect to the plugin server's socket (after the `connectRetry` grace period, if one
 * is set).
 *
 * Code `KONG_RPC_CONNECT`. `cause` is the socket error (`ENOENT`, `ECONNREFUSED`, …).
 */
export class KongConnectError extends KongRpcError {
  declare readonly code: 'KONG_RPC_CONNECT';
  /** The socket path. */
  readonly socketPath: string;

  /**
   * @param socketPath - the socket path.
   * @param options - `cause`: the socket error.
   */
  constructor(socketPath: string, options?: PluginwireErrorOptions) {
    const cause = options?.cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    super('KONG_RPC_CONNECT', `cannot connect to plugin server at ${socketPath}${detail}`, options);
    this.socketPath = socketPath;
  }
}

/**
 * The kong-rpc API was used wrongly: invalid options of `KongPluginClient` or `KongPluginServer` (including a socket
 * path that is a symlink, not a socket, or too long; `cause` is then the socket module's path error), an invalid
 * plugin definition given to {@link KongPluginServer.addPlugin}, or an invalid command line given to
 * {@link runPluginServerCli}.
 */
export class KongRpcUsageError extends KongRpcError {
  declare readonly code: 'KONG_RPC_INVALID_OPTIONS';
  /** @param message - what is wrong. @param options - `cause`, e.g. the socket module's path error. */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('KONG_RPC_INVALID_OPTIONS', message, options);
  }
}

/** `listen()` or `addPlugin()` was called on a `KongPluginServer` that is closed. */
export class KongServerClosedError extends KongRpcError {
  declare readonly code: 'KONG_RPC_SERVER_CLOSED';
  /** @param message - what was attempted. */
  constructor(message = 'server is closed') {
    super('KONG_RPC_SERVER_CLOSED', message);
  }
}

/** `listen()` was called on a `KongPluginServer` that is already listening. */
export class KongServerListeningError extends KongRpcError {
  declare readonly code: 'KONG_RPC_ALREADY_LISTENING';
  /** @param message - what was attempted. */
  constructor(message = 'server is already listening') {
    super('KONG_RPC_ALREADY_LISTENING', message);
  }
}

/**
 * A ProtoBuf:1 frame declared a payload longer than `maxFrameBytes`. The length prefix is checked as soon as its
 * four bytes arrive, before anything is allocated for the payload, and the connection is dropped.
 *
 * Code `KONG_RPC_FRAME_TOO_LARGE`.
 */
export class KongFrameTooLargeError extends KongRpcError {
  declare readonly code: 'KONG_RPC_FRAME_TOO_LARGE';
  /** The declared payload length. */
  readonly length: number;
  /** The cap it exceeded. */
  readonly maxFrameBytes: number;

  /**
   * @param length - the declared payload length.
   * @param maxFrameBytes - the cap.
   */
  constructor(length: number, maxFrameBytes: number) {
    super(
      'KONG_RPC_FRAME_TOO_LARGE',
      `ProtoBuf:1 frame of ${length} bytes exceeds maxFrameBytes (${maxFrameBytes})`,
    );
    this.length = length;
    this.maxFrameBytes = maxFrameBytes;
  }
}

/**
 * The peer speaks the other wire protocol: bytes that only make sense as msgpack-RPC (`MsgPack:1`) arrived where
 * a `ProtoBuf:1` frame was expected (the first four bytes `94 01 …` of a msgpack response read as a length of
 * gigabytes), or the reverse. Raised at once, never after a timeout, and before anything is allocated.
 *
 * Code `KONG_RPC_PROTOCOL_MISMATCH`.
 */
export class KongProtocolMismatchError extends KongRpcError {
  declare readonly code: 'KONG_RPC_PROTOCOL_MISMATCH';
  /** The protocol this side speaks, e.g. `ProtoBuf:1`. */
  readonly expected: string;
  /** The protocol the peer appears to speak, e.g. `MsgPack:1`. */
  readonly received: string;

  /**
   * @param expected - the protocol this side speaks.
   * @param received - the protocol the peer appears to speak.
   * @param detail - what gave it away.
   */
  constructor(expected: string, received: string, detail: string) {
    super(
      'KONG_RPC_PROTOCOL_MISMATCH',
      `expected ${expected} but the peer speaks ${received}: ${detail}; check the plugin server's dump (Protocol)`,
    );
    this.expected = expected;
    this.received = received;
  }
}

/**
 * A ProtoBuf:1 `RpcReturn` carried another sequence number than the `RpcCall` it answers. Kong `assert`s the
 * match (`Kong/kong: kong/runloop/plugin_servers/rpc/pb_rpc.lua`, `Rpc:call`); the connection is dropped.
 *
 * Code `KONG_RPC_SEQUENCE`.
 */
export class KongSequenceError extends KongRpcError {
  declare readonly code: 'KONG_RPC_SEQUENCE';
  /** The sequence sent in the `RpcCall`. */
  readonly expected: number;
  /** The sequence in the `RpcReturn`. */
  readonly received: number;

  /**
   * @param expected - the sequence sent.
   * @param received - the sequence received.
   */
  constructor(expected: number, received: number) {
    super('KONG_RPC_SEQUENCE', `ProtoBuf:1 RpcReturn has sequence ${received}, expected ${expected}`);
    this.expected = expected;
    this.received = received;
  }
}

/**
 * A ProtoBuf:1 plugin server closed the connection without answering a call. ProtoBuf servers have no error
 * message: go-pdk closes the connection for an unknown instance, an unknown phase, a config that is not JSON or
 * a call it cannot decode, and a crashed server closes it too. A MsgPack:1 server that is sent ProtoBuf:1 bytes
 * also just closes, so the message names both protocols. For calls about an instance the Kong side reports
 * {@link NoPluginInstanceError} with this error as its `cause`, as Kong restarts the instance on `closed`.
 *
 * Code `KONG_RPC_CLOSED_WITHOUT_REPLY`.
 */
export class KongClosedWithoutReplyError extends KongRpcError {
  declare readonly code: 'KONG_RPC_CLOSED_WITHOUT_REPLY';
  /** The call, e.g. `cmd_start_instance`. */
  readonly call: string;
  /** Whether the connection closed in the middle of a frame. */
  readonly midFrame: boolean;

  /**
   * @param call - the call that got no reply.
   * @param midFrame - whether a frame was cut short.
   * @param options - `cause`: the socket error, if any.
   */
  constructor(call: string, midFrame: boolean, options?: PluginwireErrorOptions) {
    super(
      'KONG_RPC_CLOSED_WITHOUT_REPLY',
      `the plugin server closed the connection ${midFrame ? 'in the middle of a frame' : 'without a reply'} ` +
        `to ${call} (a ProtoBuf:1 server does this on any error; a MsgPack:1 server does it when sent ProtoBuf:1)`,
      options,
    );
    this.call = call;
    this.midFrame = midFrame;
  }
}

/**
 * A plugin's PDK call cannot be carried by the protocol its server speaks: over ProtoBuf:1, a method that is not
 * an rpc of Kong's `service Kong` (Kong would answer `method "<name>" not found` and fail the request), or an
 * argument that has no protobuf form (a function, a symbol, a cyclic object). Nothing is sent to Kong; the
 * plugin's call rejects with this error and the event goes on.
 *
 * Code `KONG_RPC_PDK_ARGUMENT`.
 */
export class KongPdkArgumentError extends KongRpcError {
  declare readonly code: 'KONG_RPC_PDK_ARGUMENT';
  /** The PDK method the plugin called. */
  readonly method: string;

  /**
   * @param method - the PDK method.
   * @param detail - what cannot be carried.
   */
  constructor(method: string, detail: string) {
    super('KONG_RPC_PDK_ARGUMENT', `PDK method ${method}: ${detail}`);
    this.method = method;
  }
}
