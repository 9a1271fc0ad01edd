// KongRpcError and one subclass per KONG_RPC_* code.

export {
  KongClosedWithoutReplyError,
  KongConnectError,
  KongEventClosedError,
  KongFrameTooLargeError,
  KongListenError,
  KongPdkArgumentError,
  KongPdkError,
  KongProtocolError,
  KongProtocolMismatchError,
  KongRpcError,
  KongRpcUsageError,
  KongSequenceError,
  KongServerClosedError,
  KongServerListeningError,
  KongStepError,
  NoPluginInstanceError,
} from '../errors.js';
