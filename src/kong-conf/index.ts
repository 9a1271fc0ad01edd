/**
 * `pluginwire/kong-conf`: reads kong.conf exactly as Kong does and resolves the external plugin servers it
 * declares, per Kong version; reads plugin servers' query-command dumps as Kong does.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export type { Diagnostic, DiagnosticSource } from './diagnostics.js';
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
} from './dump.js';
export {
  DEFAULT_CONF_PATHS,
  type Env,
  findKongConf,
  type KongProperties,
  type LayeredValue,
  type LoadOptions,
  loadKongConf,
  type Overrides,
  type ValueSource,
  withEnv,
} from './env.js';
export {
  KongConfDumpError,
  KongConfError,
  type KongConfErrorOptions,
  KongConfFileError,
  KongConfQueryError,
  KongConfStartupError,
  KongConfVersionError,
} from './errors.js';
export { type ConfEntry, type ParsedConf, type ParseOptions, parseKongConf } from './parse.js';
export { kongProperties, type PropertiesOptions } from './properties.js';
export { type QueryOptions, queryPluginServer } from './query.js';
export {
  type PluginServer,
  type PluginServerProperty,
  type ResolveOptions,
  type ResolveResult,
  resolvePluginServers,
} from './resolve.js';
export { type StringifyOptions, type StringifyResult, stringifyKongConf } from './stringify.js';
export { LUA_TABLE_VALUE } from './syntax.js';
export { asArray, asBoolean, asNgxBoolean, asNumber, asString, type RawValue } from './typing.js';
export { DEFAULT_KONG_VERSION, type KongProfile, type KongVersion, kongProfile } from './versions.js';
