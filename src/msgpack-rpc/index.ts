/**
 * `pluginwire/msgpack-rpc`.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export { RpcError } from './errors.js';
