/**
 * `pluginwire/kong-conf`.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export { KongConfError } from './errors.js';
