import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildPluginEnv,
  checkMagicCookie,
  MAGIC_COOKIE_MESSAGE,
  readPortRange,
} from '../../src/goplugin/env.js';
import { GoPluginError, PortRangeError } from '../../src/goplugin/index.js';
import { negotiateProtocolVersion } from '../../src/goplugin/negotiate.js';

describe('negotiateProtocolVersion (spec §4, N1–N11)', () => {
  const rows: Array<[number[], string | undefined, number, string[]]> = [
    [[1], '1', 1, []],
    [[2, 3], '1,2', 2, []],
    [[2, 3], '3,1', 3, []],
    [[2, 3], undefined, 2, []],
    [[2, 3], '7,x', 2, ['x']],
    [[2, 3], ' 3', 2, [' 3']],
    [[2, 3], '+3', 3, []],
    [[2, 3], ',', 2, ['', '']],
    [[5], '6,5', 5, []],
    [[5, 6], '5,6', 6, []],
    [[6], '5', 6, []],
  ];
  it.each(rows)('set %j with %j → %i', (set, env, version, invalid) => {
    const result = negotiateProtocolVersion(env, set);
    expect(result.version).toBe(version);
    expect(result.invalid).toEqual(invalid);
  });
  it('reports whether the version matched', () => {
    expect(negotiateProtocolVersion('5', [6]).matched).toBe(false);
    expect(negotiateProtocolVersion('', [6]).matched).toBe(false);
    expect(negotiateProtocolVersion('6,5', [5]).matched).toBe(true);
    expect(negotiateProtocolVersion('6,x,5', [5]).hostVersions).toEqual([6, 5]);
  });
  it('rejects an empty or non-integer version set', () => {
    expect(() => negotiateProtocolVersion('1', [])).toThrow(GoPluginError);
    expect(() => negotiateProtocolVersion('1', [1.5])).toThrow(/at least one integer/);
  });
  it('property: the result is always a plugin version; the highest common one when any is shared', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 20 }).map(String), fc.string({ maxLength: 3 })), {
          maxLength: 6,
        }),
        (set, entries) => {
          const result = negotiateProtocolVersion(entries.join(','), set);
          expect(set).toContain(result.version);
          const common = set.filter((v) => result.hostVersions.includes(v));
          expect(result.version).toBe(common.length > 0 ? Math.max(...common) : Math.min(...set));
        },
      ),
      { seed: 3, numRuns: 300 },
    );
  });
});

describe('magic cookie (spec §3)', () => {
  it('compares exactly; unset equals the empty string', () => {
    expect(checkMagicCookie({ BASIC_PLUGIN: 'hello' }, 'BASIC_PLUGIN', 'hello')).toBe(true);
    expect(checkMagicCookie({ BASIC_PLUGIN: 'hello ' }, 'BASIC_PLUGIN', 'hello')).toBe(false);
    expect(checkMagicCookie({}, 'BASIC_PLUGIN', 'hello')).toBe(false);
    expect(checkMagicCookie({}, 'X', '')).toBe(true);
  });
  it('has the exact three-line message of go-plugin', () => {
    expect(MAGIC_COOKIE_MESSAGE.split('\n')).toEqual([
      'This binary is a plugin. These are not meant to be executed directly.',
      'Please execute the program that consumes these plugins, which will',
      'load any plugins automatically',
      '',
    ]);
  });
});

describe('readPortRange (spec §6.2, T1–T3)', () => {
  it('T1 min greater than max names both values', () => {
    expect(() => readPortRange({ PLUGIN_MIN_PORT: '20000', PLUGIN_MAX_PORT: '10000' })).toThrow(
      'PLUGIN_MIN_PORT value of 20000 is greater than PLUGIN_MAX_PORT value of 10000',
    );
  });
  it('T2 a non-integer names the variable', () => {
    const attempt = () => readPortRange({ PLUGIN_MIN_PORT: 'abc' });
    expect(attempt).toThrow(PortRangeError);
    expect(attempt).toThrow(/couldn't get value from PLUGIN_MIN_PORT/);
    expect(() => readPortRange({ PLUGIN_MAX_PORT: '99999999999' })).toThrow(/PLUGIN_MAX_PORT/);
  });
  it('T3 unset or empty values are 0', () => {
    expect(readPortRange({})).toEqual({ min: 0, max: 0 });
    expect(readPortRange({ PLUGIN_MIN_PORT: '', PLUGIN_MAX_PORT: '+25000' })).toEqual({
      min: 0,
      max: 25_000,
    });
  });
  it('errors carry their code', () => {
    try {
      readPortRange({ PLUGIN_MIN_PORT: '2', PLUGIN_MAX_PORT: '1' });
    } catch (error) {
      expect((error as PortRangeError).code).toBe('GOPLUGIN_INVALID_PORT_RANGE');
    }
    expect.assertions(1);
  });
});

describe('buildPluginEnv (spec §2)', () => {
  it('sets cookie, descending versions and the default port range', () => {
    expect(
      buildPluginEnv({ magicCookieKey: 'BASIC_PLUGIN', magicCookieValue: 'hello', versions: [5, 6] }),
    ).toEqual({
      BASIC_PLUGIN: 'hello',
      PLUGIN_PROTOCOL_VERSIONS: '6,5',
      PLUGIN_MIN_PORT: '10000',
      PLUGIN_MAX_PORT: '25000',
    });
  });
  it('substitutes 10000–25000 for 0/0 like Go, and adds optional variables', () => {
    const env = buildPluginEnv({
      magicCookieKey: 'K',
      magicCookieValue: 'v',
      versions: [1],
      minPort: 0,
      maxPort: 0,
      clientCertPem: 'PEM',
      unixSocketDir: '/run/x',
      unixSocketGroup: 'wheel',
    });
    expect(env).toMatchObject({
      PLUGIN_MIN_PORT: '10000',
      PLUGIN_MAX_PORT: '25000',
      PLUGIN_CLIENT_CERT: 'PEM',
      PLUGIN_UNIX_SOCKET_DIR: '/run/x',
      PLUGIN_UNIX_SOCKET_GROUP: 'wheel',
    });
    expect(env).not.toHaveProperty('PLUGIN_MULTIPLEX_GRPC');
  });
});

describe('arbitrary input never throws an untyped error', () => {
  it('readPortRange throws only PortRangeError', () => {
    fc.assert(
      fc.property(
        fc.option(fc.string({ maxLength: 12 })),
        fc.option(fc.string({ maxLength: 12 })),
        (min, max) => {
          const env: Record<string, string> = {};
          if (min !== null) env.PLUGIN_MIN_PORT = min;
          if (max !== null) env.PLUGIN_MAX_PORT = max;
          try {
            const range = readPortRange(env);
            expect(range.min).toBeLessThanOrEqual(range.max);
          } catch (error) {
            expect(error).toBeInstanceOf(PortRangeError);
          }
        },
      ),
      { seed: 9, numRuns: 500 },
    );
  });
});
