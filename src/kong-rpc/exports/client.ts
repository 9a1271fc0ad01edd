// Kong's side: KongPluginClient plays Kong against a plugin server.

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
} from '../client.js';
