import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  asArray,
  KongConfError,
  parseDump,
  parseKongConf,
  resolvePluginServers,
  stringifyKongConf,
} from '../../src/kong-conf/index.js';

const SEED = 20_26_12_01;

// Pieces that exercise every rule: comments, escapes, continuations, `=`, sections, numbers, BOM, non-ASCII.
const PIECES = [
  '\\',
  '#',
  '\\#',
  '=',
  ' = ',
  '\n',
  '\r\n',
  ' ',
  '\t',
  '[',
  ']',
  ';',
  '_blank_',
  'a',
  'Z',
  '0',
  '1',
  '.',
  '+',
  '-',
  'x',
  ' kB',
  '0x1',
  'e5',
  '\uFEFF',
  'é',
  '😀',
  '\v',
  '\f',
  '"',
  "'",
  'pluginserver_',
  'names',
  '_socket',
  '__proto__',
];
const confText = fc.array(fc.constantFrom(...PIECES), { maxLength: 60 }).map((parts) => parts.join(''));

describe('kong-conf properties', () => {
  it('parse never throws on arbitrary text and returns consistent entries', () => {
    fc.assert(
      fc.property(fc.oneof(confText, fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
        const conf = parseKongConf(text);
        for (const entry of conf.entries) {
          expect(entry.line).toBeGreaterThanOrEqual(1);
          expect(entry.key).toMatch(/^[A-Za-z0-9_]*$/);
        }
        for (const d of conf.diagnostics) expect(typeof d.code).toBe('string');
        for (const key of conf.keys()) expect(conf.get(key)).toBeTypeOf('string');
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('resolve and parseDump fail only with KongConfError', () => {
    fc.assert(
      fc.property(confText, fc.constantFrom('2.3', '2.8', '3.4', '3.9', '3.10'), (text, kongVersion) => {
        try {
          resolvePluginServers(text, { kongVersion, fileExists: () => false, cwd: '/srv' });
        } catch (error) {
          expect(error).toBeInstanceOf(KongConfError);
        }
        try {
          parseDump(text, { kongVersion });
        } catch (error) {
          expect(error).toBeInstanceOf(KongConfError);
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('stringify → parse gives back every value it wrote', () => {
    const key = fc.stringMatching(/^[A-Za-z0-9_]{1,10}$/);
    const value = fc.oneof(
      fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((parts) => parts.join('')),
      fc.string({ maxLength: 30 }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value), { maxLength: 8 }), (entries) => {
        const { text } = stringifyKongConf(entries);
        // What stringify writes for an entry alone is what it writes for it in the list.
        const written = entries.filter((entry) => stringifyKongConf([entry]).text !== '');
        const parsed = parseKongConf(text);
        expect(parsed.entries.map((e) => [e.key, e.value])).toEqual(written);
        expect(parsed.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('stringify → parse → asArray gives back arrays, per version', () => {
    const element = fc
      .array(fc.constantFrom('a', 'b', '#', '\\', ' ', '0', '-', '='), { maxLength: 4 })
      .map((p) => p.join(''));
    fc.assert(
      fc.property(
        fc.array(element, { maxLength: 5 }),
        fc.constantFrom('3.9', '3.10'),
        (array, kongVersion) => {
          const { text, diagnostics } = stringifyKongConf([['names', array]], {
            kongVersion,
            writeEmpty: true,
          });
          if (diagnostics.some((d) => d.code === 'unrepresentable')) return;
          expect(asArray(parseKongConf(text).get('names'), kongVersion)).toEqual(array);
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });
});

/**
 * Best (smallest) CPU time of one parse, in ms. CPU time, not wall time: on a loaded machine the process waits
 * for a core, which inflates wall time but not CPU time. Each sample runs enough parses for 20 ms of CPU, so
 * the timer's granularity does not matter; the best of `samples` is the least disturbed one.
 */
function bestTime(text: string, samples: number): number {
  const cpu = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  let best = Number.POSITIVE_INFINITY;
  for (let sample = 0; sample < samples; sample++) {
    const start = cpu();
    let runs = 0;
    do {
      parseKongConf(text);
      runs++;
    } while (cpu() - start < 20);
    best = Math.min(best, (cpu() - start) / runs);
  }
  return best;
}

describe('kong-conf parse is linear', () => {
  // Inputs built to trigger backtracking in a naive regex-based parser: long runs of `\`, `#`, `=`, `\#`,
  // `[`, whitespace, and chains of continuation lines.
  const shapes: Record<string, (n: number) => string> = {
    'backslash runs': (n) => `a = ${'\\'.repeat(n)}x\n`,
    'escaped hashes': (n) => `a = ${'\\#'.repeat(n)} # c\n`,
    'equals runs': (n) => `${'='.repeat(n)}\n`,
    'whitespace before =': (n) => `k${' '.repeat(n)}=${' '.repeat(n)}v\n`,
    'open brackets': (n) => `[${'['.repeat(n)}\n`,
    'bracket pairs': (n) => `${'[]'.repeat(n)}\n`,
    'continuation chain': (n) => `a = x \\\n${' y \\\n'.repeat(n / 5)}z\n`,
    'many lines': (n) => '# a comment line\nlog_level = v # c\n'.repeat(n / 40),
    'number-like': (n) => `a = ${'1'.repeat(n)}e\n`,
  };
  it.each(Object.keys(shapes))('parses 10x more %s in well under 30x the time', (name) => {
    const make = shapes[name] as (n: number) => string;
    const small = make(40_000);
    const large = make(400_000);
    bestTime(large, 1); // warm up
    // Linear would be ~10; a quadratic scan ~100 on every attempt. 30, the best of five runs and three
    // attempts leave room for a loaded two-core machine (other test runs, garbage collection).
    const ratios: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const ratio = bestTime(large, 3) / bestTime(small, 5);
      ratios.push(ratio);
      if (ratio < 30) break;
    }
    expect(Math.min(...ratios)).toBeLessThan(30);
  });
});
