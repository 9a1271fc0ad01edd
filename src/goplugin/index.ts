/**
 * `pluginwire/goplugin`.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export { GoPluginError } from './errors.js';
