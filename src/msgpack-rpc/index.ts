/**
 * `pluginwire/msgpack-rpc`: streaming msgpack-RPC over any byte stream.
 *
 * Layers, each usable alone: {@link FrameDecoder} (bytes → complete frames, limits enforced as soon as a header
 * is complete), {@link MessageCodec} (`@msgpack/msgpack` with refusal of mangled types, int64 policies and a
 * Kong-compatible encoding), {@link parseMessage} (value → validated {@link Message} or {@link ProtocolError}),
 * and {@link RpcPeer} (correlation, dispatch, timeouts, cancellation, backpressure, tracing) on any `Duplex`.
 * {@link createPeerPair} gives two connected peers for tests.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
// Errors: RpcError and its subclasses, one per MSGPACK_RPC_* code.
export * from './exports/errors.js';
// The layers under the peer: framing, codec, message validation.
export * from './exports/layers.js';
// The peer, its options and schema types.
export * from './exports/peer.js';
// Tracing hook and events.
export * from './exports/trace.js';
