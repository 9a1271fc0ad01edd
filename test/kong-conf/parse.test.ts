import { describe, expect, it } from 'vitest';
import {
  asArray,
  asBoolean,
  LUA_TABLE_VALUE,
  parseKongConf,
  resolvePluginServers,
} from '../../src/kong-conf/index.js';

const codes = (text: string) => parseKongConf(text).diagnostics.map((d) => [d.code, d.line]);

// The file of spec §11.1, modelled on Kong's spec/fixtures/to-strip.conf.
const STRIP_FIXTURE = [
  'database = postgres # remove me',
  'log_level =        debug       # and me',
  '                               # an indented comment line',
  'pg_ssl = off                     # a comment',
  '                                 # continuing on the next line',
  '',
  'pg_password = test\\#123  # keep the escaped one',
  '',
  'plugins = foobar,  hello-world, bundled',
  '',
].join('\n');

describe('parseKongConf: file syntax (spec §11.1)', () => {
  const conf = parseKongConf(STRIP_FIXTURE);

  it('F1 strips a trailing comment from a setting', () => {
    expect(conf.get('database')).toBe('postgres');
  });
  it('F2 strips the whitespace around the value and before the comment', () => {
    expect(conf.get('log_level')).toBe('debug');
  });
  it('F3 treats an indented # line as a comment', () => {
    expect(conf.entries.map((e) => e.key)).toEqual([
      'database',
      'log_level',
      'pg_ssl',
      'pg_password',
      'plugins',
    ]);
  });
  it('F4 keeps off with a comment on the next line, typed false', () => {
    expect(conf.get('pg_ssl')).toBe('off');
    expect(asBoolean(conf.get('pg_ssl'))).toBe(false);
  });
  it('F5 unescapes \\# in a value', () => {
    expect(conf.get('pg_password')).toBe('test#123');
  });
  it('F6 keeps the raw list and trims array elements when typed', () => {
    expect(conf.get('plugins')).toBe('foobar,  hello-world, bundled');
    expect(asArray(conf.get('plugins'))).toEqual(['foobar', 'hello-world', 'bundled']);
  });
  it('records the physical line of each entry', () => {
    expect(conf.entries.map((e) => e.line)).toEqual([1, 2, 4, 7, 9]);
  });
  it('F7 leaves a dotted address alone (not a number)', () => {
    expect(parseKongConf('dns_resolver = 8.8.8.8').get('dns_resolver')).toBe('8.8.8.8');
  });
  it('F8 drops ; comment lines, indented too', () => {
    expect(parseKongConf('; note\n   ;x = 1\n').entries).toEqual([]);
  });
  it('F9 cuts a comment without space before it', () => {
    expect(parseKongConf('a = x#y').get('a')).toBe('x');
  });
  it('F10 keeps quotes, which do not protect a #', () => {
    const c = parseKongConf('a = "quoted # value"\nb = \'v\'');
    expect(c.get('a')).toBe('"quoted');
    expect(c.get('b')).toBe("'v'");
  });
  it('F11 cuts at the first unescaped # only', () => {
    expect(parseKongConf('a = b \\# c # d').get('a')).toBe('b # c');
  });
  it('F12 reads \\\\# as an escaped #, leaving one backslash', () => {
    expect(parseKongConf('a = x \\\\#y # c').get('a')).toBe('x \\#y');
  });
  it('F13 joins a continuation with no separator, keeping the next line’s indentation', () => {
    const c = parseKongConf('pluginserver_js_start_cmd = /usr/bin/kong-js-pluginserver \\\n  -d /opt/js\n');
    expect(c.get('pluginserver_js_start_cmd')).toBe('/usr/bin/kong-js-pluginserver   -d /opt/js');
    expect(c.entries[0]?.line).toBe(1);
  });
  it('F14 skips comment and blank lines inside a continuation', () => {
    expect(parseKongConf('a = one \\\n# c\n\n   two\n').get('a')).toBe('one    two');
  });
  it('F15 discards a continuation pending at end of file', () => {
    const c = parseKongConf('a = 1\nb = two \\');
    expect(c.get('a')).toBe('1');
    expect(c.get('b')).toBeUndefined();
    expect(c.diagnostics.map((d) => [d.code, d.line])).toContainEqual(['continuation-at-eof', 2]);
  });
  it('F16 consumes only the last backslash of a trailing run', () => {
    const c = parseKongConf('a = x\\\\\nb = y\n');
    expect(c.get('a')).toBe('x\\b = y');
    expect(c.get('b')).toBeUndefined();
  });
  it('F17 normalizes - and . in keys to _ and lets the last duplicate win', () => {
    const c = parseKongConf('pluginserver_my-srv_socket = /a\npluginserver_my.srv_socket = /b\n');
    expect(c.keys()).toEqual(['pluginserver_my_srv_socket']);
    expect(c.get('pluginserver_my_srv_socket')).toBe('/b');
    expect(c.entries.map((e) => e.rawKey)).toEqual([
      'pluginserver_my-srv_socket',
      'pluginserver_my.srv_socket',
    ]);
    expect(c.diagnostics.filter((d) => d.code === 'duplicate-key').map((d) => d.line)).toEqual([2]);
    expect(c.diagnostics.filter((d) => d.code === 'key-normalized').map((d) => d.line)).toEqual([1, 2]);
  });
  it('F18 turns each UTF-8 byte of a non-ASCII key character into _', () => {
    // K2: `café` becomes `caf__` (é is two bytes); followed by the `_` of `_socket` that makes three underscores.
    // (Spec §11.1 F18 prints `caf__socket`, which contradicts its own rule K2; K2 is Penlight's byte-wise gsub.)
    expect(parseKongConf('café = 1').keys()).toEqual(['caf__']);
    expect(parseKongConf('pluginserver_café_socket = /c').keys()).toEqual(['pluginserver_caf___socket']);
    expect(parseKongConf('k😀 = 1').keys()).toEqual(['k____']);
  });
  it('F19 keeps key case, so PLUGINSERVER_NAMES is not pluginserver_names', () => {
    const c = parseKongConf('PLUGINSERVER_NAMES = go\n');
    expect(c.get('pluginserver_names')).toBeUndefined();
    expect(c.diagnostics.map((d) => [d.code, d.line])).toContainEqual(['case-mismatch', 1]);
    const { servers } = resolvePluginServers(c, { fileExists: () => false });
    expect(servers).toEqual([]);
  });
  it('F20 lets the last of two assignments win', () => {
    expect(parseKongConf('pluginserver_names = a\npluginserver_names = b\n').get('pluginserver_names')).toBe(
      'b',
    );
  });
  it('F21 hides keys after a [section] header from Kong', () => {
    const c = parseKongConf('pluginserver_names = a\n[extra]\npluginserver_a_query_cmd = q\n');
    expect(c.get('pluginserver_a_query_cmd')).toBeUndefined();
    expect(c.entries[2]).toMatchObject({ key: 'pluginserver_a_query_cmd', section: 'extra', line: 3 });
    expect(c.get('extra')).toBe(LUA_TABLE_VALUE);
    expect(c.diagnostics.map((d) => [d.code, d.severity, d.line])).toContainEqual([
      'section-header',
      'error',
      2,
    ]);
    expect(() => resolvePluginServers(c, { fileExists: () => false })).toThrow(
      expect.objectContaining({
        code: 'KONG_CONF_QUERY_COMMAND_UNDEFINED',
        message: 'query_command undefined for pluginserver a',
      }),
    );
  });
  it('reports that a section named like a property corrupts it', () => {
    const c = parseKongConf('prefix = /x\n[prefix]\n');
    expect(c.get('prefix')).toBe(LUA_TABLE_VALUE);
    expect(c.diagnostics.find((d) => d.code === 'section-header')?.message).toContain('overwrites');
  });
  it('F22 fails the whole file on [] (Penlight errors), keeping no values', () => {
    const c = parseKongConf('[]\nx = 1\n');
    expect(c.loadable).toBe(false);
    expect(c.get('x')).toBeUndefined();
    expect(c.entries).toEqual([]);
    expect(c.diagnostics.map((d) => [d.code, d.severity, d.line])).toEqual([['section-header', 'error', 1]]);
    expect(() => resolvePluginServers(c)).toThrow(
      expect.objectContaining({ code: 'KONG_CONF_FILE_INVALID', line: 1 }),
    );
  });
  it('fails on a [ line without ] too, and finds a later [name] after a leading []', () => {
    expect(parseKongConf('[abc\n').loadable).toBe(false);
    const c = parseKongConf('[][real]\nk = v\n');
    expect(c.loadable).toBe(true);
    expect(c.entries[1]).toMatchObject({ key: 'k', section: 'real' });
  });
  it('F23 does not treat an indented [x] as a section', () => {
    const c = parseKongConf('  [x]\ny = 2\n');
    expect(c.get('y')).toBe('2');
    expect(c.diagnostics.filter((d) => d.severity !== 'info').map((d) => [d.code, d.line])).toEqual([
      ['no-equals', 1],
    ]);
  });
  it('F24 ignores a line without = with a warning', () => {
    const c = parseKongConf('just some words\n');
    expect(c.entries).toEqual([]);
    expect(codes('just some words\n')).toEqual([['no-equals', 1]]);
  });
  it('F25 canonicalizes what LuaJIT tonumber accepts, with warnings', () => {
    const c = parseKongConf(
      'a = 0123\nb = 0123 # keep\nc = 0x10\nd = 512 kB\ne = 12345678901234567\nf = .5\n',
    );
    expect(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => c.get(k))).toEqual([
      '123',
      '0123',
      '16',
      '512',
      '1.2345678901235e+16',
      '.5',
    ]);
    expect(c.diagnostics.filter((d) => d.code === 'value-number-canonicalized').map((d) => d.line)).toEqual([
      1, 3, 4, 5,
    ]);
  });
  it('canonicalizes the other tonumber forms of spec V3', () => {
    const c = parseKongConf('a = 1e3\nb = +1\nc = -0\nd = 1.50\ne = 1a kB\nf = 512 kB\r\n');
    expect(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => c.get(k))).toEqual([
      '1000',
      '1',
      '-0',
      '1.5',
      '1a',
      '512 kB',
    ]);
  });
  it('F26 turns a value containing _blank_ into Kong’s table garbage, as an error', () => {
    const c = parseKongConf('a = x_blank_y\n');
    expect(c.get('a')).toBe(LUA_TABLE_VALUE);
    expect(c.diagnostics.map((d) => [d.code, d.severity, d.line])).toContainEqual([
      'value-blank-marker',
      'error',
      1,
    ]);
  });
  it('F27 reads empty values and comment-only values as ""', () => {
    const c = parseKongConf('a =\nb = # only a comment\nc =   \n');
    expect([c.get('a'), c.get('b'), c.get('c')]).toEqual(['', '', '']);
  });
  it('F28 splits at the first = with its surrounding whitespace', () => {
    const c = parseKongConf('a = b=c = d\nkey=value\nt\t=\tv\t\n');
    expect([c.get('a'), c.get('key'), c.get('t')]).toEqual(['b=c = d', 'value', 'v']);
  });
  it('F29 keeps a UTF-8 BOM, turning the first key into ___prefix', () => {
    const c = parseKongConf('\uFEFFprefix = /x\n');
    expect(c.keys()).toEqual(['___prefix']);
    expect(c.get('prefix')).toBeUndefined();
    expect(c.diagnostics.map((d) => [d.code, d.line])).toContainEqual(['bom', 1]);
    const { servers } = resolvePluginServers(c, {
      overrides: { pluginserver_names: 'a', pluginserver_a_query_cmd: 'q' },
    });
    expect(servers[0]?.socket).toBe('/usr/local/kong/a.socket');
  });
  it('makes a BOM before # a non-comment line', () => {
    expect(parseKongConf('\uFEFF# hello\n').diagnostics.map((d) => d.code)).toEqual(['bom', 'no-equals']);
  });
  it('treats CRLF like LF', () => {
    const c = parseKongConf('a = 1 # x\r\nb = two\r\n\r\nc = three \\\r\n four\r\n');
    expect([c.get('a'), c.get('b'), c.get('c')]).toEqual(['1', 'two', 'three  four']);
  });
  it('stores the empty key of "= v"', () => {
    expect(parseKongConf('= v\n').keys()).toEqual(['']);
  });
  it('reports unknown keys as info and plugin-server keys with upper case as case-mismatch', () => {
    const c = parseKongConf('no_such_property = 1\npluginserver_GO_socket = /s\n');
    expect(c.diagnostics.map((d) => [d.code, d.severity, d.line])).toEqual([
      ['unknown-key', 'info', 1],
      ['case-mismatch', 'warning', 2],
    ]);
  });
  it('gives diagnostics the file source and the key', () => {
    const [d] = parseKongConf('a = 0123\n').diagnostics;
    expect(d).toMatchObject({ source: 'file', key: 'a', line: 1 });
  });
  it('reports an unsupported kongVersion as a diagnostic instead of throwing', () => {
    const c = parseKongConf('a = 1\n', { kongVersion: '9.9' });
    expect(c.get('a')).toBe('1');
    expect(c.diagnostics[0]).toMatchObject({ code: 'unsupported-version', severity: 'error' });
  });

  it('keeps __proto__ and constructor keys as plain data', () => {
    const c = parseKongConf('__proto__ = x\nconstructor = y\n');
    expect(c.get('__proto__')).toBe('x');
    expect(c.get('constructor')).toBe('y');
    expect(c.get('toString')).toBeUndefined();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});
