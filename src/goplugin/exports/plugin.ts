// Plugin side: serving go-plugin plugins from TypeScript.

export type { AutoMTLSCertificateOptions, AutoMTLSCurve } from '../mtls.js';
export {
  type BrokerConnection,
  type BrokerServer,
  type BrokerSettings,
  type BrokerStream,
  type ConnInfo,
  type ConnInfoKnock,
  GRPCBroker,
} from '../plugin/broker.js';
export type { BoundListener, PluginTransport } from '../plugin/listen.js';
export {
  type PluginContext,
  type RegisterServices,
  type ServedPlugin,
  type ServePluginOptions,
  servePlugin,
} from '../plugin/serve.js';
