// The peer: RpcPeer on any byte stream, its options and schema types, in-memory pairs for tests, the Kong preset.

export { KONG_PEER_OPTIONS, type ProtocolErrorPolicy, type RpcPeerOptions } from '../options.js';
export { createMemoryDuplexPair, createPeerPair, type MemoryDuplexOptions, type PeerPair } from '../pair.js';
export {
  type AnySchema,
  type FallbackNotificationHandler,
  type FallbackRequestHandler,
  type NotificationContext,
  type NotificationHandler,
  type Params,
  type RequestContext,
  type RequestHandler,
  type RequestOptions,
  type Result,
  RpcPeer,
  type RpcPeerEvents,
  type RpcSchema,
  type RpcTransport,
  type StreamPair,
} from '../peer.js';
