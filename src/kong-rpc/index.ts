/**
 * `pluginwire/kong-rpc`: Kong's plugin-server protocol from both ends.
 *
 * {@link KongPluginClient} plays Kong against a plugin server (tests, tooling, gateways that run Kong's external
 * plugins); {@link KongPluginServer} serves TypeScript plugins to a real Kong. Under them sit the wire protocols
 * Kong speaks: `MsgPack:1` (on `pluginwire/msgpack-rpc`'s `RpcPeer` with Kong's byte-exact encoding) and
 * `ProtoBuf:1` (length-prefixed protobuf frames, every Go plugin built with go-pdk v0.7 or later).
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export type { LogFields, Logger, LogLevel } from '../logger.js';
// Kong's side: KongPluginClient.
export * from './exports/client.js';
// Errors: KongRpcError and its subclasses, one per KONG_RPC_* code.
export * from './exports/errors.js';
// The PDK as plugins see it.
export * from './exports/pdk.js';
// The plugin-server side: KongPluginServer and its command line.
export * from './exports/server.js';
