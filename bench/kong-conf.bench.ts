/**
 * kong-conf parse throughput: a 2,000-line kong.conf in the shape of Kong's default configuration (the test
 * fixture) and a 100,000-line one (the same shape, repeated with distinct keys). Prints time per line for both,
 * so the scaling shows, and the ratio against a plain `text.split('\n')` over the same text, measured in the
 * same run. Writes bench/results/kong-conf.json.
 *
 *   npm run bench -- kong-conf
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseKongConf } from '../src/kong-conf/index.js';
import { cpuNow, cpuSince } from './cpu.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = readFileSync(join(here, '../test/fixtures/kong-conf/kong-default-shape.conf'), 'utf8');

function largeConf(lines: number): string {
  const out: string[] = [];
  let copy = 0;
  while (out.length < lines) {
    // Distinct keys per copy, so the large file is not one long run of duplicate-key warnings.
    const suffix = `_${copy++}`;
    for (const line of fixture.split('\n')) {
      out.push(line.replace(/^([A-Za-z_][A-Za-z0-9_.-]*)(\s*=)/, `$1${suffix}$2`));
      if (out.length === lines) break;
    }
  }
  return out.join('\n');
}

/** Median time of `fn` in ms over enough runs to fill `budget` ms (at least 5), and the mean CPU ms per run. */
function measure(fn: () => unknown, budget: number): { median: number; runs: number; cpuMs: number } {
  for (let i = 0; i < 3; i++) fn(); // warm up
  const times: number[] = [];
  const start = performance.now();
  const cpuStart = cpuNow();
  while (times.length < 5 || performance.now() - start < budget) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  const cpuMs = cpuSince(cpuStart) / 1000 / times.length;
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)] as number, runs: times.length, cpuMs };
}

interface Scenario {
  name: string;
  lines: number;
  bytes: number;
  parseMs: number;
  splitMs: number;
  nsPerLine: number;
  /** CPU ns per line (mean over the timed runs), and split's CPU ms per run. */
  cpuNsPerLine: number;
  splitCpuMs: number;
  ratioToSplit: number;
  runs: number;
}

const scenarios: Scenario[] = [];
for (const [name, text, budget] of [
  ['2k-lines', fixture, 3_000],
  ['100k-lines', largeConf(100_000), 15_000],
] as const) {
  const lines = text.split('\n').length;
  const parse = measure(() => parseKongConf(text), budget);
  const split = measure(() => text.split('\n'), budget / 3);
  const scenario: Scenario = {
    name,
    lines,
    bytes: Buffer.byteLength(text),
    parseMs: parse.median,
    splitMs: split.median,
    nsPerLine: (parse.median * 1e6) / lines,
    cpuNsPerLine: (parse.cpuMs * 1e6) / lines,
    splitCpuMs: split.cpuMs,
    ratioToSplit: parse.median / split.median,
    runs: parse.runs,
  };
  scenarios.push(scenario);
  process.stdout.write(
    `${name.padEnd(11)} ${String(lines).padStart(7)} lines  parse ${scenario.parseMs.toFixed(3)} ms ` +
      `(${scenario.nsPerLine.toFixed(0)} ns/line, CPU ${scenario.cpuNsPerLine.toFixed(0)} ns/line)  split ${scenario.splitMs.toFixed(3)} ms  ` +
      `parse/split ${scenario.ratioToSplit.toFixed(1)}x  (${scenario.runs} runs)\n`,
  );
}
const [small, large] = scenarios as [Scenario, Scenario];
const scaling = large.nsPerLine / small.nsPerLine;
process.stdout.write(`time per line, 100k vs 2k: ${scaling.toFixed(2)}x (1.0 = linear)\n`);

writeFileSync(
  join(here, 'results/kong-conf.json'),
  `${JSON.stringify({ scenario: 'kong-conf', node: process.version, date: new Date().toISOString(), scenarios, perLineScaling: scaling }, null, 2)}\n`,
);
