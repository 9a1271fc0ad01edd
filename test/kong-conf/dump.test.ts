import { describe, expect, it } from 'vitest';
import { collectPlugins, KongConfDumpError, parseDump } from '../../src/kong-conf/index.js';
import { decodeJson } from '../../src/kong-conf/json.js';

const INFO = {
  Name: 'js-hello',
  Version: '0.1.0',
  Phases: ['access'],
  Priority: 10,
  Schema: { name: 'js-hello' },
};

function dumpError(run: () => unknown): KongConfDumpError {
  try {
    run();
  } catch (error) {
    if (error instanceof KongConfDumpError) return error;
    throw error;
  }
  throw new Error('expected a KongConfDumpError');
}

describe('parseDump (spec §11.5)', () => {
  it('D1 reads a JSON array as MsgPack:1 and registers its plugin', () => {
    const dump = parseDump(`${JSON.stringify([INFO])}\n`);
    expect(dump.protocol).toBe('MsgPack:1');
    expect(dump.registered.map((p) => p.Name)).toEqual(['js-hello']);
    expect(dump.plugins[0]).toEqual(INFO);
    expect(dump.warnings).toEqual([]);
  });

  it('D2 reads Protocol and Plugins from an object and ignores SocketPath', () => {
    const dump = parseDump(
      JSON.stringify({
        Protocol: 'ProtoBuf:1',
        SocketPath: '/x.socket',
        Plugins: [{ ...INFO, Name: 'go-hello' }],
      }),
    );
    expect(dump.protocol).toBe('ProtoBuf:1');
    expect(dump.registered.map((p) => p.Name)).toEqual(['go-hello']);
    expect(Object.keys(dump)).not.toContain('socketPath');
  });

  it('D3 fails on a log line before the JSON with Kong’s message and the output attached', () => {
    const output = `plugin loaded\n${JSON.stringify([INFO])}\n`;
    const error = dumpError(() => parseDump(output));
    expect(error.code).toBe('KONG_CONF_DUMP_INVALID_JSON');
    expect(error.message).toBe(
      'failed decoding plugin info: Expected value but found invalid token at character 1',
    );
    expect(error.output).toBe(output);
  });

  it('D3 on 3.8 fails with Not a plugin info table, command and output', () => {
    const error = dumpError(() => parseDump('plugin loaded\n[]', { kongVersion: '3.8', command: 'q -dump' }));
    expect(error.code).toBe('KONG_CONF_DUMP_NOT_A_TABLE');
    expect(error.message).toBe('Not a plugin info table: \nq -dump\nplugin loaded\n[]');
  });

  it('D4 registers only the first of two plugins on 3.9, both on 3.0–3.8', () => {
    const text = JSON.stringify([INFO, { ...INFO, Name: 'second' }]);
    const current = parseDump(text, { kongVersion: '3.9' });
    expect(current.plugins.map((p) => p.Name)).toEqual(['js-hello', 'second']);
    expect(current.registered.map((p) => p.Name)).toEqual(['js-hello']);
    expect(current.warnings.map((w) => w.code)).toEqual(['dump-extra-plugins']);
    const old = parseDump(text, { kongVersion: '3.0-3.8' });
    expect(old.registered.map((p) => p.Name)).toEqual(['js-hello', 'second']);
    expect(old.warnings).toEqual([]);
  });

  it('D5 fails on an empty dump on 3.9 (Kong crashes) and yields nothing on 3.8', () => {
    for (const text of ['[]', '{"Plugins": []}', '{"Name": "single"}']) {
      expect(dumpError(() => parseDump(text)).code).toBe('KONG_CONF_DUMP_NO_PLUGIN');
      expect(parseDump(text, { kongVersion: '3.0-3.8' }).registered).toEqual([]);
    }
  });

  it('fails on a JSON scalar with the command and output', () => {
    const error = dumpError(() => parseDump('42\n', { command: 'srv -dump' }));
    expect(error.code).toBe('KONG_CONF_DUMP_NOT_A_TABLE');
    expect(error.message).toBe('not a plugin info table: \nsrv -dump\n42\n');
  });

  it('fails on an element that is not an object', () => {
    expect(dumpError(() => parseDump('[1]')).message).toBe("attempt to index local 'info' (a number value)");
    expect(dumpError(() => parseDump('[null]', { kongVersion: '2.8' })).code).toBe(
      'KONG_CONF_DUMP_BAD_PLUGIN_INFO',
    );
  });

  it('warns about an unknown protocol', () => {
    const dump = parseDump(JSON.stringify({ Protocol: 'Thrift:9', Plugins: [INFO] }));
    expect(dump.protocol).toBe('Thrift:9');
    expect(dump.warnings.map((w) => w.code)).toEqual(['dump-unknown-protocol']);
  });

  it('keeps __proto__ members as data', () => {
    const dump = parseDump('[{"Name":"p","__proto__":{"polluted":true},"constructor":1}]');
    const info = dump.plugins[0] as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(info, '__proto__')?.value).toEqual({ polluted: true });
    expect(Object.getPrototypeOf(info)).toBeNull();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('lua-cjson compatible decoding', () => {
  it.each([
    ['', 'Expected value but found T_END at character 1'],
    ['[1] [2]', 'Expected the end but found T_ARR_BEGIN at character 5'],
    ['[1,]', 'Expected value but found T_ARR_END at character 4'],
    ['{"a" 1}', 'Expected colon but found T_NUMBER at character 6'],
    ['{1:2}', 'Expected object key string but found T_NUMBER at character 2'],
    ['{"a":1 "b"}', 'Expected comma or object end but found T_STRING at character 8'],
    ['[1 2]', 'Expected comma or array end but found T_NUMBER at character 4'],
    ['"abc', 'Expected value but found unexpected end of string at character 1'],
    ['"\\x"', 'Expected value but found invalid escape code at character 1'],
    ['[-]', 'Expected value but found invalid number at character 2'],
  ])('fails on %j with %s', (text, message) => {
    expect(() => decodeJson(text)).toThrow(message);
  });

  it('decodes escapes, surrogate pairs and the lenient numbers cjson accepts', () => {
    expect(decodeJson('["\\u00e9\\ud83d\\ude00\\n", 0x10, 1e2, -0.5, true, null]')).toEqual([
      'é😀\n',
      16,
      100,
      -0.5,
      true,
      null,
    ]);
  });

  it('limits nesting to 1000 levels as lua-cjson does', () => {
    expect(() => decodeJson('['.repeat(1001) + ']'.repeat(1001))).toThrow(
      'Found too many nested data structures (1001)',
    );
    expect(decodeJson('['.repeat(1000) + ']'.repeat(1000))).toBeDefined();
  });
});

describe('collectPlugins', () => {
  const dumpOf = (...names: string[]) =>
    parseDump(JSON.stringify(names.map((Name) => ({ Name }))), { kongVersion: '3.8' });

  it('keeps the first server of a duplicate plugin name on 3.8, with Kong’s message', () => {
    const { plugins, warnings } = collectPlugins(
      [
        { server: 'a', dump: dumpOf('p', 'q') },
        { server: 'b', dump: dumpOf('p') },
      ],
      { kongVersion: '3.8' },
    );
    expect([...plugins].map(([name, p]) => [name, p.server])).toEqual([
      ['p', 'a'],
      ['q', 'a'],
    ]);
    expect(warnings.map((w) => w.message)).toEqual(['Duplicate plugin name [p] by a and b']);
  });

  it('keeps the last server of a duplicate plugin name on 3.9', () => {
    const { plugins, warnings } = collectPlugins([
      { server: 'a', dump: parseDump('[{"Name":"p"}]') },
      { server: 'b', dump: parseDump('{"Protocol":"ProtoBuf:1","Plugins":[{"Name":"p"}]}') },
    ]);
    expect(plugins.get('p')).toMatchObject({ server: 'b', protocol: 'ProtoBuf:1' });
    expect(warnings.map((w) => w.code)).toEqual(['plugin-duplicate-name']);
  });

  it('leaves out a plugin whose Name is not a string, with a warning (fuzz finding)', () => {
    const dump = parseDump('[{"Name":{}},{"Name":1}]', { kongVersion: '3.8' });
    const { plugins, warnings } = collectPlugins([{ server: 'a', dump }], { kongVersion: '3.8' });
    expect(plugins.size).toBe(0);
    expect(warnings.map((w) => [w.code, w.message])).toEqual([
      [
        'plugin-name-not-string',
        'server a names a plugin {}, which is not a string; no plugins entry can enable it',
      ],
      [
        'plugin-name-not-string',
        'server a names a plugin 1, which is not a string; no plugins entry can enable it',
      ],
    ]);
  });
});

describe('fuzz findings (test/fuzz/corpus/kong-conf-dump.json)', () => {
  it('kong-conf-dump #1: a table Name before a second plugin gets dump-extra-plugins, not a TypeError', () => {
    // `String()` of a null-prototype object threw `Cannot convert object to primitive value`.
    const dump = parseDump('{"Protocol":"MsgPack:1","Plugins":[{"Name":{}},{}]}');
    expect(dump.registered).toHaveLength(1);
    expect(dump.warnings.map((w) => [w.code, w.message])).toEqual([
      [
        'dump-extra-plugins',
        'the dump lists 2 plugins; Kong 3.9 registers only the first ({}); give each plugin its own pluginserver_names entry',
      ],
    ]);
  });
});
