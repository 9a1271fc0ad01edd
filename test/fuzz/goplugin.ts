/** Fuzz targets of goplugin: the handshake line, hclog lines, and Terraform's reattach JSON. */
import fc from 'fast-check';
import { FirstLineReader } from '../../src/goplugin/first-line.js';
import { HclogLineParser } from '../../src/goplugin/host/hclog-parse.js';
import {
  formatReattachProviders,
  parseHandshake,
  parseReattachProviders,
  type ReattachConfig,
} from '../../src/goplugin/index.js';
import { expectTyped, type FuzzTarget, FuzzViolation } from './harness.js';
import {
  cutAt,
  cuts,
  jsonBytes,
  MiB,
  type Mutation,
  msgpackValue,
  mutate,
  mutateText,
  mutations,
} from './inputs.js';

const handshakeLine = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('1', '2', '01', ' 1', ''),
      fc.constantFrom('1', '2', '3', '-1', '99999999999999999999', 'x'),
      fc.constantFrom('unix', 'tcp', 'udp', ''),
      fc.oneof(
        fc.constantFrom('/tmp/plugin1', '127.0.0.1:1234', '[::1]:99999', ''),
        fc.string({ maxLength: 30 }),
      ),
      fc.constantFrom('grpc', 'netrpc', '', 'GRPC'),
      fc.oneof(fc.constant(''), fc.base64String({ maxLength: 80 }), fc.string({ maxLength: 20 })),
      fc.constantFrom('', 'true', 'false', 'x'),
      fc.nat({ max: 7 }),
    )
    .map(([core, app, network, address, protocol, cert, multiplex, fields]) =>
      [core, app, network, address, protocol, cert, multiplex].slice(0, fields + 1).join('|'),
    ),
  fc.string({ maxLength: 100 }),
  fc.constantFrom('x'.repeat(70_000), `1|1|unix|${'a'.repeat(65_600)}|grpc`),
);

export const handshakeTarget: FuzzTarget<{
  line: string;
  mutations: Mutation[];
  suffix: string;
  cuts: number[];
  autoMTLS: boolean;
  compat: 'current' | 'splitN6';
}> = {
  name: 'goplugin-handshake',
  description: 'FirstLineReader over chunked stdout + parseHandshake with every option combination',
  arbitrary: fc.record({
    line: handshakeLine,
    mutations,
    suffix: fc.constantFrom('\n', '\r\n', '', '\nmore output\n'),
    cuts,
    autoMTLS: fc.boolean(),
    compat: fc.constantFrom('current' as const, 'splitN6' as const),
  }),
  timeBound: 2_000,
  heapBound: 16 * MiB,
  run({ line, mutations: steps, suffix, cuts: points, autoMTLS, compat }) {
    const stdout = mutate(Buffer.from(line + suffix), steps);
    const reader = new FirstLineReader();
    let first: string | undefined;
    try {
      for (const chunk of cutAt(stdout, points)) {
        first = reader.push(chunk);
        if (first !== undefined) break;
      }
      first ??= reader.end();
    } catch (error) {
      expectTyped(error, 'FirstLineReader');
      return;
    }
    try {
      parseHandshake(first, { autoMTLS, compat, protocols: ['grpc', 'netrpc'], versions: [1, 2] });
    } catch (error) {
      expectTyped(error, 'parseHandshake');
    }
  },
};

const hclogLine = fc.oneof(
  fc
    .record(
      {
        '@level': fc.oneof(
          fc.constantFrom('info', 'WARN', ' debug ', 'trace', 'error', 'nope', ''),
          msgpackValue,
        ),
        '@message': fc.oneof(fc.string({ maxLength: 30 }), msgpackValue),
        '@timestamp': fc.oneof(
          fc.constantFrom(
            '2026-11-22T09:11:09.326383Z',
            '2026-02-30T09:11:09.326383Z',
            '0001-01-01T00:00:00.000000+24:00',
          ),
          fc.string({ maxLength: 30 }),
        ),
        constructor: msgpackValue,
        field: msgpackValue,
      },
      { requiredKeys: [] },
    )
    .chain((record) =>
      fc.tuple(
        fc.constant(JSON.stringify(record, jsonBytes)),
        fc.option(fc.json({ maxDepth: 2 }), { nil: undefined }),
      ),
    )
    // A literal `__proto__` member (an object literal or fc.record would set the prototype instead of a key).
    .map(([json, proto]) =>
      proto === undefined ? json : `{"__proto__":${proto}${json === '{}' ? '' : ','}${json.slice(1)}`,
    ),
  fc
    .tuple(
      fc.constantFrom('[INFO] ', '[WARN]', '[ERROR] x', 'panic: ', 'fatal error: ', '', 'goroutine 1'),
      fc.string(),
    )
    .map(([tag, rest]) => tag + rest),
  fc.integer({ min: 1, max: 5_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 1, max: 5_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
);

export const hclogTarget: FuzzTarget<string[]> = {
  name: 'hclog',
  description: 'HclogLineParser on (mutated) hclog JSON lines, tagged text, panics and deep JSON nesting',
  arbitrary: fc.array(
    fc.tuple(hclogLine, mutations).map(([line, steps]) => mutateText(line, steps)),
    { minLength: 1, maxLength: 8 },
  ),
  timeBound: 2_000,
  heapBound: 16 * MiB,
  run(lines) {
    const parser = new HclogLineParser();
    for (const line of lines) {
      const entry = parser.parse(line);
      if (typeof entry.message !== 'string' || entry.raw !== line)
        throw new FuzzViolation('entry without message or raw line');
      if (Object.getPrototypeOf(entry.fields) !== Object.prototype)
        throw new FuzzViolation('a log line replaced the prototype of its fields object');
    }
  },
};

/** One `TF_REATTACH_PROVIDERS` value, well-formed or with any member replaced by a wrong type. */
const reattachEntry = fc.record(
  {
    Protocol: fc.oneof(fc.constantFrom('grpc', 'netrpc', '', 'GRPC'), msgpackValue),
    ProtocolVersion: fc.oneof(fc.constantFrom(1, 5, 6, 0, -1, 1.5, 2 ** 53, '6'), msgpackValue),
    Pid: fc.oneof(fc.constantFrom(0, 123, -1, 1.5, 2 ** 53), msgpackValue),
    Test: fc.oneof(fc.boolean(), msgpackValue),
    Addr: fc.oneof(
      fc.record(
        {
          Network: fc.oneof(fc.constantFrom('unix', 'tcp', 'udp', ''), msgpackValue),
          String: fc.oneof(
            fc.constantFrom(
              '/tmp/plugin1',
              '127.0.0.1:1234',
              '[::1]:65535',
              '[::1]:65536',
              'localhost:0',
              'host:1',
              ':1',
              '',
            ),
            fc.string({ maxLength: 30 }),
            msgpackValue,
          ),
        },
        { requiredKeys: [] },
      ),
      msgpackValue,
    ),
    protocol: fc.constantFrom('grpc'),
    addr: msgpackValue,
  },
  { requiredKeys: [] },
);

/** A valid `TF_REATTACH_PROVIDERS` value, so that most inputs get past validation to the result object. */
const validReattachEntry = fc.record(
  {
    Protocol: fc.constant('grpc'),
    ProtocolVersion: fc.integer({ min: 1, max: 10 }),
    Pid: fc.nat(),
    Test: fc.boolean(),
    Addr: fc.oneof(
      fc.record({ Network: fc.constant('unix'), String: fc.string({ minLength: 1, maxLength: 20 }) }),
      fc.record({
        Network: fc.constant('tcp'),
        String: fc.constantFrom('127.0.0.1:1234', '[::1]:65535', 'localhost:0'),
      }),
    ),
  },
  { requiredKeys: ['Protocol', 'ProtocolVersion', 'Addr'] },
);

/** Provider addresses, with the keys that name `Object.prototype` members. */
const providerAddress = fc.oneof(
  fc.constantFrom(
    'registry.terraform.io/hashicorp/null',
    '__proto__',
    'constructor',
    'hasOwnProperty',
    'toString',
    '',
  ),
  fc.string({ maxLength: 20 }),
);

const reattachJson = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(fc.tuple(providerAddress, fc.oneof(validReattachEntry, reattachEntry)), { maxLength: 4 })
      // Written member by member: an object literal would turn a `__proto__` key into a prototype.
      .map(
        (entries) =>
          `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${JSON.stringify(entry, jsonBytes)}`).join(',')}}`,
      ),
  },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', 'null', '[]', '"x"', '{', '{"a":1}', '\ufeff{}', '{"a":{"Addr":null}}'),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1, max: 5_000 })
      .map((depth) => `{"p":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  },
);

export const reattachTarget: FuzzTarget<{ text: string; mutations: Mutation[] }> = {
  name: 'goplugin-reattach',
  description:
    'parseReattachProviders on (mutated) TF_REATTACH_PROVIDERS JSON, wrong member types, prototype keys; round trip',
  arbitrary: fc.record({ text: reattachJson, mutations }),
  timeBound: 2_000,
  heapBound: 16 * MiB,
  run({ text, mutations: steps }) {
    const source = mutateText(text, steps);
    let providers: Record<string, ReattachConfig>;
    try {
      providers = parseReattachProviders(source);
    } catch (error) {
      expectTyped(error, 'parseReattachProviders');
      return;
    }
    // Every provider of the JSON is an own key of the result, and nothing else is.
    const expected = Object.keys(JSON.parse(source) as object).sort();
    const got = Object.keys(providers).sort();
    if (JSON.stringify(got) !== JSON.stringify(expected))
      throw new FuzzViolation(`providers ${JSON.stringify(got)} for keys ${JSON.stringify(expected)}`);
    // What parses formats to JSON that parses back to the same text (format fills in Pid 0 and Test false).
    const formatted = formatReattachProviders(providers);
    if (formatReattachProviders(parseReattachProviders(formatted)) !== formatted)
      throw new FuzzViolation(`formatReattachProviders does not round-trip: ${formatted}`);
  },
};
