/**
 * The fuzz suite in CI, deterministic: every target of registry.ts with a fixed seed and a modest number of
 * inputs, then every input of its corpus (corpus/<target>.json: each input that ever failed it).
 * `npm run fuzz -- --runs N [--seed S] [--save] [target…]` runs the same targets longer.
 */
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CORPUS_DIR, decodeCorpus, encodeCorpus, loadCorpus } from './corpus.js';
import { checkInput, expectTyped, prototypesChanged, runFuzzTarget } from './harness.js';
import { FUZZ_TARGETS } from './registry.js';

const RUNS = 1000;
const SEED = 20261201;

describe('fuzz targets (fixed seed)', () => {
  it('covers every module parser and message handler, each target once', () => {
    const names = FUZZ_TARGETS.map((target) => target.name);
    // A subset, so that registering a new target (registry.ts) is the only change it needs.
    expect(names).toEqual(
      expect.arrayContaining([
        'msgpack-framer',
        'msgpack-validator',
        'kong-server',
        'kong-client',
        'goplugin-handshake',
        'hclog',
        'goplugin-reattach',
        'kong-conf',
        'kong-conf-dump',
        'kong-conf-stringify',
        'cli-decode',
        'protobuf-kong-side',
        'protobuf-server-side',
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9-]+$/);
  });

  for (const target of FUZZ_TARGETS) {
    it(`${target.name}: only typed errors, bounded time and heap, no prototype pollution`, {
      timeout: 120_000,
    }, async () => {
      const report = await runFuzzTarget(target, { runs: RUNS, seed: SEED });
      expect(report.message ?? '').toBe('');
      expect(report.failed).toBe(false);
      expect(report.runs).toBeGreaterThanOrEqual(RUNS);
    });
  }
});

describe('fuzz corpus (every input that ever failed, replayed)', () => {
  it('has a file only for known targets, each entry named and with its origin', () => {
    const names = new Set(FUZZ_TARGETS.map((target) => target.name));
    for (const file of readdirSync(CORPUS_DIR)) {
      expect(file).toMatch(/\.json$/);
      const target = file.replace(/\.json$/, '');
      expect(names.has(target), `${file} names no target`).toBe(true);
      for (const entry of loadCorpus(target)) {
        expect(entry.name).not.toMatch(/rename me/);
        expect(entry.found).not.toBe('');
      }
    }
  });

  for (const target of FUZZ_TARGETS) {
    const entries = loadCorpus(target.name);
    if (entries.length === 0) continue;
    describe(target.name, () => {
      for (const entry of entries) {
        it(entry.name, { timeout: 30_000 }, async () => {
          await target.setup?.();
          try {
            await checkInput(target, entry.input);
            expect(prototypesChanged()).toBeUndefined();
          } finally {
            await target.teardown?.();
          }
        });
      }
    });
  }

  it('stores binaries and non-JSON numbers so they read back unchanged', () => {
    const input = {
      bytes: new Uint8Array([0, 255]),
      numbers: [Infinity, -Infinity, -0, 1.5],
      text: '\ud800',
    };
    const [entry] = decodeCorpus(encodeCorpus([{ name: 'n', found: 'f', input }]));
    expect(entry!.input).toEqual(input);
    expect(Object.is((entry!.input as typeof input).numbers[2], -0)).toBe(true);
    expect(
      Number.isNaN(
        decodeCorpus(encodeCorpus([{ name: 'n', found: 'f', input: Number.NaN }]))[0]!.input as number,
      ),
    ).toBe(true);
  });
});

describe('the fuzz runner', () => {
  const base = { description: 'runner self-test', timeBound: 1_000, heapBound: 8 * 1024 * 1024 };

  it('fails a target that throws an untyped error, with the counterexample', async () => {
    const target = {
      ...base,
      name: 'untyped',
      arbitrary: fc.nat(),
      run: (value: number) => {
        try {
          if (value > 5) throw new RangeError('boom');
        } catch (error) {
          expectTyped(error, 'self-test');
        }
      },
    };
    const report = await runFuzzTarget(target as never, { runs: 50, seed: 1 });
    expect(report.failed).toBe(true);
    expect(report.message).toMatch(/Counterexample: \[6\][\s\S]*untyped error RangeError: boom/);
  });

  it('fails a target whose input allocates past its heap bound', async () => {
    const kept: Uint8Array[] = [];
    const target = {
      ...base,
      name: 'hungry',
      arbitrary: fc.constant(0),
      run: () => void kept.push(new Uint8Array(16 * 1024 * 1024).fill(1)),
    };
    const report = await runFuzzTarget(target as never, { runs: 2, seed: 1 });
    expect(report.failed).toBe(true);
    expect(report.message).toMatch(/grew the heap by/);
    kept.length = 0;
  });

  it('fails a target whose input adds a property to Object.prototype, naming it', async () => {
    const target = {
      ...base,
      name: 'polluter',
      arbitrary: fc.constant('__proto__'),
      run: (key: string) => {
        const record: Record<string, Record<string, number>> = {};
        record[key]!.fuzzPolluted = 1;
      },
    };
    try {
      const report = await runFuzzTarget(target as never, { runs: 1, seed: 1 });
      expect(report.failed).toBe(true);
      expect(report.message).toMatch(/Object.prototype gained "fuzzPolluted"/);
    } finally {
      delete (Object.prototype as Record<string, unknown>).fuzzPolluted;
    }
  });

  it('runs an input that broke its time bound once again, and passes it when it keeps the bound then', async () => {
    let calls = 0;
    const target = {
      ...base,
      name: 'stall',
      timeBound: 100,
      arbitrary: fc.constant(0),
      // The first call stalls (as a descheduled process does); the second is quick.
      run: () => (calls++ === 0 ? new Promise<void>(() => {}) : undefined),
    };
    const report = await runFuzzTarget(target as never, { runs: 1, seed: 1 });
    expect(report.message ?? '').toBe('');
    expect({ failed: report.failed, retried: report.retried, calls }).toEqual({
      failed: false,
      retried: 1,
      calls: 2,
    });
  });

  it('fails a target whose async input never settles', async () => {
    const target = {
      ...base,
      name: 'hang',
      timeBound: 100,
      arbitrary: fc.constant(0),
      run: () => new Promise<void>(() => {}),
    };
    const report = await runFuzzTarget(target as never, { runs: 1, seed: 1 });
    expect(report.failed).toBe(true);
    expect(report.message).toMatch(/did not settle within 100 ms/);
  });
});
