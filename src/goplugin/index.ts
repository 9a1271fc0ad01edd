/**
 * `pluginwire/goplugin`.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
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
export {
  GoPluginError,
  HandshakeError,
  type HandshakeErrorCode,
  type HandshakeErrorOptions,
  PortRangeError,
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
export { negotiateProtocolVersion, type ProtocolNegotiation } from './negotiate.js';
