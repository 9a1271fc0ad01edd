import { describe, expect, it } from 'vitest';
import { asArray, parseKongConf, stringifyKongConf } from '../../src/kong-conf/index.js';

const roundTrip = (value: string) => parseKongConf(stringifyKongConf([['k', value]]).text).get('k');

describe('stringifyKongConf (spec §11.5)', () => {
  it('S1 escapes # and reads back', () => {
    const { text, diagnostics } = stringifyKongConf([['pg_password', 'a#b']]);
    expect(text).toBe('pg_password = a\\#b\n');
    expect(diagnostics).toEqual([]);
    expect(parseKongConf(text).get('pg_password')).toBe('a#b');
  });

  it('S2 writes \\# as \\\\# and reads back', () => {
    expect(stringifyKongConf([['k', 'a\\#b']]).text).toBe('k = a\\\\#b\n');
    expect(roundTrip('a\\#b')).toBe('a\\#b');
  });

  it('S3 guards number-like values and trailing backslashes with a comment', () => {
    expect(stringifyKongConf([['k', '0123']]).text).toBe('k = 0123 #\n');
    expect(stringifyKongConf([['k', 'x\\']]).text).toBe('k = x\\ #\n');
    expect(roundTrip('0123')).toBe('0123');
    expect(roundTrip('x\\')).toBe('x\\');
    expect(roundTrip('512 kB')).toBe('512 kB');
    expect(roundTrip('-1#2')).toBe('-1#2');
  });

  it.each([
    [' x', 'k'],
    ['a\nb', 'k'],
    ['x_blank_y', 'k'],
  ])('S4 refuses %j, writing nothing', (value, key) => {
    const { text, diagnostics } = stringifyKongConf([[key, value]]);
    expect(text).toBe('');
    expect(diagnostics.map((d) => [d.code, d.severity, d.key])).toEqual([['unrepresentable', 'error', key]]);
  });

  it('S4 refuses an array element containing a comma', () => {
    const { text, diagnostics } = stringifyKongConf([['plugins', ['a,b', 'c']]]);
    expect(text).toBe('');
    expect(diagnostics.map((d) => d.code)).toEqual(['unrepresentable']);
  });

  it('joins arrays with commas and keeps empty elements only where the version keeps them', () => {
    const { text } = stringifyKongConf([['names', ['go', '', 'js']]]);
    expect(text).toBe('names = go,,js\n');
    expect(asArray(parseKongConf(text).get('names'), '3.9')).toEqual(['go', '', 'js']);
    expect(
      stringifyKongConf([['names', ['go', '']]], { kongVersion: '3.10' }).diagnostics.map((d) => d.code),
    ).toEqual(['unrepresentable']);
    expect(stringifyKongConf([['names', ['']]]).diagnostics.map((d) => d.code)).toEqual(['unrepresentable']);
  });

  it('refuses keys Kong would rename', () => {
    expect(stringifyKongConf([['my-key', 'v']]).diagnostics.map((d) => d.code)).toEqual(['unrepresentable']);
  });

  it('skips empty values unless asked to write an explicit empty override', () => {
    expect(stringifyKongConf([['k', '']])).toMatchObject({
      text: '',
      diagnostics: [{ code: 'empty-skipped' }],
    });
    const { text } = stringifyKongConf([['k', '']], { writeEmpty: true });
    expect(text).toBe('k =\n');
    expect(parseKongConf(text).get('k')).toBe('');
  });

  it('writes the remaining entries when one is refused', () => {
    const { text } = stringifyKongConf([
      ['a', '1'],
      ['b', ' bad'],
      ['c', 'x'],
    ]);
    expect(text).toBe('a = 1 #\nc = x\n');
  });
});
