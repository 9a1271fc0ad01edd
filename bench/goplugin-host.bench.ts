/**
 * goplugin host: the Go KV plugin (Debian's go-plugin 1.0.1) under the TypeScript host (`startPlugin`) versus
 * under the Go host fixture (`kvhost`), measured in the same run:
 *
 *   - spawn → first call: `startPlugin()` until the first `Put` answered, in this process, versus kvhost's own
 *     `client.Client()` → first `Put` (its `firstCallMs`); plus each host's process start measured from outside
 *     (Node's bare startup, `node -e 0`, and kvhost's time to its NEGOTIATED line), so the cost of Node's own
 *     startup is visible separately. Target: the TS host adds at most 20% to the Go host's time to first call
 *     beyond Node's startup.
 *     Node's `spawn()` is itself measured in this process (`spawn('/bin/true')` until it returns): libuv forks
 *     the whole Node process, so it blocks for milliseconds where Go's vfork-style start takes a fraction of one,
 *     and it grows with the host's memory. The figure without it is printed for reading; the target is judged on
 *     the plain ratio.
 *   - the ceiling: a bare grpc-js host (`bareFirstCall`: spawn, first stdout line, one grpc-js client, one Put,
 *     nothing else), alternating with the two hosts above, so `startPlugin`'s distance from the least any
 *     TypeScript host can do is measured in the same run, with and without Node's `spawn()` cost.
 *   - calls/s: sequential Put+Get round trips (64-byte values) through both hosts, each after WARMUP untimed
 *     round trips (the JIT needs them; so does the plugin), ROUNDS rounds alternating the two hosts, medians.
 *
 *   npm run bench -- goplugin-host
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Client,
  credentials,
  loadPackageDefinition,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { startPlugin } from '../src/goplugin/index.js';
import { KV_PROTO_DIR, KVHOST, KVPLUGIN } from '../test/fixtures/go/fixtures.js';
import { cpuNow, cpuSince, procCpu } from './cpu.js';

const RUNS = 21;
const CALLS = 3000;
const WARMUP = 1000;
const CALL_ROUNDS = 5;
const benchDir = dirname(fileURLToPath(import.meta.url));

if (!existsSync(KVHOST) || !existsSync(KVPLUGIN)) {
  process.stderr.write('goplugin-host bench: Go fixtures missing; run `npm run peers:install`\n');
  process.exit(1);
}

const KV = (
  loadPackageDefinition(loadSync(join(KV_PROTO_DIR, 'kv.proto'), { keepCase: true })) as unknown as {
    proto: { KV: ServiceClientConstructor };
  }
).proto.KV;

function unary(client: Client, method: 'Put' | 'Get', request: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (r: object, cb: (e: Error | null, v: unknown) => void) => void>)[
      method
    ]!(request, (error, value) => (error ? reject(error) : resolve(value)));
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Spawns a command; resolves with ms until `marker` appears on stdout (or exit), and its full stdout. */
function timedRun(
  command: string,
  args: string[],
  env: Record<string, string>,
  marker?: string,
): Promise<{ markerMs: number; exitMs: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let markerMs = Number.NaN;
    let stdout = '';
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (marker !== undefined && Number.isNaN(markerMs) && stdout.includes(marker)) {
        markerMs = performance.now() - started;
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${command} exited with ${code}: ${stdout}`));
      else resolve({ markerMs, exitMs: performance.now() - started, stdout });
    });
  });
}

function kvhostResult(stdout: string): Record<string, number> {
  const line = stdout.split('\n').find((entry) => entry.startsWith('RESULT '));
  if (line === undefined) throw new Error(`kvhost printed no RESULT line: ${stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as Record<string, number>;
}

async function tsFirstCall(): Promise<number> {
  const started = performance.now();
  const client = await startPlugin({
    command: KVPLUGIN,
    magicCookieKey: 'BASIC_PLUGIN',
    magicCookieValue: 'hello',
  });
  try {
    await unary(client.makeClient(KV), 'Put', { key: 'hello', value: Buffer.from('first') });
    return performance.now() - started;
  } finally {
    await client.kill();
  }
}

/**
 * The least any TypeScript go-plugin host can do with Node + grpc-js (the ceiling for `startPlugin`): spawn the
 * same plugin with the environment `startPlugin` sets by default (cookie, versions, port range; no AutoMTLS, which
 * is off by default; no socket directory, which go-plugin 1.0.1 ignores), read the first stdout line, split it,
 * open a grpc-js client on the address it names and call Put once, then SIGKILL the process. No validation, no
 * stderr parsing, no health check, broker or stdio stream. The service definition (`KV`) is loaded before timing,
 * as it is for `startPlugin`'s caller.
 */
async function bareFirstCall(): Promise<number> {
  const started = performance.now();
  const child = spawn(KVPLUGIN, [], {
    env: {
      ...process.env,
      BASIC_PLUGIN: 'hello',
      PLUGIN_PROTOCOL_VERSIONS: '1',
      PLUGIN_MIN_PORT: '10000',
      PLUGIN_MAX_PORT: '25000',
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const closed = new Promise((resolve) => child.once('close', resolve));
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const end = text.indexOf('\n');
      if (end >= 0) resolve(text.slice(0, end));
    });
    child.once('exit', () => reject(new Error(`plugin exited before its handshake: ${text}`)));
  });
  // core|app|network|address|protocol[|cert]
  const [, , network, address] = line.trim().split('|');
  const kv = new KV(network === 'unix' ? `unix:${address}` : address!, credentials.createInsecure());
  try {
    await unary(kv, 'Put', { key: 'hello', value: Buffer.from('first') });
    return performance.now() - started;
  } finally {
    kv.close();
    child.kill('SIGKILL');
    await closed;
  }
}

/** Calls per second through the TS host, and CPU µs per call of this host and of the Go plugin process. */
async function tsCallsPerSecond(
  calls: number,
): Promise<{ rate: number; hostCpu: number; pluginCpu: number }> {
  const client = await startPlugin({
    command: KVPLUGIN,
    magicCookieKey: 'BASIC_PLUGIN',
    magicCookieValue: 'hello',
  });
  try {
    const kv = client.makeClient(KV);
    const payload = Buffer.alloc(64, 'x');
    for (let i = 0; i < WARMUP; i++) {
      await unary(kv, 'Put', { key: 'warm', value: payload });
      await unary(kv, 'Get', { key: 'warm' });
    }
    const hostCpu = cpuNow();
    const pluginCpu = procCpu(client.pid);
    const started = performance.now();
    for (let i = 0; i < calls / 2; i++) {
      await unary(kv, 'Put', { key: 'bench', value: payload });
      await unary(kv, 'Get', { key: 'bench' });
    }
    return {
      rate: calls / ((performance.now() - started) / 1000),
      hostCpu: cpuSince(hostCpu) / calls,
      pluginCpu: (procCpu(client.pid) - pluginCpu) / calls,
    };
  } finally {
    await client.kill();
  }
}

/** How long `spawn()` blocks this process for a trivial command, in ms. */
async function nodeSpawnCost(): Promise<number> {
  const started = performance.now();
  const child = spawn('/bin/true', { stdio: 'ignore' });
  const blocked = performance.now() - started;
  await new Promise((resolve) => child.once('close', resolve));
  return blocked;
}

const nodeBare: number[] = [];
const nodeSpawn: number[] = [];
const goFirstCall: number[] = [];
const goProcessToHandshake: number[] = [];
const goHandshakeInProcess: number[] = [];
const tsFirstCalls: number[] = [];
const bareFirstCalls: number[] = [];
// Warm both paths once (file cache, JIT) before measuring.
await timedRun(process.execPath, ['-e', '0'], {});
await timedRun(KVHOST, [KVPLUGIN], {}, 'NEGOTIATED');
await tsFirstCall();
await bareFirstCall();
// The three hosts take turns in a rotating order, so none always runs right after another's clean-up.
const hosts: (() => Promise<void>)[] = [
  async () => {
    const go = await timedRun(KVHOST, [KVPLUGIN], {}, 'NEGOTIATED');
    const result = kvhostResult(go.stdout);
    goFirstCall.push(result.firstCallMs!);
    goHandshakeInProcess.push(result.handshakeMs!);
    goProcessToHandshake.push(go.markerMs);
  },
  async () => {
    tsFirstCalls.push(await tsFirstCall());
  },
  async () => {
    bareFirstCalls.push(await bareFirstCall());
  },
];
for (let run = 0; run < RUNS; run++) {
  nodeBare.push((await timedRun(process.execPath, ['-e', '0'], {})).exitMs);
  for (let turn = 0; turn < hosts.length; turn++) await hosts[(run + turn) % hosts.length]!();
  nodeSpawn.push(await nodeSpawnCost());
}

const goCallRates: number[] = [];
const tsCallRates: number[] = [];
const cpu = {
  goHost: [] as number[],
  goHostPlugin: [] as number[],
  tsHost: [] as number[],
  tsHostPlugin: [] as number[],
};
for (let round = 0; round < CALL_ROUNDS; round++) {
  const env = { KV_BENCH_CALLS: String(CALLS / 2), KV_BENCH_WARMUP: String(WARMUP) };
  const go = kvhostResult((await timedRun(KVHOST, [KVPLUGIN], env)).stdout);
  goCallRates.push(go.callsPerSec!);
  cpu.goHost.push(go.hostCpuUsPerCall!);
  cpu.goHostPlugin.push(go.pluginCpuUsPerCall!);
  const ts = await tsCallsPerSecond(CALLS);
  tsCallRates.push(ts.rate);
  cpu.tsHost.push(ts.hostCpu);
  cpu.tsHostPlugin.push(ts.pluginCpu);
}
const goCalls = median(goCallRates);
const tsCalls = median(tsCallRates);

const figures = {
  runs: RUNS,
  // Two cores shared with other work: these figures swing with the load, so it is recorded with them.
  loadAverage1m: loadavg()[0],
  nodeBareStartupMs: median(nodeBare),
  goHostFirstCallMs: median(goFirstCall),
  tsHostFirstCallMs: median(tsFirstCalls),
  firstCallRatioTsOverGo: median(tsFirstCalls) / median(goFirstCall),
  nodeSpawnBlockingMs: median(nodeSpawn),
  hostRssMb: process.memoryUsage().rss / (1024 * 1024),
  firstCallRatioWithoutNodeSpawn: (median(tsFirstCalls) - median(nodeSpawn)) / median(goFirstCall),
  // The ceiling: a bare grpc-js host (spawn, first line, one client, Put), alternating with the two above.
  bareHostFirstCallMs: median(bareFirstCalls),
  bareHostRatioOverGo: median(bareFirstCalls) / median(goFirstCall),
  bareHostRatioWithoutNodeSpawn: (median(bareFirstCalls) - median(nodeSpawn)) / median(goFirstCall),
  tsHostRatioOverBare: median(tsFirstCalls) / median(bareFirstCalls),
  goHostProcessStartOverheadMs: median(goProcessToHandshake) - median(goHandshakeInProcess),
  tsHostEndToEndEstimateMs: median(nodeBare) + median(tsFirstCalls),
  goHostEndToEndMs: median(goProcessToHandshake) - median(goHandshakeInProcess) + median(goFirstCall),
  calls: CALLS,
  warmupRoundTrips: WARMUP,
  callRounds: CALL_ROUNDS,
  goHostCallsPerSec: goCalls,
  tsHostCallsPerSec: tsCalls,
  goHostCallsPerSecRuns: goCallRates,
  tsHostCallsPerSecRuns: tsCallRates,
  callsRatioTsOverGo: tsCalls / goCalls,
  // CPU µs per call (medians of rounds): each host process, and the Go plugin under it (/proc, 10 ms ticks).
  cpuUsPerCall: {
    goHost: median(cpu.goHost),
    goHostPlugin: median(cpu.goHostPlugin),
    tsHost: median(cpu.tsHost),
    tsHostPlugin: median(cpu.tsHostPlugin),
  },
  target: 'firstCallRatioTsOverGo <= 1.2 (beyond Node startup)',
};

const print = (label: string, value: number, unit: string): void => {
  process.stdout.write(`${label.padEnd(46)} ${value.toFixed(unit === 'x' ? 2 : 1).padStart(10)} ${unit}\n`);
};
print('load average (1 min) at the end', figures.loadAverage1m ?? 0, 'x');
print('Node bare startup (node -e 0), median', figures.nodeBareStartupMs, 'ms');
print('Go host: client.Client() -> first Put, median', figures.goHostFirstCallMs, 'ms');
print('TS host: startPlugin() -> first Put, median', figures.tsHostFirstCallMs, 'ms');
print('  ratio TS / Go (target <= 1.20)', figures.firstCallRatioTsOverGo, 'x');
print("Node's spawn() blocking this process, median", figures.nodeSpawnBlockingMs, 'ms');
print(
  `  ratio without it (host RSS ${Math.round(figures.hostRssMb)} MiB)`,
  figures.firstCallRatioWithoutNodeSpawn,
  'x',
);
print('bare grpc-js host: spawn -> first Put, median', figures.bareHostFirstCallMs, 'ms');
print('  ratio bare / Go', figures.bareHostRatioOverGo, 'x');
print("  ratio bare / Go without Node's spawn()", figures.bareHostRatioWithoutNodeSpawn, 'x');
print('  ratio TS host / bare host', figures.tsHostRatioOverBare, 'x');
print('Go host end to end (process spawn -> first Put)', figures.goHostEndToEndMs, 'ms');
print('TS host end to end estimate (Node start + above)', figures.tsHostEndToEndEstimateMs, 'ms');
print(`Go host Put+Get calls/s (${CALLS} calls)`, figures.goHostCallsPerSec, 'calls/s');
print(`TS host Put+Get calls/s (${CALLS} calls)`, figures.tsHostCallsPerSec, 'calls/s');
print('  ratio TS / Go', figures.callsRatioTsOverGo, 'x');
print(
  'Go host CPU per call (host + plugin)',
  figures.cpuUsPerCall.goHost + figures.cpuUsPerCall.goHostPlugin,
  'µs',
);
print(
  'TS host CPU per call (host + plugin)',
  figures.cpuUsPerCall.tsHost + figures.cpuUsPerCall.tsHostPlugin,
  'µs',
);
print('  TS host process alone', figures.cpuUsPerCall.tsHost, 'µs');
print('  Go host process alone', figures.cpuUsPerCall.goHost, 'µs');

mkdirSync(join(benchDir, 'results'), { recursive: true });
writeFileSync(join(benchDir, 'results', 'goplugin-host.json'), `${JSON.stringify(figures, null, 2)}\n`);
