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
export { type CodecOptions, EMPTY_MAP, type Int64Policy, MessageCodec } from './codec.js';
export {
  describeErrorValue,
  type ErrorCodec,
  type ErrorValueContext,
  rawErrorCodec,
  stringErrorCodec,
} from './error-values.js';
export {
  type CloseInitiator,
  ConnectionClosedError,
  EncodeError,
  type EncodeErrorReason,
  FrameTooLargeError,
  HandlerError,
  MethodNotFoundError,
  ProtocolError,
  type ProtocolErrorDetails,
  type ProtocolErrorReason,
  QueueFullError,
  RemoteError,
  RequestAbortedError,
  RpcError,
  TimeoutError,
} from './errors.js';
export {
  DEFAULT_MAX_CONTAINER_LENGTH,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_FRAME_BYTES,
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
  type FrameDecoderStats,
  type FrameLimits,
  type ResolvedFrameLimits,
} from './framer.js';
export {
  type Message,
  type NotificationMessage,
  type ParseOptions,
  parseMessage,
  type RequestMessage,
  type ResponseMessage,
} from './message.js';
export { MsgidAllocator } from './msgid.js';
export {
  DEFAULT_MAX_QUEUED_BYTES,
  KONG_PROFILE,
  type ProtocolErrorPolicy,
  type RpcPeerOptions,
} from './options.js';
export { createMemoryDuplexPair, createPeerPair, type MemoryDuplexOptions, type PeerPair } from './pair.js';
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
  type RpcDisposable,
  RpcPeer,
  type RpcSchema,
  type RpcTransport,
  type StreamPair,
} from './peer.js';
export type {
  BackpressureTraceEvent,
  CloseTraceEvent,
  LateResponseTraceEvent,
  MessageKind,
  ProtocolErrorTraceEvent,
  ReceiveTraceEvent,
  ResponseDroppedTraceEvent,
  SendTraceEvent,
  TraceEvent,
  TraceHook,
  UnhandledNotificationTraceEvent,
} from './trace.js';
