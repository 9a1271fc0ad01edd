import type { ChannelCredentials, ChannelOptions, Server, ServerCredentials } from '@grpc/grpc-js';
import { Server as GrpcServer } from '@grpc/grpc-js';
import type { Logger } from '../logger.js';
import {
  BrokerClosedError,
  BrokerDuplicateIdError,
  BrokerTimeoutError,
  BrokerUnknownNetworkError,
} from './errors.js';
import type { BoundListener } from './listen.js';

/** `plugin.ConnInfo` as proto-loader decodes it (keepCase). */
export interface ConnInfo {
  /** The broker id the service is announced under. */
  service_id: number;
  /** `unix` or `tcp`. */
  network: string;
  /** Socket path or `host:port`. */
  address: string;
  /** Multiplexed-broker knock (go-plugin ≥ 1.6); unused by the non-multiplexed exchange. */
  knock?: ConnInfoKnock | null;
}

/** The knock part of a {@link ConnInfo}, exactly as go-plugin's `grpc_broker.proto` spells it. */
export interface ConnInfoKnock {
  /** Whether this message is a knock. */
  knock: boolean;
  /** Whether this message acknowledges a knock. */
  ack: boolean;
  /** An error text, empty when none. */
  error: string;
}

/** The `StartStream` duplex, from either end (grpc-js server call or client call). */
export interface BrokerStream {
  /** Sends one ConnInfo to the other end. */
  write(info: ConnInfo): unknown;
  /** Half-closes the stream. */
  end(): unknown;
  /** Receives each ConnInfo the other end sends. */
  on(event: 'data', listener: (info: ConnInfo) => void): unknown;
  /** The stream ended or was cancelled. */
  on(event: 'end' | 'close' | 'cancelled', listener: () => void): unknown;
  /** The stream failed. */
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** Where a peer's brokered service listens, ready for a grpc-js client constructor. */
export interface BrokerConnection {
  /** `unix` or `tcp`. */
  network: 'unix' | 'tcp';
  /** The announced address. */
  address: string;
  /** grpc-js target (`unix:/path` or `host:port`). */
  target: string;
  /** Credentials matching the main connection (AutoMTLS or insecure). */
  credentials: ChannelCredentials;
  /** Channel options (message limits, TLS name override). */
  options: ChannelOptions;
}

/** A brokered server this side accepted. */
export interface BrokerServer {
  /** The broker id it serves. */
  id: number;
  /** The gRPC server. */
  server: Server;
  /** Where it listens. */
  listener: BoundListener;
  /** Stops serving and removes its socket. */
  close(): Promise<void>;
}

/** What the broker needs from its owner. */
export interface BrokerSettings {
  /** Credentials for accepted servers (the same as the main server). */
  serverCredentials: () => ServerCredentials;
  /** Credentials for dialled connections. */
  channelCredentials: () => ChannelCredentials;
  /** Options of accepted servers. */
  serverOptions: ChannelOptions;
  /** Options of dialled connections. */
  channelOptions: ChannelOptions;
  /** Binds a new server by the main listener's rules. */
  bind: (server: Server) => Promise<BoundListener>;
  /** Log sink. */
  logger: Required<Logger>;
  /** How long dial waits for connection info and received info waits for a dial; default 5000 (Go's). */
  timeout?: number;
}

/**
 * go-plugin's non-multiplexed GRPCBroker (`hashicorp/go-plugin: grpc_broker.go`): over the single `StartStream`
 * stream each side announces the listeners it opened for a broker id ({@link accept}) and connects to the ones the
 * other side announced ({@link dial}). Ids travel in application messages; {@link nextId} hands out 1, 2, 3, …
 */
export class GRPCBroker {
  readonly #settings: BrokerSettings;
  readonly #timeout: number;
  #stream: BrokerStream | undefined;
  #streamWaiters: Array<() => void> = [];
  readonly #received = new Map<number, { info: ConnInfo; timer: NodeJS.Timeout }>();
  readonly #dialers = new Map<
    number,
    { resolve: (info: ConnInfo) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  readonly #servers = new Set<BrokerServer>();
  #lastId = 0;
  #closed = false;

  /** @param settings - credentials, options and binding of the owner. */
  constructor(settings: BrokerSettings) {
    this.#settings = settings;
    this.#timeout = settings.timeout ?? 5000;
  }

  /** A new broker id: 1, 2, 3, … (uint32, wrapping like Go's). */
  nextId(): number {
    this.#lastId = (this.#lastId + 1) >>> 0;
    return this.#lastId;
  }

  /** Uses `stream` (the `StartStream` call) for connection info; a later stream replaces an earlier one. */
  attach(stream: BrokerStream): void {
    if (this.#closed) {
      stream.end();
      return;
    }
    this.#stream = stream;
    const detach = () => {
      if (this.#stream === stream) this.#stream = undefined;
    };
    stream.on('data', (info) => this.#receive(info));
    stream.on('end', detach);
    stream.on('close', detach);
    stream.on('cancelled', detach);
    stream.on('error', detach);
    for (const wake of this.#streamWaiters.splice(0)) wake();
  }

  /**
   * Opens a new listener (same transport and credentials as the main one), serves the services `register` adds on
   * it, and announces it under `id` for the peer to dial.
   *
   * @param id - the broker id (usually from {@link nextId}, sent to the peer in an application call).
   * @param register - adds services to the new server.
   * @returns the running server.
   * @throws {@link BrokerClosedError}, or {@link BrokerTimeoutError} when the host never opened
   *   the broker stream.
   */
  async accept(id: number, register: (server: Server) => void): Promise<BrokerServer> {
    const stream = await this.#waitForStream();
    const server = new GrpcServer(this.#settings.serverOptions);
    register(server);
    const listener = await this.#settings.bind(server);
    let closing: Promise<void> | undefined;
    const brokered: BrokerServer = {
      id,
      server,
      listener,
      close: () => {
        closing ??= shutdownServer(server).then(() => {
          listener.unlink();
          this.#servers.delete(brokered);
        });
        return closing;
      },
    };
    this.#servers.add(brokered);
    if (this.#closed) {
      await brokered.close();
      throw new BrokerClosedError('the broker is closed');
    }
    stream.write({ service_id: id, network: listener.network, address: listener.address });
    this.#settings.logger.trace('broker: accepting', {
      id,
      network: listener.network,
      address: listener.address,
    });
    return brokered;
  }

  /**
   * Waits for the peer's connection info for `id` and returns how to connect to it.
   *
   * @param id - the broker id the peer accepted.
   * @returns target, credentials and options for a grpc-js client.
   * @throws {@link BrokerTimeoutError} (`timeout waiting for connection info`),
   *   `GOPLUGIN_BROKER_UNKNOWN_NETWORK`, `GOPLUGIN_BROKER_DUPLICATE_ID`, `GOPLUGIN_BROKER_CLOSED`.
   * @example
   * ```ts
   * const conn = await broker.dial(request.broker_id);
   * const echo = new EchoClient(conn.target, conn.credentials, conn.options);
   * ```
   */
  async dial(id: number): Promise<BrokerConnection> {
    if (this.#closed) throw new BrokerClosedError('the broker is closed');
    const ready = this.#received.get(id);
    let info: ConnInfo;
    if (ready !== undefined) {
      clearTimeout(ready.timer);
      this.#received.delete(id);
      info = ready.info;
    } else {
      if (this.#dialers.has(id)) {
        throw new BrokerDuplicateIdError(`broker id ${id} is already being dialled`);
      }
      info = await new Promise<ConnInfo>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#dialers.delete(id);
          reject(new BrokerTimeoutError(`timeout waiting for connection info (id ${id})`));
        }, this.#timeout);
        timer.unref();
        this.#dialers.set(id, { resolve, reject, timer });
      });
    }
    if (info.network !== 'unix' && info.network !== 'tcp') {
      throw new BrokerUnknownNetworkError(
        `unknown address type ${JSON.stringify(info.network)} for ${JSON.stringify(info.address)}`,
      );
    }
    return {
      network: info.network,
      address: info.address,
      target: info.network === 'unix' ? `unix:${info.address}` : info.address,
      credentials: this.#settings.channelCredentials(),
      options: this.#settings.channelOptions,
    };
  }

  /** Ends the stream, fails pending dials, and stops every accepted server. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const wake of this.#streamWaiters.splice(0)) wake();
      for (const [, pending] of this.#received) clearTimeout(pending.timer);
      this.#received.clear();
      for (const [, dialer] of this.#dialers) {
        clearTimeout(dialer.timer);
        dialer.reject(new BrokerClosedError('the broker closed while waiting'));
      }
      this.#dialers.clear();
      try {
        this.#stream?.end();
      } catch {
        // the stream is already gone
      }
      this.#stream = undefined;
    }
    await Promise.all([...this.#servers].map((server) => server.close()));
  }

  #receive(info: ConnInfo): void {
    if (info.knock?.knock) {
      // Multiplexed brokering (yamux) is out of scope; a TS plugin never offers it.
      this.#settings.logger.warn('broker: ignoring a multiplexed-broker knock', { id: info.service_id });
      return;
    }
    const dialer = this.#dialers.get(info.service_id);
    if (dialer !== undefined) {
      clearTimeout(dialer.timer);
      this.#dialers.delete(info.service_id);
      dialer.resolve(info);
      return;
    }
    const previous = this.#received.get(info.service_id);
    if (previous !== undefined) clearTimeout(previous.timer);
    // Unclaimed connection info expires after the same wait, as in Go (`timeoutWait`).
    const timer = setTimeout(() => this.#received.delete(info.service_id), this.#timeout);
    timer.unref();
    this.#received.set(info.service_id, { info, timer });
  }

  #waitForStream(): Promise<BrokerStream> {
    if (this.#closed) return Promise.reject(new BrokerClosedError('the broker is closed'));
    if (this.#stream !== undefined) return Promise.resolve(this.#stream);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#streamWaiters = this.#streamWaiters.filter((w) => w !== wake);
        reject(new BrokerTimeoutError('the host never opened the broker stream'));
      }, this.#timeout);
      timer.unref();
      const wake = () => {
        clearTimeout(timer);
        if (this.#stream !== undefined && !this.#closed) resolve(this.#stream);
        else reject(new BrokerClosedError('the broker is closed'));
      };
      this.#streamWaiters.push(wake);
    });
  }
}

/** Graceful shutdown with a 500 ms bound, then forced (Go's controller uses a hard Stop). */
export function shutdownServer(server: Server, grace = 500): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, grace);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
