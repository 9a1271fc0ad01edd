import { describe, expect, it } from 'vitest';
import { parsePluginServerArgs } from '../../../src/msgpack-rpc/kong/dump.js';
import { KongConfigError } from '../../../src/msgpack-rpc/kong/errors.js';

describe('parsePluginServerArgs', () => {
  it('accepts Go-style and GNU-style spellings, values after a space or =', () => {
    expect(parsePluginServerArgs(['-dump'])).toMatchObject({ dump: true, kongPrefix: undefined });
    expect(parsePluginServerArgs(['--dump'])).toMatchObject({ dump: true });
    expect(parsePluginServerArgs(['-kong-prefix', '/k'])).toMatchObject({ dump: false, kongPrefix: '/k' });
    expect(parsePluginServerArgs(['--kong-prefix=/k', '-socket=/s.sock'])).toMatchObject({
      kongPrefix: '/k',
      socket: '/s.sock',
    });
    expect(parsePluginServerArgs(['-dump', '-dump-format', 'array'])).toMatchObject({
      dump: true,
      dumpForm: 'array',
    });
    expect(parsePluginServerArgs([])).toEqual({
      dump: false,
      dumpForm: 'object',
      kongPrefix: undefined,
      socket: undefined,
    });
  });

  it.each([[['-kong-prefix']], [['--bogus']], [['plain']], [['-dump=yes']], [['-dump-format', 'xml']]])(
    'rejects %j with KongConfigError',
    (argv) => {
      expect(() => parsePluginServerArgs(argv)).toThrow(KongConfigError);
    },
  );
});
