import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONF_PATHS, findKongConf } from '../../src/kong-conf/env.js';
import { asArray, KongConfFileError, loadKongConf, resolvePluginServers } from '../../src/kong-conf/index.js';

// ~2,000 lines in the shape of Kong's kong.conf.default: banners, commented-out defaults with indented
// comment blocks, and a handful of real settings at the end (continuations, an escaped #, plugin servers).
const FIXTURE = fileURLToPath(new URL('../fixtures/kong-conf/kong-default-shape.conf', import.meta.url));

describe('a kong.conf with the default configuration’s shape', () => {
  it('reads only the uncommented settings, with their values and lines', async () => {
    const conf = await loadKongConf(FIXTURE);
    expect(conf.filename).toBe(FIXTURE);
    expect(conf.entries.map((e) => e.key)).toEqual([
      'prefix',
      'log_level',
      'pg_password',
      'pg_port',
      'plugins',
      'proxy_listen',
      'pluginserver_names',
      'pluginserver_js_socket',
      'pluginserver_js_start_cmd',
      'pluginserver_js_query_cmd',
      'pluginserver_go_hello_query_cmd',
    ]);
    expect(conf.get('prefix')).toBe('/opt/kong/');
    expect(conf.get('pg_password')).toBe('s3cr3t#1');
    expect(conf.get('pg_port')).toBe('5432');
    expect(asArray(conf.get('plugins'))).toEqual(['bundled', 'js-hello', 'go-hello']);
    expect(conf.get('proxy_listen')).toBe(
      '0.0.0.0:8000 reuseport backlog=16384,                0.0.0.0:8443 http2 ssl reuseport backlog=16384',
    );
    expect(conf.get('pluginserver_js_start_cmd')).toBe(
      '/usr/local/bin/kong-js-pluginserver     -d /opt/kong/js-plugins',
    );
    expect(conf.entry('pluginserver_js_start_cmd')?.line).toBeGreaterThan(1900);
    expect(conf.diagnostics.filter((d) => d.severity !== 'info').map((d) => [d.code, d.key])).toEqual([
      ['value-number-canonicalized', 'pg_port'],
    ]);
  });

  it('resolves its plugin servers, with the environment overlaid', async () => {
    const conf = await loadKongConf(FIXTURE, {
      env: { KONG_LOG_LEVEL: 'debug', KONG_PLUGINSERVER_GO_HELLO_SOCKET: '/s' },
    });
    expect(conf.get('log_level')).toBe('debug');
    expect(conf.get('pluginserver_go_hello_socket')).toBe('/s');
    const { servers } = resolvePluginServers(conf, { fileExists: () => false });
    expect(servers.map((s) => [s.name, s.socket, s.startCmd, s.queryCmd])).toEqual([
      [
        'js',
        '/opt/kong/js.sock',
        '/usr/local/bin/kong-js-pluginserver     -d /opt/kong/js-plugins',
        '/usr/local/bin/kong-js-pluginserver -d /opt/kong/js-plugins --dump-all-plugins',
      ],
      ['go-hello', '/s', undefined, '/opt/go/go-hello -dump'],
    ]);
  });
});

describe('findKongConf', () => {
  it('returns the first default path that exists, as Kong does without -c', () => {
    expect(DEFAULT_CONF_PATHS).toEqual(['/etc/kong/kong.conf', '/etc/kong.conf']);
    expect(findKongConf((path) => path === '/etc/kong.conf')).toBe('/etc/kong.conf');
    expect(findKongConf(() => true)).toBe('/etc/kong/kong.conf');
    expect(findKongConf(() => false)).toBeUndefined();
  });
});

describe('loadKongConf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kong-conf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails with Kong’s message for a missing file', async () => {
    const path = join(dir, 'missing.conf');
    await expect(loadKongConf(path)).rejects.toMatchObject({
      code: 'KONG_CONF_FILE_NOT_FOUND',
      message: `no file at: ${path}`,
      path,
    });
    await expect(loadKongConf(path)).rejects.toBeInstanceOf(KongConfFileError);
  });

  it('fails with a code and the cause for an unreadable path', async () => {
    const error = await loadKongConf(dir).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'KONG_CONF_FILE_UNREADABLE' });
    expect((error as Error).cause).toMatchObject({ code: 'EISDIR' });
  });

  it('keeps a UTF-8 BOM and reads invalid UTF-8 byte for byte, as Kong does', async () => {
    const bomPath = join(dir, 'bom.conf');
    writeFileSync(bomPath, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('prefix = /x\n')]));
    expect((await loadKongConf(bomPath)).keys()).toEqual(['___prefix']);
    const latinPath = join(dir, 'latin1.conf');
    writeFileSync(
      latinPath,
      Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from(' = v\xff\n', 'latin1')]),
    );
    const conf = await loadKongConf(latinPath);
    expect(conf.keys()).toEqual(['caf_']);
    expect(Buffer.from(conf.get('caf_') ?? '', 'latin1')).toEqual(Buffer.from([0x76, 0xff]));
    expect(conf.diagnostics[0]?.code).toBe('not-utf8');
  });

  it('overlays only registered plugin-server keys from the environment', async () => {
    const path = join(dir, 'kong.conf');
    writeFileSync(path, 'pluginserver_Go_socket = /file\n');
    const conf = await loadKongConf(path, {
      env: { KONG_PLUGINSERVER_GO_SOCKET: '/env', KONG_PLUGINSERVER_JS_SOCKET: '/js' },
    });
    // The env variable registers `pluginserver_go_socket` and also overrides the file's `pluginserver_Go_socket`.
    expect(conf.get('pluginserver_Go_socket')).toBe('/env');
    expect(conf.get('pluginserver_go_socket')).toBe('/env');
    expect(conf.get('pluginserver_JS_socket')).toBeUndefined();
    expect(conf.keys()).toEqual([
      'pluginserver_Go_socket',
      'pluginserver_go_socket',
      'pluginserver_js_socket',
    ]);
    expect(conf.env).toBeDefined();
  });
});
