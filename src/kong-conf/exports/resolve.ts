// Resolving plugin servers as a Kong version does, and reading their query-command dumps.

export {
  type CollectedPlugins,
  type CollectOptions,
  collectPlugins,
  type DumpResult,
  type ParseDumpOptions,
  type PluginInfo,
  parseDump,
  type RegisteredPlugin,
  type ServerDump,
} from '../dump.js';
export { type QueryOptions, queryPluginServer } from '../query.js';
export {
  type PluginServer,
  type PluginServerProperty,
  type ResolveOptions,
  type ResolveResult,
  resolvePluginServers,
} from '../resolve.js';
