/**
 * CPU time per operation, for every process a benchmark involves. Wall-clock rates on a shared 2-core machine
 * move by 2× between runs; CPU time per operation moves far less, and it is what a gateway pays per call.
 *
 * - This process: `process.cpuUsage()` deltas ({@link cpuNow}, {@link cpuSince}).
 * - A child: spawn it with {@link probedSpawn} (Node is started with `--require bench/cpu-probe.cjs` and an IPC
 *   channel); {@link childCpu} asks it for its cumulative `process.cpuUsage()`.
 * - A window over this process and some children: {@link CpuWindow}, `start()` / `stop()` → µs of each.
 *
 * Figures are user + system time in microseconds. Divide by the operations counted over the same window
 * ({@link perOp}).
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROBE = join(dirname(fileURLToPath(import.meta.url)), 'cpu-probe.cjs');

/** User + system CPU time of this process so far, in µs. */
export function cpuNow(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** CPU µs this process used since `start` (a {@link cpuNow} value). */
export function cpuSince(start: number): number {
  return cpuNow() - start;
}

/** µs per operation, or NaN without operations. */
export function perOp(cpuMicros: number, operations: number): number {
  return operations > 0 ? cpuMicros / operations : Number.NaN;
}

/**
 * Spawns `node [nodeArgs…] <args…>` with the CPU probe preloaded and an IPC channel as fd 3 (stdio entries 0-2
 * as given, default `['pipe', 'pipe', 'inherit']`).
 */
export function probedSpawn(
  nodeArgs: readonly string[],
  args: readonly string[],
  options: Omit<SpawnOptions, 'stdio'> & {
    stdio?: ['pipe' | 'ignore' | 'inherit', 'pipe' | 'ignore' | 'inherit', 'pipe' | 'ignore' | 'inherit'];
  } = {},
): ChildProcess {
  const [stdin, stdout, stderr] = options.stdio ?? ['pipe', 'pipe', 'inherit'];
  return spawn(process.execPath, ['--require', PROBE, ...nodeArgs, ...args], {
    ...options,
    stdio: [stdin, stdout, stderr, 'ipc'],
  });
}

let nextProbe = 0;

/** The cumulative CPU µs of a child spawned with {@link probedSpawn} (bounded: rejects after 10 s). */
export function childCpu(child: ChildProcess): Promise<number> {
  const id = ++nextProbe;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`child ${child.pid} did not answer the CPU probe`));
    }, 10_000);
    timer.unref();
    const onMessage = (message: { cpuProbe?: number; usage?: NodeJS.CpuUsage }) => {
      if (message?.cpuProbe !== id || message.usage === undefined) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message.usage.user + message.usage.system);
    };
    child.on('message', onMessage);
    child.send({ cpuProbe: id });
  });
}

/** CPU µs of this process and of some probed children over one window. */
export interface CpuTotals {
  /** This process. */
  self: number;
  /** Each child, in the order given to the window. */
  children: number[];
}

/** Measures this process and `children` between {@link CpuWindow.start} and {@link CpuWindow.stop}. */
export class CpuWindow {
  #self = 0;
  #children: number[] = [];
  constructor(readonly childProcesses: readonly ChildProcess[] = []) {}

  /** Takes the starting readings. */
  async start(): Promise<void> {
    this.#children = await Promise.all(this.childProcesses.map(childCpu));
    this.#self = cpuNow();
  }

  /** Takes the closing readings; returns µs used by each process since {@link CpuWindow.start}. */
  async stop(): Promise<CpuTotals> {
    const self = cpuSince(this.#self);
    const after = await Promise.all(this.childProcesses.map(childCpu));
    return { self, children: after.map((value, index) => value - this.#children[index]!) };
  }
}

/**
 * User + system CPU µs of any process (a Go plugin, say) from `/proc/<pid>/stat` (Linux), or NaN when it cannot be
 * read. The kernel counts in USER_HZ ticks (100 a second): 10 ms steps, so read it over windows of a second or more.
 */
export function procCpu(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) is in parentheses and may hold spaces: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

/** What one {@link timedSlice} did. */
export interface SliceResult {
  /** Operations completed. */
  count: number;
  /** Wall-clock ms. */
  time: number;
  /** CPU µs of this process. */
  clientCpu: number;
  /** CPU µs of `server`. */
  serverCpu: number;
}

/**
 * Runs `work` one operation at a time for `duration` ms and reads the CPU time of this process and of the probed
 * `server` around it. Benchmarks that compare kinds run short slices of each kind in turn, so a burst of load from
 * elsewhere hits all kinds alike.
 */
export async function timedSlice(
  work: () => Promise<unknown>,
  duration: number,
  server: ChildProcess,
): Promise<SliceResult> {
  const serverBefore = await childCpu(server);
  const clientBefore = cpuNow();
  const start = performance.now();
  const end = start + duration;
  let count = 0;
  while (performance.now() < end) {
    await work();
    count++;
  }
  const time = performance.now() - start;
  const clientCpu = cpuNow() - clientBefore;
  return { count, time, clientCpu, serverCpu: (await childCpu(server)) - serverBefore };
}
