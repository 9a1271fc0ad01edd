/**
 * The corpus: every input that ever failed a target, kept in `corpus/<target>.json` and replayed by CI
 * (fuzz.test.ts) with the same checks as a fuzz run. `npm run fuzz -- --save` appends a new counterexample.
 *
 * An entry is `{ "name": "…", "found": "…", "input": … }`; `input` is the target's input in JSON, with binaries as
 * `{"$bytes":"<hex>"}` and numbers JSON cannot hold as `{"$number":"Infinity"}` (also `-Infinity`, `NaN`, `-0`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One stored input. */
export interface CorpusEntry {
  /** What the input shows, as a regression test name would say it. */
  name: string;
  /** Where it was found: the command and seed, or the issue. */
  found: string;
  /** The target's input. */
  input: unknown;
}

/** Where the corpus files live. */
export const CORPUS_DIR = join(import.meta.dirname, 'corpus');

function replacer(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Uint8Array) return { $bytes: Buffer.from(original).toString('hex') };
  if (typeof original === 'number' && (!Number.isFinite(original) || Object.is(original, -0)))
    return { $number: Object.is(original, -0) ? '-0' : String(original) };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  if (keys.length !== 1) return value;
  const record = value as Record<string, unknown>;
  if (typeof record.$bytes === 'string') return new Uint8Array(Buffer.from(record.$bytes, 'hex'));
  if (typeof record.$number === 'string') return record.$number === '-0' ? -0 : Number(record.$number);
  return value;
}

/** JSON text of corpus entries (stable, two-space indented). */
export function encodeCorpus(entries: readonly CorpusEntry[]): string {
  return `${JSON.stringify(entries, replacer, 2)}\n`;
}

/** Corpus entries from JSON text. */
export function decodeCorpus(text: string): CorpusEntry[] {
  return JSON.parse(text, reviver) as CorpusEntry[];
}

/** The stored inputs of a target (none when it has no corpus file). */
export function loadCorpus(target: string, dir = CORPUS_DIR): CorpusEntry[] {
  const file = join(dir, `${target}.json`);
  return existsSync(file) ? decodeCorpus(readFileSync(file, 'utf8')) : [];
}

/** Appends an input to a target's corpus file. */
export function addToCorpus(target: string, entry: CorpusEntry, dir = CORPUS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${target}.json`);
  writeFileSync(file, encodeCorpus([...loadCorpus(target, dir), entry]));
  return file;
}
