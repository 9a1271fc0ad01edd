/**
 * Longer fuzz runs than CI's: `npm run fuzz -- --runs N [--seed S] [--save] [target…]`.
 *
 * Runs every target of test/fuzz/registry.ts (or the named ones) for N inputs each (default 2000) from seed S
 * (default: the current time, printed so a failure can be replayed), and prints per target the inputs tried,
 * the time, the slowest input and the largest heap growth of one input; a failure prints fast-check's report
 * with the shrunk counterexample, and with `--save` appends that counterexample to the target's corpus
 * (test/fuzz/corpus/<target>.json), which CI replays. Exits 1 when any target failed or an exception escaped
 * to the process.
 */
import { addToCorpus } from '../test/fuzz/corpus.js';
import type { FuzzReport } from '../test/fuzz/harness.js';
import { runFuzzTarget } from '../test/fuzz/harness.js';
import { FUZZ_TARGETS } from '../test/fuzz/registry.js';

interface Args {
  runs: number;
  seed: number;
  save: boolean;
  names: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { runs: 2000, seed: Date.now() % 2 ** 31, save: false, names: [] };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    const next = (): number => {
      const value = Number(argv[++index]);
      if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${arg} needs a non-negative integer`);
      return value;
    };
    if (arg === '--runs') args.runs = next();
    else if (arg === '--seed') args.seed = next();
    else if (arg === '--save') args.save = true;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: npm run fuzz -- [--runs N] [--seed S] [--save] [target…]\n');
      process.stdout.write(`targets: ${FUZZ_TARGETS.map((target) => target.name).join(', ')}\n`);
      process.exit(0);
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
    else args.names.push(arg);
  }
  return args;
}

const escaped: unknown[] = [];
process.on('uncaughtException', (error) => escaped.push(error));
process.on('unhandledRejection', (error) => escaped.push(error));

const args = parseArgs(process.argv.slice(2));
const unknown = args.names.filter((name) => !FUZZ_TARGETS.some((target) => target.name === name));
if (unknown.length > 0) {
  process.stderr.write(`unknown target(s): ${unknown.join(', ')}\n`);
  process.exit(2);
}
const targets =
  args.names.length === 0 ? FUZZ_TARGETS : FUZZ_TARGETS.filter((t) => args.names.includes(t.name));

process.stdout.write(`fuzz: ${args.runs} runs per target, seed ${args.seed}\n`);
const reports: FuzzReport[] = [];
for (const target of targets) {
  const started = performance.now();
  const report = await runFuzzTarget(target, { runs: args.runs, seed: args.seed });
  reports.push(report);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `${report.failed ? 'FAIL' : 'ok  '} ${target.name.padEnd(21)} ${String(report.runs).padStart(8)} inputs  ` +
      `${seconds.padStart(6)} s  slowest ${report.slowest.toFixed(0).padStart(5)} ms  ` +
      `peak heap growth ${(report.peakHeapGrowth / 1024 / 1024).toFixed(1).padStart(5)} MiB` +
      `${report.retried > 0 ? `  (${report.retried} stalled input(s) passed when run again)` : ''}\n`,
  );
  if (report.message !== undefined) process.stdout.write(`${report.message}\n`);
  if (report.failed && args.save) {
    const file = addToCorpus(target.name, {
      name: `${target.name} seed ${args.seed}: rename me after what the input shows`,
      found: `npm run fuzz -- --runs ${args.runs} --seed ${args.seed} ${target.name}`,
      input: report.counterexample,
    });
    process.stdout.write(`saved the counterexample to ${file}\n`);
  }
}
const total = reports.reduce((sum, report) => sum + report.runs, 0);
const failed = reports.filter((report) => report.failed);
process.stdout.write(
  `total: ${total} inputs, ${failed.length} target(s) failed, ${escaped.length} escaped exception(s)\n`,
);
for (const error of escaped)
  process.stdout.write(`escaped: ${error instanceof Error ? error.stack : String(error)}\n`);
process.exit(failed.length > 0 || escaped.length > 0 ? 1 : 0);
