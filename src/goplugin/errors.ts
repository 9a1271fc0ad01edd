import { PluginwireError } from '../errors.js';

/**
 * Base class of every error the `pluginwire/goplugin` module throws or rejects with. Its subclasses carry
 * `code`s that start with `GOPLUGIN_`.
 *
 * Catch this class to handle any go-plugin failure; check `code` (or a subclass) for a specific one.
 */
export class GoPluginError extends PluginwireError {}
