/**
 * Plugin definitions and instances on the plugin-server side, and the wire shapes built from them.
 */
import { KongRpcUsageError } from './errors.js';
import type { KongPdk } from './pdk.js';

/** Kong's phases, in the order Kong runs them. */
export const KONG_PHASES = ['certificate', 'rewrite', 'access', 'response', 'preread', 'log'] as const;

/** A phase Kong sends `HandleEvent` for. */
export type KongPhase = (typeof KONG_PHASES)[number];

const PHASE_SET: ReadonlySet<string> = new Set(KONG_PHASES);

/** Whether a string is one of Kong's phases. */
export function isKongPhase(value: unknown): value is KongPhase {
  return typeof value === 'string' && PHASE_SET.has(value);
}

/**
 * An instance of a TypeScript plugin: one per `plugin.StartInstance`. Each phase method present handles that
 * phase; it receives the typed PDK and may be async. `close` runs on `plugin.CloseInstance`.
 */
export interface KongPluginInstance {
  /** The `certificate` phase. */
  certificate?(kong: KongPdk): unknown;
  /** The `rewrite` phase. */
  rewrite?(kong: KongPdk): unknown;
  /** The `access` phase. */
  access?(kong: KongPdk): unknown;
  /** The `response` phase (buffers the response: Kong then skips `header_filter`/`body_filter`). */
  response?(kong: KongPdk): unknown;
  /** The `preread` phase (stream subsystem). */
  preread?(kong: KongPdk): unknown;
  /** The `log` phase; runs after the response was sent. */
  log?(kong: KongPdk): unknown;
  /** Called once when Kong closes the instance. */
  close?(): unknown;
}

/**
 * A TypeScript plugin for {@link KongPluginServer.addPlugin}.
 *
 * @typeParam Config - the plugin's configuration as Kong sends it (parsed from the JSON text of
 *   `StartInstance`; besides the plugin's own fields Kong adds `route_id`, `service_id`, `consumer_id`,
 *   `__plugin_id`, `__seq__`, …).
 */
export interface KongPluginDefinition<Config = Record<string, unknown>> {
  /** The plugin name Kong knows it by (lower case, as in `plugins =`). */
  name: string;
  /** The plugin version, reported as a string. */
  version: string;
  /** The plugin priority (higher runs first); default 0. */
  priority?: number;
  /**
   * The configuration schema: either the list of config fields (`[{ greeting: { type: 'string' } }]`, wrapped
   * as Kong expects: `{name, fields: [{config: {type: 'record', fields}}]}`) or a complete Kong schema object
   * (one with `fields`), used as is. Default: no fields.
   */
  schema?: readonly unknown[] | Record<string, unknown>;
  /**
   * The phases the plugin handles. Default: the phase methods present on an instance, found by calling
   * `create` once with an empty config when the plugin is added. Give them explicitly when `create` cannot
   * run without a real configuration.
   */
  phases?: readonly KongPhase[];
  /**
   * Creates an instance for one configuration. It runs inside `StartInstance`, which Kong needs answered
   * quickly (other requests wait for it), so do no slow I/O here. A throw or rejection is answered to Kong as
   * `invalid config for plugin <name>: <message>`.
   */
  create(config: Config): KongPluginInstance | Promise<KongPluginInstance>;
}

/** The plugin information of the dump and of `plugin.GetPluginInfo` (capitalized keys, as on the wire). */
export interface KongPluginInfo {
  /** The plugin name. */
  Name: string;
  /** The version, always a string. */
  Version: string;
  /** The phases Kong sends events for. */
  Phases: KongPhase[];
  /** The priority. */
  Priority: number;
  /** The Kong schema. */
  Schema: Record<string, unknown>;
}

/** @internal A plugin added to a server. */
export interface RegisteredPlugin {
  readonly definition: KongPluginDefinition<never>;
  readonly info: KongPluginInfo;
  readonly addedAt: number;
  lastStartInstance: number;
  lastCloseInstance: number;
}

/** @internal Validates a definition and computes its info. */
export function registerPlugin(definition: KongPluginDefinition<never>): RegisteredPlugin {
  if (typeof definition !== 'object' || definition === null)
    throw new KongRpcUsageError('plugin definition must be an object');
  const { name, version, priority = 0, create } = definition;
  if (typeof name !== 'string' || name === '' || /[^\w-]/.test(name)) {
    throw new KongRpcUsageError(
      `plugin name must be a non-empty word (letters, digits, _ and -), got ${JSON.stringify(name)}`,
    );
  }
  if (typeof version !== 'string') throw new KongRpcUsageError(`plugin ${name}: version must be a string`);
  if (typeof priority !== 'number' || !Number.isFinite(priority)) {
    throw new KongRpcUsageError(`plugin ${name}: priority must be a finite number`);
  }
  if (typeof create !== 'function') throw new KongRpcUsageError(`plugin ${name}: create must be a function`);
  const phases = definition.phases ?? probePhases(definition);
  for (const phase of phases) {
    if (!isKongPhase(phase))
      throw new KongRpcUsageError(`plugin ${name}: unknown phase ${JSON.stringify(phase)}`);
  }
  const schema = definition.schema;
  const Schema =
    schema !== undefined && !Array.isArray(schema)
      ? (schema as Record<string, unknown>)
      : { name, fields: [{ config: { type: 'record', fields: schema ?? [] } }] };
  const now = Date.now() / 1000;
  return {
    definition,
    info: { Name: name, Version: version, Phases: [...new Set(phases)], Priority: priority, Schema },
    addedAt: now,
    lastStartInstance: 0,
    lastCloseInstance: 0,
  };
}

function probePhases(definition: KongPluginDefinition<never>): KongPhase[] {
  let probe: unknown;
  try {
    probe = definition.create({} as never);
  } catch (error) {
    throw new KongRpcUsageError(
      `plugin ${definition.name}: create({}) threw (${error instanceof Error ? error.message : String(error)}); ` +
        'list the phases explicitly with `phases`',
    );
  }
  if (probe instanceof Promise) {
    // The probe is only for its methods; a rejection of it must not go unhandled.
    probe.catch(() => {});
    throw new KongRpcUsageError(
      `plugin ${definition.name}: create is async; list the phases explicitly with \`phases\``,
    );
  }
  if (typeof probe !== 'object' || probe === null) {
    throw new KongRpcUsageError(`plugin ${definition.name}: create must return an object`);
  }
  return KONG_PHASES.filter((phase) => typeof (probe as Record<string, unknown>)[phase] === 'function');
}

/** @internal A msgpack map decoded as a plain object (not an array, not bytes). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}
