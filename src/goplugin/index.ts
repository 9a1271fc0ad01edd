/**
 * `pluginwire/goplugin`.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export {
  type BrokerConnection,
  type BrokerServer,
  type BrokerSettings,
  type BrokerStream,
  type ConnInfo,
  type ConnInfoKnock,
  GRPCBroker,
} from './broker.js';
export {
  buildPluginEnv,
  checkMagicCookie,
  DEFAULT_PORT_RANGE,
  MAGIC_COOKIE_MESSAGE,
  PLUGIN_ENV,
  type PluginEnvOptions,
  type PortRange,
  readPortRange,
} from './env.js';
// ---- handshake, negotiation, environment (plugin side) ----
// ---- plugin runtime: serving go-plugin plugins from TypeScript ----
export {
  BrokerError,
  type BrokerErrorCode,
  GoPluginError,
  HandshakeError,
  type HandshakeErrorCode,
  type HandshakeErrorOptions,
  PortRangeError,
  ServeError,
  type ServeErrorCode,
} from './errors.js';
export { FirstLineReader, firstStdoutLine } from './first-line.js';
export {
  CORE_PROTOCOL_VERSION,
  DEFAULT_MAX_LINE_BYTES,
  derToPem,
  formatHandshake,
  goTrimSpace,
  type Handshake,
  type HandshakeFields,
  type HandshakeNetwork,
  type ParseHandshakeOptions,
  parseHandshake,
} from './handshake.js';
export {
  createHclogLogger,
  formatHclogTimestamp,
  type HclogClock,
  type HclogLoggerOptions,
  type LogFields,
  type Logger,
  type LogLevel,
} from './hclog.js';
// ---- host runtime: launching and using go-plugin plugins (host side) ----
export type { BrokeredConnection, PluginBroker } from './host/broker.js';
export type { PluginClient } from './host/client.js';
export { reattachPlugin, startPlugin } from './host/entry.js';
export {
  InvalidPluginOptionsError,
  PingError,
  PluginAbortedError,
  PluginClientClosedError,
  PluginConnectError,
  type PluginExit,
  PluginStartError,
  type PluginStartErrorOptions,
  ReattachError,
  type ReattachErrorCode,
  SpawnFailedError,
} from './host/errors.js';
export {
  HclogLineParser,
  logLevelRank,
  type ParsedLogLine,
  type PluginLogEntry,
  type PluginLogger,
  type PluginLogLevel,
  parseHclogTimestamp,
} from './host/hclog-parse.js';
export type { PluginConnectionOptions, ReattachPluginOptions, StartPluginOptions } from './host/options.js';
export {
  formatReattachProviders,
  normalizeReattachConfig,
  parseReattachProviders,
  type ReattachConfig,
  type TerraformReattachConfig,
} from './host/reattach.js';
export { cleanupPlugins } from './host/registry.js';
export type { OutputSink } from './host/stdio.js';
export { type BoundListener, MAX_SOCKET_PATH_BYTES, type PluginTransport } from './listen.js';
export {
  type AutoMTLSCertificate,
  type AutoMTLSCertificateOptions,
  type AutoMTLSCurve,
  generateAutoMTLSCertificate,
} from './mtls.js';
export { negotiateProtocolVersion, type ProtocolNegotiation } from './negotiate.js';
export {
  GO_PLUGIN_MAX_MESSAGE_LENGTH,
  type PluginContext,
  type ReattachInfo,
  type RegisterServices,
  type ServedPlugin,
  type ServePluginOptions,
  servePlugin,
} from './plugin/serve.js';
