import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const example = readFileSync(new URL('../../examples/kong-conf.ts', import.meta.url), 'utf8');

/** The first ```ts block after the kong-conf section marker. */
function readmeBlock(): string {
  const marker = readme.indexOf('<!-- kong-conf section -->');
  expect(marker).toBeGreaterThanOrEqual(0);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(marker));
  if (!match?.[1]) throw new Error('no ts block after <!-- kong-conf section -->');
  return match[1];
}

describe('README kong-conf example', () => {
  it('quotes examples/kong-conf.ts verbatim, with the package import path', () => {
    expect(readmeBlock()).toBe(example.replace("'../src/kong-conf/index.js'", "'pluginwire/kong-conf'"));
  });

  it('runs and prints what its comments say', async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.join(' '));
    });
    try {
      await import('../../examples/kong-conf.js');
      expect(lines).toHaveLength(4);
      expect(lines[0]).toBe(
        'js /run/kong/js.sock /usr/local/bin/kong-js-pluginserver     -d /usr/local/kong/js-plugins /usr/local/bin/kong-js-pluginserver -d /usr/local/kong/js-plugins --dump-all-plugins',
      );
      expect(lines[1]).toBe(
        'go-hello /usr/local/kong/go-hello.socket (external) /usr/local/bin/go-hello -dump',
      );
      expect(lines[2]).toMatch(
        /^kong\.conf:6 pluginserver-unlisted: pluginserver_go_helo_socket belongs to no server/,
      );
      expect(lines[3]).toMatch(
        /^kong\.conf:- pluginserver-external: start_command undefined for pluginserver go-hello;/,
      );
    } finally {
      log.mockRestore();
    }
  });
});
