/**
 * Stage 7, plugin-server resolution (spec §6, §7): the typed `pluginserver_*` properties → server
 * definitions, per Kong version. 3.9+ resolves in the conf loader (`Kong/kong: kong/conf_loader/init.lua`,
 * block "parse and validate pluginserver directives") and refuses to start without a query command; ≤ 3.8
 * resolves at runtime (`kong/runloop/plugin_servers/process.lua`, `get_server_defs`).
 */
import { existsSync } from 'node:fs';
import { checkNames, checkServer } from './checks.js';
import type { Diagnostic } from './diagnostics.js';
import { type Env, layerProperties, type Overrides, type ValueSource } from './env.js';
import {
  KongConfCwdRequiredError,
  KongConfFileInvalidError,
  KongConfPrefixUnsetError,
  KongConfQueryCommandUndefinedError,
  type KongConfStartupError,
} from './errors.js';
import { legacyChecks } from './legacy.js';
import { type ParsedConf, parseKongConf } from './parse.js';
import { abspath } from './path.js';
import { nameAndPrefix, Resolution, type ServerContext } from './resolution.js';
import { asArray, asString } from './typing.js';
import { DEFAULT_KONG_VERSION, type KongVersion, kongProfile, resolvesAtLoad } from './versions.js';

/** The per-code subclasses of {@link KongConfStartupError} that take only a message and the diagnostics. */
type StartupErrorClass =
  | typeof KongConfCwdRequiredError
  | typeof KongConfPrefixUnsetError
  | typeof KongConfQueryCommandUndefinedError;

/** The properties of one plugin server that Kong reads. */
export type PluginServerProperty = 'socket' | 'start_cmd' | 'query_cmd';

/** One plugin server as Kong would run and query it. */
export interface PluginServer {
  /** The name after the profile's normalization (lower-cased on 2.4+). */
  name: string;
  /** The Unix socket Kong connects to. */
  socket: string;
  /** The command Kong starts it with; `undefined` means it is managed externally. */
  startCmd?: string;
  /** The command whose stdout lists the server's plugins (spec §9); `undefined` only on versions ≤ 3.8. */
  queryCmd?: string;
  /** Legacy Go server (2.4–2.8) only: the per-plugin info command, `%q`-formatted like Kong. */
  infoCmd?: (pluginName: string) => string;
  /** Preset by the legacy mapping; otherwise learnt from the dump ({@link parseDump}). */
  protocol?: 'MsgPack:1' | 'ProtoBuf:1';
  /** Set on the legacy Go server. */
  legacy?: true;
  /** Where the definition comes from. */
  origin: {
    /** Index in `pluginserver_names`. */
    namesIndex?: number;
    /** Which layer each property came from (`default` for Kong's fallbacks). */
    keys: Partial<Record<PluginServerProperty, ValueSource>>;
  };
}

/** Options of {@link resolvePluginServers}. */
export interface ResolveOptions {
  /** The user's Kong version (`'2.8'`, `'3.4.2'`, `'3.9'`, `'3.10'` for master); default `'3.9'`. */
  kongVersion?: KongVersion;
  /** The environment (e.g. `process.env`); default: the one attached by `loadKongConf`, else none. */
  env?: Env;
  /** Programmatic overrides (Kong's `custom_conf`): highest precedence, keys verbatim. */
  overrides?: Overrides;
  /** Replaces the configuration's `prefix`. */
  prefix?: string;
  /** The working directory a relative `prefix` is joined to. */
  cwd?: string;
  /** The filesystem probe for the `/usr/local/bin/<name>` defaults; default `fs.existsSync`. */
  fileExists?: (path: string) => boolean;
  /** Replaces `/usr/local/bin` (Kong's `DEFAULT_PLUGINSERVER_PATH`); joined by plain concatenation. */
  defaultPluginserverPath?: string;
}

/** The result of {@link resolvePluginServers}. */
export interface ResolveResult {
  /** The servers Kong would define, in `pluginserver_names` order (duplicates included, as Kong keeps them). */
  servers: PluginServer[];
  /** Every finding: the file's diagnostics, then the environment's, then the resolver's. */
  warnings: Diagnostic[];
}

/**
 * Resolves the plugin servers a kong.conf (plus environment and overrides) defines, exactly as the selected
 * Kong version does, and reports what Kong would do silently as warnings with line numbers.
 *
 * @param conf - a parsed configuration (from {@link parseKongConf} or {@link loadKongConf}) or kong.conf text.
 * @param options - version, environment, overrides, prefix, cwd and the filesystem probe.
 * @returns the servers and every diagnostic.
 * @throws {@link KongConfStartupError} where Kong refuses to start: `KONG_CONF_QUERY_COMMAND_UNDEFINED`
 *   (3.9+, message `query_command undefined for pluginserver <name>`), `KONG_CONF_FILE_INVALID` (a `[` line
 *   Penlight cannot parse), `KONG_CONF_CWD_REQUIRED` (relative prefix, no `cwd`), `KONG_CONF_PREFIX_UNSET`;
 *   each carries the diagnostics gathered so far.
 * @throws {@link KongConfVersionError} for an unsupported `kongVersion`.
 * @example
 * ```ts
 * const { servers } = resolvePluginServers(
 *   'pluginserver_names = js\npluginserver_js_query_cmd = kong-js-pluginserver --dump-all-plugins\n',
 *   { kongVersion: '3.9', fileExists: () => false },
 * );
 * servers[0]?.socket; // '/usr/local/kong/js.socket'
 * ```
 */
export function resolvePluginServers(conf: ParsedConf | string, options: ResolveOptions = {}): ResolveResult {
  const kongVersion = options.kongVersion ?? DEFAULT_KONG_VERSION;
  const profile = kongProfile(kongVersion);
  const parsed = typeof conf === 'string' ? parseKongConf(conf, { kongVersion }) : conf;
  if (!parsed.loadable) {
    const fatal = parsed.diagnostics.find((d) => d.code === 'section-header' && d.severity === 'error');
    throw new KongConfFileInvalidError(
      `${parsed.filename ?? 'kong.conf'}: Penlight cannot parse the section header on line ${fatal?.line ?? '?'}`,
      { diagnostics: parsed.diagnostics, ...(fatal?.line !== undefined ? { line: fatal.line } : {}) },
    );
  }
  const props = layerProperties(parsed, options.env ?? parsed.env ?? {}, options.overrides ?? {}, profile);
  const r = new Resolution(props, profile, kongVersion);
  r.warnings.push(...parsed.diagnostics, ...props.diagnostics);
  const startupError = (ErrorClass: StartupErrorClass, message: string): KongConfStartupError =>
    new ErrorClass(message, { diagnostics: [...r.warnings] });

  const prefixValue = options.prefix ?? asString(props.get('prefix'));
  if (prefixValue === undefined) {
    throw startupError(KongConfPrefixUnsetError, 'prefix is empty: Kong cannot start without one');
  }
  const prefix = abspath(prefixValue, options.cwd);
  if (prefix === undefined) {
    throw startupError(
      KongConfCwdRequiredError,
      `prefix ${prefixValue} is relative: pass the working directory as \`cwd\``,
    );
  }
  const context: ServerContext = {
    prefix,
    exists: options.fileExists ?? existsSync,
    binDir: options.defaultPluginserverPath ?? '/usr/local/bin',
  };

  const names = asArray(props.get('pluginserver_names'), kongVersion);
  const servers: PluginServer[] = [];
  legacyChecks(r, names, context, servers);
  checkNames(r, names);
  for (const [index, raw] of names.entries()) {
    const server = resolvesAtLoad(profile)
      ? resolveAtLoad(r, raw, context, startupError)
      : resolveAtRuntime(r, raw, context);
    server.origin.namesIndex = index;
    servers.push(server);
  }
  for (const server of servers) checkServer(r, server);
  return { servers, warnings: r.warnings };
}

function resolveAtLoad(
  r: Resolution,
  raw: string,
  context: ServerContext,
  startupError: (ErrorClass: StartupErrorClass, message: string) => KongConfStartupError,
): PluginServer {
  const { name, prefix } = nameAndPrefix(r.profile, raw);
  const socket = r.property(`${prefix}_socket`);
  const start = r.property(`${prefix}_start_cmd`);
  const query = r.property(`${prefix}_query_cmd`);
  const bin = `${context.binDir}/${name}`;
  const binExists = context.exists(bin);
  const server: PluginServer = {
    name,
    socket: socket?.value ?? `${context.prefix}/${name}.socket`,
    origin: { keys: { socket: socket?.source ?? 'default' } },
  };
  if (start) server.startCmd = start.value;
  else if (binExists) server.startCmd = bin;
  if (query) server.queryCmd = query.value;
  else if (binExists) server.queryCmd = `${bin} -dump`;
  if (server.startCmd !== undefined) server.origin.keys.start_cmd = start?.source ?? 'default';
  if (server.queryCmd !== undefined) server.origin.keys.query_cmd = query?.source ?? 'default';
  if (server.queryCmd === undefined) {
    const message = `query_command undefined for pluginserver ${name}`;
    r.add('pluginserver-no-query', 'error', `${message} (and ${bin} does not exist)`, `${prefix}_query_cmd`);
    // Kong's conf loader stops at the first such name (spec §6.1 step 7).
    throw startupError(KongConfQueryCommandUndefinedError, message);
  }
  if (server.startCmd === undefined) {
    r.add(
      'pluginserver-external',
      'warning',
      `start_command undefined for pluginserver ${name}; assuming external process management`,
    );
  }
  return server;
}

function resolveAtRuntime(r: Resolution, raw: string, context: ServerContext): PluginServer {
  const { name, prefix } = nameAndPrefix(r.profile, raw);
  const socket = r.property(`${prefix}_socket`);
  const start = r.property(`${prefix}_start_cmd`);
  const query = r.property(`${prefix}_query_cmd`);
  // ≤ 3.8 hard-codes /usr/local/kong and probes `query_<name>` for the query command.
  const server: PluginServer = {
    name,
    socket: socket?.value ?? `/usr/local/kong/${name}.socket`,
    origin: { keys: { socket: socket?.source ?? 'default' } },
  };
  if (!socket && context.prefix !== '/usr/local/kong') {
    r.add(
      'pluginserver-prefix-ignored',
      'warning',
      `Kong ${r.profile} ignores prefix ${context.prefix} for the default socket of ${name}: it is ${server.socket}`,
    );
  }
  const startBin = `${context.binDir}/${name}`;
  const queryBin = `${context.binDir}/query_${name}`;
  if (start) server.startCmd = start.value;
  else if (context.exists(startBin)) server.startCmd = startBin;
  if (query) server.queryCmd = query.value;
  else if (context.exists(queryBin)) server.queryCmd = queryBin;
  if (server.startCmd !== undefined) server.origin.keys.start_cmd = start?.source ?? 'default';
  if (server.queryCmd !== undefined) server.origin.keys.query_cmd = query?.source ?? 'default';
  if (server.queryCmd === undefined) {
    r.add(
      'pluginserver-no-query',
      'warning',
      `No info query for ${name} (Kong ${r.profile} logs this at info level and loads no plugins from it)`,
      `${prefix}_query_cmd`,
    );
  }
  if (server.startCmd === undefined) {
    r.add(
      'pluginserver-external',
      'info',
      `no start command for ${name}: Kong assumes it is managed externally`,
    );
  }
  return server;
}
