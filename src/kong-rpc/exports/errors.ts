// KongRpcError and one subclass per KONG_RPC_* code.

export {
  KongConnectError,
  KongEventClosedError,
  KongListenError,
  KongPdkError,
  KongProtocolError,
  KongRpcError,
  KongRpcUsageError,
  KongServerClosedError,
  KongServerListeningError,
  KongSocketInUseError,
  KongStepError,
  NoPluginInstanceError,
} from '../errors.js';
