import { PluginwireError } from '../errors.js';

/**
 * Base class of every error the `pluginwire/kong-conf` module throws or rejects with. Its subclasses carry
 * `code`s that start with `KONG_CONF_`.
 *
 * Catch this class to handle any kong.conf failure; check `code` (or a subclass) for a specific one.
 */
export class KongConfError extends PluginwireError {}
