/**
 * A connected plugin: the gRPC channel for the application's services, ping, the broker, and the kill sequence
 * (`hashicorp/go-plugin: client.go` `Kill`, spec §8.5).
 */
import { type Channel, type Client as GrpcClient, type ServiceError, status } from '@grpc/grpc-js';
import type { Logger } from '../../logger.js';
import type { Handshake } from '../handshake.js';
import { HostBroker, type PluginBroker } from './broker.js';
import type { ChannelSetup, MtlsMaterial } from './channel.js';
import { InvalidPluginOptionsError, PingError, PluginClientClosedError, type PluginExit } from './errors.js';
import type { PluginLogEntry } from './hclog-parse.js';
import { registerClient, unregisterClient } from './live-clients.js';
import { type PluginProcess, safeLog, within } from './process.js';
import type { ReattachConfig } from './reattach.js';
import { type DynamicClient, internalServices } from './services.js';
import { removeSocketDir, unlinkStaleSocket } from './socket-dir.js';
import { forwardStdio, type OutputSink } from './stdio.js';

/** Everything a {@link PluginClient} is made of; assembled by `startPlugin` / `reattachPlugin`. */
export interface PluginClientParts {
  process: PluginProcess | undefined;
  handshake: Handshake | undefined;
  protocolVersion: number;
  network: 'unix' | 'tcp';
  address: string;
  setup: ChannelSetup;
  channel: Channel;
  mtls: MtlsMaterial | undefined;
  socketDir: string | undefined;
  logger: Logger | undefined;
  name: string;
  stdout: OutputSink | undefined;
  stderr: OutputSink | undefined;
  shutdownTimeout: number;
  killTimeout: number;
  /** For reattached clients: the pid to watch, if any. */
  reattach: { pid: number | undefined; watchPid: boolean } | undefined;
}

/**
 * A running go-plugin plugin, connected over gRPC. Made by `startPlugin` (which owns the process) or
 * `reattachPlugin` (which never kills it).
 *
 * @example
 * ```ts
 * const client = await startPlugin({ command: './kvplugin', magicCookieKey: 'BASIC_PLUGIN', magicCookieValue: 'hello' });
 * try {
 *   const kv = client.makeClient(KVClient); // a generated or proto-loader client constructor
 *   await client.ping();
 * } finally {
 *   await client.kill();
 * }
 * ```
 */
export class PluginClient {
  /** The gRPC channel to the plugin; pass it as `channelOverride` or use {@link makeClient}. */
  readonly channel: Channel;
  /** The negotiated application protocol version (handshake field 2, or the reattach config's). */
  readonly protocolVersion: number;
  /** The plugin's listener. */
  readonly address: {
    /** `unix` or `tcp`. */
    readonly network: 'unix' | 'tcp';
    /** Socket path or `host:port`, as the handshake (or reattach config) gave it. */
    readonly address: string;
  };
  /** The parsed handshake; `undefined` for a reattached plugin. */
  readonly handshake: Handshake | undefined;
  /** The plugin's process id, when known. */
  readonly pid: number | undefined;
  /** Whether this client came from `reattachPlugin` (and so never kills the process). */
  readonly reattached: boolean;
  /** Brokered connections in both directions. */
  readonly broker: PluginBroker;
  /**
   * Resolves when the plugin process has exited (never rejects). For a reattached plugin, the status is unknown
   * (`code` and `signal` are `null`); it resolves when the pid is found gone, or when the client is killed.
   */
  readonly exited: Promise<PluginExit>;

  readonly #parts: PluginClientParts;
  readonly #hostBroker: HostBroker;
  readonly #stdioCall: { cancel(): void };
  readonly #stdioDone: Promise<void>;
  #killing: Promise<void> | undefined;
  #resolveReattachExit: ((exit: PluginExit) => void) | undefined;
  #watchTimer: NodeJS.Timeout | undefined;

  /** @internal Use `startPlugin` or `reattachPlugin`. */
  constructor(parts: PluginClientParts) {
    this.#parts = parts;
    this.channel = parts.channel;
    this.protocolVersion = parts.protocolVersion;
    this.address = { network: parts.network, address: parts.address };
    this.handshake = parts.handshake;
    this.pid = parts.process?.pid ?? parts.reattach?.pid;
    this.reattached = parts.reattach !== undefined;
    const services = internalServices();
    // Go hosts open both streams right after connecting (`grpc_client.go`); both tolerate plugins without them.
    const broker = this.#internal(services.GRPCBroker);
    this.#hostBroker = new HostBroker(broker.StartStream() as never, {
      mtls: parts.mtls,
      socketDir: parts.socketDir,
      logger: parts.logger,
      name: parts.name,
    });
    this.broker = this.#hostBroker;
    const stdio = this.#internal(services.GRPCStdio).StreamStdio({}) as never;
    this.#stdioCall = stdio;
    this.#stdioDone = forwardStdio(
      stdio,
      { stdout: parts.stdout, stderr: parts.stderr },
      parts.logger,
      parts.name,
    );
    if (parts.process !== undefined) {
      const child = parts.process;
      this.exited = child.exited;
      void child.exited.then((exit) => {
        if (this.#killing !== undefined) return;
        // Exited on its own (a crash, a panic, Shutdown from elsewhere): log as Go does and release everything.
        const failed = exit.code !== 0;
        this.#log(failed ? 'error' : 'info', 'plugin process exited', {
          path: parts.name,
          pid: child.pid,
          ...(failed && { error: exit.signal ?? `exit status ${exit.code}` }),
        });
        void this.kill();
      });
    } else {
      this.exited = new Promise((resolve) => {
        this.#resolveReattachExit = resolve;
      });
      const pid = parts.reattach?.pid;
      if (pid !== undefined && parts.reattach?.watchPid) {
        // Go polls a reattached process every second (`client.go`, reattach).
        this.#watchTimer = setInterval(() => {
          if (!processExists(pid)) {
            this.#log('info', 'reattached plugin process exited', { pid });
            void this.kill();
          }
        }, 1000);
        this.#watchTimer.unref();
      }
    }
    if (!this.reattached) registerClient(this);
  }

  /**
   * Creates a client of one of the plugin's services on the shared channel.
   *
   * @param ctor - a client constructor from `@grpc/proto-loader` + `loadPackageDefinition`, or generated code.
   * @returns the client; do not `close()` it (that would close the shared channel); `kill()` the plugin instead.
   * @throws {@link PluginClientClosedError} after `kill()`.
   */
  makeClient<T extends GrpcClient>(ctor: new (...args: ConstructorParameters<typeof GrpcClient>) => T): T {
    if (this.#killing !== undefined) throw new PluginClientClosedError('makeClient');
    return new ctor(this.#parts.setup.target, this.#parts.setup.credentials, {
      channelOverride: this.channel,
    });
  }

  /**
   * Checks the plugin's health: `grpc.health.v1.Health/Check` for service `plugin`. As in Go, success means the
   * call returned without error; the reported status value is not inspected.
   *
   * @param options - `timeout` (default 5000 ms).
   * @throws {@link PingError} with the gRPC error as `cause`; {@link PluginClientClosedError} after `kill()`.
   */
  ping(options: { timeout?: number } = {}): Promise<void> {
    if (this.#killing !== undefined) return Promise.reject(new PluginClientClosedError('ping'));
    const health = this.#internal(internalServices().Health);
    const deadline = Date.now() + (options.timeout ?? 5000);
    return new Promise((resolve, reject) => {
      try {
        health.Check({ service: 'plugin' }, { deadline }, (error: ServiceError | null) => {
          if (error) reject(new PingError({ cause: error, detail: error.details || error.message }));
          else resolve();
        });
      } catch (error) {
        // grpc-js throws synchronously once the shared channel is closed (closing a makeClient() client does it).
        reject(new PingError({ cause: error, detail: (error as Error).message }));
      }
    });
  }

  /**
   * The configuration another host (or a second `reattachPlugin` in this one) needs to connect to this plugin.
   *
   * @throws {@link InvalidPluginOptionsError} when the connection uses AutoMTLS: reattach has no way to exchange
   *   certificates.
   */
  reattachConfig(): ReattachConfig {
    if (this.#parts.mtls !== undefined) {
      throw new InvalidPluginOptionsError('reattach is incompatible with AutoMTLS (no certificate exchange)');
    }
    return {
      protocol: 'grpc',
      protocolVersion: this.protocolVersion,
      addr: { network: this.address.network, address: this.address.address },
      ...(this.pid !== undefined && { pid: this.pid }),
      test: false,
    };
  }

  /**
   * Stops the plugin: ends the broker stream, calls `GRPCController.Shutdown` (bounded by `shutdownTimeout`; its
   * outcome, often UNAVAILABLE, is ignored as Go does), closes the channel, waits up to `killTimeout` for the
   * process to exit, then SIGKILLs its process group (logging WARN `plugin failed to exit gracefully`), and
   * removes the private socket directory and a stale socket. Idempotent; concurrent calls share one promise.
   * Never rejects.
   *
   * For a reattached plugin only the connection is closed: the process is never signalled.
   */
  kill(): Promise<void> {
    this.#killing ??= this.#kill().catch((error: unknown) => {
      // Every step is bounded and tolerant; should one still throw, kill() keeps its promise not to reject.
      this.#log('error', 'error while killing the plugin', { error: String(error) });
      this.#parts.process?.signal('SIGKILL');
      unregisterClient(this);
    });
    return this.#killing;
  }

  /** Synchronous last resort for process exit handlers: SIGKILL the process group if still running. */
  killSync(): void {
    this.#parts.process?.signal('SIGKILL');
  }

  async #kill(): Promise<void> {
    const parts = this.#parts;
    const child = parts.process;
    if (this.#watchTimer !== undefined) clearInterval(this.#watchTimer);
    await this.#hostBroker.close();
    if (child !== undefined && child.exit === undefined) {
      await this.#shutdown();
      await child.stop(parts.killTimeout, () => this.#log('warn', 'plugin failed to exit gracefully'));
    }
    this.#stdioCall.cancel();
    this.channel.close();
    await within(this.#stdioDone, 1000);
    if (child !== undefined) {
      await within(child.streamsClosed, 2000);
      if (parts.socketDir !== undefined) await removeSocketDir(parts.socketDir);
      // A Go plugin killed by a signal or a panic leaves its socket (`hashicorp/go-plugin#119`).
      const sockets = [
        ...(parts.network === 'unix' ? [parts.address] : []),
        ...this.#hostBroker.announcedSockets,
      ];
      await Promise.all(sockets.map((socket) => unlinkStaleSocket(socket)));
      unregisterClient(this);
    } else {
      this.#resolveReattachExit?.({ code: null, signal: null });
    }
  }

  #shutdown(): Promise<void> {
    const controller = this.#internal(internalServices().GRPCController);
    const deadline = Date.now() + this.#parts.shutdownTimeout;
    // Any outcome is success (spec §5.5): Go plugins Stop() the server, so the call usually ends UNAVAILABLE.
    return new Promise((resolve) => {
      try {
        controller.Shutdown({}, { deadline }, (error: ServiceError | null) => {
          if (error && error.code !== status.UNAVAILABLE && error.code !== status.CANCELLED) {
            this.#log('debug', 'shutdown call ended', { error: error.message });
          }
          resolve();
        });
      } catch (error) {
        // The channel is already closed (closing a makeClient() client closes the shared channel): grpc-js throws
        // synchronously. kill() must still go on to the signal and the cleanup.
        this.#log('debug', 'shutdown call failed', { error: (error as Error).message });
        resolve();
      }
    });
  }

  #internal(ctor: new (...args: ConstructorParameters<typeof GrpcClient>) => GrpcClient): DynamicClient {
    const { target, credentials } = this.#parts.setup;
    return new ctor(target, credentials, { channelOverride: this.channel }) as DynamicClient;
  }

  #log(level: PluginLogEntry['level'], message: string, fields: Record<string, unknown> = {}): void {
    safeLog(this.#parts.logger, {
      level,
      message,
      timestamp: new Date(),
      fields,
      name: this.#parts.name,
      origin: 'host',
    });
  }
}

/** Whether a process with this pid exists (signal 0); EPERM means it exists but is not ours. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
