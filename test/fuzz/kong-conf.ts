/**
 * Fuzz targets of kong-conf: kong.conf text through the whole resolver, query-command dumps, and the
 * stringify → parse round trip.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import {
  asArray,
  kongProperties,
  parseDump,
  parseKongConf,
  resolvePluginServers,
  stringifyKongConf,
} from '../../src/kong-conf/index.js';
import { expectTyped, type FuzzTarget, FuzzViolation } from './harness.js';
import { jsonBytes, kongVersion, MiB, type Mutation, msgpackValue, mutateText, mutations } from './inputs.js';

const confKey = fc.constantFrom(
  'pluginserver_names',
  'pluginserver_js_socket',
  'pluginserver_js_start_cmd',
  'pluginserver_js_query_cmd',
  'pluginserver_go_start_cmd',
  'plugins',
  'prefix',
  'go_plugins_dir',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'pluginserver___proto___socket',
  'Plugins',
  'x-y.z',
);

const confValue = fc.oneof(
  fc.constantFrom(
    'js, go',
    '__proto__,constructor',
    'bundled,js',
    'off',
    'on',
    '"quoted"',
    'a\\#b # c',
    '0123',
    '',
    '\\',
  ),
  fc.string({ maxLength: 30 }),
);

const confLine = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(confKey, fc.constantFrom(' = ', '=', ' =', '= '), confValue)
      .map((parts) => parts.join('')),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '# comment',
      '; comment',
      '[section]',
      '[',
      '  ',
      'no equals sign',
      'a = b \\',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

const confText = fc.oneof(
  { weight: 8, arbitrary: fc.array(confLine, { maxLength: 12 }).map((lines) => lines.join('\n')) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `x = ${'\\'.repeat(50_000)}`,
      `${'a\\\n'.repeat(5_000)}= 1`,
      '\ufeffprefix = /x',
    ),
  },
);

export const kongConfTarget: FuzzTarget<{
  text: string;
  mutations: Mutation[];
  version: string;
  env: boolean;
}> = {
  name: 'kong-conf',
  description: 'parseKongConf + kongProperties + resolvePluginServers on (mutated) kong.conf text',
  arbitrary: fc.record({ text: confText, mutations, version: kongVersion, env: fc.boolean() }),
  timeBound: 2_000,
  heapBound: 32 * MiB,
  run({ text, mutations: steps, version, env }) {
    const source = mutateText(text, steps);
    const conf = parseKongConf(source, { kongVersion: version });
    for (const key of conf.keys()) conf.get(key);
    const environment = env
      ? { KONG___PROTO__: 'x', KONG_CONSTRUCTOR: 'y', KONG_PLUGINSERVER_NAMES: 'js' }
      : {};
    try {
      const properties = kongProperties(conf, { kongVersion: version, env: environment });
      properties.get('__proto__');
      properties.get('pluginserver_names');
    } catch (error) {
      expectTyped(error, 'kongProperties');
    }
    try {
      const result = resolvePluginServers(conf, { kongVersion: version, env: environment });
      for (const server of result.servers)
        if (typeof server.name !== 'string') throw new FuzzViolation('nameless server');
    } catch (error) {
      if (error instanceof FuzzViolation) throw error;
      expectTyped(error, 'resolvePluginServers');
    }
  },
};

const dumpJson = fc.oneof(
  fc
    .record({
      Protocol: fc.constantFrom('MsgPack:1', 'ProtoBuf:1', 'x'),
      Plugins: fc.array(
        fc.oneof(
          fc.record(
            {
              Name: fc.oneof(fc.constantFrom('js-hello', '__proto__', 'constructor'), msgpackValue),
              Priority: fc.oneof(fc.integer(), msgpackValue),
              Version: fc.string({ maxLength: 5 }),
              Phases: fc.array(fc.constantFrom('access', 'log', 'x'), { maxLength: 3 }),
              Schema: msgpackValue,
            },
            { requiredKeys: [] },
          ),
          msgpackValue,
        ),
        { maxLength: 3 },
      ),
    })
    .map((dump) => JSON.stringify(dump, jsonBytes)),
  fc.json({ maxDepth: 4 }),
  fc.integer({ min: 900, max: 20_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc
    .integer({ min: 900, max: 20_000 })
    .map((depth) => `{"Plugins":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`),
  fc.constantFrom(
    '',
    'null',
    '"x"',
    '1e99999',
    '[1,]',
    '{"a":1,"a":2}',
    '\ufeff[]',
    `"${'\\u0000'.repeat(1000)}"`,
  ),
);

export const dumpTarget: FuzzTarget<{
  text: string;
  mutations: Mutation[];
  prefix: string;
  version: string;
}> = {
  name: 'kong-conf-dump',
  description: 'parseDump on (mutated) query-command JSON, log-line prefixes and deep nesting',
  arbitrary: fc.record({
    text: dumpJson,
    mutations,
    prefix: fc.constantFrom('', 'starting…\n', ' ', '\n'),
    version: kongVersion,
  }),
  timeBound: 2_000,
  heapBound: 32 * MiB,
  run({ text, mutations: steps, prefix, version }) {
    try {
      const dump = parseDump(prefix + mutateText(text, steps), {
        kongVersion: version,
        command: 'fuzz -dump',
      });
      if (!Array.isArray(dump.plugins) || !Array.isArray(dump.registered))
        throw new FuzzViolation('dump without plugin lists');
    } catch (error) {
      if (error instanceof FuzzViolation) throw error;
      expectTyped(error, 'parseDump');
    }
  },
};

/** Values for the round trip: every character class kong.conf treats specially, and any Unicode. */
const confPiece = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '\\',
      '#',
      '\\#',
      '=',
      ' ',
      '\t',
      '\r',
      '\v',
      '\f',
      '\u00a0',
      '\ufeff',
      '\0',
      ',',
      '"',
      "'",
      '[',
      ']',
      '0',
      '-',
      '+',
      '1e3',
      '0x1F',
      'inf',
      'nan',
      'on',
      'off',
      'true',
      'NONE',
      '_blank_',
      '_',
      'a',
      'é',
      '\u{1f600}',
      '\ud800',
      '$',
      '$x',
      '\n',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 6, unit: 'grapheme' }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6, unit: 'binary' }) },
);
const confValueText = fc.array(confPiece, { maxLength: 6 }).map((pieces) => pieces.join(''));

const stringifyKey = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('pg_password', 'plugins', 'k', 'A_1', '__proto__', 'constructor') },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

export const stringifyTarget: FuzzTarget<{
  entries: [string, string | string[]][];
  version: string;
  writeEmpty: boolean;
}> = {
  name: 'kong-conf-stringify',
  description:
    'stringifyKongConf → parseKongConf round trip: every written entry reads back to the same value, per version',
  arbitrary: fc.record({
    entries: fc.array(
      fc.tuple(stringifyKey, fc.oneof(confValueText, fc.array(confValueText, { maxLength: 4 }))),
      { maxLength: 6 },
    ),
    version: fc.constantFrom('2.8', '3.4', '3.9', '3.10'),
    writeEmpty: fc.boolean(),
  }),
  timeBound: 2_000,
  heapBound: 16 * MiB,
  run({ entries, version, writeEmpty }) {
    const { text, diagnostics } = stringifyKongConf(entries, { kongVersion: version, writeEmpty });
    const refused = diagnostics.filter((d) => d.code === 'unrepresentable').length;
    const skipped = diagnostics.filter((d) => d.code === 'empty-skipped').length;
    // What stringify writes for an entry alone is what it writes for it in the list: one line per entry.
    const written = entries.filter(
      ([key, value]) => stringifyKongConf([[key, value]], { kongVersion: version, writeEmpty }).text !== '',
    );
    if (written.length + refused + skipped !== entries.length)
      throw new FuzzViolation('an entry was neither written nor reported');
    const parsed = parseKongConf(text, { kongVersion: version });
    const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0)
      throw new FuzzViolation(`the written text has errors: ${JSON.stringify(errors)}\n${text}`);
    if (parsed.entries.length !== written.length)
      throw new FuzzViolation(
        `${written.length} entries written, ${parsed.entries.length} read back:\n${text}`,
      );
    written.forEach(([key, value], index) => {
      const entry = parsed.entries[index]!;
      const back = typeof value === 'string' ? entry.value : asArray(entry.value, version);
      if (entry.key !== key || !isDeepStrictEqual(back, value)) {
        throw new FuzzViolation(
          `${JSON.stringify([key, value])} reads back as ${JSON.stringify([entry.key, back])} from ${JSON.stringify(text)}`,
        );
      }
    });
  },
};
