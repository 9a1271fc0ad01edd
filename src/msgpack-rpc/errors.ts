import { PluginwireError } from '../errors.js';

/**
 * Base class of every error the `pluginwire/msgpack-rpc` module throws or rejects with. Its subclasses carry
 * `code`s that start with `MSGPACK_RPC_`.
 *
 * Catch this class to handle any msgpack-RPC failure; check `code` (or a subclass) for a specific one.
 */
export class RpcError extends PluginwireError {}
