/**
 * pluginwire: the wire protocols of out-of-process plugin systems. Each module is also importable alone, as
 * `pluginwire/kong-conf`, `pluginwire/msgpack-rpc`, `pluginwire/kong-rpc`, `pluginwire/goplugin` and `pluginwire/socket`; prefer those
 * subpaths so a program loads only what it uses.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from './errors.js';
/** hashicorp/go-plugin handshakes, plugins and hosts. */
export * as goplugin from './goplugin/index.js';
/** kong.conf parsing and plugin-server resolution. */
export * as kongConf from './kong-conf/index.js';
/** Kong's plugin-server protocol, both sides. */
export * as kongRpc from './kong-rpc/index.js';
/** msgpack-RPC framing, codec and peers. */
export * as msgpackRpc from './msgpack-rpc/index.js';
/** Unix-socket servers, clients, pools and plugin-server supervision. */
export * as socket from './socket/index.js';
