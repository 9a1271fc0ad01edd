import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectErrorCodes, readGuide, updatedGuide } from '../../scripts/error-codes.js';

const root = join(import.meta.dirname, '..', '..');

describe('the error code table (docs/guides/errors.md)', () => {
  // Building a TypeScript program over every module takes a few seconds.
  it('is up to date with the error classes, one class per code', { timeout: 120_000 }, () => {
    const rows = collectErrorCodes();
    expect(rows.length).toBeGreaterThan(100);
    expect(new Set(rows.map((row) => row.code)).size).toBe(rows.length);
    expect(new Set(rows.map((row) => row.className)).size).toBe(rows.length);
    // Stale: run `npm run errors` and commit docs/guides/errors.md.
    expect(updatedGuide(readGuide(), rows)).toBe(readGuide());
  });
});

describe('the API reports (api/*.api.md)', () => {
  /** Names every module re-exports on purpose: the same thing under the same name. */
  const SHARED = new Set(['PluginwireError', 'PluginwireErrorOptions', 'Logger', 'LogFields', 'LogLevel']);

  it('export no name from two modules for two different things', () => {
    const owners = new Map<string, string[]>();
    for (const file of readdirSync(join(root, 'api')).filter((name) => name.endsWith('.api.md'))) {
      if (file === 'pluginwire.api.md') continue; // the root re-exports the modules as namespaces
      const text = readFileSync(join(root, 'api', file), 'utf8');
      for (const match of text.matchAll(
        /^export (?:declare )?(?:abstract )?(?:class|function|interface|type|const|namespace|enum) (\w+)/gm,
      )) {
        const name = match[1]!;
        if (SHARED.has(name)) continue;
        owners.set(name, [...(owners.get(name) ?? []), file]);
      }
    }
    const duplicates = [...owners].filter(([, files]) => files.length > 1);
    expect(duplicates).toEqual([]);
  });
});
