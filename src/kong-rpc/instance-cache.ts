/**
 * Kong's instance cache (`Kong/kong: kong/runloop/plugin_servers/plugin.lua`, `get_instance_id` and
 * `reset_instance`): one instance per plugin configuration, started on first use; reused while the
 * configuration is unchanged; replaced (start the new one, then close the old one, ignoring the result) when it
 * changes; dropped on `no plugin instance` and when the server's pid changes.
 */

interface Entry {
  /** JSON text of the configuration the instance was started with. */
  readonly configText: string;
  /** The instance id, once started. */
  id: number | undefined;
  /** The start in progress; concurrent events of the same configuration wait for it, as Kong's claim does. */
  readonly starting: Promise<number>;
}

/** What the cache needs from the client. */
export interface InstanceCacheBackend {
  start(plugin: string, config: Record<string, unknown>): Promise<number>;
  close(id: number): Promise<unknown>;
}

/** @internal */
export class InstanceCache {
  private readonly backend: InstanceCacheBackend;
  private readonly plugins = new Map<string, Map<string, Entry>>();

  constructor(backend: InstanceCacheBackend) {
    this.backend = backend;
  }

  /** The instance id for this configuration, starting an instance when there is none (or the config changed). */
  instanceFor(plugin: string, config: Record<string, unknown>, key: string | undefined): Promise<number> {
    const configText = JSON.stringify(config);
    const pluginId = config.__plugin_id;
    const cacheKey = key ?? (typeof pluginId === 'string' ? pluginId : configText);
    let entries = this.plugins.get(plugin);
    if (entries === undefined) {
      entries = new Map();
      this.plugins.set(plugin, entries);
    }
    const cached = entries.get(cacheKey);
    if (cached !== undefined && cached.configText === configText) {
      return cached.id !== undefined ? Promise.resolve(cached.id) : cached.starting;
    }
    const map = entries;
    const starting = this.backend.start(plugin, config);
    const entry: Entry = { configText, id: undefined, starting };
    map.set(cacheKey, entry);
    starting.then(
      (id) => {
        entry.id = id;
        // Kong closes the replaced instance only after the new one started, and ignores the outcome.
        if (cached?.id !== undefined) this.backend.close(cached.id).catch(() => {});
      },
      () => {
        // A failed start releases the claim, so the next event tries again.
        if (map.get(cacheKey) === entry) map.delete(cacheKey);
      },
    );
    return starting;
  }

  /** Drops the cached instances of one plugin (Kong's reset on `no plugin instance`). */
  resetPlugin(plugin: string): void {
    this.plugins.delete(plugin);
  }

  /** Drops every cached instance (the server's pid changed). */
  resetAll(): void {
    this.plugins.clear();
  }

  /** Number of cached configurations (for tests and monitoring). */
  get size(): number {
    let size = 0;
    for (const entries of this.plugins.values()) size += entries.size;
    return size;
  }
}
