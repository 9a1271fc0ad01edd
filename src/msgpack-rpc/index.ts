/**
 * `pluginwire/msgpack-rpc`.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export { RpcError } from './errors.js';

// Kong's plugin-server protocol (MsgPack:1): the Kong side and the plugin-server side.
export {
  KongPluginClient,
  type KongEventOptions,
  type KongEventOutcome,
  type KongInstanceStatus,
  type KongPdkHandler,
  type KongPluginClientEvents,
  type KongPluginClientOptions,
  type KongRemotePluginInfo,
  type KongRunEventOptions,
} from './kong/client.js';
export {
  type PluginServerCliArgs,
  type PluginServerCliOptions,
  type PluginServerCliResult,
  parsePluginServerArgs,
  runPluginServerCli,
} from './kong/dump.js';
export {
  KongConfigError,
  KongConnectError,
  KongEventClosedError,
  KongPdkError,
  KongProtocolError,
  KongSocketInUseError,
  KongStepError,
  NoPluginInstanceError,
} from './kong/errors.js';
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
} from './kong/pdk.js';
export {
  KONG_PHASES,
  type KongPhase,
  type KongPluginDefinition,
  type KongPluginInfo,
  type KongPluginInstance,
} from './kong/plugins.js';
export {
  type KongListenOptions,
  KongPluginServer,
  type KongPluginServerOptions,
  type KongServerLogEntry,
} from './kong/server.js';
export { fixPdkResult, type PdkFailure, pdkFailure, stepMethodFor, TERMINAL_PDK_METHODS } from './kong/steps.js';
