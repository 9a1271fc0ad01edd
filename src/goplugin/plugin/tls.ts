import { X509Certificate } from 'node:crypto';
import { type ChannelCredentials, type ChannelOptions, credentials, ServerCredentials } from '@grpc/grpc-js';
import { serveError } from '../errors.js';
import { type AutoMTLSCertificateOptions, generateAutoMTLSCertificate } from '../mtls.js';

/** The transport security of a plugin: its server side, and the client side of brokered dials to the host. */
export interface PluginSecurity {
  /** The plugin's AutoMTLS certificate (DER) for handshake field 6, when AutoMTLS is on. */
  certDer?: Buffer;
  /** Credentials of the main server and of accepted brokered servers. */
  serverCredentials(): ServerCredentials;
  /** Credentials for dialling the host's brokered servers. */
  channelCredentials(): ChannelCredentials;
  /** Extra channel options for those dials. */
  channelOptions: ChannelOptions;
}

/** No TLS (the host did not ask for AutoMTLS). */
export function insecure(): PluginSecurity {
  return {
    serverCredentials: () => ServerCredentials.createInsecure(),
    channelCredentials: () => credentials.createInsecure(),
    channelOptions: {},
  };
}

/**
 * AutoMTLS as a Go plugin sets it up (`hashicorp/go-plugin: server.go`, `mtls.go`): the host's certificate from
 * `PLUGIN_CLIENT_CERT` is the only trusted root, client certificates are required, and the plugin presents a fresh
 * go-plugin-style certificate.
 *
 * @throws {@link ServeError} `GOPLUGIN_CLIENT_CERT_INVALID` when the PEM is not a certificate (Go only logs this,
 *   but no host could connect afterwards).
 */
export function autoMTLS(clientCertPem: string, options: AutoMTLSCertificateOptions = {}): PluginSecurity {
  try {
    new X509Certificate(clientCertPem);
  } catch (error) {
    throw serveError('GOPLUGIN_CLIENT_CERT_INVALID', 'client cert provided but failed to parse', {
      cause: error,
    });
  }
  const own = generateAutoMTLSCertificate(options);
  const root = Buffer.from(clientCertPem);
  const key = Buffer.from(own.keyPem);
  const chain = Buffer.from(own.certPem);
  return {
    certDer: own.certDer,
    serverCredentials: () =>
      ServerCredentials.createSsl(root, [{ private_key: key, cert_chain: chain }], true),
    channelCredentials: () => credentials.createSsl(root, key, chain),
    // The certificate names only DNS:localhost; TCP targets would otherwise be checked against the IP.
    channelOptions: { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' },
  };
}
