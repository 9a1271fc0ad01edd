import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHclogLogger, formatHclogTimestamp } from '../../src/goplugin/hclog.js';

// Go host layout 2006-01-02T15:04:05.000000Z07:00 as emitted in UTC (spec §8.4, L1/L9).
const GO_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

function capture(options: Parameters<typeof createHclogLogger>[0] = {}) {
  const lines: string[] = [];
  const logger = createHclogLogger({ ...options, write: (line) => lines.push(line) });
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('hclog JSON logger', () => {
  it('writes one JSON object per line with string @level, @message, @module, @timestamp', () => {
    const { logger, lines } = capture({
      name: 'kv',
      now: () => ({ epochMs: Date.UTC(2026, 10, 22, 9, 11, 9, 326), micros: 383 }),
    });
    logger.info('plugin address', { address: '/tmp/plugin123', network: 'unix' });
    expect(lines).toEqual([
      '{"@level":"info","@message":"plugin address","@module":"kv","@timestamp":"2026-11-22T09:11:09.326383Z",' +
        '"address":"/tmp/plugin123","network":"unix"}\n',
    ]);
  });
  it('formats timestamps with exactly six fractional digits', () => {
    expect(formatHclogTimestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 6), 7)).toBe('2026-01-02T03:04:05.006007Z');
    expect(formatHclogTimestamp(0)).toBe('1970-01-01T00:00:00.000000Z');
  });
  it('uses the wall clock with microseconds by default', () => {
    const { logger, entries } = capture();
    logger.debug('x');
    const stamp = String(entries()[0]?.['@timestamp']);
    expect(stamp).toMatch(GO_TIMESTAMP);
    expect(Math.abs(Date.parse(stamp) - Date.now())).toBeLessThan(60_000);
  });
  it('drops entries below the level and never lets fields override the @ keys', () => {
    const { logger, entries } = capture({ level: 'warn' });
    logger.info('hidden');
    logger.warn('shown', { '@level': 'error', '@message': 42, err: new Error('boom'), big: 10n });
    logger.error('also');
    expect(entries()).toMatchObject([
      { '@level': 'warn', '@message': 'shown', err: 'boom', big: '10' },
      { '@level': 'error', '@message': 'also' },
    ]);
  });
  it('survives circular fields', () => {
    const { logger, entries } = capture();
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    logger.trace('loop', { loop });
    expect(entries()[0]?.['@message']).toBe('loop');
  });
  it('L9 property: every entry is a JSON object whose @ values are strings and whose timestamp a Go host accepts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('trace', 'debug', 'info', 'warn', 'error' as const),
        fc.string(),
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.integer({ min: 0, max: 999 }),
        (level, message, fields, epochMs, micros) => {
          const { logger, lines, entries } = capture({ now: () => ({ epochMs, micros }) });
          logger[level](message, fields);
          expect(lines).toHaveLength(1);
          expect(lines[0]?.endsWith('\n')).toBe(true);
          expect(lines[0]?.slice(0, -1)).not.toContain('\n');
          const entry = entries()[0] as Record<string, unknown>;
          expect(entry['@level']).toBe(level);
          expect(entry['@message']).toBe(message);
          expect(entry['@timestamp']).toMatch(GO_TIMESTAMP);
        },
      ),
      { seed: 5, numRuns: 300 },
    );
  });
});
