import { type ChannelOptions, Server } from '@grpc/grpc-js';
import { onAbort } from '../../abort.js';
import { completeLogger, type Logger, type LogLevel } from '../../logger.js';
import { addExitHook } from '../../socket/exit.js';
import { GRPCBroker, shutdownServer } from '../broker.js';
import { checkMagicCookie, MAGIC_COOKIE_MESSAGE, PLUGIN_ENV } from '../env.js';
import { CookieMismatchError, GoPluginError } from '../errors.js';
import { formatHandshake } from '../handshake.js';
import { createHclogLogger, writeFully } from '../hclog.js';
import { InvalidPluginOptionsError } from '../host/errors.js';
import type { ReattachConfig } from '../host/reattach.js';
import { type BoundListener, bindListener, defaultTransport, type PluginTransport } from '../listen.js';
import type { AutoMTLSCertificateOptions } from '../mtls.js';
import { negotiateProtocolVersion } from '../negotiate.js';
import { type InternalServicesHandle, registerInternalServices } from './services.js';
import { StdioCapture } from './stdio.js';
import { autoMTLS, insecure, type PluginSecurity } from './tls.js';

/** go-plugin hosts set call limits to `math.MaxInt32` (`hashicorp/go-plugin: grpc_client.go`). */
export const GO_PLUGIN_MAX_MESSAGE_LENGTH = 2_147_483_647;

/** What a version's register function receives besides the server. */
export interface PluginContext {
  /** The negotiated application protocol version. */
  version: number;
  /** The connection broker, for brokered services in both directions. */
  broker: GRPCBroker;
  /** The plugin's logger (hclog JSON on stderr by default); every level is present. */
  logger: Required<Logger>;
}

/** Adds a version's application services to the plugin's gRPC server. */
export type RegisterServices = (server: Server, context: PluginContext) => void | Promise<void>;

/** Options of {@link servePlugin}. */
export interface ServePluginOptions {
  /** The cookie variable the host sets, e.g. `BASIC_PLUGIN`. */
  magicCookieKey: string;
  /** Its expected value, e.g. `hello`. */
  magicCookieValue: string;
  /** One register function per application protocol version this plugin speaks. */
  versions: Readonly<Record<number, RegisterServices>>;
  /**
   * Logger; default an hclog-compatible JSON logger on the real fd 2, which Go hosts show at each entry's level
   * (`hashicorp/go-plugin: client.go`, `logStderr`).
   */
  logger?: Logger;
  /** Entries below this level are dropped (the given `logger` or the default one). Default `trace`, as Go plugins. */
  logLevel?: LogLevel;
  /**
   * AutoMTLS when the host set `PLUGIN_CLIENT_CERT` (default `true`, as Go plugins); an object picks the
   * certificate curve. `false` ignores `PLUGIN_CLIENT_CERT` (a host with AutoMTLS on then cannot connect).
   */
  autoMTLS?: boolean | AutoMTLSCertificateOptions;
  /** `unix` (default except on Windows) or `tcp` on `127.0.0.1` within `PLUGIN_MIN_PORT`..`PLUGIN_MAX_PORT`. */
  transport?: PluginTransport;
  /** The environment to read; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Receive (and send) limit of the server; default 2147483647 (go-plugin's `MaxInt32`), `-1` unlimited. */
  maxMessageLength?: number;
  /**
   * Route `process.stdout.write` (and, unless `stderr: false`, `process.stderr.write`) to the host's
   * `GRPCStdio` stream after the handshake. Default `true`.
   */
  captureStdio?:
    | boolean
    | {
        /** Also capture `process.stderr.write`. Default `true`. */
        stderr?: boolean;
        /** How many bytes to buffer while no GRPCStdio stream is open. */
        bufferBytes?: number;
      };
  /** Stop when the parent process changes (polled once a second). Default `true`. */
  exitWithHost?: boolean;
  /**
   * Whether the runtime ends the process: exit 1 on a wrong cookie or a start failure, exit 0 after `Shutdown`.
   * Default `true`. With `false` start failures reject and shutdown only resolves {@link ServedPlugin.closed}.
   */
  exit?: boolean;
  /**
   * Test/debug mode (Go's `ServeConfig.Test`): no cookie check, no AutoMTLS, no handshake on stdout, no stdio
   * capture, no parent polling, and the process is never exited; connect through {@link ServedPlugin.reattach}
   * (e.g. with a host's reattach support). Default `false`.
   */
  test?: boolean;
  /** Aborting stops the plugin, as a `Shutdown` call would. */
  signal?: AbortSignal;
}

/** A running plugin. */
export interface ServedPlugin {
  /** The negotiated application protocol version. */
  version: number;
  /** `unix` or `tcp`. */
  network: 'unix' | 'tcp';
  /** The listener address printed in the handshake. */
  address: string;
  /** The handshake line that was printed (with its `\n`). */
  handshake: string;
  /** The gRPC server. */
  server: Server;
  /** The connection broker. */
  broker: GRPCBroker;
  /** The logger (every level present). */
  logger: Required<Logger>;
  /** Stops serving, removes the socket, restores stdio (and exits the process unless `exit: false`). */
  stop(): Promise<void>;
  /** Settles once the plugin has stopped. */
  closed: Promise<void>;
  /** Reattach data for hosts that connect without spawning (see `test`). */
  reattach: Required<ReattachConfig>;
}

/**
 * Serves a hashicorp/go-plugin plugin from TypeScript, in the order a Go plugin does (`hashicorp/go-plugin:
 * server.go`): checks the magic cookie (on mismatch writes go-plugin's three-line message to stderr synchronously
 * and exits 1), negotiates the version from `PLUGIN_PROTOCOL_VERSIONS`, sets up AutoMTLS when
 * `PLUGIN_CLIENT_CERT` is set, registers `grpc.health.v1.Health` (`plugin` = SERVING), `plugin.GRPCController`,
 * `plugin.GRPCStdio`, `plugin.GRPCBroker` and the version's services on one grpc-js server with go-plugin's
 * message limits, binds (Unix socket or TCP), and only then prints the handshake as the first stdout bytes. SIGINT
 * is ignored like in Go plugins; SIGTERM/SIGHUP remove the socket and exit.
 *
 * Never print to stdout before this resolves: the host takes the first stdout line as the handshake.
 *
 * Any failure before the handshake (configuration, version negotiation, certificate, a register function
 * that throws, bind) is logged as one hclog line at ERROR (`plugin failed to start: …`, with the error's `code`)
 * and ends the process with exit code 1, so the host shows one clear line in its log instead of a stack trace.
 *
 * @param options - cookie, versions and runtime settings.
 * @returns the running plugin.
 * @throws only with `exit: false` (or `test: true`): {@link InvalidPluginOptionsError} for an empty cookie
 *   key/value or no versions, {@link CookieMismatchError}, and the other start failures ({@link ServeError}
 *   subclasses for bind and certificate failures, negotiation, or whatever a register function throws).
 * @example
 * ```ts
 * await servePlugin({
 *   magicCookieKey: 'BASIC_PLUGIN',
 *   magicCookieValue: 'hello',
 *   versions: { 1: (server) => server.addService(kvService, kvImplementation) },
 * });
 * ```
 */
export async function servePlugin(options: ServePluginOptions): Promise<ServedPlugin> {
  const env = options.env ?? process.env;
  const testMode = options.test ?? false;
  const exit = !testMode && (options.exit ?? true);
  // 4. (first, so that every start failure below is reported the same way) The logger.
  const logger =
    options.logger === undefined
      ? createHclogLogger({ level: options.logLevel ?? 'trace' })
      : completeLogger(options.logger, options.logLevel);
  // Before the handshake a failure must not end in an uncaught rejection and a stack trace: the host shows the
  // plugin's stderr in its own log, so one hclog line at ERROR with the code, then exit 1. With `exit: false`
  // the caller gets the error instead.
  const failStart = (error: unknown): never => {
    if (!exit) throw error;
    const message = error instanceof Error ? error.message : String(error);
    logger.error(`plugin failed to start: ${message}`, {
      ...(error instanceof GoPluginError ? { code: error.code } : {}),
      ...(error instanceof Error && !(error instanceof GoPluginError) ? { error: error.name } : {}),
    });
    process.exit(1);
  };
  const versions = Object.keys(options.versions ?? {}).map(Number);
  // 1. Configuration (Go prints `Misconfigured ServeConfig ...` and exits 1).
  if (!options.magicCookieKey || !options.magicCookieValue) {
    return failStart(
      new InvalidPluginOptionsError(
        'Misconfigured ServeConfig given to serve this plugin: no magic cookie key or value was set',
      ),
    );
  }
  if (versions.length === 0 || versions.some((v) => !Number.isSafeInteger(v) || v < 0)) {
    return failStart(
      new InvalidPluginOptionsError('servePlugin needs at least one integer protocol version'),
    );
  }

  // 2. The cookie, before anything else happens. Synchronous, or Node may exit before a pipe write completes.
  // Go's three-line message (not an hclog line): people run plugins by hand and read it (spec §3).
  if (!testMode && !checkMagicCookie(env, options.magicCookieKey, options.magicCookieValue)) {
    if (!exit) throw new CookieMismatchError(MAGIC_COOKIE_MESSAGE.trimEnd());
    writeFully(2, MAGIC_COOKIE_MESSAGE);
    process.exit(1);
  }

  // 3. Version. Go writes the invalid-version note without a newline; we terminate it so the next line stays intact.
  let version: number;
  try {
    const negotiation = negotiateProtocolVersion(env[PLUGIN_ENV.protocolVersions], versions);
    for (const entry of negotiation.invalid)
      writeFully(2, `server sent invalid plugin version ${JSON.stringify(entry)}\n`);
    version = negotiation.version;
  } catch (error) {
    return failStart(error);
  }
  const register = options.versions[version] as RegisterServices;

  // 5. Signals: Ctrl-C reaches the whole process group; the host decides when the plugin stops.
  const ignoreSigint = () => {};
  process.on('SIGINT', ignoreSigint);

  // 6. AutoMTLS. Reattaching has no certificate exchange, so test mode never enables it.
  const clientCertPem = options.autoMTLS === false || testMode ? '' : (env[PLUGIN_ENV.clientCert] ?? '');
  let security: PluginSecurity;
  try {
    security =
      clientCertPem === ''
        ? insecure()
        : autoMTLS(clientCertPem, typeof options.autoMTLS === 'object' ? options.autoMTLS : {});
  } catch (error) {
    process.removeListener('SIGINT', ignoreSigint);
    return failStart(error);
  }
  if (security.certDer !== undefined) logger.info('configuring server automatic mTLS');
  const { serverCredentials, channelCredentials } = security;

  // 7. Server and services.
  const limit = options.maxMessageLength ?? GO_PLUGIN_MAX_MESSAGE_LENGTH;
  const serverOptions: ChannelOptions = {
    'grpc.max_receive_message_length': limit,
    'grpc.max_send_message_length': limit,
  };
  const channelOptions: ChannelOptions = { ...serverOptions, ...security.channelOptions };
  const transport = options.transport ?? defaultTransport();
  const server = new Server(serverOptions);
  const broker = new GRPCBroker({
    serverCredentials,
    channelCredentials,
    serverOptions,
    channelOptions,
    bind: (brokered) => bindListener(brokered, serverCredentials(), transport, env),
    logger,
  });
  const captureOption = options.captureStdio ?? true;
  const stdio = new StdioCapture(
    typeof captureOption === 'object'
      ? {
          ...(captureOption.stderr === undefined ? {} : { captureStderr: captureOption.stderr }),
          ...(captureOption.bufferBytes === undefined ? {} : { bufferBytes: captureOption.bufferBytes }),
        }
      : {},
  );

  let listener: BoundListener | undefined;
  let internal: InternalServicesHandle | undefined;
  let stopping: Promise<void> | undefined;
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  let ppidTimer: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    listener?.unlink();
    stdio.stop();
    removeHandlers();
    process.exit(128 + (signal === 'SIGHUP' ? 1 : 15));
  };
  // Whatever ends the process (user code calling process.exit, an empty event loop), the socket goes with it.
  let removeExitHook = (): void => {};
  let disposeAbort = (): void => {};
  const removeHandlers = () => {
    removeExitHook();
    disposeAbort();
    process.removeListener('SIGINT', ignoreSigint);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGHUP', onSignal);
    if (ppidTimer !== undefined) clearInterval(ppidTimer);
  };
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      removeHandlers();
      internal?.endWatches();
      stdio.stop();
      await broker.close();
      await shutdownServer(server);
      listener?.unlink();
      resolveClosed();
      if (exit) process.exit(0);
    })();
    return stopping;
  };

  try {
    internal = registerInternalServices(server, { stdio, broker, onShutdown: () => void stop() });
    await register(server, { version, broker, logger });
    // 8./9. Bind, set socket group and mode.
    listener = await bindListener(server, serverCredentials(), transport, env);
  } catch (error) {
    removeHandlers();
    server.forceShutdown();
    return failStart(error);
  }
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  removeExitHook = addExitHook(() => listener?.unlink());
  logger.debug('plugin address', { address: listener.address, network: listener.network });

  // 10. The handshake: first bytes on stdout, synchronously, then stdio capture.
  const handshake = formatHandshake({
    appVersion: version,
    network: listener.network,
    address: listener.address,
    env,
    ...(security.certDer === undefined ? {} : { serverCertDer: security.certDer }),
  });
  if (!testMode) {
    writeFully(1, handshake);
    if (captureOption !== false) stdio.start();
  }

  // 12. go-plugin never notices a vanished host; orphaned plugins are a known problem (go-plugin#10).
  if (!testMode && (options.exitWithHost ?? true)) {
    const parent = process.ppid;
    ppidTimer = setInterval(() => {
      if (process.ppid !== parent) {
        logger.warn('host process went away, stopping', { ppid: parent });
        void stop();
      }
    }, 1000);
    ppidTimer.unref();
  }
  disposeAbort = onAbort(options.signal, () => void stop());

  return {
    version,
    network: listener.network,
    address: listener.address,
    handshake,
    server,
    broker,
    logger,
    stop,
    closed,
    reattach: {
      protocol: 'grpc',
      protocolVersion: version,
      addr: { network: listener.network, address: listener.address },
      pid: process.pid,
      test: testMode,
    },
  };
}
