/**
 * The plugin-server side's instances: one per `plugin.StartInstance`, kept until `plugin.CloseInstance` (never
 * expired by a timer: Kong closes instances only when it replaces them, spec §5).
 */
import { safeText } from './event.js';
import { isRecord, type KongPluginInstance, type RegisteredPlugin } from './plugins.js';

/** @internal One started instance. */
export interface Instance {
  readonly id: number;
  readonly plugin: RegisteredPlugin;
  readonly config: unknown;
  readonly startTime: number;
  readonly object: KongPluginInstance;
}

/** @internal What the registry reports. */
export type InstanceLog = (
  level: 'debug' | 'warn',
  message: string,
  instance: Instance,
  error?: unknown,
) => void;

/** The largest instance id: ids stay within int32 (spec §5). */
export const MAX_INSTANCE_ID = 2 ** 31 - 1;

/** @internal */
export class InstanceRegistry {
  private readonly instances = new Map<number, Instance>();
  private nextId: number;
  private readonly log: InstanceLog;

  /**
   * @param base - the first id; a random one keeps a restarted server from reusing the ids of its previous
   *   life, which Kong may still have cached for other configurations (`Kong/kong#8370`).
   */
  constructor(base: number, log: InstanceLog) {
    this.nextId = base;
    this.log = log;
  }

  /**
   * `plugin.StartInstance` (`cmd_start_instance`): parses the JSON config text, creates the instance, returns its
   * status.
   *
   * @param useSeq - take the config's `__seq__` as the id when it is a positive int32, as go-pdk's ProtoBuf:1
   *   servers do (`Kong/go-pdk: server/instance.go`, addInstance). Kong numbers configuration builds node-wide
   *   with it, so such an id names one configuration for the life of that Kong; an instance already holding it
   *   (a Kong restarted while this server ran on) is replaced (kong-rpc spec §5).
   */
  start(plugin: RegisteredPlugin, configText: string, useSeq = false): unknown {
    const name = plugin.info.Name;
    const invalid = (reason: string) => new Error(safeText(`invalid config for plugin ${name}: ${reason}`));
    let config: unknown;
    try {
      config = JSON.parse(configText);
    } catch (error) {
      throw invalid((error as Error).message);
    }
    // lua-cjson may encode an empty config table as [] (spec §3).
    if (Array.isArray(config) && config.length === 0) config = {};
    if (!isRecord(config)) throw invalid('not a JSON object');
    const finish = (object: KongPluginInstance) => {
      if (typeof object !== 'object' || object === null) throw invalid('create did not return an object');
      const seq = useSeq ? (config as Record<string, unknown>).__seq__ : undefined;
      const fromSeq = typeof seq === 'number' && Number.isInteger(seq) && seq > 0 && seq <= MAX_INSTANCE_ID;
      if (fromSeq) {
        const previous = this.instances.get(seq);
        if (previous !== undefined) {
          this.instances.delete(seq);
          this.log('debug', `instance #${seq} replaced by a new configuration with __seq__ ${seq}`, previous);
          this.closeObject(previous);
        }
      }
      const instance: Instance = {
        id: fromSeq ? seq : this.allocateId(),
        plugin,
        config,
        startTime: Date.now() / 1000,
        object,
      };
      this.instances.set(instance.id, instance);
      plugin.lastStartInstance = instance.startTime;
      this.log('debug', `instance #${instance.id} of ${name} started`, instance);
      return status(instance);
    };
    const fail = (error: unknown): never => {
      throw invalid(error instanceof Error ? error.message : String(error));
    };
    let created: KongPluginInstance | Promise<KongPluginInstance>;
    try {
      created = plugin.definition.create(config as never);
    } catch (error) {
      return fail(error);
    }
    return created instanceof Promise ? created.then(finish, fail) : finish(created);
  }

  /**
   * The instance for an id from the wire.
   *
   * @throws Error `no plugin instance #<id>` (the only error with that text, spec §6.1).
   */
  get(param: unknown): Instance {
    if (typeof param !== 'number' || !Number.isInteger(param)) {
      throw new Error('invalid request: instance id must be an integer');
    }
    const instance = this.instances.get(param);
    if (instance === undefined) throw new Error(`no plugin instance #${param}`);
    return instance;
  }

  /** `plugin.CloseInstance`: removes the instance, runs its `close`, returns its status before closing. */
  close(param: unknown): unknown {
    const instance = this.get(param);
    this.instances.delete(instance.id);
    instance.plugin.lastCloseInstance = Date.now() / 1000;
    this.closeObject(instance);
    return { Name: instance.plugin.info.Name, Id: instance.id, Config: instance.config };
  }

  /** The statuses of one plugin's instances (`plugin.GetStatus`). */
  statuses(plugin: RegisteredPlugin): unknown[] {
    const list: unknown[] = [];
    for (const instance of this.instances.values())
      if (instance.plugin === plugin) list.push(status(instance));
    return list;
  }

  /** Closes every instance (the server is closing). */
  closeAll(): void {
    for (const instance of this.instances.values()) this.closeObject(instance);
    this.instances.clear();
  }

  private closeObject(instance: Instance): void {
    try {
      const closing = instance.object.close?.();
      if (closing instanceof Promise) {
        closing.catch((error: unknown) =>
          this.log('warn', `closing instance #${instance.id} failed`, instance, error),
        );
      }
    } catch (error) {
      this.log('warn', `closing instance #${instance.id} failed`, instance, error);
    }
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= MAX_INSTANCE_ID ? 1 : id + 1;
      if (!this.instances.has(id)) return id;
    }
  }
}

/** `{Name, Id, Config, StartTime}`, the result of StartInstance and InstanceStatus. */
export function status(instance: Instance): unknown {
  return {
    Name: instance.plugin.info.Name,
    Id: instance.id,
    Config: instance.config,
    StartTime: instance.startTime,
  };
}
