/**
 * The plugin-server side of Kong's protocols: TypeScript plugins served to a real Kong on a Unix socket, over
 * MsgPack:1 (kong-rpc spec §3–§6, §11 "Plugin-server side") or ProtoBuf:1 (§13; the connection handling is in
 * protobuf/server-connection.ts).
 */
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { type Logger, log } from '../logger.js';
import {
  InvalidSocketPathError,
  listenUnix,
  SocketInUseError,
  SocketPathIsSymlinkError,
  SocketPathNotSocketError,
  SocketPathTooLongError,
  type UnixServer,
  UnsupportedPlatformError,
} from '../socket/index.js';
import {
  KongListenError,
  KongRpcError,
  KongRpcUsageError,
  KongServerClosedError,
  KongServerListeningError,
} from './errors.js';
import { type EventHooks, ServerEvent, type StepData, safeText } from './event.js';
import { InstanceRegistry, MAX_INSTANCE_ID, status } from './instances.js';
import { serveKongConnection, serverPidNotification } from './msgpack/transport.js';
import {
  isKongPhase,
  isRecord,
  type KongPluginDefinition,
  type KongPluginInfo,
  type RegisteredPlugin,
  registerPlugin,
} from './plugins.js';
import {
  type ProtobufServerEvent,
  type ProtobufServerHost,
  serveProtobufConnection,
} from './protobuf/server-connection.js';
import { KONG_PROTOCOLS, type KongProtocol } from './protocol.js';

/** One log line of a {@link KongPluginServer}, before it goes to the `logger` (internal). */
export interface KongServerLogEntry {
  /** Severity. */
  level: 'debug' | 'info' | 'warn' | 'error';
  /** What happened. */
  message: string;
  /** The plugin concerned, if any. */
  plugin?: string;
  /** The phase concerned, if any. */
  phase?: string;
  /** The instance id concerned, if any. */
  instanceId?: number;
  /** The event id concerned, if any. */
  eventId?: number;
  /** The error, if one was caught. */
  error?: unknown;
}

/** Options of {@link KongPluginServer}. */
export interface KongPluginServerOptions {
  /**
   * The protocol served, printed in the dump's `Protocol` so Kong picks the same one (kong-rpc spec §7, §13).
   * `'MsgPack:1'` (default) is msgpack-RPC; `'ProtoBuf:1'` is what every go-pdk v0.7+ plugin speaks, so a
   * TypeScript plugin can stand in for a Go one. One server speaks one protocol on all its connections.
   */
  protocol?: KongProtocol;
  /** The socket path. Default `<prefix>/<name>.socket`, Kong 3.9+'s default (kong-rpc spec §8). */
  socketPath?: string;
  /** The Kong prefix directory the default socket lives in. Default `/usr/local/kong`. */
  prefix?: string;
  /** The socket's base name. Default: the name of the first plugin added. */
  name?: string;
  /**
   * The socket file's mode. Default `0o600`: only this user (Kong's workers run as the user that starts the
   * plugin server) can connect. Use `0o660` to let the file's group connect too.
   */
  socketMode?: number;
  /**
   * MsgPack:1 only. Send `[2, "serverPid", <pid>]` on every accepted connection, so Kong drops its cached instance ids when this
   * process is replaced (spec §6.3). Default `true`.
   */
  serverPid?: boolean;
  /**
   * An event with no HandleEvent/Step activity for this long is dropped (Kong abandons events after terminal
   * calls, errors, timeouts and worker deaths; spec §4.2 E8). Default 120,000 ms, twice Kong's read timeout.
   */
  eventTimeout?: number;
  /** The first instance id. Default: random in `[1, 2^31−1]`, so ids are not reused after a restart (spec §5). */
  instanceIdBase?: number;
  /** The largest message accepted from Kong, in bytes (raw bodies travel inside). Default 128 MiB. */
  maxFrameBytes?: number;
  /**
   * Where the server logs (it never writes to the console): listening, connection errors, plugin failures. Fields:
   * `plugin`, `phase`, `instanceId`, `eventId` and `error` where they apply.
   */
  logger?: Logger;
}

/** Options of {@link KongPluginServer.listen}. */
export interface KongListenOptions {
  /** The socket path; overrides the constructor's. */
  socketPath?: string | undefined;
  /** The prefix of the default socket path; overrides the constructor's. */
  prefix?: string | undefined;
  /** The protocol to serve; overrides the constructor's (the command line's `-protocol` uses it). */
  protocol?: KongProtocol | undefined;
}

/** Options of {@link KongPluginServer.dumpInfo}. */
export interface KongDumpOptions {
  /** `'object'` (default): `{"Protocol", "Plugins"}`; `'array'`: the bare array, which Kong reads as MsgPack:1. */
  form?: 'object' | 'array' | undefined;
  /** The protocol to print; default the server's ({@link KongPluginServer.protocol}). */
  protocol?: KongProtocol | undefined;
}

/** @internal Checks a `protocol` option. @throws {@link KongRpcUsageError} */
export function checkProtocol(value: unknown): KongProtocol {
  if (!KONG_PROTOCOLS.includes(value as KongProtocol)) {
    throw new KongRpcUsageError(
      `protocol must be ${KONG_PROTOCOLS.join(' or ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as KongProtocol;
}

const MAX_ID = MAX_INSTANCE_ID;
const DEFAULT_PREFIX = '/usr/local/kong';
let nextEventId = 0;

/**
 * Serves TypeScript plugins to Kong on a Unix socket, over MsgPack:1 (default) or, with `protocol: 'ProtoBuf:1'`,
 * over ProtoBuf:1 as a go-pdk Go plugin does (every `cmd_*` command and the PDK loop; errors close the connection
 * as go-pdk's do, a throwing plugin is reported to Kong as a failed event; see the kong-plugin-servers guide).
 *
 * Over MsgPack:1 it implements every method of the protocol (`plugin.StartInstance`, `CloseInstance`, `HandleEvent`, all
 * `Step*`, `InstanceStatus`, `GetPluginInfo`, `GetStatus`, `SetPluginDir`) with Kong's exact error strings;
 * keeps events by EventId across connections; ends an event at once when its handler throws or calls
 * `kong.response.exit`/`error`; never expires instances by timer; and never reuses instance ids across
 * restarts.
 *
 * @example
 * ```ts
 * const server = new KongPluginServer({ prefix: '/usr/local/kong' });
 * server.addPlugin({
 *   name: 'hello',
 *   version: '1.0.0',
 *   priority: 10,
 *   schema: [{ greeting: { type: 'string' } }],
 *   create: (config: { greeting?: string }) => ({
 *     async access(kong) {
 *       const host = await kong.request.getHeader('host');
 *       await kong.response.setHeader('x-hello', `${config.greeting ?? 'hi'} ${host}`);
 *     },
 *   }),
 * });
 * await server.listen(); // /usr/local/kong/hello.socket
 * ```
 */
export class KongPluginServer {
  private readonly options: KongPluginServerOptions;
  private readonly plugins = new Map<string, RegisteredPlugin>();
  private readonly instances: InstanceRegistry;
  private readonly events = new Map<number, ServerEvent>();
  private readonly protobufEvents = new Set<ProtobufServerEvent>();
  private readonly protobufHost: ProtobufServerHost;
  private readonly connections = new Set<{ close(): void; destroy(): void }>();
  private readonly methods: ReadonlyMap<string, (param: unknown) => unknown>;
  private readonly eventHooks: EventHooks;
  private readonly eventTimeout: number;
  /** The socket server: stale-socket handling, mode, path checks, and removal of only its own file. */
  private listener: UnixServer | undefined;
  private listeningPath: string | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private isClosed = false;
  private readonly closedPromise: Promise<void>;
  private resolveClosed: () => void = () => {};
  private pluginDirectory: string | undefined;
  private servedProtocol: KongProtocol;

  /** @param options - socket location, notifications, limits and the log hook. */
  constructor(options: KongPluginServerOptions = {}) {
    this.options = options;
    this.closedPromise = new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
    });
    this.servedProtocol = checkProtocol(options.protocol ?? 'MsgPack:1');
    this.eventTimeout = options.eventTimeout ?? 120_000;
    if (!(this.eventTimeout > 0))
      throw new KongRpcUsageError('eventTimeout must be a positive number of milliseconds');
    const base = options.instanceIdBase ?? 1 + Math.floor(Math.random() * MAX_ID);
    if (!Number.isInteger(base) || base < 0 || base > MAX_ID) {
      throw new KongRpcUsageError(`instanceIdBase must be an integer in 0…${MAX_ID}`);
    }
    this.instances = new InstanceRegistry(base, (level, message, instance, error) => {
      const plugin = instance.plugin.info.Name;
      this.log({ level, message: `${message} (${plugin})`, plugin, instanceId: instance.id, error });
    });
    this.eventHooks = {
      finished: (event) => {
        this.events.delete(event.id);
      },
      failed: (event, error) => {
        this.log({
          level: 'error',
          message: `plugin ${event.plugin} failed in phase ${event.phase}`,
          plugin: event.plugin,
          phase: event.phase,
          eventId: event.id,
          error,
        });
      },
    };
    this.protobufHost = {
      plugins: this.plugins,
      instances: this.instances,
      eventTimeout: this.eventTimeout,
      maxFrameBytes: options.maxFrameBytes,
      log: (entry) => this.log(entry),
      eventOpened: (event) => this.protobufEvents.add(event),
      eventClosed: (event) => this.protobufEvents.delete(event),
    };
    this.methods = new Map<string, (param: unknown) => unknown>([
      ['plugin.StartInstance', (param) => this.startInstance(param)],
      ['plugin.CloseInstance', (param) => this.instances.close(param)],
      ['plugin.InstanceStatus', (param) => status(this.instances.get(param))],
      ['plugin.HandleEvent', (param) => this.handleEvent(param)],
      ['plugin.Step', (param) => this.step(param, false)],
      ['plugin.StepMultiMap', (param) => this.step(param, false)],
      ['plugin.StepCredential', (param) => this.step(param, false)],
      ['plugin.StepConsumer', (param) => this.step(param, false)],
      ['plugin.StepRoute', (param) => this.step(param, false)],
      ['plugin.StepService', (param) => this.step(param, false)],
      ['plugin.StepMemoryStats', (param) => this.step(param, false)],
      ['plugin.StepPlugin', (param) => this.step(param, false)],
      ['plugin.StepError', (param) => this.step(param, true)],
      ['plugin.GetPluginInfo', (param) => this.getPluginInfo(param)],
      ['plugin.GetStatus', () => this.getStatus()],
      ['plugin.SetPluginDir', (param) => this.setPluginDir(param)],
    ]);
  }

  /**
   * Adds a plugin. Kong 3.9+ registers only the first plugin of a server's dump, so serve one plugin per server
   * (and socket) unless every Kong you target is older.
   *
   * @param definition - name, version, priority, schema and the instance factory.
   * @returns this server, for chaining.
   * @throws {@link KongRpcUsageError} for an invalid definition or a duplicate name.
   */
  addPlugin<Config>(definition: KongPluginDefinition<Config>): this {
    const registered = registerPlugin(definition as KongPluginDefinition<never>);
    if (this.plugins.has(registered.info.Name)) {
      throw new KongRpcUsageError(`plugin ${registered.info.Name} is already added`);
    }
    this.plugins.set(registered.info.Name, registered);
    return this;
  }

  /** The plugin information of every plugin added, in order (the dump's `Plugins`). */
  pluginInfos(): KongPluginInfo[] {
    return [...this.plugins.values()].map((plugin) => plugin.info);
  }

  /** The protocol this server serves (and its dump prints): the `protocol` option, or the one `listen` was given. */
  get protocol(): KongProtocol {
    return this.servedProtocol;
  }

  /**
   * The query-command output Kong reads (spec §7): `{"Protocol":"MsgPack:1","Plugins":[…]}` by default
   * (`"ProtoBuf:1"` for a ProtoBuf:1 server), or the bare array of infos with `form: 'array'`, which Kong reads as
   * MsgPack:1 and is therefore refused for ProtoBuf:1.
   *
   * @param options - `form`: `'object'` (default) or `'array'`; `protocol`: default the server's.
   * @returns the JSON text, without a trailing newline.
   * @throws {@link KongRpcUsageError} for `form: 'array'` with ProtoBuf:1, or an unknown protocol.
   */
  dumpInfo(options: KongDumpOptions = {}): string {
    const protocol = checkProtocol(options.protocol ?? this.servedProtocol);
    const infos = this.pluginInfos();
    if (options.form === 'array') {
      // Kong reads a bare array as MsgPack:1 (kong-conf spec §9): it would then speak the wrong protocol.
      if (protocol !== 'MsgPack:1')
        throw new KongRpcUsageError('the array dump form means MsgPack:1 to Kong');
      return JSON.stringify(infos);
    }
    return JSON.stringify({ Protocol: protocol, Plugins: infos });
  }

  /**
   * The socket path: the one listened on, else the one {@link KongPluginServer.listen} would use (explicit, or
   * `<prefix>/<name>.socket`).
   *
   * @throws {@link KongRpcUsageError} when there is no explicit path and no plugin to name the socket after.
   */
  get socketPath(): string {
    return this.listeningPath ?? this.resolveSocketPath({});
  }

  /** Resolves when {@link KongPluginServer.close} has finished. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /** Number of events in progress (for monitoring and tests). */
  get activeEvents(): number {
    return this.events.size + this.protobufEvents.size;
  }

  /**
   * Listens on the Unix socket with the socket module's `listenUnix`: a stale socket file (nobody answers on it)
   * is replaced; a live server on it (probed gently, never reset), a symlink or a non-socket file makes this fail
   * and is left untouched; a path longer than the platform's `sun_path` limit is refused before anything is
   * created. The socket gets its final mode (`socketMode`) before it appears at the path, and `close()` (or a
   * normal process exit) removes it only if it is still the file this server created.
   *
   * @param options - overrides of the constructor's `socketPath` and `prefix` (the command line uses them).
   * @returns the socket path.
   * @throws the socket module's `SocketInUseError` (`SOCKET_IN_USE`) when another server answers on the path; {@link KongRpcUsageError} when
   *   the path is a symlink, exists and is not a socket, or is too long; {@link KongServerClosedError},
   *   {@link KongServerListeningError};
   *   {@link KongListenError} (with the system `errno`: `EACCES`, `EROFS`, `ENOSPC`, …) when the socket cannot be
   *   created.
   */
  async listen(options: KongListenOptions = {}): Promise<string> {
    if (this.isClosed) throw new KongServerClosedError();
    if (this.listener !== undefined) throw new KongServerListeningError();
    const path = this.resolveSocketPath(options);
    if (options.protocol !== undefined) this.servedProtocol = checkProtocol(options.protocol);
    let listener: UnixServer;
    try {
      // listenUnix (socket spec §2.1): lstat, never following a symlink; a non-socket is refused; a live socket is
      // refused after a gentle probe; a stale one is replaced atomically by a private name made with the final
      // mode; the path's byte length is checked before any system call (Node would silently truncate it).
      listener = await listenUnix(path, {
        mode: this.options.socketMode ?? 0o600,
        logger: { debug: (message) => this.log({ level: 'debug', message }) },
      });
    } catch (error) {
      throw kongListenError(path, error);
    }
    if (this.isClosed) {
      await listener.close({ deadline: 0 });
      throw new KongServerClosedError();
    }
    listener.on('connection', (connection) => this.serve(connection.socket));
    this.listener = listener;
    this.listeningPath = path;
    this.log({ level: 'info', message: `listening on ${path}` });
    return path;
  }

  /**
   * Serves one connected stream: an accepted socket, or an in-memory duplex in tests. {@link KongPluginServer.listen}
   * calls it for every connection.
   *
   * @param stream - the connection; it is closed with the server.
   */
  serve(stream: Duplex): void {
    if (this.isClosed) {
      stream.destroy();
      return;
    }
    if (this.servedProtocol === 'ProtoBuf:1') {
      const connection = serveProtobufConnection(stream, this.protobufHost);
      this.connections.add(connection);
      stream.once('close', () => this.connections.delete(connection));
      return;
    }
    if (this.options.serverPid ?? true) stream.write(serverPidNotification(process.pid));
    const connection = serveKongConnection(stream, (method, param) => this.dispatch(method, param), {
      onError: (error) => this.log({ level: 'warn', message: 'connection error', error }),
      maxFrameBytes: this.options.maxFrameBytes,
    });
    this.connections.add(connection);
    stream.once('close', () => this.connections.delete(connection));
  }

  /**
   * Stops listening, closes every connection (responses in progress are flushed), ends every event (their pending
   * PDK calls reject with `KongEventClosedError`), closes every instance and removes the socket file.
   */
  async close(): Promise<void> {
    if (this.isClosed) return this.closedPromise;
    this.isClosed = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    const listener = this.listener;
    this.listener = undefined;
    for (const event of [...this.events.values()]) event.abort('closed with the server');
    for (const event of [...this.protobufEvents]) event.abort('closed with the server');
    for (const connection of this.connections) connection.close();
    this.instances.closeAll();
    // Stops accepting and removes the socket file, only if it is still the one this server created.
    await listener?.close({ deadline: 1000 });
    for (const connection of this.connections) connection.destroy();
    this.listeningPath = undefined;
    this.resolveClosed();
  }

  private resolveSocketPath(options: KongListenOptions): string {
    const explicit = options.socketPath ?? this.options.socketPath;
    if (explicit !== undefined) return explicit;
    const name = this.options.name ?? this.plugins.keys().next().value;
    if (name === undefined)
      throw new KongRpcUsageError('no socket path: set socketPath or name, or add a plugin first');
    // Kong lower-cases the names of `pluginserver_names` before it builds its default socket path.
    return join(options.prefix ?? this.options.prefix ?? DEFAULT_PREFIX, `${name.toLowerCase()}.socket`);
  }

  /** Dispatches one request by method name; rejects with the error text Kong sees. */
  private dispatch(method: string, param: unknown): unknown {
    const known = this.methods.get(method);
    if (known !== undefined) return known(param);
    const dot = method.indexOf('.');
    const namespace = dot < 0 ? method : method.slice(0, dot);
    if (namespace !== 'plugin') throw new Error(safeText(`RPC for ${namespace} is not supported`));
    throw new Error(safeText(`method ${method.slice(dot + 1)} not implemented`));
  }

  private startInstance(param: unknown): unknown {
    const { Name: name, Config: configText } = (isRecord(param) ? param : {}) as Record<string, unknown>;
    if (typeof name !== 'string' || typeof configText !== 'string') {
      throw new Error('invalid request: StartInstance expects {Name: string, Config: string}');
    }
    const plugin = this.plugins.get(name);
    if (plugin === undefined) throw new Error(safeText(`plugin ${name} not found`));
    return this.instances.start(plugin, configText);
  }

  private handleEvent(param: unknown): Promise<StepData> | StepData {
    const { InstanceId: instanceId, EventName: phase } = (isRecord(param) ? param : {}) as Record<
      string,
      unknown
    >;
    const instance = this.instances.get(instanceId);
    if (!isKongPhase(phase))
      throw new Error(safeText(`invalid request: unknown phase ${JSON.stringify(phase)}`));
    const id = this.allocateEventId();
    const handler = instance.object[phase];
    if (typeof handler !== 'function') return { EventId: id, Data: 'ret' };
    const event = new ServerEvent(id, instance.plugin.info.Name, phase, this.eventHooks, performance.now());
    this.events.set(id, event);
    this.ensureSweep();
    return event.start((kong) => handler.call(instance.object, kong));
  }

  private step(param: unknown, isError: boolean): Promise<StepData> {
    const { EventId: eventId, Data: data } = (isRecord(param) ? param : {}) as Record<string, unknown>;
    if (typeof eventId !== 'number' || !Number.isInteger(eventId)) {
      throw new Error('invalid request: Step expects {EventId: integer, Data}');
    }
    const event = this.events.get(eventId);
    if (event === undefined) throw new Error(`event id ${eventId} not found`);
    return event.step(data, isError, performance.now());
  }

  private getPluginInfo(param: unknown): KongPluginInfo {
    const plugin = typeof param === 'string' ? this.plugins.get(param) : undefined;
    if (plugin === undefined) throw new Error(safeText(`plugin ${String(param)} not found`));
    return plugin.info;
  }

  private getStatus(): unknown {
    const plugins: Record<string, unknown> = {};
    for (const plugin of this.plugins.values()) {
      const name = plugin.info.Name;
      plugins[name] = {
        Name: name,
        Modtime: plugin.addedAt,
        LoadTime: plugin.addedAt,
        Instances: this.instances.statuses(plugin),
        LastStartInstance: plugin.lastStartInstance,
        LastCloseInstance: plugin.lastCloseInstance,
      };
    }
    return { Pid: process.pid, Plugins: plugins };
  }

  private setPluginDir(param: unknown): string {
    if (typeof param !== 'string') throw new Error('invalid request: SetPluginDir expects a directory');
    // TypeScript plugins are added in code, so there is nothing to load from a directory; it is only recorded
    // (the JS server answers "ok" the same way once it has loaded the directory).
    this.pluginDirectory = param;
    this.log({ level: 'debug', message: `plugin directory set to ${this.pluginDirectory}` });
    return 'ok';
  }

  private allocateEventId(): number {
    for (;;) {
      const id = nextEventId;
      nextEventId = id >= MAX_ID ? 0 : id + 1;
      if (!this.events.has(id)) return id;
    }
  }

  private ensureSweep(): void {
    if (this.sweepTimer !== undefined) return;
    const every = Math.max(50, Math.min(this.eventTimeout / 4, 30_000));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  private sweep(): void {
    const now = performance.now();
    for (const event of [...this.events.values()]) {
      if (now - event.lastActivity > this.eventTimeout) {
        this.log({
          level: 'warn',
          message: `event ${event.id} expired`,
          plugin: event.plugin,
          phase: event.phase,
          eventId: event.id,
        });
        event.abort('expired');
      }
    }
    if (this.events.size === 0 && this.sweepTimer !== undefined) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  private log(entry: KongServerLogEntry): void {
    const { level, message, ...fields } = entry;
    // `log` swallows what a failing logger throws: it must not break the protocol.
    log(this.options.logger, level, message, fields);
  }
}

/** The Kong layer's error for a failed listen: in use, a bad path (configuration), or a system error. */
function kongListenError(path: string, error: unknown): KongRpcError {
  if (error instanceof KongRpcError) return error;
  // Another server answering on the path is the socket module's SocketInUseError: one class for one concept.
  if (error instanceof SocketInUseError) return error;
  // What is at the path, or the path itself, is a configuration error; a system error keeps its errno.
  if (
    error instanceof SocketPathIsSymlinkError ||
    error instanceof SocketPathNotSocketError ||
    error instanceof SocketPathTooLongError ||
    error instanceof InvalidSocketPathError ||
    error instanceof UnsupportedPlatformError
  ) {
    return new KongRpcUsageError(error.message, { cause: error });
  }
  return new KongListenError(path, error);
}
