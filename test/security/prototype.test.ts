/**
 * SECURITY.md, prototype pollution: keys named `__proto__`, `constructor` or `prototype` in decoded msgpack maps,
 * kong.conf files, environment overlays, query-command dumps and hclog lines stay data (or are refused); no
 * prototype changes. The fuzz targets (test/fuzz) check Object.prototype after every input as well.
 */
import { encode } from '@msgpack/msgpack';
import { afterEach, describe, expect, it } from 'vitest';
import { HclogLineParser } from '../../src/goplugin/host/hclog-parse.js';
import { kongProperties, parseDump, parseKongConf, resolvePluginServers } from '../../src/kong-conf/index.js';
import { KONG_PEER_OPTIONS, MessageCodec, ProtocolError } from '../../src/msgpack-rpc/index.js';

const snapshot = () => Object.getOwnPropertyNames(Object.prototype).sort().join(',');
const before = snapshot();
afterEach(() => {
  expect(snapshot()).toBe(before);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

/** A msgpack map with the given keys (as raw bytes, since JS object literals treat `__proto__` specially). */
function mapWithKeys(keys: string[], value: unknown): Uint8Array {
  const parts = [Uint8Array.of(0x80 | keys.length)];
  for (const key of keys) parts.push(encode(key), encode(value));
  return new Uint8Array(Buffer.concat(parts));
}

describe('decoded msgpack maps', () => {
  it.each([new MessageCodec(), new MessageCodec({ ...KONG_PEER_OPTIONS })])(
    'refuse a __proto__ key as a typed decode error (codec %#)',
    (codec) => {
      expect(() => codec.decode(mapWithKeys(['__proto__'], { polluted: 1 }))).toThrow(ProtocolError);
    },
  );

  it('keep constructor and prototype keys as own data of a plain object', () => {
    const value = new MessageCodec().decode(mapWithKeys(['constructor', 'prototype'], 'x')) as Record<
      string,
      unknown
    >;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value, 'constructor') && value.constructor).toBe('x');
    expect(value.prototype).toBe('x');
  });
});

describe('kong.conf keys', () => {
  const text = [
    '__proto__ = polluted',
    'constructor = c',
    'prototype = p',
    'pluginserver_names = __proto__,js',
    'pluginserver___proto___socket = /x.sock',
    'pluginserver___proto___start_cmd = /bin/p',
    'pluginserver___proto___query_cmd = /bin/p -dump',
    'pluginserver_js_query_cmd = /bin/js -dump',
  ].join('\n');

  it('are plain data in parse results and properties', () => {
    const conf = parseKongConf(text);
    expect(conf.get('__proto__')).toBe('polluted');
    expect(conf.get('constructor')).toBe('c');
    expect(conf.get('hasOwnProperty')).toBeUndefined();
    expect(conf.keys()).toEqual(expect.arrayContaining(['__proto__', 'constructor', 'prototype']));
    const properties = kongProperties(conf, { env: { KONG___PROTO__: 'env', KONG_CONSTRUCTOR: 'env' } });
    expect(properties.get('toString')).toBeUndefined();
  });

  it('name plugin servers like any other name', () => {
    const { servers } = resolvePluginServers(parseKongConf(text));
    expect(servers.map((server) => server.name)).toEqual(['__proto__', 'js']);
    expect(servers[0]?.socket).toBe('/x.sock');
  });
});

describe('query-command dumps and hclog lines', () => {
  it('keep a __proto__ member of a dump as data', () => {
    const dump = parseDump('[{"Name":"js","__proto__":{"polluted":1},"constructor":{"x":1}}]');
    const info = dump.plugins[0]!;
    expect(Object.hasOwn(info, '__proto__')).toBe(true);
    expect((info as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keep a __proto__ field of an hclog line as data', () => {
    const entry = new HclogLineParser().parse('{"@level":"info","@message":"m","__proto__":{"polluted":1}}');
    expect(Object.getPrototypeOf(entry.fields)).toBe(Object.prototype);
    expect(Object.hasOwn(entry.fields, '__proto__')).toBe(true);
    expect(entry.fields.polluted).toBeUndefined();
  });
});
