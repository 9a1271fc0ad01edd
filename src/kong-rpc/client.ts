/**
 * The Kong side of Kong's MsgPack:1 plugin-server protocol: what Kong's `mp_rpc.lua` and `plugin.lua` do, for
 * gateways, tools and tests that run Kong's external plugins (Go, JS, Python plugin servers) unchanged.
 */
import { RemoteError } from '../msgpack-rpc/index.js';
import { EventDeadline, isPromiseLike, runPdk } from './deadline.js';
import { KongRpcUsageError, NoPluginInstanceError } from './errors.js';
import { InstanceCache } from './instance-cache.js';
import { count, instanceStatus, type KongInstanceStatus, positive, record, stepData } from './results.js';

export type { KongInstanceStatus } from './results.js';

import type { KongPhase } from './plugins.js';
import { type CallOptions, ConnectionPool } from './pool.js';
import {
  fixPdkResult,
  isPdkFailure,
  type PdkFailure,
  pdkArguments,
  stepMethodFor,
  TERMINAL_PDK_METHODS,
} from './steps.js';

/**
 * The caller's implementation of Kong's PDK: runs one PDK call of the plugin and returns its (first) result.
 * Return `undefined` for Lua nil (also for `nil, err` the Kong 3.x way), or {@link pdkFailure} for Kong 2.x's
 * `plugin.StepError`. Kong's result fixups are applied to what it returns (see {@link fixPdkResult}).
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

/** Events of {@link KongPluginClient}. */
export interface KongPluginClientEvents {
  /** A `serverPid` notification named a pid this client had not seen (the first, or a restart). */
  serverPid: (pid: number, previousPid: number | undefined) => void;
  /** The instance cache dropped a plugin's instances after `no plugin instance` or a pid change. */
  instancesReset: (plugin: string | undefined, reason: NoPluginInstanceError | 'server-pid') => void;
}

/** Options of {@link KongPluginClient}. */
export interface KongPluginClientOptions {
  /** The plugin server's socket. */
  socketPath: string;
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
  /** Retries of an event after `no plugin instance` (Kong: unlimited). Default 1. */
  retries?: number;
  /** The largest message accepted from the server, in bytes. Default 128 MiB (the Kong profile's cap). */
  maxFrameBytes?: number;
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
export class KongPluginClient {
  private readonly pool: ConnectionPool;
  private readonly timeout: number;
  private readonly retries: number;
  private readonly cache: InstanceCache;
  private readonly listeners: { [E in keyof KongPluginClientEvents]: Set<KongPluginClientEvents[E]> } = {
    serverPid: new Set(),
    instancesReset: new Set(),
  };
  private lastPid: number | undefined;

  /**
   * @param options - socket path, pool, timeouts and retries.
   * @throws {@link KongRpcUsageError} for a missing socket path or an out-of-range option.
   */
  constructor(options: KongPluginClientOptions) {
    if (typeof options?.socketPath !== 'string' || options.socketPath === '') {
      throw new KongRpcUsageError('socketPath must be a non-empty string');
    }
    this.timeout = positive('timeout', options.timeout, 60_000);
    this.retries = count('retries', options.retries, 1);
    this.pool = new ConnectionPool({
      socketPath: options.socketPath,
      maxConnections: Math.max(1, count('maxConnections', options.maxConnections, 256)),
      maxIdle: count('poolSize', options.poolSize, 256),
      idleTimeout: positive('idleTimeout', options.idleTimeout, 60_000),
      connectTimeout: positive('connectTimeout', options.connectTimeout, 60_000),
      connectRetry: count('connectRetry', options.connectRetry, 0),
      maxFrameBytes:
        options.maxFrameBytes === undefined ? undefined : positive('maxFrameBytes', options.maxFrameBytes, 0),
      onServerPid: (pid) => this.serverPid(pid),
    });
    this.cache = new InstanceCache({
      start: async (name, config) => (await this.startInstance(name, config)).id,
      close: (id) => this.closeInstance(id),
    });
  }

  /** The pid of the last `serverPid` notification, if the server sends them. */
  get serverPidSeen(): number | undefined {
    return this.lastPid;
  }

  /** Connections open now, idle ones included. */
  get connections(): number {
    return this.pool.size;
  }

  /**
   * Subscribes to an event.
   *
   * @returns a function that unsubscribes.
   */
  on<E extends keyof KongPluginClientEvents>(event: E, listener: KongPluginClientEvents[E]): () => void {
    const set = this.listeners[event] as Set<KongPluginClientEvents[E]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * `plugin.GetPluginInfo`.
   *
   * @throws `RemoteError` when the server does not know the plugin.
   */
  async getPluginInfo(name: string): Promise<KongRemotePluginInfo> {
    const info = record(
      await this.pool.call('plugin.GetPluginInfo', name, this.callOptions()),
      'plugin.GetPluginInfo',
    );
    return {
      name: String(info.Name),
      version: String(info.Version),
      phases: Array.isArray(info.Phases) ? info.Phases.map(String) : [],
      priority: Number(info.Priority ?? 0),
      schema: info.Schema,
    };
  }

  /** `plugin.GetStatus`: the server's pid and per-plugin status, as the server sends it. */
  async getStatus(): Promise<Record<string, unknown>> {
    return record(await this.pool.call('plugin.GetStatus', null, this.callOptions()), 'plugin.GetStatus');
  }

  /**
   * `plugin.StartInstance`. The config is sent as JSON text, as Kong sends it.
   *
   * @throws `RemoteError` (Kong answers the request with a 500).
   */
  async startInstance(name: string, config: unknown): Promise<KongInstanceStatus> {
    const status = await this.pool.call(
      'plugin.StartInstance',
      // lua-cjson escapes every `/` as `\/` (Kong's `cjson.encode` of the plugin config); both are valid JSON.
      { Name: name, Config: JSON.stringify(config ?? {}).replaceAll('/', '\\/') },
      this.callOptions(),
    );
    return instanceStatus(status, 'plugin.StartInstance');
  }

  /**
   * `plugin.InstanceStatus`.
   *
   * @throws {@link NoPluginInstanceError} for an unknown id.
   */
  async instanceStatus(id: number): Promise<KongInstanceStatus> {
    const status = await this.callInstance('plugin.InstanceStatus', id, this.callOptions());
    return instanceStatus(status, 'plugin.InstanceStatus');
  }

  /**
   * `plugin.CloseInstance` (the id travels bare, as Kong sends it).
   *
   * @throws {@link NoPluginInstanceError} for an unknown id (Kong itself ignores the error).
   */
  async closeInstance(id: number): Promise<KongInstanceStatus> {
    const status = await this.callInstance('plugin.CloseInstance', id, this.callOptions());
    return instanceStatus(status, 'plugin.CloseInstance');
  }

  /**
   * Runs one event: `plugin.HandleEvent`, then one `plugin.Step*` per PDK call until the server answers `"ret"`.
   * Each PDK call goes to `pdk`; its result is reshaped as Kong does and sent with the Step method Kong picks.
   * After `kong.response.exit`/`error` the event ends without a reply, as in Kong.
   *
   * @param instanceId - from {@link KongPluginClient.startInstance}.
   * @param phase - the phase.
   * @param pdk - the PDK implementation.
   * @param options - deadline and cancellation.
   * @throws {@link NoPluginInstanceError} when the server does not know the instance; `RemoteError` for any other
   *   server error (Kong logs it and goes on without the plugin); {@link KongPdkError} when `pdk` threw;
   *   `RpcTimeoutError` when the deadline passed (the connection in use is discarded, the pool stays healthy);
   *   `RequestAbortedError` when `signal` aborted; {@link KongProtocolError} for an unusable result.
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
      let step = stepData(
        await this.callInstance(
          'plugin.HandleEvent',
          { InstanceId: instanceId, EventName: phase },
          deadline.options(),
          instanceId,
        ),
        'plugin.HandleEvent',
      );
      const eventId = step.EventId;
      let pdkCalls = 0;
      for (;;) {
        const data = step.Data;
        if (data === 'ret') return { pdkCalls, terminal: undefined };
        const method = data.Method;
        const args = pdkArguments(data.Args);
        pdkCalls++;
        let result = runPdk(pdk, method, args);
        // Only an asynchronous PDK answer needs watching for the deadline; most PDK functions answer at once.
        if (isPromiseLike(result)) result = await deadline.race(Promise.resolve(result), method);
        if (TERMINAL_PDK_METHODS.has(method)) return { pdkCalls, terminal: { method, args } };
        let stepMethod: string;
        let value: unknown;
        if (isPdkFailure(result)) {
          stepMethod = 'plugin.StepError';
          value = (result as PdkFailure).message;
        } else {
          value = fixPdkResult(method, result);
          stepMethod = stepMethodFor(method, value);
        }
        // An undefined Data is left out of the map by the Kong encoding, exactly as Kong's nil drops the key.
        const reply = await this.callInstance(
          stepMethod,
          { EventId: eventId, Data: value },
          deadline.options(),
          instanceId,
        );
        step = stepData(reply, stepMethod);
      }
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
        this.emit('instancesReset', plugin, error);
      }
    }
  }

  /** Closes every connection. Calls in progress reject with `ConnectionClosedError`. */
  async close(): Promise<void> {
    this.pool.close();
  }

  private callOptions(): CallOptions {
    return { timeout: this.timeout };
  }

  private callInstance(
    method: string,
    param: unknown,
    options: CallOptions,
    instanceId?: number,
  ): Promise<unknown> {
    // `.then` rather than an async wrapper: one promise hop less per Step.
    return this.pool.call(method, param, options).then(undefined, (error: unknown) => {
      // Kong matches the text case-insensitively (mp_rpc `handle_event`): `No plugin instance 3` from the
      // legacy Go server counts too.
      if (error instanceof RemoteError && /no plugin instance/i.test(error.message)) {
        const id = instanceId ?? (typeof param === 'number' ? param : -1);
        throw new NoPluginInstanceError(id, error.message, { cause: error });
      }
      throw error;
    });
  }

  private serverPid(pid: number): void {
    const previous = this.lastPid;
    if (pid === previous) return;
    this.lastPid = pid;
    // Kong drops every instance bound to this RPC when the pid changes (`plugin.lua`, rpc_notifications).
    if (previous !== undefined) {
      this.cache.resetAll();
      this.emit('instancesReset', undefined, 'server-pid');
    }
    this.emit('serverPid', pid, previous);
  }

  private emit<E extends keyof KongPluginClientEvents>(
    event: E,
    ...args: Parameters<KongPluginClientEvents[E]>
  ): void {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (...a: unknown[]) => void)(...args);
      } catch {
        // A listener's failure must not break the protocol.
      }
    }
  }
}
