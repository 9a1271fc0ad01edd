import { describe, expect, it } from 'vitest';
import {
  type Diagnostic,
  KongConfStartupError,
  KongConfVersionError,
  type ResolveOptions,
  resolvePluginServers,
} from '../../src/kong-conf/index.js';
import { kongProfile } from '../../src/kong-conf/versions.js';

const none = () => false;

function startupError(run: () => unknown): KongConfStartupError {
  try {
    run();
  } catch (error) {
    if (error instanceof KongConfStartupError) return error;
    throw error;
  }
  throw new Error('expected a KongConfStartupError');
}

const codesOf = (diagnostics: readonly Diagnostic[]) => diagnostics.map((d) => d.code);
const resolve = (text: string, options: ResolveOptions = {}) =>
  resolvePluginServers(text, { fileExists: none, ...options });

describe('plugin-server resolution (spec §11.3)', () => {
  it('R1 refuses to start without a query command on 3.9', () => {
    const error = startupError(() => resolve('', { overrides: { pluginserver_names: 'gopher' } }));
    expect(error.code).toBe('KONG_CONF_QUERY_COMMAND_UNDEFINED');
    expect(error.message).toBe('query_command undefined for pluginserver gopher');
    expect(codesOf(error.diagnostics)).toContain('pluginserver-no-query');
    expect(error).toBeInstanceOf(KongConfStartupError);
  });

  it('R2 warns, with Kong’s text, when there is no start command', () => {
    const { servers, warnings } = resolve('', {
      overrides: { pluginserver_names: 'gopher', pluginserver_gopher_query_cmd: 'gopher -dump' },
    });
    expect(warnings.filter((w) => w.severity === 'warning').map((w) => w.message)).toEqual([
      'start_command undefined for pluginserver gopher; assuming external process management',
    ]);
    expect(servers).toEqual([
      {
        name: 'gopher',
        socket: '/usr/local/kong/gopher.socket',
        queryCmd: 'gopher -dump',
        origin: { namesIndex: 0, keys: { socket: 'default', query_cmd: 'override' } },
      },
    ]);
  });

  it('R3 fills in defaults from the plugin-server path when the binary exists', () => {
    const dir = './spec/fixtures/external_plugins/go';
    const { servers } = resolvePluginServers('pluginserver_names = go-hello\n', {
      defaultPluginserverPath: dir,
      fileExists: (path) => path === `${dir}/go-hello`,
    });
    expect(servers.map((s) => [s.name, s.queryCmd, s.startCmd, s.socket])).toEqual([
      ['go-hello', `${dir}/go-hello -dump`, `${dir}/go-hello`, '/usr/local/kong/go-hello.socket'],
    ]);
  });

  it('R4 takes custom settings verbatim, expanding nothing', () => {
    const { servers } = resolve(
      [
        'pluginserver_names = gopher',
        'pluginserver_gopher_query_cmd = gopher -dump',
        'pluginserver_gopher_start_cmd = gopher -p $KONG_PREFIX',
        'pluginserver_gopher_socket = /foo/bar/gopher.socket',
      ].join('\n'),
    );
    expect(servers.map((s) => [s.name, s.queryCmd, s.startCmd, s.socket])).toEqual([
      ['gopher', 'gopher -dump', 'gopher -p $KONG_PREFIX', '/foo/bar/gopher.socket'],
    ]);
  });

  it('R5 keeps a server without query command on 3.8, with a warning', () => {
    const { servers, warnings } = resolve('', {
      kongVersion: '3.8',
      overrides: { pluginserver_names: 'gopher' },
    });
    expect(servers).toEqual([
      {
        name: 'gopher',
        socket: '/usr/local/kong/gopher.socket',
        origin: { namesIndex: 0, keys: { socket: 'default' } },
      },
    ]);
    const noQuery = warnings.find((w) => w.code === 'pluginserver-no-query');
    expect(noQuery).toMatchObject({ severity: 'warning' });
    expect(noQuery?.message).toContain('No info query for gopher');
  });

  it('R6 probes query_<name> for the query command on 3.8', () => {
    const probed: string[] = [];
    const { servers } = resolve('pluginserver_names = go-hello\n', {
      kongVersion: '3.8',
      fileExists: (path) => {
        probed.push(path);
        return path === '/usr/local/bin/go-hello';
      },
    });
    expect(servers[0]?.startCmd).toBe('/usr/local/bin/go-hello');
    expect(servers[0]?.queryCmd).toBeUndefined();
    expect(probed).toContain('/usr/local/bin/query_go-hello');
  });

  it('R7 lower-cases the name and maps only - to _ in the property prefix', () => {
    const probed: string[] = [];
    const { servers } = resolve('pluginserver_names = Go-Hello\npluginserver_go_hello_query_cmd = q\n', {
      fileExists: (path) => {
        probed.push(path);
        return false;
      },
    });
    expect(servers.map((s) => [s.name, s.queryCmd, s.socket])).toEqual([
      ['go-hello', 'q', '/usr/local/kong/go-hello.socket'],
    ]);
    expect(probed).toEqual(['/usr/local/bin/go-hello']);
  });

  it('R8 keeps the name’s case on 2.3, so the lower-case file key does not match', () => {
    const probed: string[] = [];
    const { servers, warnings } = resolve(
      'pluginserver_names = Go-Hello\npluginserver_go_hello_query_cmd = q\n',
      {
        kongVersion: '2.3',
        fileExists: (path) => {
          probed.push(path);
          return path === '/usr/local/bin/query_Go-Hello';
        },
      },
    );
    expect(servers.map((s) => [s.name, s.queryCmd, s.socket])).toEqual([
      ['Go-Hello', '/usr/local/bin/query_Go-Hello', '/usr/local/kong/Go-Hello.socket'],
    ]);
    expect(probed).toEqual(['/usr/local/bin/Go-Hello', '/usr/local/bin/query_Go-Hello']);
    expect(codesOf(warnings)).toContain('pluginserver-unlisted');
  });

  it('R9 cannot match a name with punctuation from a file key', () => {
    const error = startupError(() =>
      resolve('pluginserver_names = my.srv\npluginserver_my.srv_query_cmd = q\n'),
    );
    expect(error.message).toBe('query_command undefined for pluginserver my.srv');
    expect(codesOf(error.diagnostics)).toEqual(
      expect.arrayContaining(['pluginserver-name-unmatchable', 'pluginserver-unlisted']),
    );
    expect(error.diagnostics.find((d) => d.code === 'pluginserver-unlisted')?.line).toBe(2);
    // Overrides keep keys verbatim, so they can reach it.
    const { servers } = resolve('pluginserver_names = my.srv\n', {
      overrides: { 'pluginserver_my.srv_query_cmd': 'q' },
    });
    expect(servers[0]?.queryCmd).toBe('q');
  });

  it('R10 treats pluginserver_names = off as a server named off', () => {
    const error = startupError(() => resolve('pluginserver_names = off\n'));
    expect(error.message).toBe('query_command undefined for pluginserver off');
    expect(codesOf(error.diagnostics)).toContain('pluginserver-literal-off');
  });

  it('R11 treats a user-written NONE as a server named none', () => {
    const error = startupError(() => resolve('pluginserver_names = NONE\n'));
    expect(error.message).toBe('query_command undefined for pluginserver none');
    expect(codesOf(error.diagnostics)).toContain('pluginserver-literal-off');
  });

  it('R12 uses prefix for the default socket on 3.9 and ignores it on 3.8', () => {
    const text = 'prefix = /opt/kong/\npluginserver_names = js\npluginserver_js_query_cmd = q\n';
    expect(resolve(text).servers[0]?.socket).toBe('/opt/kong/js.socket');
    const old = resolve(text, { kongVersion: '3.8' });
    expect(old.servers[0]?.socket).toBe('/usr/local/kong/js.socket');
    expect(codesOf(old.warnings)).toContain('pluginserver-prefix-ignored');
  });

  it('R13 keeps duplicate names as two servers, with a warning', () => {
    const { servers, warnings } = resolve('pluginserver_names = go, GO\npluginserver_go_query_cmd = q\n');
    expect(servers.map((s) => [s.name, s.socket, s.queryCmd])).toEqual([
      ['go', '/usr/local/kong/go.socket', 'q'],
      ['go', '/usr/local/kong/go.socket', 'q'],
    ]);
    expect(codesOf(warnings)).toContain('pluginserver-duplicate-name');
  });

  it('R14 lets my-srv and my_srv share one set of properties, with a warning', () => {
    const { servers, warnings } = resolve(
      'pluginserver_names = my-srv, my_srv\npluginserver_my_srv_query_cmd = q\n',
    );
    expect(servers.map((s) => [s.name, s.socket, s.queryCmd])).toEqual([
      ['my-srv', '/usr/local/kong/my-srv.socket', 'q'],
      ['my_srv', '/usr/local/kong/my_srv.socket', 'q'],
    ]);
    expect(codesOf(warnings)).toContain('pluginserver-prefix-collision');
  });

  it('R15 fails on the first name without a query command', () => {
    const error = startupError(() => resolve('pluginserver_names = a, b, c\npluginserver_a_query_cmd = q\n'));
    expect(error.message).toBe('query_command undefined for pluginserver b');
  });

  it('R16 reports properties Kong never reads without changing the server', () => {
    const { servers, warnings } = resolve(
      'pluginserver_names = go\npluginserver_go_query_cmd = q\npluginserver_go_start_timeout = 5\n',
    );
    expect(servers.map((s) => [s.name, s.queryCmd, s.startCmd])).toEqual([['go', 'q', undefined]]);
    expect(warnings.find((w) => w.code === 'pluginserver-unknown-property')).toMatchObject({ line: 3 });
  });

  it('warns about relative and overlong sockets and start commands exec cannot run', () => {
    const long = `/${'x'.repeat(110)}`;
    const { warnings } = resolve(
      [
        'pluginserver_names = a, b, c',
        'pluginserver_a_query_cmd = q',
        'pluginserver_a_socket = rel/a.sock',
        'pluginserver_b_query_cmd = q',
        `pluginserver_b_socket = ${long}`,
        'pluginserver_b_start_cmd = cd /x && srv',
        'pluginserver_c_query_cmd = q',
        'pluginserver_c_start_cmd = FOO=1 srv',
      ].join('\n'),
    );
    expect(codesOf(warnings)).toEqual(
      expect.arrayContaining([
        'pluginserver-socket-relative',
        'pluginserver-socket-too-long',
        'start-cmd-not-simple',
      ]),
    );
    expect(warnings.filter((w) => w.code === 'start-cmd-not-simple')).toHaveLength(2);
  });

  it('accepts shell syntax in start commands on 2.3, which spawns without exec', () => {
    const { warnings } = resolve('pluginserver_names = a\npluginserver_a_start_cmd = cd /x && srv\n', {
      kongVersion: '2.3',
    });
    expect(warnings.map((w) => w.code)).not.toContain('start-cmd-not-simple');
  });

  it('reports the lines of pluginserver_names for name-level findings', () => {
    const { warnings } = resolve('\n\npluginserver_names = go, GO\npluginserver_go_query_cmd = q\n');
    expect(warnings.find((w) => w.code === 'pluginserver-duplicate-name')).toMatchObject({
      line: 3,
      source: 'file',
    });
  });

  it('treats the 3.10 profile like 3.9 apart from arrays', () => {
    expect(() => resolve('pluginserver_names = a\n', { kongVersion: '3.10' })).toThrow(
      'query_command undefined for pluginserver a',
    );
  });
});

describe('kongProfile', () => {
  it.each([
    ['2.3', '2.3'],
    ['2.3.3', '2.3'],
    ['2.4', '2.4-2.8'],
    ['2.8.1', '2.4-2.8'],
    ['3.0.0', '3.0-3.8'],
    ['3.4.2', '3.0-3.8'],
    ['3.8', '3.0-3.8'],
    ['3.9.1', '3.9'],
    ['3.10', '3.10'],
    ['3.0-3.8', '3.0-3.8'],
  ])('maps %s to %s', (version, profile) => {
    expect(kongProfile(version)).toBe(profile);
  });

  it.each(['2.2', '1.5', '3.11', '4.0', 'latest', ''])('rejects %s', (version) => {
    expect(() => kongProfile(version)).toThrow(KongConfVersionError);
    expect(() => resolvePluginServers('', { kongVersion: version })).toThrow(
      expect.objectContaining({ code: 'KONG_CONF_UNSUPPORTED_VERSION' }),
    );
  });
});
