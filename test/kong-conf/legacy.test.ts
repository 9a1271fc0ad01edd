import { describe, expect, it } from 'vitest';
import { resolvePluginServers } from '../../src/kong-conf/index.js';
import { luaFormat } from '../../src/kong-conf/legacy.js';
import { luaQuote } from '../../src/kong-conf/lua.js';

const none = () => false;
const G1 = 'go_plugins_dir = /usr/local/kong/go-plugins\n';

describe('legacy Go keys (spec §11.4)', () => {
  it('G1 maps go_plugins_dir to one server on 2.8', () => {
    const { servers } = resolvePluginServers(G1, { kongVersion: '2.8', fileExists: none });
    expect(servers).toHaveLength(1);
    const [server] = servers;
    expect(server).toMatchObject({
      name: 'go-pluginserver',
      socket: '/usr/local/kong/go_pluginserver.sock',
      startCmd:
        '/usr/local/bin/go-pluginserver -kong-prefix "/usr/local/kong" -plugins-directory "/usr/local/kong/go-plugins"',
      protocol: 'MsgPack:1',
      legacy: true,
    });
    expect(server?.queryCmd).toBeUndefined();
    expect(server?.infoCmd?.('go-hello')).toBe(
      '/usr/local/bin/go-pluginserver -plugins-directory "/usr/local/kong/go-plugins" -dump-plugin-info "go-hello"',
    );
  });

  it('reports Kong 2.8’s deprecation of the legacy keys, and not on 2.5', () => {
    const codes = (kongVersion: string) =>
      resolvePluginServers(G1, { kongVersion, fileExists: none }).warnings.map((w) => w.code);
    expect(codes('2.8.1')).toContain('legacy-go-keys-deprecated');
    expect(codes('2.5')).not.toContain('legacy-go-keys-deprecated');
  });

  it('G2 quotes the directory with %q', () => {
    const { servers } = resolvePluginServers('go_plugins_dir = /opt/go "x"\n', {
      kongVersion: '2.8',
      fileExists: none,
    });
    expect(servers[0]?.startCmd?.endsWith('-plugins-directory "/opt/go \\"x\\""')).toBe(true);
  });

  it('G3 uses the normalized prefix', () => {
    const { servers } = resolvePluginServers(`${G1}prefix = /srv/kong/\n`, {
      kongVersion: '2.8',
      fileExists: none,
    });
    expect(servers[0]?.socket).toBe('/srv/kong/go_pluginserver.sock');
    expect(servers[0]?.startCmd).toContain('-kong-prefix "/srv/kong"');
  });

  it('G4 defines no server when go_plugins_dir = off', () => {
    expect(resolvePluginServers('go_plugins_dir = off\n', { kongVersion: '2.8' }).servers).toEqual([]);
  });

  it('enables the legacy server for OFF (no case folding) and inserts the exe raw', () => {
    const { servers } = resolvePluginServers('go_plugins_dir = OFF\ngo_pluginserver_exe = /x y/gps\n', {
      kongVersion: '2.5',
    });
    expect(servers[0]?.startCmd).toBe('/x y/gps -kong-prefix "/usr/local/kong" -plugins-directory "OFF"');
  });

  it('G5 ignores the legacy keys when pluginserver_names is set', () => {
    const { servers, warnings } = resolvePluginServers(
      `${G1}pluginserver_names = js\npluginserver_js_query_cmd = q\n`,
      {
        kongVersion: '2.8',
        fileExists: none,
      },
    );
    expect(servers.map((s) => s.name)).toEqual(['js']);
    expect(warnings.find((w) => w.code === 'legacy-go-keys-ignored')).toMatchObject({ line: 1 });
  });

  it('G6 drops the legacy keys on 3.9', () => {
    const { servers, warnings } = resolvePluginServers(G1, { kongVersion: '3.9' });
    expect(servers).toEqual([]);
    expect(warnings.map((w) => w.code)).toContain('legacy-go-keys-ignored');
  });

  it('G7 cannot reach the legacy server on 2.3', () => {
    const { servers, warnings } = resolvePluginServers(G1, { kongVersion: '2.3' });
    expect(servers).toEqual([]);
    expect(warnings.map((w) => w.code)).toContain('legacy-go-keys-unreachable');
  });

  it('reports an empty go_plugins_dir, on which Kong’s runtime fails', () => {
    const { servers, warnings } = resolvePluginServers('go_plugins_dir =\n', { kongVersion: '2.8' });
    expect(servers).toEqual([]);
    expect(warnings.map((w) => w.code)).toContain('legacy-go-dir-empty');
  });
});

describe('LuaJIT %q', () => {
  it.each([
    ['plain', '"plain"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['a\nb', '"a\\\nb"'],
    ['\x00', '"\\0"'],
    ['\x001', '"\\0001"'],
    ['\t\r\x7f', '"\\9\\13\\127"'],
    ['\x1f9', '"\\0319"'],
    ['é$`', '"é$`"'],
  ])('quotes %j as %s', (input, output) => {
    expect(luaQuote(input)).toBe(output);
  });

  it('formats a template with %s, %q and %%, failing like Lua on a missing argument', () => {
    expect(luaFormat('%s %q 100%%', ['a', 'b'])).toBe('a "b" 100%');
    expect(luaFormat('%s', [undefined])).toBe('nil');
    expect(() => luaFormat('%s %q', ['a'])).toThrow("bad argument #3 to 'format' (no value)");
  });

  it('fails the info command when the directory contains a format directive', () => {
    const { servers } = resolvePluginServers('go_plugins_dir = /opt/100%s\n', { kongVersion: '2.8' });
    expect(() => servers[0]?.infoCmd?.('p')).toThrow(
      expect.objectContaining({ code: 'KONG_CONF_LUA_FORMAT' }),
    );
  });
});
