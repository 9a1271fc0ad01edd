// Plugin side: serving go-plugin plugins from TypeScript.

export {
  type BrokerConnection,
  type BrokerServer,
  type BrokerSettings,
  type BrokerStream,
  type ConnInfo,
  type ConnInfoKnock,
  GRPCBroker,
} from '../broker.js';
export type { BoundListener, PluginTransport } from '../listen.js';
export type { AutoMTLSCertificateOptions, AutoMTLSCurve } from '../mtls.js';
export {
  type PluginContext,
  type RegisterServices,
  type ServedPlugin,
  type ServePluginOptions,
  servePlugin,
} from '../plugin/serve.js';
