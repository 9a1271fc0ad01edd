/**
 * The legacy Go plugin server of Kong 2.4–2.8 (spec §7.2, `Kong/kong@2.8.0:
 * kong/runloop/plugin_servers/process.lua`, `get_server_defs`): `go_plugins_dir` / `go_pluginserver_exe`
 * mapped to one server definition whose strings are built with LuaJIT's `string.format`.
 */
import { KongConfLuaFormatError } from './errors.js';
import { luaQuote } from './lua.js';
import type { Resolution, ServerContext } from './resolution.js';
import type { PluginServer } from './resolve.js';
import { asString } from './typing.js';
import { isTwoX } from './versions.js';

/**
 * LuaJIT `string.format` for the conversions Kong's templates use (`%s`, `%q`, `%%`). A template with more
 * conversions than arguments fails as Lua does.
 */
export function luaFormat(template: string, args: readonly (string | undefined)[]): string {
  let out = '';
  let next = 0;
  for (let i = 0; i < template.length; i++) {
    const char = template[i];
    if (char !== '%') {
      out += char;
      continue;
    }
    const spec = template[++i];
    if (spec === '%') {
      out += '%';
      continue;
    }
    const argNumber = next + 2; // Lua counts the format string as argument #1
    if (spec !== 's' && spec !== 'q') {
      throw new KongConfLuaFormatError(
        `invalid option '%${spec ?? ''}' to 'format' (argument #${argNumber - 1} in the template)`,
      );
    }
    if (next >= args.length) {
      throw new KongConfLuaFormatError(`bad argument #${argNumber} to 'format' (no value)`);
    }
    const arg = args[next++];
    // LuaJIT's %s applies tostring, so a nil argument prints `nil`; %q of nil is an error.
    if (spec === 's') out += arg ?? 'nil';
    else if (arg === undefined) {
      throw new KongConfLuaFormatError(`bad argument #${argNumber} to 'format' (string expected, got nil)`);
    } else out += luaQuote(arg);
  }
  return out;
}

/** The legacy server definition (spec §7.2). */
export interface LegacyGoServer {
  socket: string;
  startCmd: string;
  infoTemplate: string;
}

/**
 * Builds the 2.4–2.8 legacy Go server from the typed values.
 *
 * @param prefix - the normalized prefix.
 * @param exe - `go_pluginserver_exe` (inserted raw; `undefined` prints `nil`, as LuaJIT's `%s` does).
 * @param dir - `go_plugins_dir`.
 */
export function legacyGoServer(prefix: string, exe: string | undefined, dir: string): LegacyGoServer {
  return {
    socket: `${prefix}/go_pluginserver.sock`,
    startCmd: luaFormat('%s -kong-prefix %q -plugins-directory %q', [exe, prefix, dir]),
    // `%%q` leaves a `%q` for the per-plugin format call.
    infoTemplate: luaFormat('%s -plugins-directory %q -dump-plugin-info %%q', [exe, dir]),
  };
}

/** Spec §7: the legacy keys per profile, with their warnings; pushes the 2.4–2.8 server onto `servers`. */
export function legacyChecks(
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
