/**
 * Host side of the non-multiplexed `plugin.GRPCBroker` (`hashicorp/go-plugin: grpc_broker.go`). The protocol is
 * symmetric once the host has opened `StartStream`, so this adapts the plugin runtime's {@link GRPCBroker} (one
 * implementation for both roles) to the host: it attaches the host's `StartStream` call, binds brokered servers
 * in the host's private socket directory, and turns dialled connection info into ready-to-use channels.
 */
import { tmpdir } from 'node:os';
import {
  Channel,
  type ClientDuplexStream,
  credentials,
  type Client as GrpcClient,
  type Server,
} from '@grpc/grpc-js';
import type { Logger, LogLevel } from '../../logger.js';
import { type BrokerServer, type ConnInfo, GRPCBroker } from '../broker.js';
import { bindListener } from '../listen.js';
import {
  brokerServerCredentials,
  MAX_MESSAGE_BYTES,
  type MtlsMaterial,
  mtlsChannelCredentials,
} from './channel.js';
import { safeLog } from './process.js';

/** A connection to a service the plugin serves under a broker id; see {@link PluginBroker.dial}. */
export interface BrokeredConnection {
  /** The broker id. */
  readonly id: number;
  /** The grpc-js channel (same TLS settings as the main connection). */
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
 * // The host serves a callback service that the plugin dials:
 * const id = client.broker.nextId();
 * await client.broker.accept(id, (server) => server.addService(Echo.service, echoImpl));
 * await brokered.CallBack({ broker_id: id, text: 'hi' }, callback);
 * // The host dials a service the plugin announced under an id it returned:
 * const connection = await client.broker.dial(idFromPlugin);
 * const echo = connection.makeClient(Echo);
 * ```
 */
export interface PluginBroker {
  /** Returns the next unused id (1, 2, 3, …) of the host side. */
  nextId(): number;
  /**
   * Serves a new gRPC server for the plugin (a Unix socket in the host's private socket directory, with the
   * host's AutoMTLS certificate) and announces it under `id`.
   *
   * @param id - the broker id (usually from {@link nextId}).
   * @param register - adds services to the server before it starts.
   * @throws {@link BrokerError} `GOPLUGIN_BROKER_CLOSED` after `kill()`.
   */
  accept(id: number, register: (server: Server) => void): Promise<BrokerServer>;
  /**
   * Connects to the service the plugin announced (or announces within 5 s, as in Go) under `id`.
   *
   * @param id - the broker id the plugin used.
   * @throws {@link BrokerError} `GOPLUGIN_BROKER_TIMEOUT` (`timeout waiting for connection info`),
   *   `GOPLUGIN_BROKER_UNKNOWN_NETWORK`, `GOPLUGIN_BROKER_CLOSED`, `GOPLUGIN_BROKER_DUPLICATE_ID`.
   */
  dial(id: number): Promise<BrokeredConnection>;
}

/** The {@link PluginBroker} of a {@link PluginClient}; not exported from the package. */
export class HostBroker implements PluginBroker {
  readonly #broker: GRPCBroker;
  readonly #call: ClientDuplexStream<ConnInfo, ConnInfo>;
  readonly #announcedSockets = new Set<string>();
  readonly #connections = new Set<BrokeredConnection>();

  constructor(
    call: ClientDuplexStream<ConnInfo, ConnInfo>,
    options: {
      mtls: MtlsMaterial | undefined;
      socketDir: string | undefined;
      logger: Logger | undefined;
      name: string;
    },
  ) {
    const { mtls } = options;
    this.#call = call;
    const messageLimits = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    };
    this.#broker = new GRPCBroker({
      serverCredentials: () => brokerServerCredentials(mtls),
      channelCredentials: () =>
        mtls === undefined ? credentials.createInsecure() : mtlsChannelCredentials(mtls),
      serverOptions: messageLimits,
      // The AutoMTLS certificates name only `localhost` (spec §9.3); harmless for unix targets.
      channelOptions:
        mtls === undefined
          ? messageLimits
          : { ...messageLimits, 'grpc.ssl_target_name_override': 'localhost' },
      bind: (server) =>
        bindListener(server, brokerServerCredentials(mtls), 'unix', {
          PLUGIN_UNIX_SOCKET_DIR: options.socketDir ?? tmpdir(),
        }),
      logger: hostLogger(options.logger, options.name),
    });
    call.on('data', (info: ConnInfo) => {
      if (info.network === 'unix') this.#announcedSockets.add(info.address);
    });
    // UNIMPLEMENTED (a plugin without a broker) or the connection ending: Go ignores these errors too.
    call.on('error', () => undefined);
    this.#broker.attach(call);
  }

  nextId(): number {
    return this.#broker.nextId();
  }

  accept(id: number, register: (server: Server) => void): Promise<BrokerServer> {
    return this.#broker.accept(id, register);
  }

  async dial(id: number): Promise<BrokeredConnection> {
    const info = await this.#broker.dial(id);
    const channel = new Channel(info.target, info.credentials, info.options);
    const connection: BrokeredConnection = {
      id,
      channel,
      makeClient: (ctor) => new ctor(info.target, info.credentials, { channelOverride: channel }),
      close: () => {
        if (this.#connections.delete(connection)) channel.close();
      },
    };
    this.#connections.add(connection);
    return connection;
  }

  /**
   * Unix socket paths the plugin announced for its brokered servers. A Go plugin leaves these behind when it
   * exits (its `AcceptAndServe` goroutines never close their listeners), so the host removes the stale ones.
   */
  get announcedSockets(): readonly string[] {
    return [...this.#announcedSockets];
  }

  /** Closes dialled connections and brokered servers, and cancels the stream. */
  async close(): Promise<void> {
    for (const connection of [...this.#connections]) connection.close();
    await this.#broker.close();
    this.#call.cancel();
  }
}

/** The complete logger the plugin-side broker needs, writing host-origin entries to the user's logger. */
function hostLogger(logger: Logger | undefined, name: string): Required<Logger> {
  const at =
    (level: LogLevel) =>
    (message: string, fields: Readonly<Record<string, unknown>> = {}): void =>
      safeLog(logger, { level, message, timestamp: new Date(), fields: { ...fields }, name, origin: 'host' });
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
