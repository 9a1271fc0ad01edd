/**
 * The legacy Go plugin server of Kong 2.4–2.8 (spec §7.2, `Kong/kong@2.8.0:
 * kong/runloop/plugin_servers/process.lua`, `get_server_defs`): `go_plugins_dir` / `go_pluginserver_exe`
 * mapped to one server definition whose strings are built with LuaJIT's `string.format`.
 */
import { KongConfError } from './errors.js';
import { luaQuote } from './lua.js';

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
      throw new KongConfError(
        'KONG_CONF_LUA_FORMAT',
        `invalid option '%${spec ?? ''}' to 'format' (argument #${argNumber - 1} in the template)`,
      );
    }
    if (next >= args.length) {
      throw new KongConfError('KONG_CONF_LUA_FORMAT', `bad argument #${argNumber} to 'format' (no value)`);
    }
    const arg = args[next++];
    // LuaJIT's %s applies tostring, so a nil argument prints `nil`; %q of nil is an error.
    if (spec === 's') out += arg ?? 'nil';
    else if (arg === undefined) {
      throw new KongConfError(
        'KONG_CONF_LUA_FORMAT',
        `bad argument #${argNumber} to 'format' (string expected, got nil)`,
      );
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
