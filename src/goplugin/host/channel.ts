/**
 * The grpc-js side of the connection to a plugin: target, credentials (insecure or AutoMTLS), channel options,
 * and waiting until the channel is ready.
 */
import { createSecureContext } from 'node:tls';
import {
  type Channel,
  type ChannelCredentials,
  type ChannelOptions,
  connectivityState,
  credentials,
  ServerCredentials,
} from '@grpc/grpc-js';
import { PluginConnectError } from './errors.js';

/** go-plugin's `MaxInt32` message limit (`hashicorp/go-plugin: grpc_client.go`); grpc-js would cap receives at 4 MiB. */
export const MAX_MESSAGE_BYTES = 2_147_483_647;

/** The TLS material of an AutoMTLS connection, all PEM, and an optional TLS version cap. */
export interface MtlsMaterial {
  /** The plugin's certificate (from handshake field 6): the only trusted root. */
  peerCertPem: string;
  /** The host's own certificate (sent to the plugin in `PLUGIN_CLIENT_CERT`). */
  certPem: string;
  /** The host certificate's private key. */
  keyPem: string;
  /** Highest TLS version to negotiate; `TLSv1.2` works around TLS 1.3 failures in hardened environments. */
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** Client credentials for AutoMTLS: trust only the plugin's certificate, present the host's, TLS 1.2 at least. */
export function mtlsChannelCredentials(mtls: MtlsMaterial): ChannelCredentials {
  if (mtls.maxVersion === undefined) {
    return credentials.createSsl(
      Buffer.from(mtls.peerCertPem),
      Buffer.from(mtls.keyPem),
      Buffer.from(mtls.certPem),
    );
  }
  // A secure context is the only way to cap the version in grpc-js (`hashicorp/terraform-plugin-go#582`).
  const context = createSecureContext({
    ca: mtls.peerCertPem,
    key: mtls.keyPem,
    cert: mtls.certPem,
    minVersion: 'TLSv1.2',
    maxVersion: mtls.maxVersion,
  });
  return credentials.createFromSecureContext(context);
}

/** Everything needed to open a channel to one plugin listener. */
export interface ChannelSetup {
  /** grpc-js target, e.g. `unix:/tmp/plugin123` or `127.0.0.1:10000`. */
  target: string;
  /** Insecure, or AutoMTLS. */
  credentials: ChannelCredentials;
  /** Message limits and, for TCP with TLS, the `localhost` name override. */
  options: ChannelOptions;
}

/**
 * Builds the target, credentials and options for a plugin listener.
 *
 * @param network - `unix` or `tcp`.
 * @param address - a socket path or `host:port`.
 * @param mtls - AutoMTLS material, or `undefined` for an insecure channel.
 * @param maxMessageBytes - the receive and send limit.
 */
export function channelSetup(
  network: 'unix' | 'tcp',
  address: string,
  mtls: MtlsMaterial | undefined,
  maxMessageBytes: number = MAX_MESSAGE_BYTES,
): ChannelSetup {
  // grpc-js's unix resolver uses `localhost` as the authority (`resolver-uds.ts`), which matches the certificate's
  // only SAN; for TCP the name must be overridden, as the certificate has no IP SAN (spec §9.3).
  const target = network === 'unix' ? `unix:${address}` : address;
  const options: ChannelOptions = {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    // One connection per plugin, like Go; never share subchannels with other clients of this process.
    'grpc.use_local_subchannel_pool': 1,
  };
  if (mtls !== undefined && network === 'tcp') {
    options['grpc.ssl_target_name_override'] = 'localhost';
    options['grpc.default_authority'] = 'localhost';
  }
  const channelCredentials = mtls === undefined ? credentials.createInsecure() : mtlsChannelCredentials(mtls);
  return { target, credentials: channelCredentials, options };
}

/**
 * Server credentials for a host-side brokered server: present the host certificate, require the plugin's.
 *
 * @param mtls - AutoMTLS material, or `undefined` for an insecure server.
 */
export function brokerServerCredentials(mtls: MtlsMaterial | undefined): ServerCredentials {
  if (mtls === undefined) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    Buffer.from(mtls.peerCertPem),
    [{ private_key: Buffer.from(mtls.keyPem), cert_chain: Buffer.from(mtls.certPem) }],
    true,
  );
}

const STATE_NAMES: Record<number, string> = {
  [connectivityState.IDLE]: 'IDLE',
  [connectivityState.CONNECTING]: 'CONNECTING',
  [connectivityState.READY]: 'READY',
  [connectivityState.TRANSIENT_FAILURE]: 'TRANSIENT_FAILURE',
  [connectivityState.SHUTDOWN]: 'SHUTDOWN',
};

/**
 * Waits until a channel is READY, so TLS and connection errors surface at start rather than on the first call.
 *
 * @param channel - the channel.
 * @param target - for the error message.
 * @param timeout - milliseconds.
 * @param abort - resolves the wait early with an error when it settles (e.g. the process exited).
 * @throws {@link PluginConnectError} when the deadline passes, the channel shuts down, or `abort` fires.
 */
export function waitForReady(
  channel: Channel,
  target: string,
  timeout: number,
  abort?: Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeout;
  return new Promise<void>((resolve, reject) => {
    let done = false;
    let lastFailure = false;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      if (error === undefined) resolve();
      else reject(error);
    };
    abort?.then((why) => finish(new PluginConnectError(target, why)));
    const check = (): void => {
      if (done) return;
      const state = channel.getConnectivityState(true);
      if (state === connectivityState.READY) {
        finish();
        return;
      }
      if (state === connectivityState.SHUTDOWN) {
        finish(new PluginConnectError(target, 'channel closed'));
        return;
      }
      if (state === connectivityState.TRANSIENT_FAILURE) lastFailure = true;
      channel.watchConnectivityState(state, deadline, (error) => {
        if (error !== undefined) {
          const last = STATE_NAMES[channel.getConnectivityState(false)] ?? 'unknown';
          const detail = lastFailure ? ' (connection or TLS handshake failed)' : '';
          finish(new PluginConnectError(target, `not ready after ${timeout} ms, state ${last}${detail}`));
          return;
        }
        check();
      });
    };
    check();
  });
}
