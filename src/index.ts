/**
 * pluginwire: the wire protocols of out-of-process plugin systems. Each module is also importable alone, as
 * `pluginwire/kong-conf`, `pluginwire/msgpack-rpc`, `pluginwire/goplugin` and `pluginwire/socket`; prefer those
 * subpaths so a program loads only what it uses.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from './errors.js';
/** hashicorp/go-plugin handshakes, plugins and hosts. */
export * as goplugin from './goplugin/index.js';
/** kong.conf parsing and plugin-server resolution. */
export * as kongConf from './kong-conf/index.js';
/** msgpack-RPC framing, peers, and Kong's plugin-server protocol. */
export * as msgpackRpc from './msgpack-rpc/index.js';
/** Unix-socket servers, clients, pools and plugin-server supervision. */
export * as socket from './socket/index.js';
