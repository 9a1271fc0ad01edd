/**
 * `pluginwire/socket`.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export { SocketError } from './errors.js';
