import { describe, expect, it } from 'vitest';
import { withEnv } from '../../src/kong-conf/env.js';
import {
  asArray,
  asBoolean,
  asNgxBoolean,
  asNumber,
  asString,
  kongProperties,
  parseKongConf,
  resolvePluginServers,
} from '../../src/kong-conf/index.js';

const none = () => false;

describe('typing and precedence (spec §11.2)', () => {
  it.each(['test#123', 'test#12#3', 'test##12##3#'])(
    'T1 takes the environment value %s verbatim',
    (value) => {
      const props = kongProperties(parseKongConf('pg_password = file\n'), {
        env: { KONG_PG_PASSWORD: value },
      });
      expect(props.lookup('pg_password')).toEqual({ value, source: 'env' });
      expect(withEnv(parseKongConf(''), { KONG_PG_PASSWORD: value }).get('pg_password')).toBe(value);
    },
  );

  it.each(['test#123', 'test#12#3', 'test##12##3#'])('T2 takes the override value %s verbatim', (value) => {
    const props = kongProperties(undefined, { overrides: { pg_password: value } });
    expect(props.get('pg_password')).toBe(value);
  });

  it.each([true, 'on', 'true'] as const)('T3 infers the boolean override %s as true', (value) => {
    expect(asBoolean(kongProperties(undefined, { overrides: { pg_ssl: value } }).get('pg_ssl'))).toBe(true);
  });

  it('T3 types the default pg_ssl as false', () => {
    expect(asBoolean(kongProperties(undefined).get('pg_ssl'))).toBe(false);
  });

  it.each(['ON', 'yes', '1'])('T4 types pg_ssl = %s in the file as false', (value) => {
    expect(asBoolean(parseKongConf(`pg_ssl = ${value}\n`).get('pg_ssl'))).toBe(false);
  });

  it('types ngx_boolean, number and string as Kong does', () => {
    expect([asNgxBoolean('on'), asNgxBoolean(true), asNgxBoolean('true'), asNgxBoolean(undefined)]).toEqual([
      'on',
      'on',
      'off',
      'off',
    ]);
    expect([asNumber(' 0x10 '), asNumber('5000'), asNumber('abc'), asNumber(7)]).toEqual([
      16,
      5000,
      undefined,
      7,
    ]);
    expect([asString('  x '), asString(''), asString('   '), asString(12), asString(false)]).toEqual([
      'x',
      undefined,
      undefined,
      '12',
      'false',
    ]);
  });

  it('T5 runs on defaults without a file', () => {
    const props = kongProperties(undefined);
    expect(asArray(props.get('plugins'))).toEqual(['bundled']);
    expect(asArray(props.get('pluginserver_names'))).toEqual([]);
    expect(resolvePluginServers('', { fileExists: none }).servers).toEqual([]);
  });

  it('T6 keeps an empty names element on 3.9, failing on it, and drops it on 3.10', () => {
    const text = 'pluginserver_names = a,,b\npluginserver_a_query_cmd = qa\npluginserver_b_query_cmd = qb\n';
    expect(asArray(parseKongConf(text).get('pluginserver_names'), '3.9')).toEqual(['a', '', 'b']);
    let thrown: unknown;
    try {
      resolvePluginServers(text, { kongVersion: '3.9', fileExists: none });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({
      code: 'KONG_CONF_QUERY_COMMAND_UNDEFINED',
      message: 'query_command undefined for pluginserver ',
    });
    const diagnostics = (thrown as { diagnostics: { code: string; line?: number }[] }).diagnostics;
    expect(diagnostics.map((d) => d.code)).toContain('pluginserver-empty-name');
    expect(diagnostics.find((d) => d.code === 'pluginserver-empty-name')?.line).toBe(1);

    const withDir = resolvePluginServers(text, {
      kongVersion: '3.9',
      fileExists: (p) => p === '/usr/local/bin/',
    });
    expect(withDir.servers.map((s) => [s.name, s.socket, s.startCmd, s.queryCmd])).toEqual([
      ['a', '/usr/local/kong/a.socket', undefined, 'qa'],
      ['', '/usr/local/kong/.socket', '/usr/local/bin/', '/usr/local/bin/ -dump'],
      ['b', '/usr/local/kong/b.socket', undefined, 'qb'],
    ]);

    const master = resolvePluginServers(text, { kongVersion: '3.10', fileExists: none });
    expect(master.servers.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('T7 keeps a trailing empty element on 3.9 and drops it on 3.10', () => {
    expect(asArray('go , js ,', '3.9')).toEqual(['go', 'js', '']);
    expect(asArray('go , js ,', '3.10')).toEqual(['go', 'js']);
    expect(asArray('a,,b', '2.8')).toEqual(['a', '', 'b']);
  });

  it('T8 layers file < environment < override', () => {
    const file = parseKongConf(
      'pluginserver_names = go\npluginserver_go_query_cmd = q\npluginserver_go_socket = /a\n',
    );
    const socket = (options: object) =>
      resolvePluginServers(file, { fileExists: none, ...options }).servers[0]?.socket;
    expect(
      socket({ env: { KONG_PLUGINSERVER_GO_SOCKET: '/b' }, overrides: { pluginserver_go_socket: '/c' } }),
    ).toBe('/c');
    expect(socket({ env: { KONG_PLUGINSERVER_GO_SOCKET: '/b' } })).toBe('/b');
    expect(socket({})).toBe('/a');
    const origin = resolvePluginServers(file, {
      fileExists: none,
      env: { KONG_PLUGINSERVER_GO_SOCKET: '/b' },
    }).servers[0]?.origin;
    expect(origin).toEqual({ namesIndex: 0, keys: { socket: 'env', query_cmd: 'file' } });
  });

  it('T9 registers plugin-server keys from the environment alone', () => {
    const { servers } = resolvePluginServers('', {
      fileExists: none,
      env: {
        KONG_PLUGINSERVER_GO_START_CMD: '/opt/go',
        KONG_PLUGINSERVER_GO_QUERY_CMD: '/opt/go -dump',
        KONG_PLUGINSERVER_NAMES: 'go',
      },
    });
    expect(servers.map((s) => [s.name, s.startCmd, s.queryCmd])).toEqual([
      ['go', '/opt/go', '/opt/go -dump'],
    ]);
  });

  it('T10 ignores a lower-case environment variable name, with a warning', () => {
    const { servers, warnings } = resolvePluginServers(
      'pluginserver_names = go\npluginserver_go_query_cmd = q\n',
      {
        fileExists: none,
        env: { kong_pluginserver_go_socket: '/x' },
      },
    );
    expect(servers[0]?.socket).toBe('/usr/local/kong/go.socket');
    expect(warnings.map((w) => [w.code, w.source])).toContainEqual(['pluginserver-env-name', 'env']);
  });

  it('registers a dashed environment name that the resolver never reads, with warnings', () => {
    const { servers, warnings } = resolvePluginServers(
      'pluginserver_names = my-srv\npluginserver_my_srv_query_cmd = q\n',
      {
        fileExists: none,
        env: { 'KONG_PLUGINSERVER_MY-SRV_SOCKET': '/s' },
      },
    );
    expect(servers[0]?.socket).toBe('/usr/local/kong/my-srv.socket');
    expect(warnings.map((w) => w.code)).toEqual(
      expect.arrayContaining(['pluginserver-env-name', 'pluginserver-unlisted']),
    );
  });

  it('T11 lets an empty KONG_PLUGINSERVER_NAMES remove every server', () => {
    const { servers } = resolvePluginServers('pluginserver_names = go\n', {
      fileExists: none,
      env: { KONG_PLUGINSERVER_NAMES: '' },
    });
    expect(servers).toEqual([]);
  });

  it('T12 never comment-strips an environment start command', () => {
    const { servers } = resolvePluginServers('pluginserver_names = go\npluginserver_go_query_cmd = q\n', {
      fileExists: none,
      env: { KONG_PLUGINSERVER_GO_START_CMD: '/opt/go -x # y' },
    });
    expect(servers[0]?.startCmd).toBe('/opt/go -x # y');
  });

  it.each([
    ['/usr/local/kong/', undefined, '/usr/local/kong'],
    ['kong', '/srv', '/srv/kong'],
    ['/opt//kong/./x/..', undefined, '/opt/kong'],
    ['//srv/k/', undefined, '//srv/k'],
    ['///a//b', undefined, '/a/b'],
    ['/..', undefined, '/..'],
    ['../k', '/srv/', '/k'],
  ])('T13 normalizes prefix %s (cwd %s) to %s', (prefix, cwd, expected) => {
    const { servers } = resolvePluginServers(
      `prefix = ${prefix}\npluginserver_names = js\npluginserver_js_query_cmd = q\n`,
      {
        fileExists: none,
        ...(cwd !== undefined ? { cwd } : {}),
      },
    );
    expect(servers[0]?.socket).toBe(`${expected}/js.socket`);
  });

  it('requires cwd for a relative prefix instead of reading process.cwd()', () => {
    expect(() => resolvePluginServers('prefix = kong\n')).toThrow(
      expect.objectContaining({ code: 'KONG_CONF_CWD_REQUIRED' }),
    );
  });

  it('uses a prefix option over the configuration’s', () => {
    const { servers } = resolvePluginServers('prefix = /a\n', {
      prefix: '/b/',
      overrides: { pluginserver_names: ['x'], pluginserver_x_query_cmd: 'q' },
    });
    expect(servers[0]?.socket).toBe('/b/x.socket');
  });

  it('turns boolean and number overrides of dynamic keys into on/off and strings', () => {
    const props = kongProperties(undefined, {
      overrides: { pluginserver_x_socket: true, pluginserver_y_socket: 12 },
    });
    expect([props.get('pluginserver_x_socket'), props.get('pluginserver_y_socket')]).toEqual(['on', '12']);
  });

  it('reads NONE written by a user as an ordinary string', () => {
    expect(asArray(parseKongConf('pluginserver_names = NONE\n').get('pluginserver_names'))).toEqual(['NONE']);
  });
});
