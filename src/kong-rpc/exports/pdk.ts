// The PDK as plugins see it, and the failure value a PDK handler returns.

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
} from '../pdk.js';
export { type PdkFailure, pdkFailure } from '../steps.js';
