/**
 * The Kong side of Kong's plugin-server protocols: what Kong's `plugin.lua` and its RPC modules (`mp_rpc.lua`
 * for MsgPack:1, `pb_rpc.lua` for ProtoBuf:1) do, for gateways, tools and tests that run Kong's external plugins
 * (Go, JS, Python plugin servers) unchanged. The wire protocol itself lives in `msgpack/` and `protobuf/`.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { EventDeadline } from './deadline.js';
import { KongRpcUsageError, NoPluginInstanceError } from './errors.js';
import { InstanceCache } from './instance-cache.js';
import { MsgPackClientProtocol } from './msgpack/client-protocol.js';
import { DEFAULT_MAX_FRAME_BYTES } from './protobuf/framing.js';
import { count, type KongInstanceStatus, positive } from './results.js';

export type { KongInstanceStatus } from './results.js';

import type { CallOptions } from './connections.js';
import type { KongPhase } from './plugins.js';
import { ProtobufClientProtocol } from './protobuf/client-protocol.js';
import { KONG_PROTOCOLS, type KongClientProtocol, type KongProtocol } from './protocol.js';

export type { KongProtocol } from './protocol.js';

/**
 * The caller's implementation of Kong's PDK: runs one PDK call of the plugin and returns its (first) result.
 * Return `undefined` for Lua nil (also for `nil, err` the Kong 3.x way), or {@link pdkFailure} for `nil, err`
 * (MsgPack:1: Kong 2.x's `plugin.StepError`; ProtoBuf:1: nil, with the error kept only where Kong keeps it,
 * `kong.request.get_raw_body`'s `RawBodyResult.error`). MsgPack:1 applies Kong's result fixups (see
 * Kong's `fix_pdk_result`); ProtoBuf:1 wraps the result into the method's output message as `pb_rpc.lua` does.
 * Over ProtoBuf:1 `args` are the method's input message unwrapped as Kong does it (`bytes` become strings when
 * they are valid UTF-8, `Uint8Array`s otherwise; trailing nils are dropped).
 *
 * @param method - the full PDK name, e.g. `kong.request.get_header`.
 * @param args - the positional arguments.
 */
export type KongPdkHandler = (method: string, args: unknown[]) => unknown;

/** A terminal PDK call: the plugin ended the request with it, and the gateway answers the client with it. */
export interface KongTerminalCall {
  /** `kong.response.exit` or `kong.response.error`. */
  method: string;
  /** Its arguments: `[status, body?, headers?]` / `[status, message?, headers?]`. */
  args: unknown[];
}

/** How an event ended. */
export interface KongEventOutcome {
  /** PDK calls the plugin made (the terminal one included). */
  pdkCalls: number;
  /** The terminal call (`kong.response.exit`/`error`) that ended the event, if one did. */
  terminal: KongTerminalCall | undefined;
}

/** Per-event options. */
export interface KongEventOptions {
  /** Deadline for the whole event in ms (HandleEvent, every Step and the PDK calls). Default: the client's `timeout`. */
  timeout?: number;
  /** Cancels the event; it rejects with `RequestAbortedError`. */
  signal?: AbortSignal;
}

/** Options of {@link KongPluginClient.runEvent}. */
export interface KongRunEventOptions extends KongEventOptions {
  /**
   * The cache key of this plugin configuration. Default: the config's `__plugin_id` (Kong keys by plugin
   * entity), else its JSON text. An instance is reused only while the config's JSON text is unchanged.
   */
  key?: string;
}

/** Plugin information from `plugin.GetPluginInfo`. */
export interface KongRemotePluginInfo {
  /** The plugin name. */
  name: string;
  /** Its version. */
  version: string;
  /** The phases it handles. */
  phases: string[];
  /** Its priority. */
  priority: number;
  /** Its Kong schema. */
  schema: unknown;
}

/** Events of {@link KongPluginClient}, for Node's typed `EventEmitter`: each carries one payload object. */
export interface KongPluginClientEvents {
  /** A `serverPid` notification named a pid this client had not seen (the first, or a restart). */
  serverPid: [
    event: {
      /** The pid the server announced. */
      pid: number;
      /** The pid seen before, if any. */
      previousPid: number | undefined;
    },
  ];
  /**
   * The instance cache dropped a plugin's instances after `no plugin instance` (a ProtoBuf:1 connection closed
   * without a reply counts), or every instance (`plugin` undefined) after a pid change or
   * {@link KongPluginClient.resetInstances}.
   */
  instancesReset: [
    event: {
      /** The plugin whose instances were dropped; `undefined` for all of them. */
      plugin: string | undefined;
      /** The error that caused it, a pid change, or `resetInstances()`. */
      reason: NoPluginInstanceError | 'server-pid' | 'reset';
    },
  ];
}

/** Options of {@link KongPluginClient}. */
export interface KongPluginClientOptions {
  /** The plugin server's socket. */
  socketPath: string;
  /**
   * The wire protocol the plugin server speaks, as its dump's `Protocol` says (`kong-conf`'s `parseDump`).
   * Default `MsgPack:1`. The client never sends the other protocol; a server that answers in it fails the call
   * at once with `KongProtocolMismatchError` or `KongClosedWithoutReplyError`.
   */
  protocol?: KongProtocol;
  /** Idle connections kept per socket (`lua_socket_pool_size`). Default 256. */
  poolSize?: number;
  /**
   * Connections open at once; further calls wait for one (nginx opens as many as it has requests, which can
   * overflow a listen backlog). Default 256.
   */
  maxConnections?: number;
  /** Idle connections are closed after this long (nginx keepalive). Default 60,000 ms. */
  idleTimeout?: number;
  /** Per-event deadline, and per-request timeout of the other methods (Kong: 60 s). Default 60,000 ms. */
  timeout?: number;
  /** Connect timeout. Default 60,000 ms (nginx's). */
  connectTimeout?: number;
  /** Keep retrying `ENOENT`/`ECONNREFUSED` for this long, for a server that is still starting. Default 0. */
  connectRetry?: number;
  /**
   * Opens one connection to the plugin server; the pool calls it for every new connection. Default: connect to
   * `socketPath` (with `connectTimeout`, and retries within `connectRetry`). Inject one to run the client over
   * something else, such as an in-memory duplex in tests (then `socketPath` only names the server in errors);
   * a rejection becomes `KongConnectError`.
   *
   * @example
   * ```ts
   * const [kongEnd, serverEnd] = createMemoryDuplexPair(); // from pluginwire/msgpack-rpc
   * server.serve(serverEnd); // a KongPluginServer
   * const client = new KongPluginClient({ socketPath: 'memory', connect: async () => kongEnd, maxConnections: 1 });
   * ```
   */
  connect?: (() => Promise<Duplex>) | undefined;
  /** Retries of an event after `no plugin instance` (Kong: unlimited). Default 1. */
  retries?: number;
  /**
   * The largest message (MsgPack:1) or frame payload (ProtoBuf:1) accepted from the server, in bytes, checked
   * before anything is allocated for it. Default 128 MiB (the Kong profile's cap).
   */
  maxFrameBytes?: number;
}

/**
 * A plugin server as `pluginwire/kong-conf` describes it (`PluginServer` from `resolvePluginServers`, with the
 * `protocol` its dump named), or any object of that shape.
 */
export interface KongPluginServerTarget {
  /** The Unix socket. */
  socket: string;
  /** The protocol from the server's dump; `MsgPack:1` when absent, as Kong. */
  protocol?: string | undefined;
}

/**
 * Plays Kong against a plugin server: Kong's connection model (a pool, one request in flight per connection,
 * strict msgid match, notifications skipped before the response, never pipelined), the PDK event loop with
 * Kong's Step selection and result encodings, and Kong's instance handling.
 *
 * @example
 * ```ts
 * const client = new KongPluginClient({ socketPath: '/usr/local/kong/js_pluginserver.sock' });
 * const outcome = await client.runEvent('hello', { greeting: 'hi' }, 'access', (method, args) => {
 *   if (method === 'kong.request.get_header') return args[0] === 'host' ? 'example.com' : undefined;
 *   return undefined;
 * });
 * await client.close();
 * ```
 */
export class KongPluginClient extends EventEmitter<KongPluginClientEvents> {
  private readonly wire: KongClientProtocol;
  private readonly timeout: number;
  private readonly retries: number;
  private readonly cache: InstanceCache;
  private lastPid: number | undefined;

  /**
   * @param options - socket path, pool, timeouts and retries.
   * @throws {@link KongRpcUsageError} for a missing socket path or an out-of-range option.
   */
  constructor(options: KongPluginClientOptions) {
    super();
    if (typeof options?.socketPath !== 'string' || options.socketPath === '') {
      throw new KongRpcUsageError('socketPath must be a non-empty string');
    }
    if (options.connect !== undefined && typeof options.connect !== 'function') {
      throw new KongRpcUsageError('connect must be a function that opens one connection');
    }
    this.timeout = positive('timeout', options.timeout, 60_000);
    this.retries = count('retries', options.retries, 1);
    const protocol = options.protocol ?? 'MsgPack:1';
    if (!KONG_PROTOCOLS.includes(protocol)) {
      throw new KongRpcUsageError(
        `protocol must be ${KONG_PROTOCOLS.join(' or ')}, got ${JSON.stringify(options.protocol)}`,
      );
    }
    const pool = {
      socketPath: options.socketPath,
      maxConnections: Math.max(1, count('maxConnections', options.maxConnections, 256)),
      maxIdle: count('poolSize', options.poolSize, 256),
      idleTimeout: positive('idleTimeout', options.idleTimeout, 60_000),
      connectTimeout: positive('connectTimeout', options.connectTimeout, 60_000),
      connectRetry: count('connectRetry', options.connectRetry, 0),
      connect: options.connect,
    };
    const maxFrameBytes =
      options.maxFrameBytes === undefined ? undefined : positive('maxFrameBytes', options.maxFrameBytes, 0);
    this.wire =
      protocol === 'ProtoBuf:1'
        ? new ProtobufClientProtocol(pool, maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, this.timeout)
        : new MsgPackClientProtocol(pool, { maxFrameBytes, onServerPid: (pid) => this.serverPid(pid) });
    this.cache = new InstanceCache({
      start: async (name, config) => (await this.startInstance(name, config)).id,
      close: (id) => this.closeInstance(id),
    });
  }

  /**
   * A client for a plugin server described by `pluginwire/kong-conf` (or any `{ socket, protocol }`): the
   * protocol comes from the server's dump, so the client never speaks the wrong one.
   *
   * @example
   * ```ts
   * const dump = parseDump(stdoutOfQueryCmd);
   * const client = KongPluginClient.forServer({ ...server, protocol: dump.protocol });
   * ```
   * @throws {@link KongRpcUsageError} for a protocol Kong does not speak, or an invalid option.
   */
  static forServer(
    server: KongPluginServerTarget,
    options: Omit<KongPluginClientOptions, 'socketPath' | 'protocol'> = {},
  ): KongPluginClient {
    const protocol = server.protocol ?? 'MsgPack:1';
    if (!KONG_PROTOCOLS.includes(protocol as KongProtocol)) {
      throw new KongRpcUsageError(
        `plugin server protocol ${JSON.stringify(protocol)} is not one Kong speaks`,
      );
    }
    return new KongPluginClient({
      ...options,
      socketPath: server.socket,
      protocol: protocol as KongProtocol,
    });
  }

  /** The wire protocol this client speaks. */
  get protocol(): KongProtocol {
    return this.wire.name;
  }

  /** The pid of the last `serverPid` notification, if the server sends them (MsgPack:1 only). */
  get serverPidSeen(): number | undefined {
    return this.lastPid;
  }

  /** Connections open now, idle ones included. */
  get connections(): number {
    return this.wire.connections;
  }

  /**
   * The server's info about one plugin: `plugin.GetPluginInfo` (MsgPack:1) or `cmd_get_plugin_info`
   * (ProtoBuf:1; go-pdk answers it with an empty frame, so Kong takes plugin info from the dump).
   *
   * @throws `RemoteError` when a MsgPack:1 server does not know the plugin; {@link KongProtocolError} when the
   *   answer is unusable.
   */
  getPluginInfo(name: string): Promise<KongRemotePluginInfo> {
    return this.wire.getPluginInfo(name, this.callOptions());
  }

  /**
   * `plugin.GetStatus` (MsgPack:1): the server's pid and per-plugin status, as the server sends it.
   *
   * @throws {@link KongProtocolError} over ProtoBuf:1, which has no such command; `RemoteError` from servers
   *   without it (go-pdk v0.6).
   */
  getStatus(): Promise<Record<string, unknown>> {
    return this.wire.getStatus(this.callOptions());
  }

  /**
   * The plugins the server serves: `cmd_get_plugin_names` (ProtoBuf:1; go-pdk answers it with an empty frame,
   * which rejects with {@link KongProtocolError}), or the plugins `plugin.GetStatus` lists (MsgPack:1).
   */
  getPluginNames(): Promise<string[]> {
    return this.wire.getPluginNames(this.callOptions());
  }

  /**
   * Starts an instance (`plugin.StartInstance` / `cmd_start_instance`). The config is sent as JSON text, as
   * Kong sends it.
   *
   * @throws `RemoteError` (MsgPack:1) or {@link KongClosedWithoutReplyError} (ProtoBuf:1) when the server
   *   refuses; Kong answers the request with a 500.
   */
  startInstance(name: string, config: unknown): Promise<KongInstanceStatus> {
    // lua-cjson escapes every `/` as `\/` (Kong's `cjson.encode` of the plugin config); both are valid JSON.
    const configText = JSON.stringify(config ?? {}).replaceAll('/', '\\/');
    return this.wire.startInstance(name, configText, this.callOptions());
  }

  /**
   * An instance's status (`plugin.InstanceStatus` / `cmd_get_instance_status`).
   *
   * @throws {@link NoPluginInstanceError} for an unknown id.
   */
  instanceStatus(id: number): Promise<KongInstanceStatus> {
    return this.wire.instanceStatus(id, this.callOptions());
  }

  /**
   * Closes an instance (`plugin.CloseInstance` / `cmd_close_instance`).
   *
   * @throws {@link NoPluginInstanceError} for an unknown id (Kong itself ignores the error).
   */
  closeInstance(id: number): Promise<KongInstanceStatus> {
    return this.wire.closeInstance(id, this.callOptions());
  }

  /**
   * Runs one event. MsgPack:1: `plugin.HandleEvent`, then one `plugin.Step*` per PDK call until the server
   * answers `"ret"`. ProtoBuf:1: `cmd_handle_event`, then the PDK loop on the same connection (method-name frame,
   * argument frame, one result frame) until the empty method-name frame, then the `RpcReturn`. Each PDK call goes
   * to `pdk` with its arguments as Kong builds them; its result is reshaped and encoded as Kong does. After
   * `kong.response.exit` (and `kong.response.error` over MsgPack:1) the event ends without a reply, as in Kong.
   *
   * @param instanceId - from {@link KongPluginClient.startInstance}.
   * @param phase - the phase.
   * @param pdk - the PDK implementation.
   * @param options - deadline and cancellation.
   * @throws {@link NoPluginInstanceError} when the server does not know the instance (ProtoBuf:1: when it closed
   *   the connection without a reply); `RemoteError` for any other MsgPack:1 server error (Kong logs it and goes
   *   on without the plugin); {@link KongPdkError} when `pdk` threw or its result does not fit the method's
   *   ProtoBuf:1 output type; `RpcTimeoutError` when the deadline passed (the connection in use is discarded, the
   *   pool stays healthy); `RequestAbortedError` when `signal` aborted; {@link KongProtocolError} for an
   *   unusable answer (ProtoBuf:1: also a PDK method Kong does not know); {@link KongSequenceError},
   *   {@link KongFrameTooLargeError}, {@link KongProtocolMismatchError} (ProtoBuf:1).
   */
  async handleEvent(
    instanceId: number,
    phase: KongPhase,
    pdk: KongPdkHandler,
    options: KongEventOptions = {},
  ): Promise<KongEventOutcome> {
    const timeout = positive('timeout', options.timeout, this.timeout);
    const deadline = new EventDeadline(timeout, options.signal);
    try {
      return await this.wire.handleEvent(instanceId, phase, pdk, deadline);
    } catch (error) {
      throw deadline.translate(error);
    } finally {
      deadline.dispose();
    }
  }

  /**
   * Runs an event through the instance cache, as Kong does (spec §5, §6): one instance per plugin
   * configuration, started on first use and reused; dropped when the server's pid changes; on
   * `no plugin instance` the plugin's instances are dropped, the instance is restarted and the event retried
   * (`retries` times).
   *
   * @param plugin - the plugin name.
   * @param config - its configuration (sent as JSON text).
   * @param phase - the phase.
   * @param pdk - the PDK implementation.
   * @param options - cache key, deadline, cancellation.
   * @throws as {@link KongPluginClient.handleEvent}, plus `RemoteError` from `StartInstance`.
   */
  async runEvent(
    plugin: string,
    config: Record<string, unknown>,
    phase: KongPhase,
    pdk: KongPdkHandler,
    options: KongRunEventOptions = {},
  ): Promise<KongEventOutcome> {
    for (let attempt = 0; ; attempt++) {
      const id = await this.cache.instanceFor(plugin, config, options.key);
      try {
        return await this.handleEvent(id, phase, pdk, options);
      } catch (error) {
        if (!(error instanceof NoPluginInstanceError) || attempt >= this.retries) throw error;
        this.cache.resetPlugin(plugin);
        this.notify('instancesReset', { plugin, reason: error });
      }
    }
  }

  /**
   * Drops every cached instance, so the next event of each configuration starts a new one: call it when a
   * supervisor reports that the plugin server restarted (a restarted server may number its instances from the
   * start again and send no `serverPid`, and an old id could then run another configuration). Emits
   * `instancesReset` with reason `'reset'`. The old instances are not closed: they belong to the old process.
   */
  resetInstances(): void {
    this.cache.resetAll();
    this.notify('instancesReset', { plugin: undefined, reason: 'reset' });
  }

  /** Closes every connection. Calls in progress reject with `ConnectionClosedError`. */
  async close(): Promise<void> {
    this.wire.close();
  }

  private callOptions(): CallOptions {
    return { timeout: this.timeout };
  }

  private serverPid(pid: number): void {
    const previous = this.lastPid;
    if (pid === previous) return;
    this.lastPid = pid;
    // Kong drops every instance bound to this RPC when the pid changes (`plugin.lua`, rpc_notifications).
    if (previous !== undefined) {
      this.cache.resetAll();
      this.notify('instancesReset', { plugin: undefined, reason: 'server-pid' });
    }
    this.notify('serverPid', { pid, previousPid: previous });
  }

  private notify<E extends keyof KongPluginClientEvents>(
    event: E,
    ...payload: KongPluginClientEvents[E]
  ): void {
    try {
      (this.emit as (name: E, ...args: KongPluginClientEvents[E]) => boolean)(event, ...payload);
    } catch {
      // A listener's failure must not break the protocol (EventEmitter rethrows what a listener throws).
    }
  }
}
