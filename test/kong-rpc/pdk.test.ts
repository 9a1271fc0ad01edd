import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPdk, toSnakeCase } from '../../src/kong-rpc/pdk.js';

describe('toSnakeCase', () => {
  it.each([
    ['getHeader', 'get_header'],
    ['getRawBody', 'get_raw_body'],
    ['getTls1VersionStr', 'get_tls1_version_str'],
    ['isTrusted', 'is_trusted'],
    ['exit', 'exit'],
    ['shared', 'shared'],
  ])('%s -> %s', (camel, snake) => {
    expect(toSnakeCase(camel)).toBe(snake);
  });

  it('is the inverse of camelCasing for snake_case names of words of two or more characters', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z][a-z0-9]{1,6}$/), { minLength: 1, maxLength: 4 }),
        (words) => {
          const camel = words
            .map((word, index) => (index === 0 ? word : word[0]?.toUpperCase() + word.slice(1)))
            .join('');
          expect(toSnakeCase(camel)).toBe(words.join('_'));
        },
      ),
      { seed: 5, numRuns: 300 },
    );
  });
});

describe('createPdk', () => {
  it('sends the dotted snake_case name and the argument list', async () => {
    const calls: [string, unknown[]][] = [];
    const kong = createPdk(async (method, args) => {
      calls.push([method, args]);
      return method === 'kong.request.get_header' ? 'example.com' : undefined;
    });
    await expect(kong.request.getHeader('host')).resolves.toBe('example.com');
    await kong.response.setHeader('x-a', '1');
    await kong.service.request.setHeader('x-b', 2);
    await kong.ctx.shared.set('k', { v: 1 });
    await kong.nginx.getTls1VersionStr();
    await kong.log.info('a', 'b', 3);
    await kong.call('kong.vault.get', 'ref');
    expect(calls).toEqual([
      ['kong.request.get_header', ['host']],
      ['kong.response.set_header', ['x-a', '1']],
      ['kong.service.request.set_header', ['x-b', 2]],
      ['kong.ctx.shared.set', ['k', { v: 1 }]],
      ['kong.nginx.get_tls1_version_str', []],
      ['kong.log.info', ['a', 'b', 3]],
      ['kong.vault.get', ['ref']],
    ]);
  });

  it('keeps namespaces, and is not mistaken for a thenable', async () => {
    const kong = createPdk(async () => undefined);
    expect(kong.request).toBe(kong.request);
    expect(kong.request.getHeader).toBe(kong.request.getHeader);
    expect((kong as unknown as { then?: unknown }).then).toBeUndefined();
    // Resolving a promise with the PDK object must not call it as a thenable.
    await expect(Promise.resolve(kong)).resolves.toBe(kong);
  });
});
