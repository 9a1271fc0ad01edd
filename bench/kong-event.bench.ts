/**
 * Kong event loop cost: an access event with 0, 1 and 10 PDK calls, KongPluginClient → KongPluginServer over a
 * Unix socket (server in a child process), one event in flight. Reports events/s and the cost of one PDK call
 * (the extra time of 10 calls over 0, divided by 10) as a ratio to one plain RpcPeer round trip measured in the
 * same run (target ≤ 1.2). The same events against kong-pdk's JS plugin server are the reference. CPU time per
 * operation (bench/cpu.ts) is read around every slice in this process (Kong's side) and in the server the slice
 * talks to: a PDK call's CPU against an RpcPeer round trip's (both sides, target ≤ 1.2), and KongPluginServer's
 * CPU per event against kong-pdk's server (target ≤ 0.8).
 *
 *   npm run bench -- kong-event
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { KongPluginClient } from '../src/kong-rpc/index.js';
import { KONG_PEER_OPTIONS, RpcPeer } from '../src/msgpack-rpc/index.js';
import { probedSpawn, timedSlice } from './cpu.js';

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

/** Starts `node <args>` with the CPU probe (bench/cpu.ts); resolves once `readyLine` is on its stdout. */
function startChild(args: string[], readyLine?: string): Promise<ChildProcess> {
  const command = args[args.length - 1]!;
  const child = probedSpawn([], args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
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

/** A codec-only client for one call in flight: encode, write, decode the one-chunk answer. */
async function codecOnlyClient(
  path: string,
): Promise<{ request(method: string, params: unknown[]): Promise<unknown>; socket: Socket }> {
  const socket = createConnection(path);
  await new Promise((resolve) => socket.once('connect', resolve));
  const decoder = new Decoder();
  const encoder = new Encoder();
  let msgid = 0;
  let pending: ((value: unknown) => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    const answer = decoder.decode(chunk) as [number, number, unknown, unknown];
    const resolve = pending;
    pending = undefined;
    resolve?.(answer[3]);
  });
  return {
    socket,
    request(method, params) {
      const shared = encoder.encodeSharedRef([0, ++msgid, method, params]);
      const bytes = Buffer.allocUnsafe(shared.length);
      bytes.set(shared);
      return new Promise((resolve) => {
        pending = resolve;
        socket.write(bytes);
      });
    },
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};
const both = (cpu: { client: number; server: number }) => cpu.client + cpu.server;
const medianCpu = (values: { client: number; server: number }[]) => ({
  client: median(values.map((value) => value.client)),
  server: median(values.map((value) => value.server)),
  total: median(values.map((value) => value.client + value.server)),
});

async function main() {
  const load: { before: number[]; after?: number[] } = { before: loadavg() };
  const kongSocket = join(dir, 'bench.socket');
  const echoSocket = join(dir, 'echo.socket');
  const codecSocket = join(dir, 'codec.socket');
  const oursServer = await startChild(
    ['--import', 'tsx', join(benchDir, 'kong-event.server.ts'), kongSocket, echoSocket, codecSocket],
    'ready',
  );
  const referenceServer = await startChild([
    join(root, 'node_modules/kong-pdk/bin/kong-js-pluginserver'),
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
  const codec = await codecOnlyClient(codecSocket);
  const stepParams = [{ EventId: 0, Data: 'example.com' }];

  const pdk = (method: string) => (method === 'kong.request.get_header' ? 'example.com' : undefined);
  const ids = {
    ours: await Promise.all(CALLS.map(async (calls) => (await ours.startInstance('bench', { calls })).id)),
    reference: await Promise.all(
      CALLS.map(async (calls) => (await reference.startInstance('bench', { calls })).id),
    ),
  };

  /** CPU µs per operation of one kind: this process (Kong's side) and the server child. */
  type Cpu = { client: number; server: number };
  type Round = {
    rpc: number;
    ours: number[];
    reference: number[];
    ratio: number;
    referenceRatio: number;
    cpu: { rpc: Cpu; codecOnly: Cpu; ours: Cpu[]; reference: Cpu[] };
    /** CPU of one PDK call (the 10-call event less the 0-call one, over 10) / one RpcPeer round trip, both sides. */
    cpuRatio: number;
    referenceCpuRatio: number;
  };
  type Kind = {
    name: string;
    work: () => Promise<unknown>;
    server: ChildProcess;
    count: number;
    time: number;
    clientCpu: number;
    serverCpu: number;
  };
  const kind = (name: string, work: () => Promise<unknown>, server: ChildProcess): Kind => ({
    name,
    work,
    server,
    count: 0,
    time: 0,
    clientCpu: 0,
    serverCpu: 0,
  });
  const kinds: Kind[] = [
    kind('rpc', () => echo.request('plugin.Step', stepParams), oursServer),
    kind('codec-only', () => codec.request('plugin.Step', stepParams), oursServer),
    ...CALLS.map((calls, index) =>
      kind(`ours ${calls}`, () => ours.handleEvent(ids.ours[index] as number, 'access', pdk), oursServer),
    ),
    ...CALLS.map((calls, index) =>
      kind(
        `kong-pdk ${calls}`,
        () => reference.handleEvent(ids.reference[index] as number, 'access', pdk),
        referenceServer,
      ),
    ),
  ];
  const rounds: Round[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    for (const entry of kinds) {
      entry.count = 0;
      entry.time = 0;
      entry.clientCpu = 0;
      entry.serverCpu = 0;
    }
    // Short slices of every kind in turn: a burst of load from elsewhere hits all kinds alike, which matters
    // because the per-call cost is a difference of two rates. CPU is read around each slice, in this process
    // and in the one server that slice talks to (the other server is idle meanwhile).
    for (let slice = 0; slice < SLICES; slice++) {
      for (const entry of kinds) {
        const measured = await timedSlice(entry.work, SLICE, entry.server);
        entry.count += measured.count;
        entry.time += measured.time;
        entry.clientCpu += measured.clientCpu;
        entry.serverCpu += measured.serverCpu;
      }
    }
    const rates = kinds.map((entry) => (entry.count / entry.time) * 1000);
    const cpus = kinds.map((entry) => ({
      client: entry.clientCpu / entry.count,
      server: entry.serverCpu / entry.count,
    }));
    if (round < WARMUP_ROUNDS) continue;
    const rpc = rates[0] as number;
    const oursRates = rates.slice(2, 2 + CALLS.length);
    const referenceRates = rates.slice(2 + CALLS.length);
    const perCall = (list: number[]) => (1 / (list[2] as number) - 1 / (list[0] as number)) / 10;
    const cpuRpc = cpus[0]!;
    const cpuCodec = cpus[1]!;
    const oursCpu = cpus.slice(2, 2 + CALLS.length);
    const referenceCpu = cpus.slice(2 + CALLS.length);
    const cpuPerCall = (list: Cpu[]) => (both(list[2]!) - both(list[0]!)) / 10;
    rounds.push({
      rpc,
      ours: oursRates,
      reference: referenceRates,
      ratio: perCall(oursRates) / (1 / rpc),
      referenceRatio: perCall(referenceRates) / (1 / rpc),
      cpu: { rpc: cpuRpc, codecOnly: cpuCodec, ours: oursCpu, reference: referenceCpu },
      cpuRatio: cpuPerCall(oursCpu) / both(cpuRpc),
      referenceCpuRatio: cpuPerCall(referenceCpu) / both(cpuRpc),
    });
    const list = (values: number[]) => values.map((value) => value.toFixed(0)).join(' / ');
    process.stdout.write(
      `round ${round + 1 - WARMUP_ROUNDS}/${ROUNDS}: rpc ${rpc.toFixed(0)} rt/s; events/s (0/1/10 calls) ` +
        `${list(oursRates)}, kong-pdk ${list(referenceRates)}; ratio ${rounds.at(-1)?.ratio.toFixed(2)}, ` +
        `CPU ratio ${rounds.at(-1)?.cpuRatio.toFixed(2)}; server CPU µs/event ${list(oursCpu.map((c) => c.server))}, ` +
        `kong-pdk ${list(referenceCpu.map((c) => c.server))}\n`,
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
    // CPU µs per operation (medians of rounds): Kong's side (this process) and the plugin server's side.
    cpu: {
      rpcRoundTrip: medianCpu(rounds.map((r) => r.cpu.rpc)),
      // The ceiling: one round trip of the same message through the bare codec. A PDK call is one such round trip
      // (Kong answers the plugin's call in a plugin.Step), and an event with n calls n + 1 of them.
      codecOnlyRoundTrip: medianCpu(rounds.map((r) => r.cpu.codecOnly)),
      pdkCallVsCodecOnlyRoundTrip: median(
        rounds.map((r) => (both(r.cpu.ours[2]!) - both(r.cpu.ours[0]!)) / 10 / both(r.cpu.codecOnly)),
      ),
      // Server CPU per event / (n + 1) codec-only server round trips: how far from the ceiling each server is.
      serverVsCeiling: Object.fromEntries(
        CALLS.map((calls, index) => [
          `${calls} PDK calls`,
          {
            pluginwire: median(
              rounds.map((r) => r.cpu.ours[index]!.server / ((calls + 1) * r.cpu.codecOnly.server)),
            ),
            kongPdk: median(
              rounds.map((r) => r.cpu.reference[index]!.server / ((calls + 1) * r.cpu.codecOnly.server)),
            ),
          },
        ]),
      ),
      events: Object.fromEntries(
        CALLS.map((calls, index) => [
          `${calls} PDK calls`,
          {
            pluginwire: medianCpu(rounds.map((r) => r.cpu.ours[index]!)),
            kongPdk: medianCpu(rounds.map((r) => r.cpu.reference[index]!)),
            // KongPluginServer's CPU per event / kong-pdk server's, per round, median (target ≤ 0.8).
            serverRatio: median(
              rounds.map((r) => r.cpu.ours[index]!.server / r.cpu.reference[index]!.server),
            ),
          },
        ]),
      ),
      pdkCallVsRpcRoundTrip: {
        pluginwire: median(rounds.map((r) => r.cpuRatio)),
        kongPdk: median(rounds.map((r) => r.referenceCpuRatio)),
      },
      targets: { pdkCallVsRpcRoundTrip: 1.2, serverVsKongPdk: 0.8 },
    },
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
  const cpu = summary.cpu;
  process.stdout.write(
    `  CPU µs per op (Kong side + server side): RpcPeer round trip ${cpu.rpcRoundTrip.client.toFixed(1)} + ${cpu.rpcRoundTrip.server.toFixed(1)}, ` +
      `codec-only round trip (the ceiling) ${cpu.codecOnlyRoundTrip.client.toFixed(1)} + ${cpu.codecOnlyRoundTrip.server.toFixed(1)}\n`,
  );
  for (const [label, value] of Object.entries(cpu.events)) {
    process.stdout.write(
      `  event, ${label.padEnd(13)} pluginwire ${value.pluginwire.client.toFixed(1)} + ${value.pluginwire.server.toFixed(1)}` +
        `   kong-pdk ${value.kongPdk.client.toFixed(1)} + ${value.kongPdk.server.toFixed(1)}` +
        `   server CPU pluginwire/kong-pdk ${value.serverRatio.toFixed(2)} (target <= 0.8)\n`,
    );
  }
  process.stdout.write(
    `  CPU of one PDK call / one RpcPeer round trip (both sides): pluginwire ${cpu.pdkCallVsRpcRoundTrip.pluginwire.toFixed(2)} ` +
      `(target <= 1.2), kong-pdk ${cpu.pdkCallVsRpcRoundTrip.kongPdk.toFixed(2)}; pluginwire's PDK call / codec-only round trip ${cpu.pdkCallVsCodecOnlyRoundTrip.toFixed(2)}\n` +
      `  server CPU per event / (n + 1) codec-only server round trips: ${Object.entries(cpu.serverVsCeiling)
        .map(
          ([label, value]) =>
            `${label}: pluginwire ${value.pluginwire.toFixed(2)}, kong-pdk ${value.kongPdk.toFixed(2)}`,
        )
        .join('; ')}\n`,
  );
  const noisy = Math.max(load.before[0] ?? 0, load.after?.[0] ?? 0) > cpus().length;
  if (noisy) process.stdout.write(`  note: load average above ${cpus().length} cores; figures are noisy\n`);

  mkdirSync(join(benchDir, 'results'), { recursive: true });
  writeFileSync(
    join(benchDir, 'results', 'kong-event.json'),
    `${JSON.stringify({ scenario: 'kong-event', node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, load, noisy, rounds, summary, pass }, null, 2)}\n`,
  );
  echo.destroy();
  codec.socket.destroy();
  await ours.close();
  await reference.close();
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
