/**
 * What every fuzz target is checked against, for a generated input (fast-check, {@link runFuzzTarget}) and for a
 * stored one (the corpus, {@link checkInput}):
 * - the only errors thrown or rejected are pluginwire errors (`instanceof PluginwireError`);
 * - every input settles within the target's time bound (async work is raced against a timer);
 * - the heap (JS heap plus array buffers) grows by less than the target's bound per input, so length bombs
 *   and deep nesting must be refused before anything proportional to the declared size is allocated;
 * - `Object.prototype` and `Array.prototype` keep their own properties (no prototype pollution);
 * - target-specific checks (e.g. a Kong server answers only with well-formed msgpack frames).
 */
import { getHeapStatistics } from 'node:v8';
import fc from 'fast-check';
import { PluginwireError } from '../../src/errors.js';

/** A property violation found by a target (as opposed to an expected, typed pluginwire error). */
export class FuzzViolation extends Error {
  override name = 'FuzzViolation';
}

/** A broken time bound: an input that took too long, or work that did not settle in time. */
export class FuzzTimeViolation extends FuzzViolation {
  override name = 'FuzzTimeViolation';
}

/** One fuzz target. */
export interface FuzzTarget<T = unknown> {
  /** Short name, used on the command line and as the corpus file name. */
  readonly name: string;
  /** What is fuzzed. */
  readonly description: string;
  /** The inputs. */
  readonly arbitrary: fc.Arbitrary<T>;
  /** Runs one input; throws a {@link FuzzViolation} (or any non-pluginwire error) on a failure. */
  run(input: T): void | Promise<void>;
  /** Per-input bound in ms; generous, the machine is loaded. */
  readonly timeBound: number;
  /** Per-input bound on heap growth, in bytes. */
  readonly heapBound: number;
  /** Optional shared resources opened before the runs and closed after. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

/** Throws a {@link FuzzViolation} unless `error` is a pluginwire error. */
export function expectTyped(error: unknown, where: string): void {
  if (error instanceof PluginwireError) return;
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  throw new FuzzViolation(`${where}: untyped error ${text}`, { cause: error });
}

// The harness's bounds are real time even while a target runs the code under test on a turn clock
// (turn-clock.ts replaces the global setTimeout for the duration of an input).
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** Runs `work` and resolves when it settles or `bound` ms pass (then rejects with a FuzzViolation). */
export async function within<T>(work: Promise<T>, bound: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = realSetTimeout(
      () => reject(new FuzzTimeViolation(`${what} did not settle within ${bound} ms`)),
      bound,
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    realClearTimeout(timer);
  }
}

const MiB = 1024 * 1024;

/** The outcome of {@link runFuzzTarget}. */
export interface FuzzReport {
  target: string;
  /** Inputs tried. */
  runs: number;
  seed: number;
  failed: boolean;
  /** fast-check's report (counterexample, seed, path) when it failed. */
  message: string | undefined;
  /** The shrunk counterexample when it failed (what `npm run fuzz -- --save` adds to the corpus). */
  counterexample: unknown;
  /** Largest heap growth seen for one input, bytes. */
  peakHeapGrowth: number;
  /** Slowest input, ms. */
  slowest: number;
  /** Inputs that broke a time bound once and kept it when run again (the machine stalled, not the input). */
  retried: number;
}

/** The full text of an error and its cause, for reports. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `Error: ${String(error)}`;
  const cause =
    error.cause instanceof Error ? `\ncaused by: ${error.cause.stack ?? error.cause.message}` : '';
  return `${error.stack ?? `${error.name}: ${error.message}`}${cause}`;
}

/**
 * The JS heap plus memory outside it (array buffers are counted there). `v8.getHeapStatistics()` costs a few µs;
 * `process.memoryUsage()` reads the RSS from /proc too and costs ~25 µs, more than many inputs take.
 */
function heapNow(): number {
  const stats = getHeapStatistics();
  return stats.used_heap_size + stats.external_memory;
}

const objectPrototype = (): string => Object.getOwnPropertyNames(Object.prototype).sort().join(',');
const arrayPrototype = (): string => Object.getOwnPropertyNames(Array.prototype).sort().join(',');
const OBJECT_PROTOTYPE = objectPrototype();
const ARRAY_PROTOTYPE = arrayPrototype();

/**
 * Whether a property was added to `Object.prototype` or `Array.prototype` by assignment (what a parser that
 * writes `target[key][name] = value` with `key` = `__proto__` does): such a property is enumerable, so it shows in
 * a `for…in` over an empty object or array. Sub-µs, so it runs after every input; the full comparison of the
 * prototypes' own property names (non-enumerable additions too) runs once after the whole run.
 */
function prototypesPolluted(): string | undefined {
  for (const key in {}) return `Object.prototype gained ${JSON.stringify(key)}`;
  for (const key in []) return `Array.prototype gained ${JSON.stringify(key)}`;
  return undefined;
}

/** The full comparison of the prototypes' own property names with the ones at load. */
export function prototypesChanged(): string | undefined {
  if (objectPrototype() !== OBJECT_PROTOTYPE) return 'Object.prototype was modified';
  if (arrayPrototype() !== ARRAY_PROTOTYPE) return 'Array.prototype was modified';
  return undefined;
}

/** Time and heap growth of one input. */
export interface InputMeasure {
  took: number;
  growth: number;
}

/**
 * Runs one input of `target` (its `setup` must have run) and checks every property of the file comment.
 *
 * @throws {@link FuzzViolation} (or the target's untyped error) when a property does not hold.
 */
export async function checkInput(
  target: FuzzTarget<never>,
  input: unknown,
  onRetry: () => void = () => {},
): Promise<InputMeasure> {
  try {
    return await checkOnce(target, input);
  } catch (error) {
    // A time bound broken once may be the machine, not the input: a loaded machine stops a process for seconds
    // (seen at load average 26 on 2 cores: 3.2 s for a 3-byte handshake line). The same input once more
    // decides; a slow or hanging input breaks the bound again.
    if (!(error instanceof FuzzTimeViolation)) throw error;
    onRetry();
    return await checkOnce(target, input);
  }
}

async function checkOnce(target: FuzzTarget<never>, input: unknown): Promise<InputMeasure> {
  const heapBefore = heapNow();
  const start = performance.now();
  const outcome = (target.run as (value: unknown) => void | Promise<void>)(input);
  if (outcome instanceof Promise) await within(outcome, target.timeBound, target.name);
  const took = performance.now() - start;
  const growth = heapNow() - heapBefore;
  if (took > target.timeBound) throw new FuzzTimeViolation(`one input took ${Math.round(took)} ms`);
  if (growth > target.heapBound) {
    throw new FuzzViolation(`one input grew the heap by ${Math.round(growth / MiB)} MiB`);
  }
  const polluted = prototypesPolluted();
  if (polluted !== undefined) throw new FuzzViolation(polluted);
  return { took, growth };
}

/**
 * Runs one target for `runs` inputs from `seed`, checking every property of the file comment.
 *
 * @returns counts and, on failure, fast-check's report with the (shrunk) counterexample.
 */
export async function runFuzzTarget(
  target: FuzzTarget<never>,
  options: { runs: number; seed: number },
): Promise<FuzzReport> {
  let tried = 0;
  let peakHeapGrowth = 0;
  let slowest = 0;
  let retried = 0;
  await target.setup?.();
  try {
    const property = fc.asyncProperty(target.arbitrary as fc.Arbitrary<unknown>, async (input) => {
      tried++;
      const { took, growth } = await checkInput(target, input, () => retried++);
      slowest = Math.max(slowest, took);
      peakHeapGrowth = Math.max(peakHeapGrowth, growth);
    });
    const details = await fc.check(property, { seed: options.seed, numRuns: options.runs });
    const changed = prototypesChanged();
    return {
      target: target.name,
      runs: tried,
      seed: options.seed,
      failed: details.failed || changed !== undefined,
      message: details.failed
        ? `${fc.defaultReportMessage(details)}\n${describeError(details.errorInstance)}`
        : changed === undefined
          ? undefined
          : `${changed} during the run (not by an enumerable property: replay with smaller --runs to find the input)`,
      counterexample: details.counterexample?.[0],
      peakHeapGrowth,
      slowest,
      retried,
    };
  } finally {
    await target.teardown?.();
  }
}
