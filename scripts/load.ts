/**
 * Load and soak: `npm run load -- [--connections N] [--requests N] [--streams N] [--stream-requests N] [--only …]`
 * or `npm run load -- --duration S [--sample-every S] [--warmup S] [--rss-bound MiB] [--connections N] …`.
 *
 * The scenarios (scripts/load-scenarios.ts) run over real Unix sockets and check every answer against what was
 * sent: `rpc-peer` (RpcPeer echo), `kong-server` (both Kong sides, MsgPack:1) and `goplugin` (go-plugin Put+Get
 * streams against a plugin process).
 *
 * Without `--duration`, each scenario in turn runs `--requests` round trips per connection (default 256
 * connections × 10,000; go-plugin 32 streams × `--stream-requests`) and prints requests/s, p50/p99 latency and
 * peak RSS. With `--duration S` (a soak), every scenario runs at once for S seconds (defaults 16 connections,
 * 8 streams) while RSS, heap and open file descriptors (this process's `/proc/self/fd`, and each child's) are
 * sampled every `--sample-every` seconds (default 10). After the warm-up (default: a tenth of the run, at least
 * one sample) they must stay flat: RSS at most `--rss-bound` MiB (default 64) above its value at the end of the
 * warm-up, every fd count equal to its value then, and, once everything is closed, this process back to the fd
 * count it had before it opened anything.
 *
 * Either way it prints `<n> lost, <n> mismatched` per scenario and exits 1 when any answer was lost (rejected)
 * or did not match, or a soak bound did not hold. Clients and servers share this process (2 cores: the figures
 * are a floor, not a ceiling).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LoadOptions, type RunningScenario, SCENARIOS, type Scenario, Tally } from './load-scenarios.js';

interface Options extends LoadOptions {
  requests: number;
  streamRequests: number;
  only: Set<string>;
  /** Soak length in seconds, or undefined for the fixed-count run. */
  duration: number | undefined;
  sampleEvery: number;
  warmup: number | undefined;
  rssBound: number;
}

const NAMES = SCENARIOS.map((scenario) => scenario.name);

function parseArgs(argv: readonly string[]): Options {
  const values: Record<string, number | undefined> = {};
  const only = new Set<string>();
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    const number = (): number => {
      const value = Number(argv[++index]);
      if (!Number.isFinite(value) || value <= 0) throw new Error(`${arg} needs a positive number`);
      return value;
    };
    const integer = (): number => {
      const value = number();
      if (!Number.isSafeInteger(value)) throw new Error(`${arg} needs a positive integer`);
      return value;
    };
    if (arg === '--connections') values.connections = integer();
    else if (arg === '--requests') values.requests = integer();
    else if (arg === '--streams') values.streams = integer();
    else if (arg === '--stream-requests') values.streamRequests = integer();
    else if (arg === '--duration') values.duration = number();
    else if (arg === '--sample-every') values.sampleEvery = number();
    else if (arg === '--warmup') values.warmup = number();
    else if (arg === '--rss-bound') values.rssBound = number();
    else if (arg === '--only') {
      const name = argv[++index] ?? '';
      if (!NAMES.includes(name)) throw new Error(`--only takes one of ${NAMES.join(', ')}`);
      only.add(name);
    } else throw new Error(`unknown option ${arg}`);
  }
  const soak = values.duration !== undefined;
  const requests = values.requests ?? 10_000;
  return {
    // A soak is about staying flat, not peak throughput: fewer connections, so it can run for long on a
    // shared machine.
    connections: values.connections ?? (soak ? 16 : 256),
    streams: values.streams ?? (soak ? 8 : 32),
    requests,
    streamRequests: values.streamRequests ?? requests,
    only: only.size === 0 ? new Set(NAMES) : only,
    duration: values.duration,
    sampleEvery: values.sampleEvery ?? 10,
    warmup: values.warmup,
    rssBound: values.rssBound ?? 64,
  };
}

const MiB = 1024 * 1024;

function report(name: string, shape: string, tally: Tally, seconds: number, expected?: number): boolean {
  if (expected !== undefined) {
    const unanswered = expected - tally.count - tally.lost - tally.mismatched;
    if (unanswered > 0) tally.problem('lost', `${unanswered} never answered`);
  }
  const rss = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    `${name.padEnd(12)} ${shape}: ${(tally.count / seconds).toFixed(0)} req/s, ` +
      `p50 ${tally.quantile(0.5).toFixed(2)} ms, p99 ${tally.quantile(0.99).toFixed(2)} ms, ` +
      `peak RSS ${rss.toFixed(0)} MiB, ${tally.lost} lost, ${tally.mismatched} mismatched ` +
      `(${tally.count} answered in ${seconds.toFixed(1)} s)\n`,
  );
  if (tally.firstProblem !== undefined) process.stdout.write(`  first problem: ${tally.firstProblem}\n`);
  return tally.lost === 0 && tally.mismatched === 0;
}

/** Runs `running`'s workers until `more()` says stop, or for `perWorker` round trips each. */
async function drive(running: RunningScenario, tally: Tally, more: (seq: number) => boolean): Promise<void> {
  await Promise.all(
    Array.from({ length: running.workers }, async (_, worker) => {
      for (let seq = 0; more(seq); seq++) await running.roundTrip(worker, seq, tally);
    }),
  );
}

async function fixedRun(dir: string, options: Options, scenarios: readonly Scenario[]): Promise<boolean> {
  let ok = true;
  for (const scenario of scenarios) {
    const perWorker = scenario.name === 'goplugin' ? options.streamRequests : options.requests;
    const running = await scenario.open(dir, options);
    const expected = running.workers * perWorker;
    const tally = new Tally(expected);
    const started = performance.now();
    await drive(running, tally, (seq) => seq < perWorker);
    const seconds = (performance.now() - started) / 1000;
    await running.close();
    const shape = `${running.shape} × ${perWorker} ${scenario.unit}`;
    ok = report(scenario.name, shape, tally, seconds, expected) && ok;
  }
  return ok;
}

/** Open file descriptors of a process (`/proc/<pid>/fd`), or undefined once it is gone. */
function fdCount(pid: number | 'self'): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** Resident set of a child process in MiB (`VmRSS` of `/proc/<pid>/status`). */
function childRss(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]) / 1024;
  } catch {
    return undefined;
  }
}

interface Sample {
  at: number;
  rss: number;
  heap: number;
  fds: number;
  children: { pid: number; fds: number | undefined; rss: number | undefined }[];
  answered: number[];
}

async function soak(dir: string, options: Options, scenarios: readonly Scenario[]): Promise<boolean> {
  const duration = options.duration!;
  const warmup = options.warmup ?? Math.max(options.sampleEvery, duration / 10);
  const baselineFds = fdCount('self')!;
  const running: RunningScenario[] = [];
  for (const scenario of scenarios) running.push(await scenario.open(dir, options));
  const tallies = running.map(() => new Tally(100_000));
  const samples: Sample[] = [];
  const started = performance.now();
  const sample = (): Sample => {
    const memory = process.memoryUsage();
    const taken: Sample = {
      at: (performance.now() - started) / 1000,
      rss: memory.rss / MiB,
      heap: (memory.heapUsed + memory.arrayBuffers) / MiB,
      fds: fdCount('self')!,
      children: running
        .flatMap((r) => r.childPids())
        .map((pid) => ({ pid, fds: fdCount(pid), rss: childRss(pid) })),
      answered: tallies.map((tally) => tally.count),
    };
    samples.push(taken);
    const children = taken.children
      .map((child) => `child ${child.pid}: ${child.fds} fds, ${child.rss?.toFixed(1)} MiB`)
      .join('; ');
    process.stdout.write(
      `sample ${taken.at.toFixed(0).padStart(4)} s: RSS ${taken.rss.toFixed(1)} MiB, heap ${taken.heap.toFixed(1)} MiB, ` +
        `${taken.fds} fds${children === '' ? '' : `; ${children}`}; answered ${taken.answered.join(' / ')}\n`,
    );
    return taken;
  };
  process.stdout.write(
    `soak: ${duration} s of ${scenarios.map((s, i) => `${s.name} (${running[i]!.shape})`).join(', ')}; ` +
      `sampling every ${options.sampleEvery} s, warm-up ${warmup} s, RSS bound ${options.rssBound} MiB\n`,
  );
  sample();
  const timer = setInterval(sample, options.sampleEvery * 1000);
  const deadline = started + duration * 1000;
  await Promise.all(running.map((r, i) => drive(r, tallies[i]!, () => performance.now() < deadline)));
  clearInterval(timer);
  const last = sample();
  const seconds = (performance.now() - started) / 1000;
  for (const r of running) await r.close();
  const closedFds = fdCount('self')!;

  let ok = true;
  scenarios.forEach((scenario, i) => {
    ok = report(scenario.name, `${running[i]!.shape}, ${scenario.unit}`, tallies[i]!, seconds) && ok;
  });
  // The reference is the first sample at the end of the warm-up (connections open, caches and pools filled,
  // the heap at its working size); every later one is held to it.
  const reference = samples.find((s) => s.at >= warmup * 0.99) ?? last;
  const later = samples.filter((s) => s.at > reference.at);
  const problems: string[] = [];
  const rssGrowth = Math.max(0, ...later.map((s) => s.rss - reference.rss));
  if (rssGrowth > options.rssBound) {
    problems.push(`RSS grew ${rssGrowth.toFixed(1)} MiB after the warm-up (bound ${options.rssBound} MiB)`);
  }
  for (const s of later) {
    if (s.fds !== reference.fds)
      problems.push(`${s.fds} fds at ${s.at.toFixed(0)} s, ${reference.fds} after warm-up`);
    s.children.forEach((child, index) => {
      const before = reference.children[index];
      if (before !== undefined && child.fds !== before.fds) {
        problems.push(
          `child ${child.pid}: ${child.fds} fds at ${s.at.toFixed(0)} s, ${before.fds} after warm-up`,
        );
      }
    });
  }
  if (closedFds !== baselineFds)
    problems.push(`${closedFds} fds after closing everything, ${baselineFds} before opening`);
  const childRssGrowth = Math.max(
    0,
    ...later.flatMap((s) =>
      s.children.map((child, index) => (child.rss ?? 0) - (reference.children[index]?.rss ?? 0)),
    ),
  );
  process.stdout.write(
    `soak: RSS ${reference.rss.toFixed(1)} MiB after warm-up, ${last.rss.toFixed(1)} MiB at the end, ` +
      `largest growth ${rssGrowth.toFixed(1)} MiB (bound ${options.rssBound}); fds ${reference.fds} → ` +
      `${last.fds} (closed: ${closedFds}, before: ${baselineFds}); children: largest RSS growth ` +
      `${childRssGrowth.toFixed(1)} MiB, fds ${reference.children.map((c) => c.fds).join('/')} → ` +
      `${last.children.map((c) => c.fds).join('/')}\n`,
  );
  for (const problem of problems.slice(0, 10)) process.stdout.write(`  soak problem: ${problem}\n`);
  process.stdout.write(problems.length === 0 ? 'soak: flat\n' : 'soak: NOT FLAT\n');
  return ok && problems.length === 0;
}

const options = parseArgs(process.argv.slice(2));
const scenarios = SCENARIOS.filter((scenario) => options.only.has(scenario.name));
const dir = mkdtempSync(join(tmpdir(), 'pw-load-'));
let ok = true;
try {
  ok =
    options.duration === undefined
      ? await fixedRun(dir, options, scenarios)
      : await soak(dir, options, scenarios);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  ok
    ? 'load: 0 lost, 0 mismatched\n'
    : 'load: FAILED (lost or mismatched responses, or a soak bound broken)\n',
);
process.exit(ok ? 0 : 1);
