/**
 * Runs every benchmark scenario (`bench/*.bench.ts`), one child process each so they do not disturb each other.
 * Each scenario prints its own ratios and writes `bench/results/<scenario>.json`; then one summary table of
 * every results file is printed and written to `bench/results/summary.json` (bench/summary.ts).
 *
 *   npm run bench               # every scenario
 *   npm run bench -- rpc        # scenarios whose file name contains "rpc"
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSummary } from './summary.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
mkdirSync(join(benchDir, 'results'), { recursive: true });
const filters = process.argv.slice(2);
const scenarios = readdirSync(benchDir)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();

if (scenarios.length === 0) {
  process.stderr.write(`bench: no scenario matches ${filters.join(', ') || '*'}\n`);
  process.exit(1);
}

const failed = new Set<string>();
for (const scenario of scenarios) {
  process.stdout.write(`\n== ${scenario}\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(benchDir, scenario)], {
    stdio: 'inherit',
  });
  if (result.status !== 0) failed.add(scenario.replace(/\.bench\.ts$/, ''));
}
writeSummary(join(benchDir, 'results'), {
  scenarios: scenarios.map((file) => file.replace(/\.bench\.ts$/, '')),
  failed,
});
process.exit(failed.size === 0 ? 0 : 1);
