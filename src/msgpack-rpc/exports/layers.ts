// The layers under the peer, each usable alone: framing, the codec, message validation, error values.

export { type CodecOptions, EMPTY_MAP, type Int64Policy, MessageCodec } from '../codec.js';
export type { ErrorCodec, ErrorValueContext } from '../error-values.js';
export {
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
  type FrameDecoderStats,
  type FrameLimits,
  type ResolvedFrameLimits,
} from '../framer.js';
export {
  type Message,
  type NotificationMessage,
  type ParseMessageOptions,
  parseMessage,
  type RequestMessage,
  type ResponseMessage,
} from '../message.js';
