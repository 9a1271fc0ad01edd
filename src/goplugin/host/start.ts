/**
 * `startPlugin` (launch a plugin binary as a Go host does, spec §8) and `reattachPlugin` (connect to a running one).
 */
import { Channel } from '@grpc/grpc-js';
import { onAbort } from '../../abort.js';
import { HandshakeError } from '../errors.js';
import { type Handshake, parseHandshake } from '../handshake.js';
import { generateAutoMTLSCertificate } from '../mtls.js';
import { channelSetup, type MtlsMaterial, waitForReady } from './channel.js';
import { PluginClient, processExists } from './client.js';
import {
  PluginAbortedError,
  PluginConnectError,
  PluginHandshakeRejectedError,
  ReattachNotFoundError,
} from './errors.js';
import {
  levelledLogger,
  type PluginConnectionOptions,
  pluginEnvironment,
  type ReattachPluginOptions,
  resolveStartOptions,
  type StartPluginOptions,
} from './options.js';
import { PluginProcess } from './process.js';
import { normalizeReattachConfig, type ReattachConfig, type TerraformReattachConfig } from './reattach.js';
import { internalServices } from './services.js';
import { createSocketDir, removeSocketDir } from './socket-dir.js';

/** The longest the host waits for the channel to become ready after the handshake (spec §8.3). */
const CONNECT_TIMEOUT = 10_000;

/** The implementation of `startPlugin` (`entry.ts`, which documents it), loaded on first use. */
export async function startPlugin(options: StartPluginOptions): Promise<PluginClient> {
  const resolved = resolveStartOptions(options);
  const logger = levelledLogger(options);
  const started = Date.now();
  const signal = options.signal;
  if (signal?.aborted) throw new PluginAbortedError({ cause: signal.reason });
  const socketDir =
    process.platform === 'win32'
      ? undefined
      : await createSocketDir(options.unixSocketDir, options.unixSocketGroup);
  let child: PluginProcess | undefined;
  try {
    const certificate = options.autoMTLS ? generateAutoMTLSCertificate() : undefined;
    const env = pluginEnvironment(options, resolved.versions, {
      ...(certificate !== undefined && { clientCertPem: certificate.certPem }),
      ...(socketDir !== undefined && { socketDir }),
    });
    child = await PluginProcess.spawn({
      command: resolved.command,
      args: resolved.args,
      env,
      cwd: options.cwd,
      stdin: options.stdin ?? 'ignore',
      processGroup: resolved.processGroup,
      logger,
    });
    // Load the internal protos while the plugin starts (the first start in a process pays ~20 ms for it).
    internalServices();
    const line = await child.readFirstLine(resolved.startTimeout, signal);
    let handshake: Handshake;
    try {
      handshake = parseHandshake(line, {
        versions: resolved.versions,
        protocols: ['grpc'],
        autoMTLS: options.autoMTLS ?? false,
      });
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      // Go kills the plugin on any handshake error (`client.go`).
      const exit = await child.reap();
      throw new PluginHandshakeRejectedError(error, {
        line: line.slice(0, 200),
        stderrTail: child.stderrTail,
        ...(exit !== undefined && { exit }),
      });
    }
    const mtls: MtlsMaterial | undefined =
      certificate === undefined || handshake.serverCertPem === undefined
        ? undefined
        : {
            peerCertPem: handshake.serverCertPem,
            certPem: certificate.certPem,
            keyPem: certificate.keyPem,
            ...(options.tlsMaxVersion !== undefined && { maxVersion: options.tlsMaxVersion }),
          };
    const setup = channelSetup(handshake.network, handshake.address, mtls, resolved.maxMessageBytes);
    const channel = new Channel(setup.target, setup.credentials, setup.options);
    const remaining = Math.max(1000, resolved.startTimeout - (Date.now() - started));
    const runningChild = child;
    const aborted = abortWatch(signal);
    const gone = Promise.race([
      runningChild.exited.then((exit) => `plugin exited (${exit.signal ?? `status ${exit.code}`})`),
      aborted.promise,
    ]);
    try {
      await waitForReady(channel, setup.target, Math.min(CONNECT_TIMEOUT, remaining), gone);
    } catch (error) {
      channel.close();
      await runningChild.reap();
      if (signal?.aborted) throw new PluginAbortedError({ cause: signal.reason });
      const tail = runningChild.stderrTail;
      const message =
        (error as Error).message + (tail.length > 0 ? `\nplugin stderr:\n  ${tail.join('\n  ')}` : '');
      throw new PluginConnectError(setup.target, message.replace(/^cannot connect to plugin at \S+: /, ''), {
        cause: error,
      });
    } finally {
      aborted.dispose();
    }
    return new PluginClient({
      process: child,
      handshake,
      protocolVersion: handshake.appVersion,
      network: handshake.network,
      address: handshake.address,
      setup,
      channel,
      mtls,
      socketDir,
      logger,
      name: child.name,
      stdout: options.stdout,
      stderr: options.stderr,
      shutdownTimeout: resolved.shutdownTimeout,
      killTimeout: resolved.killTimeout,
      reattach: undefined,
    });
  } catch (error) {
    await child?.reap();
    if (socketDir !== undefined) await removeSocketDir(socketDir);
    throw error;
  }
}

/** A promise that resolves when `signal` aborts, and a way to stop listening. */
function abortWatch(signal: AbortSignal | undefined): { promise: Promise<string>; dispose(): void } {
  let dispose = (): void => {};
  const promise = new Promise<string>((resolve) => {
    dispose = onAbort(signal, () => resolve('aborted'));
  });
  return { promise, dispose };
}

/** The implementation of `reattachPlugin` (`entry.ts`, which documents it), loaded on first use. */
export async function reattachPlugin(
  config: ReattachConfig | TerraformReattachConfig,
  options: ReattachPluginOptions = {},
): Promise<PluginClient> {
  const normalized = normalizeReattachConfig(config);
  const logger = levelledLogger(options);
  const pid = normalized.pid;
  if (pid !== undefined && !processExists(pid)) {
    throw new ReattachNotFoundError(`reattachment process not found (pid ${pid})`);
  }
  const connection: PluginConnectionOptions = options;
  const setup = channelSetup(
    normalized.addr.network,
    normalized.addr.address,
    undefined,
    connection.maxMessageBytes,
  );
  const channel = new Channel(setup.target, setup.credentials, setup.options);
  try {
    await waitForReady(channel, setup.target, options.connectTimeout ?? CONNECT_TIMEOUT);
  } catch (error) {
    channel.close();
    throw error;
  }
  return new PluginClient({
    process: undefined,
    handshake: undefined,
    protocolVersion: normalized.protocolVersion,
    network: normalized.addr.network,
    address: normalized.addr.address,
    setup,
    channel,
    mtls: undefined,
    socketDir: undefined,
    logger,
    name: pid === undefined ? 'plugin' : `plugin-${pid}`,
    stdout: options.stdout,
    stderr: options.stderr,
    shutdownTimeout: 0,
    killTimeout: 0,
    reattach: { pid, watchPid: options.watchPid ?? true },
  });
}
