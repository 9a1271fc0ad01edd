/**
 * Stage 7, plugin-server resolution (spec §6, §7): the typed `pluginserver_*` properties → server
 * definitions, per Kong version. 3.9+ resolves in the conf loader (`Kong/kong: kong/conf_loader/init.lua`,
 * block "parse and validate pluginserver directives") and refuses to start without a query command; ≤ 3.8
 * resolves at runtime (`kong/runloop/plugin_servers/process.lua`, `get_server_defs`).
 */
import { existsSync } from 'node:fs';
import { type Diagnostic, type DiagnosticSource, diagnostic } from './diagnostics.js';
import { type Env, type KongProperties, layerProperties, type Overrides, type ValueSource } from './env.js';
import { KongConfStartupError } from './errors.js';
import { PLUGINSERVER_KEY } from './keys.js';
import { legacyGoServer, luaFormat } from './legacy.js';
import { asciiLower, utf8Length } from './lua.js';
import { type ParsedConf, parseKongConf } from './parse.js';
import { abspath } from './path.js';
import { asArray, asString } from './typing.js';
import {
  DEFAULT_KONG_VERSION,
  isTwoX,
  type KongProfile,
  type KongVersion,
  kongProfile,
  resolvesAtLoad,
} from './versions.js';

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

const SHELL_WORDS = new Set(
  'cd export if then else elif fi for while until do done case esac set unset source . eval alias ulimit umask trap shift read local readonly wait { } ( ) ! [ [[ test true false'.split(
    ' ',
  ),
);

/** `start-cmd-not-simple`: Kong runs `exec <cmd>`, so a builtin, keyword, assignment or shell list fails. */
function startCommandProblem(command: string): string | undefined {
  const first = command.trimStart().split(/[\s]+/)[0] ?? '';
  if (SHELL_WORDS.has(first)) return `its first word \`${first}\` is a shell builtin or keyword`;
  if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(first)) return `it starts with the variable assignment \`${first}\``;
  if (/&&|\|\||[;|&]/.test(command)) return 'it is a shell list or pipeline';
  return undefined;
}

class Resolution {
  readonly warnings: Diagnostic[] = [];

  constructor(
    readonly props: KongProperties,
    readonly profile: KongProfile,
    readonly version: KongVersion,
  ) {}

  add(code: string, severity: Diagnostic['severity'], message: string, key?: string): void {
    const found = key === undefined ? undefined : this.props.lookup(key);
    const source: DiagnosticSource = found && found.source !== 'default' ? found.source : 'resolver';
    this.warnings.push(diagnostic(code, severity, source, message, { line: found?.line, key }));
  }

  /** A dynamic string property (`""` is unset) with its source. */
  property(key: string): { value: string; source: ValueSource } | undefined {
    const found = this.props.lookup(key);
    const value = asString(found?.value);
    return found && value !== undefined ? { value, source: found.source } : undefined;
  }

  /** Whether a key was set by a layer above the defaults. */
  isSet(key: string): boolean {
    const found = this.props.lookup(key);
    return found !== undefined && found.source !== 'default';
  }
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
    throw new KongConfStartupError(
      'KONG_CONF_FILE_INVALID',
      `${parsed.filename ?? 'kong.conf'}: Penlight cannot parse the section header on line ${fatal?.line ?? '?'}`,
      { diagnostics: parsed.diagnostics, ...(fatal?.line !== undefined ? { line: fatal.line } : {}) },
    );
  }
  const props = layerProperties(parsed, options.env ?? parsed.env ?? {}, options.overrides ?? {}, profile);
  const r = new Resolution(props, profile, kongVersion);
  r.warnings.push(...parsed.diagnostics, ...props.diagnostics);
  const fail = (code: string, message: string): never => {
    throw new KongConfStartupError(code, message, { diagnostics: [...r.warnings] });
  };

  const prefixValue = options.prefix ?? asString(props.get('prefix'));
  if (prefixValue === undefined)
    fail('KONG_CONF_PREFIX_UNSET', 'prefix is empty: Kong cannot start without one');
  const prefix = abspath(prefixValue as string, options.cwd);
  if (prefix === undefined) {
    fail(
      'KONG_CONF_CWD_REQUIRED',
      `prefix ${prefixValue} is relative: pass the working directory as \`cwd\``,
    );
  }
  const context: ServerContext = {
    prefix: prefix as string,
    exists: options.fileExists ?? existsSync,
    binDir: options.defaultPluginserverPath ?? '/usr/local/bin',
  };

  const names = asArray(props.get('pluginserver_names'), kongVersion);
  const servers: PluginServer[] = [];
  legacyChecks(r, names, context, servers);
  checkNames(r, names);
  for (const [index, raw] of names.entries()) {
    const server = resolvesAtLoad(profile)
      ? resolveAtLoad(r, raw, context, fail)
      : resolveAtRuntime(r, raw, context);
    server.origin.namesIndex = index;
    servers.push(server);
  }
  for (const server of servers) checkServer(r, server);
  return { servers, warnings: r.warnings };
}

interface ServerContext {
  prefix: string;
  exists: (path: string) => boolean;
  binDir: string;
}

/** Step 1–2 of §6.1 for the profile: the name and the property prefix. */
function nameAndPrefix(profile: KongProfile, raw: string): { name: string; prefix: string } {
  // 2.3.x does not lower-case (spec §6.2); every version replaces only `-` in the property prefix.
  const name = profile === '2.3' ? raw : asciiLower(raw);
  return { name, prefix: `pluginserver_${name.replaceAll('-', '_')}` };
}

function resolveAtLoad(
  r: Resolution,
  raw: string,
  context: ServerContext,
  fail: (code: string, message: string) => never,
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
    fail('KONG_CONF_QUERY_COMMAND_UNDEFINED', message);
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

/** Name-level findings, computed before any server so that a failing resolution carries them. */
function checkNames(r: Resolution, names: readonly string[]): void {
  const namesKey = 'pluginserver_names';
  const seen = new Map<string, string>();
  const byPrefix = new Map<string, string>();
  for (const raw of names) {
    const { name, prefix } = nameAndPrefix(r.profile, raw);
    if (name === '') {
      r.add(
        'pluginserver-empty-name',
        'warning',
        'pluginserver_names has an empty element: Kong defines a server named "" (properties `pluginserver__*`)',
        namesKey,
      );
    }
    if (asciiLower(name) === 'off' || asciiLower(name) === 'none') {
      r.add(
        'pluginserver-literal-off',
        'warning',
        `pluginserver_names = ${raw} defines a server literally named "${name}"; leave the property empty for no servers`,
        namesKey,
      );
    }
    if (!/^[a-z0-9_-]*$/.test(asciiLower(name))) {
      r.add(
        'pluginserver-name-unmatchable',
        'warning',
        `no kong.conf key can set the properties of "${name}": Kong looks up ${prefix}_*, but keys in a file have every byte other than [A-Za-z0-9] turned into _`,
        namesKey,
      );
    }
    if (seen.has(name)) {
      r.add(
        'pluginserver-duplicate-name',
        'warning',
        `pluginserver_names lists "${name}" twice (as ${seen.get(name)} and ${raw}); Kong defines two servers`,
        namesKey,
      );
    } else seen.set(name, raw);
    const other = byPrefix.get(prefix);
    if (other !== undefined && other !== name) {
      r.add(
        'pluginserver-prefix-collision',
        'warning',
        `"${other}" and "${name}" both read the properties ${prefix}_*`,
        namesKey,
      );
    } else byPrefix.set(prefix, name);
  }
  const prefixes = new Set(byPrefix.keys());
  for (const key of r.props.dynamicKeys()) {
    if (key === namesKey) continue;
    const match = /^(pluginserver_[\s\S]*)_(socket|start_cmd|query_cmd)$/.exec(key);
    if (match?.[1] !== undefined) {
      if (!prefixes.has(match[1]) && r.props.lookup(key) !== undefined) {
        r.add(
          'pluginserver-unlisted',
          'warning',
          `${key} belongs to no server in pluginserver_names (Kong reads ${[...prefixes].map((p) => `${p}_*`).join(', ') || 'nothing'})`,
          key,
        );
      }
    } else if (PLUGINSERVER_KEY.test(key) && r.props.lookup(key) !== undefined) {
      r.add(
        'pluginserver-unknown-property',
        'warning',
        `${key} is not a property Kong reads: only _socket, _start_cmd and _query_cmd exist`,
        key,
      );
    }
  }
}

function checkServer(r: Resolution, server: PluginServer): void {
  if (!server.socket.startsWith('/')) {
    r.add(
      'pluginserver-socket-relative',
      'warning',
      `socket ${server.socket} of ${server.name} is relative: Kong connects to it from nginx's working directory`,
    );
  }
  if (utf8Length(server.socket) > 107) {
    r.add(
      'pluginserver-socket-too-long',
      'warning',
      `socket path of ${server.name} is ${utf8Length(server.socket)} bytes; Linux allows 107`,
    );
  }
  // 2.3 spawns the command through the shell without `exec`, where shell syntax works.
  const problem =
    server.startCmd === undefined || r.profile === '2.3' ? undefined : startCommandProblem(server.startCmd);
  if (problem !== undefined) {
    r.add(
      'start-cmd-not-simple',
      'warning',
      `start command of ${server.name} will not run under Kong's \`exec <cmd>\`: ${problem}`,
    );
  }
}

function legacyChecks(
  r: Resolution,
  names: readonly string[],
  context: ServerContext,
  servers: PluginServer[],
): void {
  const dirSet = r.isSet('go_plugins_dir');
  const exeSet = r.isSet('go_pluginserver_exe');
  if (!dirSet && !exeSet) return;
  const keyOf = dirSet ? 'go_plugins_dir' : 'go_pluginserver_exe';
  if (!isTwoX(r.profile)) {
    r.add(
      'legacy-go-keys-ignored',
      'warning',
      `Kong ${r.profile} no longer supports go_plugins_dir / go_pluginserver_exe and drops them silently; use pluginserver_names`,
      keyOf,
    );
    return;
  }
  const dir = asString(r.props.get('go_plugins_dir'));
  if (dir === 'off') return;
  if (r.profile === '2.3') {
    r.add(
      'legacy-go-keys-unreachable',
      'warning',
      'Kong 2.3 never starts the legacy Go plugin server (its empty pluginserver_names is truthy); use pluginserver_names',
      keyOf,
    );
    return;
  }
  if (names.length > 0) {
    r.add(
      'legacy-go-keys-ignored',
      'warning',
      'go_plugins_dir is ignored because pluginserver_names is not empty',
      keyOf,
    );
    return;
  }
  if (dir === undefined) {
    r.add(
      'legacy-go-dir-empty',
      'error',
      "go_plugins_dir is empty: Kong's runtime fails with `bad argument #3 to 'format' (string expected, got nil)`",
      'go_plugins_dir',
    );
    return;
  }
  if (/^v?2\.8(?:\D|$)/.test(r.version)) {
    r.add(
      'legacy-go-keys-deprecated',
      'warning',
      'Kong 2.8 logs that the properties go_pluginserver_exe and go_plugins_dir are deprecated (removed in 3.0)',
      'go_plugins_dir',
    );
  }
  const exe = asString(r.props.get('go_pluginserver_exe'));
  const legacy = legacyGoServer(context.prefix, exe, dir);
  servers.push({
    name: 'go-pluginserver',
    socket: legacy.socket,
    startCmd: legacy.startCmd,
    infoCmd: (pluginName: string) => luaFormat(legacy.infoTemplate, [pluginName]),
    protocol: 'MsgPack:1',
    legacy: true,
    origin: { keys: {} },
  });
}
