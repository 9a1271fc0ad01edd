/**
 * `pluginwire/kong-rpc`: Kong's plugin-server protocol from both ends.
 *
 * {@link KongPluginClient} plays Kong against a plugin server (tests, tooling, gateways that run Kong's external
 * plugins); {@link KongPluginServer} serves TypeScript plugins to a real Kong. Under them sit the wire protocols
 * Kong speaks: `MsgPack:1` (on `pluginwire/msgpack-rpc`'s `RpcPeer` with Kong's byte-exact encoding) and
 * `ProtoBuf:1` (length-prefixed protobuf frames, every Go plugin built with go-pdk v0.7 or later).
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export {
  type KongEventOptions,
  type KongEventOutcome,
  type KongInstanceStatus,
  type KongPdkHandler,
  KongPluginClient,
  type KongPluginClientEvents,
  type KongPluginClientOptions,
  type KongPluginServerTarget,
  type KongProtocol,
  type KongRemotePluginInfo,
  type KongRunEventOptions,
  type KongTerminalCall,
} from './client.js';
export {
  type PluginServerCliArgs,
  type PluginServerCliDump,
  type PluginServerCliOptions,
  type PluginServerCliResult,
  type PluginServerCliServe,
  parsePluginServerArgs,
  runPluginServerCli,
} from './dump.js';
export {
  KongClosedWithoutReplyError,
  KongConfigError,
  KongConnectError,
  KongEventClosedError,
  KongFrameTooLargeError,
  KongListenError,
  KongPdkError,
  KongProtocolError,
  KongProtocolMismatchError,
  KongRpcError,
  KongSequenceError,
  KongSocketInUseError,
  KongStepError,
  NoPluginInstanceError,
} from './errors.js';
export type {
  KongClientPdk,
  KongCtxPdk,
  KongCtxSharedPdk,
  KongEntity,
  KongIpPdk,
  KongLogPdk,
  KongMultimap,
  KongNginxPdk,
  KongNodePdk,
  KongPdk,
  KongPluginPdk,
  KongRequestPdk,
  KongResponsePdk,
  KongRouterPdk,
  KongServicePdk,
  KongServiceRequestPdk,
  KongServiceResponsePdk,
  KongValue,
} from './pdk.js';
export {
  KONG_PHASES,
  type KongPhase,
  type KongPluginDefinition,
  type KongPluginInfo,
  type KongPluginInstance,
} from './plugins.js';
export { KONG_PROTOCOLS } from './protocol.js';
export {
  type KongListenOptions,
  KongPluginServer,
  type KongPluginServerOptions,
  type KongServerLogEntry,
} from './server.js';
export {
  fixPdkResult,
  type PdkFailure,
  pdkFailure,
  stepMethodFor,
  TERMINAL_PDK_METHODS,
} from './steps.js';
