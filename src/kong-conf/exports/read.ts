// Reading kong.conf: parse, load with the environment, the merged properties, write it back, typed values.

export type { Diagnostic, DiagnosticSource } from '../diagnostics.js';
export {
  type Env,
  type KongProperties,
  type LayeredValue,
  type LoadOptions,
  loadKongConf,
  type Overrides,
  type ValueSource,
} from '../env.js';
export { type ConfEntry, type ParsedConf, type ParseKongConfOptions, parseKongConf } from '../parse.js';
export { kongProperties, type PropertiesOptions } from '../properties.js';
export { type StringifyOptions, type StringifyResult, stringifyKongConf } from '../stringify.js';
export { LUA_TABLE_VALUE } from '../syntax.js';
export { asArray, asBoolean, asNgxBoolean, asNumber, asString, type RawValue } from '../typing.js';
export type { KongVersion } from '../versions.js';
