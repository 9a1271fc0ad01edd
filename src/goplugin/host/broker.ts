/**
 * Host side of the non-multiplexed `plugin.GRPCBroker` (`hashicorp/go-plugin: grpc_broker.go`): one
 * `StartStream` call carries `ConnInfo` announcements both ways; `accept(id)` serves a new listener and announces
 * it, `dial(id)` waits for the plugin's announcement and connects to it.
 */
import { randomInt } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Channel, type ClientDuplexStream, type Client as GrpcClient, Server } from '@grpc/grpc-js';
import { brokerServerCredentials, channelSetup, MAX_MESSAGE_BYTES, type MtlsMaterial } from './channel.js';
import { BrokerError } from './errors.js';
import type { PluginLogger } from './hclog-parse.js';
import { safeLog } from './process.js';

/** go-plugin waits this long for a `ConnInfo`, and drops unclaimed ones after it (`grpc_broker.go`). */
const CONN_INFO_TIMEOUT = 5000;

/** `plugin.ConnInfo` as proto-loader decodes it (`keepCase`). */
export interface ConnInfo {
  service_id: number;
  network: string;
  address: string;
  knock?: { knock: boolean; ack: boolean; error: string } | null;
}

/** A gRPC server the host serves for the plugin under a broker id; see {@link PluginBroker.accept}. */
export interface BrokeredServer {
  /** The broker id it was announced under. */
  readonly id: number;
  /** The grpc-js server (services were added by the `register` callback). */
  readonly server: Server;
  /** Stops the server (forcefully) and removes its socket. Idempotent. */
  close(): Promise<void>;
}

/** A connection to a service the plugin serves under a broker id; see {@link PluginBroker.dial}. */
export interface BrokeredConnection {
  /** The broker id. */
  readonly id: number;
  /** The grpc-js channel. */
  readonly channel: Channel;
  /**
   * Creates a client of a service on this connection.
   *
   * @param ctor - a generated or proto-loader client constructor.
   */
  makeClient<T extends GrpcClient>(ctor: new (...args: ConstructorParameters<typeof GrpcClient>) => T): T;
  /** Closes the channel. Idempotent. */
  close(): void;
}

/**
 * The gRPC broker of one plugin connection: extra gRPC connections between host and plugin, identified by ids
 * that the application passes inside its own RPCs (as `hashicorp/go-plugin: examples/bidirectional` does).
 *
 * @example
 * ```ts
 * // Host serves a callback service the plugin dials:
 * const id = client.broker.nextId();
 * await client.broker.accept(id, (server) => server.addService(AddHelper.service, helperImpl));
 * await counter.increment({ add_server: id, key: 'k' });
 * // Host dials a service the plugin announced under an id it returned:
 * const conn = await client.broker.dial(idFromPlugin);
 * ```
 */
export interface PluginBroker {
  /** Returns the next unused id (1, 2, 3, …) of this side. */
  nextId(): number;
  /**
   * Serves a new gRPC server for the plugin and announces it under `id`.
   *
   * @param id - the broker id (usually from {@link nextId}).
   * @param register - adds services to the server before it starts.
   * @throws {@link BrokerError} `GOPLUGIN_BROKER_CLOSED` when the client is closed.
   */
  accept(id: number, register: (server: Server) => void): Promise<BrokeredServer>;
  /**
   * Connects to the service the plugin announced (or will announce within `timeout`) under `id`.
   *
   * @param id - the broker id the plugin used.
   * @param options - `timeout` (default 5000 ms, as Go).
   * @throws {@link BrokerError} `GOPLUGIN_BROKER_TIMEOUT`, `GOPLUGIN_BROKER_UNKNOWN_NETWORK`,
   *   `GOPLUGIN_BROKER_CLOSED`.
   */
  dial(id: number, options?: { timeout?: number }): Promise<BrokeredConnection>;
}

interface Waiter {
  resolve: (info: ConnInfo) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** The {@link PluginBroker} implementation; not exported from the package. */
export class HostBroker implements PluginBroker {
  readonly #stream: ClientDuplexStream<ConnInfo, ConnInfo>;
  readonly #mtls: MtlsMaterial | undefined;
  readonly #socketDir: string | undefined;
  readonly #log: (level: 'debug' | 'warn', message: string, fields?: Record<string, unknown>) => void;
  readonly #received = new Map<number, { info: ConnInfo; timer: NodeJS.Timeout }>();
  readonly #waiters = new Map<number, Waiter[]>();
  readonly #servers = new Set<BrokeredServer>();
  readonly #connections = new Set<BrokeredConnection>();
  readonly #announcedSockets = new Set<string>();
  #lastId = 0;
  #closed = false;
  #streamEnded = false;

  constructor(
    stream: ClientDuplexStream<ConnInfo, ConnInfo>,
    options: {
      mtls: MtlsMaterial | undefined;
      socketDir: string | undefined;
      logger: PluginLogger | undefined;
      name: string;
    },
  ) {
    this.#stream = stream;
    this.#mtls = options.mtls;
    this.#socketDir = options.socketDir;
    this.#log = (level, message, fields = {}) =>
      safeLog(options.logger, {
        level,
        message,
        timestamp: new Date(),
        fields,
        name: options.name,
        origin: 'host',
      });
    stream.on('data', (info: ConnInfo) => this.#onConnInfo(info));
    // UNIMPLEMENTED (a plugin without a broker) or the end of the connection: go-plugin ignores these errors.
    stream.on('error', (error: Error) => {
      if (!this.#closed) this.#log('debug', 'broker stream ended', { error: error.message });
      this.#streamEnded = true;
      this.#endPending();
    });
    stream.on('end', () => {
      this.#streamEnded = true;
      this.#endPending();
    });
  }

  nextId(): number {
    this.#lastId = (this.#lastId + 1) >>> 0;
    return this.#lastId;
  }

  async accept(id: number, register: (server: Server) => void): Promise<BrokeredServer> {
    if (this.#closed) throw new BrokerError('GOPLUGIN_BROKER_CLOSED', 'broker is closed', { serviceId: id });
    const server = new Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
    register(server);
    const path = join(this.#socketDir ?? tmpdir(), `plugin${randomInt(1_000_000_000, 10_000_000_000)}`);
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix:${path}`, brokerServerCredentials(this.#mtls), (error) =>
        error ? reject(error) : resolve(),
      );
    });
    let closing: Promise<void> | undefined;
    const brokered: BrokeredServer = {
      id,
      server,
      close: () => {
        closing ??= (async () => {
          this.#servers.delete(brokered);
          server.forceShutdown();
          await unlink(path).catch(() => undefined);
        })();
        return closing;
      },
    };
    this.#servers.add(brokered);
    this.#stream.write({ service_id: id, network: 'unix', address: path });
    return brokered;
  }

  async dial(id: number, options: { timeout?: number } = {}): Promise<BrokeredConnection> {
    const info = await this.#waitFor(id, options.timeout ?? CONN_INFO_TIMEOUT);
    if (info.network !== 'unix' && info.network !== 'tcp') {
      throw new BrokerError('GOPLUGIN_BROKER_UNKNOWN_NETWORK', `unknown address type: ${info.address}`, {
        serviceId: id,
      });
    }
    const setup = channelSetup(info.network, info.address, this.#mtls);
    const channel = new Channel(setup.target, setup.credentials, setup.options);
    const connection: BrokeredConnection = {
      id,
      channel,
      makeClient: (ctor) => new ctor(setup.target, setup.credentials, { channelOverride: channel }),
      close: () => {
        if (this.#connections.delete(connection)) channel.close();
      },
    };
    this.#connections.add(connection);
    return connection;
  }

  /**
   * Unix socket paths the plugin announced for its brokered servers. A Go plugin leaves these behind when it
   * exits (its `AcceptAndServe` goroutines never get to close their listeners), so the host removes the stale ones.
   */
  get announcedSockets(): readonly string[] {
    return [...this.#announcedSockets];
  }

  /** Ends the stream, stops brokered servers, closes brokered connections, rejects pending dials. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream.cancel();
    this.#endPending();
    for (const connection of [...this.#connections]) connection.close();
    await Promise.all([...this.#servers].map((server) => server.close()));
  }

  #onConnInfo(info: ConnInfo): void {
    if (info.knock?.knock) {
      // Multiplexed brokering (go-plugin v1.6+, yamux) is out of scope (spec §5.6).
      this.#log('warn', 'ignoring multiplexed broker knock', { id: info.service_id });
      return;
    }
    if (info.network === 'unix') this.#announcedSockets.add(info.address);
    const waiters = this.#waiters.get(info.service_id);
    const waiter = waiters?.shift();
    if (waiters?.length === 0) this.#waiters.delete(info.service_id);
    if (waiter !== undefined) {
      clearTimeout(waiter.timer);
      waiter.resolve(info);
      return;
    }
    this.#received.get(info.service_id)?.timer.close();
    const timer = setTimeout(() => this.#received.delete(info.service_id), CONN_INFO_TIMEOUT);
    timer.unref();
    this.#received.set(info.service_id, { info, timer });
  }

  #waitFor(id: number, timeout: number): Promise<ConnInfo> {
    const ready = this.#received.get(id);
    if (ready !== undefined) {
      clearTimeout(ready.timer);
      this.#received.delete(id);
      return Promise.resolve(ready.info);
    }
    if (this.#closed || this.#streamEnded) {
      const why = this.#closed ? 'broker is closed' : 'the plugin ended the broker stream (or has no broker)';
      return Promise.reject(new BrokerError('GOPLUGIN_BROKER_CLOSED', why, { serviceId: id }));
    }
    return new Promise((resolve, reject) => {
      const list = this.#waiters.get(id) ?? [];
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const current = this.#waiters.get(id);
          current?.splice(current.indexOf(waiter), 1);
          if (current?.length === 0) this.#waiters.delete(id);
          reject(
            new BrokerError('GOPLUGIN_BROKER_TIMEOUT', `timeout waiting for connection info for id ${id}`, {
              serviceId: id,
            }),
          );
        }, timeout),
      };
      waiter.timer.unref();
      list.push(waiter);
      this.#waiters.set(id, list);
    });
  }

  #endPending(): void {
    for (const { timer } of this.#received.values()) clearTimeout(timer);
    this.#received.clear();
    for (const [id, list] of this.#waiters) {
      for (const waiter of list) {
        clearTimeout(waiter.timer);
        waiter.reject(new BrokerError('GOPLUGIN_BROKER_CLOSED', 'broker stream ended', { serviceId: id }));
      }
    }
    this.#waiters.clear();
  }
}
