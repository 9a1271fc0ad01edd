/**
 * The fuzz suite in CI: every target of targets.ts with a fixed seed and a modest number of inputs.
 * `npm run fuzz -- --runs N [--seed S] [target…]` runs the same targets longer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectTyped, FUZZ_TARGETS, runFuzzTarget } from './targets.js';

const RUNS = 150;
const SEED = 20261201;

describe('fuzz targets (fixed seed)', () => {
  it('covers every module parser and message handler', () => {
    expect(FUZZ_TARGETS.map((target) => target.name)).toEqual([
      'msgpack-framer',
      'msgpack-validator',
      'kong-server',
      'kong-client',
      'kong-client-memory',
      'goplugin-handshake',
      'hclog',
      'kong-conf',
      'kong-conf-dump',
      'protobuf-kong-side',
      'protobuf-server-side',
    ]);
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
