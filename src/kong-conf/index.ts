/**
 * `pluginwire/kong-conf`: reads kong.conf exactly as Kong does and resolves the external plugin servers it
 * declares, per Kong version; reads plugin servers' query-command dumps as Kong does.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
// Errors: KongConfError and its subclasses, one per KONG_CONF_* code.
export * from './exports/errors.js';
// Reading kong.conf: parse, load, properties, stringify, typed values.
export * from './exports/read.js';
// Resolving plugin servers and reading their dumps.
export * from './exports/resolve.js';
