// The plugin-server side: KongPluginServer serves TypeScript plugins to Kong; runPluginServerCli is its command line.

export {
  type PluginServerCliDump,
  type PluginServerCliOptions,
  type PluginServerCliResult,
  type PluginServerCliServe,
  runPluginServerCli,
} from '../dump.js';
export {
  KONG_PHASES,
  type KongPhase,
  type KongPluginDefinition,
  type KongPluginInfo,
  type KongPluginInstance,
} from '../plugins.js';
export {
  type KongDumpOptions,
  type KongListenOptions,
  KongPluginServer,
  type KongPluginServerOptions,
} from '../server.js';
