import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const generated = join(import.meta.dirname, '.generated-msgpack-rpc');

/** The first fenced code block after `<!-- msgpack-rpc section -->`, before the next `###` heading. */
function example(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- msgpack-rpc section -->');
  expect(start).toBeGreaterThan(-1);
  const section = readme.slice(start, readme.indexOf('\n### ', start));
  const match = section.match(/```ts\n([\s\S]*?)```/);
  expect(match).not.toBeNull();
  return match![1]!;
}

afterAll(() => rmSync(generated, { recursive: true, force: true }));

describe('README msgpack-rpc section', () => {
  it('runs its example against the library', async () => {
    const entry = pathToFileURL(join(root, 'src/msgpack-rpc/index.ts')).href;
    const source = example().replaceAll("'pluginwire/msgpack-rpc'", `'${entry}'`);
    expect(source).toContain(entry);
    mkdirSync(generated, { recursive: true });
    const file = join(generated, 'example.ts');
    writeFileSync(file, source);
    await import(pathToFileURL(file).href);
  });
});
