import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HclogLineParser, parseHclogTimestamp } from '../../../src/goplugin/host/hclog-parse.js';

const parse = (line: string) => new HclogLineParser().parse(line);

describe('hclog stderr parsing (spec §13 L1–L8)', () => {
  it('L1: takes level, message and a six-digit timestamp from a JSON line', () => {
    const entry = parse('{"@level":"info","@message":"m","@timestamp":"2026-11-22T09:11:09.326383Z"}');
    expect(entry.level).toBe('info');
    expect(entry.message).toBe('m');
    expect(entry.timestamp?.toISOString()).toBe('2026-11-22T09:11:09.326Z');
    expect(entry.fields).toEqual({});
  });

  it('L2: logs the whole raw line at DEBUG when the timestamp has three fractional digits', () => {
    const line = '{"@level":"info","@message":"m","@timestamp":"2026-11-22T09:11:09.326Z"}';
    expect(parse(line)).toMatchObject({ level: 'debug', message: line, timestamp: undefined, fields: {} });
  });

  it('L3: trims and case-folds the level; a missing timestamp is the zero time', () => {
    expect(parse('{"@level":"WARN ","@message":"m"}')).toMatchObject({
      level: 'warn',
      message: 'm',
      timestamp: undefined,
    });
  });

  it('L4: logs a line with an unknown level verbatim at DEBUG', () => {
    const line = '{"@level":"warning","@message":"m"}';
    expect(parse(line)).toMatchObject({ level: 'debug', message: line });
    expect(parse('{"@message":"no level"}')).toMatchObject({
      level: 'debug',
      message: '{"@message":"no level"}',
    });
  });

  it('L5: flags a non-string @message and logs it as text instead of crashing (a Go host panics)', () => {
    const line = '{"@level":"info","@message":42}';
    expect(parse(line)).toMatchObject({ level: 'debug', message: line, malformed: true });
    expect(parse('{"@level":7,"@message":"m"}')).toMatchObject({ level: 'debug', malformed: true });
    expect(parse('{"@level":"info","@message":"m","@timestamp":{}}')).toMatchObject({ malformed: true });
  });

  it('L6: honours case-sensitive [LEVEL] tags at column 0 of text lines', () => {
    expect(parse('[ERROR] boom')).toMatchObject({ level: 'error', message: '[ERROR] boom' });
    expect(parse('[error] boom')).toMatchObject({ level: 'debug' });
    expect(parse(' [ERROR] boom')).toMatchObject({ level: 'debug' });
    for (const [tag, level] of [
      ['[TRACE]', 'trace'],
      ['[DEBUG]', 'debug'],
      ['[INFO]', 'info'],
      ['[WARN]', 'warn'],
    ] as const) {
      expect(parse(`${tag} x`).level).toBe(level);
    }
  });

  it('L7: after a panic line every untagged text line is ERROR, tagged ones keep their level', () => {
    const parser = new HclogLineParser();
    expect(parser.parse('hello').level).toBe('debug');
    expect(parser.parse('panic: x').level).toBe('error');
    expect(parser.parse('goroutine 1 [running]:').level).toBe('error');
    expect(parser.parse('[INFO] y').level).toBe('info');
    expect(parser.parse('{"@level":"debug","@message":"json keeps its level"}').level).toBe('debug');
    expect(parser.panicking).toBe(true);
    const fatal = new HclogLineParser();
    expect(fatal.parse('fatal error: all goroutines are asleep - deadlock!').level).toBe('error');
    expect(fatal.parse('main.main()').level).toBe('error');
  });

  it('L8: JSON arrays, numbers and null are logged raw at DEBUG', () => {
    for (const line of ['["HELLO"]', '12345', 'null', '"text"']) {
      expect(parse(line)).toMatchObject({ level: 'debug', message: line, fields: {} });
    }
  });

  it('keeps every other key as a field, @module and @caller included', () => {
    const line =
      '{"@level":"debug","@message":"plugin address","@timestamp":"2026-11-22T09:11:09.326383Z",' +
      '"address":"/tmp/plugin123","network":"unix","@module":"kv","n":1.5,"nested":{"a":[1]}}';
    expect(parse(line).fields).toEqual({
      address: '/tmp/plugin123',
      network: 'unix',
      '@module': 'kv',
      n: 1.5,
      nested: { a: [1] },
    });
  });

  it('parses an offset timestamp and rejects what Go time.Parse rejects', () => {
    expect(parseHclogTimestamp('2026-11-22T09:11:09.326383+01:00')?.toISOString()).toBe(
      '2026-11-22T08:11:09.326Z',
    );
    for (const bad of [
      '2026-11-22T09:11:09Z',
      '2026-11-22T09:11:09.326383123Z',
      '2026-11-22T09:11:09.326383+0100',
      '2026-11-22T09:11:09.326383z',
      '2026-02-30T09:11:09.326383Z',
      '2026-13-01T09:11:09.326383Z',
      '2026-11-22T24:11:09.326383Z',
      '2026-11-22T09:60:09.326383Z',
    ]) {
      expect(parseHclogTimestamp(bad), bad).toBeUndefined();
    }
    expect(parseHclogTimestamp('2024-02-29T00:00:00.000000Z')).toBeDefined();
    expect(parseHclogTimestamp('0050-01-01T00:00:00.000000Z')?.getUTCFullYear()).toBe(50);
  });

  it('L9: JS-made timestamps padded to six digits pass', () => {
    const stamp = `${new Date(0).toISOString().slice(0, -1)}000Z`;
    expect(parseHclogTimestamp(stamp)?.getTime()).toBe(0);
  });

  it('never throws and always yields a level and a string message, whatever the line (fast-check)', () => {
    const parser = new HclogLineParser();
    const jsonish = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.json(),
      fc
        .record({
          '@level': fc.oneof(fc.constantFrom('info', 'WARN', 'error ', 'x'), fc.anything()),
          '@message': fc.anything(),
          '@timestamp': fc.oneof(fc.constant('2026-11-22T09:11:09.326383Z'), fc.anything()),
        })
        .map((value) => {
          try {
            return JSON.stringify(value) ?? 'undefined';
          } catch {
            return '{}';
          }
        }),
      fc.string().map((text) => `panic: ${text}`),
    );
    fc.assert(
      fc.property(jsonish, (line) => {
        const entry = parser.parse(line);
        expect(['trace', 'debug', 'info', 'warn', 'error']).toContain(entry.level);
        expect(typeof entry.message).toBe('string');
        expect(entry.raw).toBe(line);
      }),
      { seed: 8, numRuns: 2000 },
    );
  });
});
