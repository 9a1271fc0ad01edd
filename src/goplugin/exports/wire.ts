// Wire formats both sides use: the handshake line and reattach configurations.

export {
  formatHandshake,
  type Handshake,
  type HandshakeFields,
  type HandshakeNetwork,
  type ParseHandshakeOptions,
  parseHandshake,
} from '../handshake.js';
export {
  formatReattachProviders,
  parseReattachProviders,
  type ReattachConfig,
  type TerraformReattachConfig,
} from '../host/reattach.js';
