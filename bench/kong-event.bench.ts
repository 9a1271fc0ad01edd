/**
 * Kong event loop cost: an access event with 0, 1 and 10 PDK calls, KongPluginClient → KongPluginServer over a
 * Unix socket (server in a child process), one event in flight. Reports events/s and the cost of one PDK call
 * (the extra time of 10 calls over 0, divided by 10) as a ratio to one plain RpcPeer round trip measured in the
 * same run (target ≤ 1.2). The same events against kong-pdk's JS plugin server are the reference.
 *
 *   npm run bench -- kong-event
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KongPluginClient } from '../src/kong-rpc/index.js';
import { KONG_PEER_OPTIONS, RpcPeer } from '../src/msgpack-rpc/index.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = join(benchDir, '..');
const ROUNDS = 5;
// One more round first, discarded: JIT warm-up and the servers' own start-up work distort it.
const WARMUP_ROUNDS = 1;
const SLICES = 10;
const SLICE = 100;
const CALLS = [0, 1, 10] as const;

const dir = mkdtempSync(join(tmpdir(), 'pw-bench-kong-'));
const children: ChildProcess[] = [];

function startChild(command: string, args: string[], readyLine?: string): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
  children.push(child);
  if (readyLine === undefined) return Promise.resolve(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(readyLine)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before it was ready`)));
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

async function main() {
  const load: { before: number[]; after?: number[] } = { before: loadavg() };
  const kongSocket = join(dir, 'bench.socket');
  const echoSocket = join(dir, 'echo.socket');
  await startChild(
    process.execPath,
    ['--import', 'tsx', join(benchDir, 'kong-event.server.ts'), kongSocket, echoSocket],
    'ready',
  );
  await startChild(join(root, 'node_modules/.bin/kong-js-pluginserver'), [
    '-p',
    dir,
    '--sock-name',
    'js.sock',
    '-d',
    join(benchDir, 'fixtures/kong-pdk/plugins'),
  ]);

  const ours = new KongPluginClient({ socketPath: kongSocket });
  const reference = new KongPluginClient({ socketPath: join(dir, 'js.sock'), connectRetry: 20_000 });
  const socket = createConnection(echoSocket);
  await new Promise((resolve) => socket.once('connect', resolve));
  const echo = new RpcPeer(socket, KONG_PEER_OPTIONS);
  const stepParams = [{ EventId: 0, Data: 'example.com' }];

  const pdk = (method: string) => (method === 'kong.request.get_header' ? 'example.com' : undefined);
  const ids = {
    ours: await Promise.all(CALLS.map(async (calls) => (await ours.startInstance('bench', { calls })).id)),
    reference: await Promise.all(
      CALLS.map(async (calls) => (await reference.startInstance('bench', { calls })).id),
    ),
  };

  type Round = { rpc: number; ours: number[]; reference: number[]; ratio: number; referenceRatio: number };
  type Kind = { name: string; work: () => Promise<unknown>; count: number; time: number };
  const kinds: Kind[] = [
    { name: 'rpc', work: () => echo.request('plugin.Step', stepParams), count: 0, time: 0 },
    ...CALLS.map((calls, index) => ({
      name: `ours ${calls}`,
      work: () => ours.handleEvent(ids.ours[index] as number, 'access', pdk),
      count: 0,
      time: 0,
    })),
    ...CALLS.map((calls, index) => ({
      name: `kong-pdk ${calls}`,
      work: () => reference.handleEvent(ids.reference[index] as number, 'access', pdk),
      count: 0,
      time: 0,
    })),
  ];
  const rounds: Round[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    for (const kind of kinds) {
      kind.count = 0;
      kind.time = 0;
    }
    // Short slices of every kind in turn: a burst of load from elsewhere hits all kinds alike, which matters
    // because the per-call cost is a difference of two rates.
    for (let slice = 0; slice < SLICES; slice++) {
      for (const kind of kinds) {
        const start = performance.now();
        const end = start + SLICE;
        while (performance.now() < end) {
          await kind.work();
          kind.count++;
        }
        kind.time += performance.now() - start;
      }
    }
    const rates = kinds.map((kind) => (kind.count / kind.time) * 1000);
    if (round < WARMUP_ROUNDS) continue;
    const rpc = rates[0] as number;
    const oursRates = rates.slice(1, 1 + CALLS.length);
    const referenceRates = rates.slice(1 + CALLS.length);
    const perCall = (list: number[]) => (1 / (list[2] as number) - 1 / (list[0] as number)) / 10;
    rounds.push({
      rpc,
      ours: oursRates,
      reference: referenceRates,
      ratio: perCall(oursRates) / (1 / rpc),
      referenceRatio: perCall(referenceRates) / (1 / rpc),
    });
    const list = (values: number[]) => values.map((value) => value.toFixed(0)).join(' / ');
    process.stdout.write(
      `round ${round + 1 - WARMUP_ROUNDS}/${ROUNDS}: rpc ${rpc.toFixed(0)} rt/s; events/s (0/1/10 calls) ` +
        `${list(oursRates)}, kong-pdk ${list(referenceRates)}; ratio ${rounds.at(-1)?.ratio.toFixed(2)}\n`,
    );
  }
  load.after = loadavg();

  const summary = {
    rpcRoundTripsPerSecond: median(rounds.map((r) => r.rpc)),
    eventsPerSecond: Object.fromEntries(
      CALLS.map((calls, index) => [
        `${calls} PDK calls`,
        {
          pluginwire: median(rounds.map((r) => r.ours[index] as number)),
          kongPdk: median(rounds.map((r) => r.reference[index] as number)),
        },
      ]),
    ),
    pdkCallCostVsRpcRoundTrip: {
      pluginwire: median(rounds.map((r) => r.ratio)),
      kongPdk: median(rounds.map((r) => r.referenceRatio)),
    },
    target: 1.2,
  };
  const pass = summary.pdkCallCostVsRpcRoundTrip.pluginwire <= summary.target;
  process.stdout.write(
    '\nkong-event (1 event in flight, Unix socket, server in a child process; medians of 5 rounds)\n',
  );
  process.stdout.write(`  plain RpcPeer round trip: ${summary.rpcRoundTripsPerSecond.toFixed(0)} /s\n`);
  process.stdout.write('  events/s              pluginwire   kong-pdk\n');
  for (const [label, value] of Object.entries(summary.eventsPerSecond)) {
    process.stdout.write(
      `  ${label.padEnd(20)} ${value.pluginwire.toFixed(0).padStart(10)} ${value.kongPdk.toFixed(0).padStart(10)}\n`,
    );
  }
  process.stdout.write(
    `  cost per PDK call / RpcPeer round trip: pluginwire ${summary.pdkCallCostVsRpcRoundTrip.pluginwire.toFixed(2)} ` +
      `(target <= ${summary.target}: ${pass ? 'pass' : 'FAIL'}), kong-pdk ${summary.pdkCallCostVsRpcRoundTrip.kongPdk.toFixed(2)}\n`,
  );
  const noisy = Math.max(load.before[0] ?? 0, load.after?.[0] ?? 0) > cpus().length;
  if (noisy) process.stdout.write(`  note: load average above ${cpus().length} cores; figures are noisy\n`);

  mkdirSync(join(benchDir, 'results'), { recursive: true });
  writeFileSync(
    join(benchDir, 'results', 'kong-event.json'),
    `${JSON.stringify({ scenario: 'kong-event', node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, load, noisy, rounds, summary, pass }, null, 2)}\n`,
  );
  echo.destroy();
  await ours.close();
  await reference.close();
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
