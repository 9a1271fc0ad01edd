/**
 * Query-command output as Kong reads it (spec §9; `Kong/kong: kong/runloop/plugin_servers/process.lua`,
 * `query_external_plugin_info` on 3.9+, `ask_info` on ≤ 3.8). The whole stdout must be one JSON document.
 */
import { type Diagnostic, diagnostic } from './diagnostics.js';
import {
  KongConfDumpBadPluginInfoError,
  KongConfDumpInvalidJsonError,
  KongConfDumpNoPluginError,
  KongConfDumpNotATableError,
} from './errors.js';
import { decodeJson, JsonDecodeError, type JsonValue } from './json.js';
import { DEFAULT_KONG_VERSION, type KongVersion, kongProfile, resolvesAtLoad } from './versions.js';

/** One plugin's info, with the capitalized field names plugin servers write. */
export interface PluginInfo {
  /** The plugin name Kong registers (it must also be in Kong's `plugins` property). */
  Name: string;
  /** Execution priority. */
  Priority?: number;
  /** Plugin version. */
  Version?: string;
  /** The phases it implements (`access`, `log`, …). */
  Phases?: string[];
  /** Kong schema table, usually `{ name, fields: [{ config: { type: 'record', fields } }] }`. */
  Schema?: unknown;
  /** Any other member, kept as written. */
  [field: string]: unknown;
}

/** The result of {@link parseDump}. */
export interface DumpResult {
  /** `Protocol` of the dump, `MsgPack:1` when it does not say. */
  protocol: string;
  /** Every plugin info of the dump, in order. */
  plugins: PluginInfo[];
  /** The ones Kong would register under the version (3.9+: only the first, `Kong/kong#14701`). */
  registered: PluginInfo[];
  /** Findings, e.g. `dump-extra-plugins`, `dump-unknown-protocol`. */
  warnings: Diagnostic[];
}

/** Options of {@link parseDump}. */
export interface ParseDumpOptions {
  /** The Kong version whose rules apply; default `'3.9'`. */
  kongVersion?: KongVersion;
  /** The query command, for Kong's `not a plugin info table` message. */
  command?: string;
}

function luaType(value: JsonValue | undefined): string {
  if (value === undefined) return 'nil';
  if (value === null) return 'userdata'; // cjson.null is a light userdata
  if (typeof value === 'object') return 'table';
  return typeof value;
}

/**
 * A plugin name for a message. `Name` is whatever the dump holds: a table decoded by {@link decodeJson} has a
 * null prototype, so `String()` of it throws; JSON text never does.
 */
function nameText(name: unknown): string {
  if (typeof name === 'string') return name;
  try {
    return JSON.stringify(name) ?? String(name);
  } catch {
    return `(a ${typeof name})`;
  }
}

function isTable(value: JsonValue | undefined): value is JsonValue[] | { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null;
}

/**
 * Reads a plugin server's query-command stdout as Kong does: detects the protocol, lists every plugin info
 * and the ones Kong would register.
 *
 * Accepted shapes: a JSON array of infos (`MsgPack:1`), or an object with `Plugins` (and optionally
 * `Protocol`; other members such as `SocketPath` are ignored, as Kong ignores them).
 *
 * @param stdout - the whole stdout of the query command.
 * @param options - the Kong version; the command, for messages.
 * @returns protocol, every plugin, the registered ones, warnings.
 * @throws {@link KongConfDumpError} where Kong fails, with Kong's message and the output attached:
 *   `KONG_CONF_DUMP_INVALID_JSON` (3.9+: `failed decoding plugin info: <cjson error>`; e.g. a log line before
 *   the JSON), `KONG_CONF_DUMP_NOT_A_TABLE` (a scalar; on ≤ 3.8 also invalid JSON: `Not a plugin info table: …`),
 *   `KONG_CONF_DUMP_NO_PLUGIN` (3.9+: `[]` or an object without plugin info, on which Kong crashes),
 *   `KONG_CONF_DUMP_BAD_PLUGIN_INFO` (an element that is not an object).
 * @example
 * ```ts
 * const dump = parseDump('[{"Name":"js-hello","Priority":10}]\n', { kongVersion: '3.9' });
 * dump.protocol;            // 'MsgPack:1'
 * dump.registered[0]?.Name; // 'js-hello'
 * ```
 */
export function parseDump(stdout: string, options: ParseDumpOptions = {}): DumpResult {
  const profile = kongProfile(options.kongVersion ?? DEFAULT_KONG_VERSION);
  const atLoad = resolvesAtLoad(profile);
  const command = options.command ?? '';
  let dump: JsonValue | undefined;
  try {
    dump = decodeJson(stdout);
  } catch (error) {
    if (!(error instanceof JsonDecodeError)) throw error;
    if (atLoad) {
      throw new KongConfDumpInvalidJsonError(`failed decoding plugin info: ${error.message}`, stdout, {
        cause: error,
      });
    }
    // ≤ 3.8 ignores the decode error; the nil result then fails the table check.
    dump = undefined;
  }
  if (!isTable(dump)) {
    const text = `${atLoad ? 'not' : 'Not'} a plugin info table: \n${command}\n${stdout}`;
    throw new KongConfDumpNotATableError(text, stdout);
  }
  const warnings: Diagnostic[] = [];
  const record = Array.isArray(dump) ? undefined : dump;
  const rawProtocol = record?.Protocol;
  // `dump.Protocol or "MsgPack:1"`: only nil and false fall back.
  const protocol =
    rawProtocol === undefined || rawProtocol === false
      ? 'MsgPack:1'
      : typeof rawProtocol === 'string'
        ? rawProtocol
        : String(rawProtocol);
  if (protocol !== 'MsgPack:1' && protocol !== 'ProtoBuf:1') {
    warnings.push(
      diagnostic(
        'dump-unknown-protocol',
        'warning',
        'resolver',
        `unknown protocol ${JSON.stringify(protocol)}: Kong accepts the dump but has no RPC for it`,
      ),
    );
  }
  // `dump.Plugins or dump`
  const pluginsValue = record?.Plugins;
  const list: JsonValue = pluginsValue === undefined || pluginsValue === false ? dump : pluginsValue;
  // ipairs: the array part, up to the first nil (a JSON object has none).
  const elements: JsonValue[] = Array.isArray(list) ? list : [];
  const plugins: PluginInfo[] = [];
  for (const element of elements) {
    if (!isTable(element) || Array.isArray(element)) {
      if (atLoad && plugins.length === 0) {
        throw new KongConfDumpBadPluginInfoError(
          `attempt to index local 'info' (a ${luaType(element)} value)`,
          stdout,
        );
      }
      if (!atLoad) {
        throw new KongConfDumpBadPluginInfoError(
          `attempt to index local 'plugin_info' (a ${luaType(element)} value)`,
          stdout,
        );
      }
      continue;
    }
    plugins.push(element as unknown as PluginInfo);
  }
  if (atLoad && elements.length === 0) {
    // `(dump.Plugins or dump)[1]` is nil and `info.Name` raises.
    throw new KongConfDumpNoPluginError(
      `attempt to index local 'info' (a ${isTable(list) ? 'nil' : luaType(list)} value)`,
      stdout,
    );
  }
  const registered = atLoad ? plugins.slice(0, 1) : plugins;
  if (registered.length < plugins.length) {
    warnings.push(
      diagnostic(
        'dump-extra-plugins',
        'warning',
        'resolver',
        `the dump lists ${plugins.length} plugins; Kong ${profile} registers only the first (${nameText(plugins[0]?.Name)}); give each plugin its own pluginserver_names entry`,
      ),
    );
  }
  return { protocol, plugins, registered, warnings };
}

/** One server's dump, for {@link collectPlugins}. */
export interface ServerDump {
  /** The server's name (`PluginServer.name`). */
  server: string;
  /** What {@link parseDump} or {@link queryPluginServer} read from it. */
  dump: DumpResult;
}

/** A plugin Kong would register, with the server that serves it. */
export interface RegisteredPlugin {
  /** The server's name. */
  server: string;
  /** The plugin's info from that server's dump. */
  info: PluginInfo;
  /** The protocol of that server's dump. */
  protocol: string;
}

/** Options of {@link collectPlugins}. */
export interface CollectOptions {
  /** The Kong version whose rules apply; default `'3.9'`. */
  kongVersion?: KongVersion;
}

/** The result of {@link collectPlugins}. */
export interface CollectedPlugins {
  /** The plugins Kong registers, by name, in first-registration order. */
  plugins: Map<string, RegisteredPlugin>;
  /** `plugin-duplicate-name` findings. */
  warnings: Diagnostic[];
}

/**
 * Merges the dumps of every server, in `pluginserver_names` order, as Kong registers them by plugin name
 * (`Kong/kong: kong/runloop/plugin_servers/process.lua`). ≤ 3.8 keeps the **first** server for a name and logs
 * `Duplicate plugin name [<plugin>] by <server1> and <server2>`; 3.9+ keeps the **last**, silently
 * (`available_external_plugins[plugin_info.name] = plugin_info`). Either way a `plugin-duplicate-name`
 * warning says which one won. A plugin whose `Name` is not a string is left out with a `plugin-name-not-string`
 * warning (no `plugins` entry can name it).
 *
 * @param dumps - each server's dump, in server order.
 * @param options - the Kong version; default `'3.9'`.
 * @returns the registered plugins by name, and warnings.
 * @throws {@link KongConfVersionError} for an unsupported `kongVersion`.
 * @example
 * ```ts
 * const { plugins } = collectPlugins([{ server: 'js', dump: parseDump(stdout) }]);
 * plugins.get('js-hello')?.server; // 'js'
 * ```
 */
export function collectPlugins(dumps: readonly ServerDump[], options: CollectOptions = {}): CollectedPlugins {
  const profile = kongProfile(options.kongVersion ?? DEFAULT_KONG_VERSION);
  const keepLast = resolvesAtLoad(profile);
  const plugins = new Map<string, RegisteredPlugin>();
  const warnings: Diagnostic[] = [];
  for (const { server, dump } of dumps) {
    for (const info of dump.registered) {
      const name = info.Name;
      if (typeof name !== 'string') {
        // Kong keys its table by the Lua value (`available_external_plugins[plugin_info.name]`,
        // `Kong/kong: kong/runloop/plugin_servers/process.lua`) and `plugins` entries are strings, so a plugin
        // with a non-string name can never be enabled.
        warnings.push(
          diagnostic(
            'plugin-name-not-string',
            'warning',
            'resolver',
            `server ${server} names a plugin ${nameText(name)}, which is not a string; no plugins entry can enable it`,
          ),
        );
        continue;
      }
      const earlier = plugins.get(name);
      if (earlier !== undefined) {
        const message = keepLast
          ? `plugin ${name} is served by ${earlier.server} and ${server}; Kong ${profile} silently keeps ${server}`
          : `Duplicate plugin name [${name}] by ${earlier.server} and ${server}`;
        warnings.push(diagnostic('plugin-duplicate-name', 'warning', 'resolver', message));
        if (!keepLast) continue;
      }
      plugins.set(name, { server, info, protocol: dump.protocol });
    }
  }
  return { plugins, warnings };
}
