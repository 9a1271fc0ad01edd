// RpcError and one subclass per MSGPACK_RPC_* code.

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
  RpcTimeoutError,
  RpcUsageError,
} from '../errors.js';
