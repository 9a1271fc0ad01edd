import { PluginwireError } from '../errors.js';

/**
 * Base class of every error the `pluginwire/socket` module throws or rejects with. Its subclasses carry
 * `code`s that start with `SOCKET_`.
 *
 * Catch this class to handle any socket failure; check `code` (or a subclass) for a specific one.
 */
export class SocketError extends PluginwireError {}
