/**
 * `pluginwire/socket`: Unix-socket servers that handle stale files, symlinks and live owners safely and clean
 * up only their own socket; clients with boot-time retries; a connection pool with Kong's semantics; and a
 * supervisor for plugin-server processes (process groups, readiness, Kong's restart timing, bounded stop).
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export type { LogFields, Logger, LogLevel } from '../logger.js';
// Clients: connect with boot-time retries, and the connection pool.
export * from './exports/client.js';
// Errors: SocketError and its subclasses, one per SOCKET_* code.
export * from './exports/errors.js';
// Servers: listenUnix and what it hands out.
export * from './exports/server.js';
// Supervision of plugin-server processes.
export * from './exports/supervisor.js';
