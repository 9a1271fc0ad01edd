/**
 * Kong event loop over ProtoBuf:1 next to MsgPack:1, both sides run by pluginwire (KongPluginClient in this
 * process, KongPluginServer in a child process per protocol), one event in flight over a Unix socket: events/s with
 * 0, 1 and 10 PDK calls, and the cost of one PDK call (the extra time of 10 calls over 0, divided by 10) as a ratio
 * to one plain RpcPeer round trip and to one MsgPack:1 PDK call, all measured in the same run. Target: a
 * ProtoBuf:1 PDK call costs at most 1.2 MsgPack:1 PDK calls. The ceiling is measured too: a bare ProtoBuf:1-framed
 * echo of a PDK call's bytes (no protobuf, no event), the least any ProtoBuf:1 implementation can cost here.
 *
 * CPU time per event (or round trip) is reported for each process next to the rates (bench/cpu.ts: `process.cpuUsage()`;
 * the server's is read through the CPU probe before and after each slice), since wall-clock rates are noisy on a shared machine.
 *
 *   npm run bench -- kong-event-protobuf
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KongPluginClient, type KongProtocol } from '../src/kong-rpc/index.js';
import { encodeFrame, FrameReader } from '../src/kong-rpc/protobuf/framing.js';
import { KONG_PEER_OPTIONS, RpcPeer } from '../src/msgpack-rpc/index.js';
import { probedSpawn, timedSlice } from './cpu.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = join(benchDir, '..');
const ROUNDS = 5;
const WARMUP_ROUNDS = 1;
const SLICES = 8;
const SLICE = 100;
const CALLS = [0, 1, 10] as const;
const TARGET = 1.2;

const dir = mkdtempSync(join(tmpdir(), 'pw-bench-kong-pb-'));
const children: ChildProcess[] = [];

/** Starts a server child with the CPU probe (bench/cpu.ts); resolves once it prints `ready`. */
function startServer(args: string[]): Promise<ChildProcess> {
  const child = probedSpawn(['--import', 'tsx'], [join(benchDir, 'kong-event-protobuf.server.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: root,
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready')) resolve(child);
    });
    child.once('exit', (code) =>
      reject(new Error(`server ${args.join(' ')} exited with ${code} before it was ready`)),
    );
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/** A client of the frame echo: writes a PDK call's two frames, waits for one frame back. */
async function frameEchoClient(socketPath: string): Promise<{ roundTrip(): Promise<void>; socket: Socket }> {
  const socket = createConnection(socketPath);
  await new Promise((resolve) => socket.once('connect', resolve));
  const reader = new FrameReader();
  let waiting: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    reader.push(chunk);
    while (reader.read() !== undefined) {
      const resolve = waiting;
      waiting = undefined;
      resolve?.();
    }
  });
  // kong.request.get_header('host') as the plugin server sends it: method name, then String{v:"host"}.
  const call = Buffer.concat([
    encodeFrame(Buffer.from('kong.request.get_header')),
    encodeFrame(Buffer.from('0a04686f7374', 'hex')),
  ]);
  return {
    socket,
    roundTrip: () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        socket.write(call);
      }),
  };
}

interface Kind {
  name: string;
  work: () => Promise<unknown>;
  server: ChildProcess;
  count: number;
  time: number;
  clientCpu: number;
  serverCpu: number;
}

async function main() {
  const load: { before: number[]; after?: number[] } = { before: loadavg() };
  const sockets = {
    msgpack: join(dir, 'msgpack.socket'),
    protobuf: join(dir, 'protobuf.socket'),
    rpcEcho: join(dir, 'rpc-echo.socket'),
    frameEcho: join(dir, 'frame-echo.socket'),
  };
  const [msgpackServer, protobufServer, rpcServer, frameServer] = await Promise.all([
    startServer(['kong', 'MsgPack:1', sockets.msgpack]),
    startServer(['kong', 'ProtoBuf:1', sockets.protobuf]),
    startServer(['rpc-echo', sockets.rpcEcho]),
    startServer(['frame-echo', sockets.frameEcho]),
  ]);

  const clients: Record<KongProtocol, KongPluginClient> = {
    'MsgPack:1': new KongPluginClient({ socketPath: sockets.msgpack, protocol: 'MsgPack:1' }),
    'ProtoBuf:1': new KongPluginClient({ socketPath: sockets.protobuf, protocol: 'ProtoBuf:1' }),
  };
  const rpcSocket = createConnection(sockets.rpcEcho);
  await new Promise((resolve) => rpcSocket.once('connect', resolve));
  const echo = new RpcPeer(rpcSocket, KONG_PEER_OPTIONS);
  const stepParams = [{ EventId: 0, Data: 'example.com' }];
  const frameEcho = await frameEchoClient(sockets.frameEcho);

  const pdk = (method: string) => (method === 'kong.request.get_header' ? 'example.com' : undefined);
  const ids: Record<KongProtocol, number[]> = { 'MsgPack:1': [], 'ProtoBuf:1': [] };
  for (const protocol of ['MsgPack:1', 'ProtoBuf:1'] as const) {
    for (const calls of CALLS)
      ids[protocol].push((await clients[protocol].startInstance('bench', { calls })).id);
  }

  const kind = (name: string, server: ChildProcess, work: () => Promise<unknown>): Kind => ({
    name,
    work,
    server,
    count: 0,
    time: 0,
    clientCpu: 0,
    serverCpu: 0,
  });
  const kinds: Kind[] = [
    kind('rpc', rpcServer, () => echo.request('plugin.Step', stepParams)),
    kind('frame-echo', frameServer, () => frameEcho.roundTrip()),
    ...(['MsgPack:1', 'ProtoBuf:1'] as const).flatMap((protocol) =>
      CALLS.map((calls, index) =>
        kind(`${protocol} ${calls}`, protocol === 'MsgPack:1' ? msgpackServer : protobufServer, () =>
          clients[protocol].handleEvent(ids[protocol][index] as number, 'access', pdk),
        ),
      ),
    ),
  ];

  type Round = Record<string, { rate: number; clientCpu: number; serverCpu: number }>;
  const rounds: Round[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    for (const k of kinds) Object.assign(k, { count: 0, time: 0, clientCpu: 0, serverCpu: 0 });
    // Short slices of every kind in turn, so a burst of load from elsewhere hits all kinds alike.
    for (let slice = 0; slice < SLICES; slice++) {
      for (const k of kinds) {
        const measured = await timedSlice(k.work, SLICE, k.server);
        k.count += measured.count;
        k.time += measured.time;
        k.clientCpu += measured.clientCpu;
        k.serverCpu += measured.serverCpu;
      }
    }
    if (round < WARMUP_ROUNDS) continue;
    const measured: Round = {};
    for (const k of kinds) {
      measured[k.name] = {
        rate: (k.count / k.time) * 1000,
        clientCpu: k.clientCpu / k.count,
        serverCpu: k.serverCpu / k.count,
      };
    }
    rounds.push(measured);
    const rate = (name: string) => (measured[name]?.rate ?? 0).toFixed(0);
    process.stdout.write(
      `round ${round + 1 - WARMUP_ROUNDS}/${ROUNDS}: rpc ${rate('rpc')} rt/s, frame echo ${rate('frame-echo')} rt/s; ` +
        `events/s MsgPack:1 ${CALLS.map((c) => rate(`MsgPack:1 ${c}`)).join('/')}, ` +
        `ProtoBuf:1 ${CALLS.map((c) => rate(`ProtoBuf:1 ${c}`)).join('/')}\n`,
    );
  }
  load.after = loadavg();

  /** Per-call time of one protocol in one round: (1/rate10 − 1/rate0) / 10, in seconds. */
  const perCall = (r: Round, protocol: KongProtocol) =>
    (1 / (r[`${protocol} 10`]?.rate as number) - 1 / (r[`${protocol} 0`]?.rate as number)) / 10;
  /** Per-call CPU µs of one process: (cpu10 − cpu0) / 10. */
  const perCallCpu = (r: Round, protocol: KongProtocol, side: 'clientCpu' | 'serverCpu') =>
    ((r[`${protocol} 10`]?.[side] as number) - (r[`${protocol} 0`]?.[side] as number)) / 10;
  const med = (pick: (r: Round) => number) => median(rounds.map(pick));
  const summary = {
    rpcRoundTripsPerSecond: med((r) => r.rpc?.rate as number),
    frameEchoRoundTripsPerSecond: med((r) => r['frame-echo']?.rate as number),
    eventsPerSecond: Object.fromEntries(
      CALLS.map((calls) => [
        `${calls} PDK calls`,
        {
          msgpack: med((r) => r[`MsgPack:1 ${calls}`]?.rate as number),
          protobuf: med((r) => r[`ProtoBuf:1 ${calls}`]?.rate as number),
        },
      ]),
    ),
    cpuMicrosecondsPerEvent: Object.fromEntries(
      CALLS.map((calls) => [
        `${calls} PDK calls`,
        Object.fromEntries(
          (['MsgPack:1', 'ProtoBuf:1'] as const).map((protocol) => [
            protocol,
            {
              client: med((r) => r[`${protocol} ${calls}`]?.clientCpu as number),
              server: med((r) => r[`${protocol} ${calls}`]?.serverCpu as number),
            },
          ]),
        ),
      ]),
    ),
    cpuMicrosecondsPerRoundTrip: {
      rpc: { client: med((r) => r.rpc?.clientCpu as number), server: med((r) => r.rpc?.serverCpu as number) },
      frameEcho: {
        client: med((r) => r['frame-echo']?.clientCpu as number),
        server: med((r) => r['frame-echo']?.serverCpu as number),
      },
    },
    cpuMicrosecondsPerPdkCall: Object.fromEntries(
      (['MsgPack:1', 'ProtoBuf:1'] as const).map((protocol) => [
        protocol,
        {
          client: med((r) => perCallCpu(r, protocol, 'clientCpu')),
          server: med((r) => perCallCpu(r, protocol, 'serverCpu')),
        },
      ]),
    ),
    pdkCallCostVsRpcRoundTrip: {
      msgpack: med((r) => perCall(r, 'MsgPack:1') * (r.rpc?.rate as number)),
      protobuf: med((r) => perCall(r, 'ProtoBuf:1') * (r.rpc?.rate as number)),
    },
    protobufCallVsMsgpackCall: med((r) => perCall(r, 'ProtoBuf:1') / perCall(r, 'MsgPack:1')),
    protobufCallVsFrameEcho: med((r) => perCall(r, 'ProtoBuf:1') * (r['frame-echo']?.rate as number)),
    /** The same comparisons in CPU time of both processes together, which load from elsewhere disturbs less. */
    cpuRatios: {
      protobufCallVsMsgpackCall: med(
        (r) =>
          (perCallCpu(r, 'ProtoBuf:1', 'clientCpu') + perCallCpu(r, 'ProtoBuf:1', 'serverCpu')) /
          (perCallCpu(r, 'MsgPack:1', 'clientCpu') + perCallCpu(r, 'MsgPack:1', 'serverCpu')),
      ),
      protobufCallVsRpcRoundTrip: med(
        (r) =>
          (perCallCpu(r, 'ProtoBuf:1', 'clientCpu') + perCallCpu(r, 'ProtoBuf:1', 'serverCpu')) /
          ((r.rpc?.clientCpu as number) + (r.rpc?.serverCpu as number)),
      ),
      msgpackCallVsRpcRoundTrip: med(
        (r) =>
          (perCallCpu(r, 'MsgPack:1', 'clientCpu') + perCallCpu(r, 'MsgPack:1', 'serverCpu')) /
          ((r.rpc?.clientCpu as number) + (r.rpc?.serverCpu as number)),
      ),
      protobufCallVsFrameEcho: med(
        (r) =>
          (perCallCpu(r, 'ProtoBuf:1', 'clientCpu') + perCallCpu(r, 'ProtoBuf:1', 'serverCpu')) /
          ((r['frame-echo']?.clientCpu as number) + (r['frame-echo']?.serverCpu as number)),
      ),
    },
    target: TARGET,
  };
  const pass = summary.protobufCallVsMsgpackCall <= TARGET;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const f0 = (value: number) => value.toFixed(0);
  const f1 = (value: number) => value.toFixed(1);
  out(
    '\nkong-event-protobuf (1 event in flight, Unix socket, each server in its own process; medians of 5 rounds)',
  );
  out(
    `  plain RpcPeer round trip: ${f0(summary.rpcRoundTripsPerSecond)} /s, CPU µs client/server ` +
      `${f1(summary.cpuMicrosecondsPerRoundTrip.rpc.client)}/${f1(summary.cpuMicrosecondsPerRoundTrip.rpc.server)}`,
  );
  out(
    `  bare ProtoBuf:1-framed echo of a PDK call's bytes (ceiling): ${f0(summary.frameEchoRoundTripsPerSecond)} /s, ` +
      `CPU µs ${f1(summary.cpuMicrosecondsPerRoundTrip.frameEcho.client)}/${f1(summary.cpuMicrosecondsPerRoundTrip.frameEcho.server)}`,
  );
  out('  events/s (CPU µs per event, client/server)   MsgPack:1                 ProtoBuf:1');
  for (const calls of CALLS) {
    const label = `${calls} PDK calls`;
    const rates = summary.eventsPerSecond[label] as { msgpack: number; protobuf: number };
    const cpu = summary.cpuMicrosecondsPerEvent[label] as Record<
      KongProtocol,
      { client: number; server: number }
    >;
    const cell = (rate: number, c: { client: number; server: number }) =>
      `${f0(rate).padStart(6)} (${f1(c.client)}/${f1(c.server)})`.padEnd(26);
    out(
      `  ${label.padEnd(44)} ${cell(rates.msgpack, cpu['MsgPack:1'])}${cell(rates.protobuf, cpu['ProtoBuf:1'])}`,
    );
  }
  const callCpu = summary.cpuMicrosecondsPerPdkCall as Record<
    KongProtocol,
    { client: number; server: number }
  >;
  out(
    `  CPU µs per PDK call, client/server: MsgPack:1 ${f1(callCpu['MsgPack:1'].client)}/${f1(callCpu['MsgPack:1'].server)}, ` +
      `ProtoBuf:1 ${f1(callCpu['ProtoBuf:1'].client)}/${f1(callCpu['ProtoBuf:1'].server)}`,
  );
  out(
    `  cost per PDK call / RpcPeer round trip: MsgPack:1 ${summary.pdkCallCostVsRpcRoundTrip.msgpack.toFixed(2)}, ` +
      `ProtoBuf:1 ${summary.pdkCallCostVsRpcRoundTrip.protobuf.toFixed(2)}`,
  );
  out(
    `  ProtoBuf:1 PDK call / MsgPack:1 PDK call: ${summary.protobufCallVsMsgpackCall.toFixed(2)} ` +
      `(target <= ${TARGET}: ${pass ? 'pass' : 'FAIL'}); / bare framed echo: ${summary.protobufCallVsFrameEcho.toFixed(2)}`,
  );
  const cpuRatios = summary.cpuRatios;
  out(
    `  in CPU time (both processes): ProtoBuf:1 call / MsgPack:1 call ${cpuRatios.protobufCallVsMsgpackCall.toFixed(2)}; ` +
      `per RpcPeer round trip MsgPack:1 ${cpuRatios.msgpackCallVsRpcRoundTrip.toFixed(2)}, ` +
      `ProtoBuf:1 ${cpuRatios.protobufCallVsRpcRoundTrip.toFixed(2)}; ProtoBuf:1 / bare framed echo ${cpuRatios.protobufCallVsFrameEcho.toFixed(2)}`,
  );
  const noisy = Math.max(load.before[0] ?? 0, load.after?.[0] ?? 0) > cpus().length;
  if (noisy) out(`  note: load average above ${cpus().length} cores; figures are noisy`);

  mkdirSync(join(benchDir, 'results'), { recursive: true });
  writeFileSync(
    join(benchDir, 'results', 'kong-event-protobuf.json'),
    `${JSON.stringify({ scenario: 'kong-event-protobuf', node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, load, noisy, rounds, summary, pass }, null, 2)}\n`,
  );
  echo.destroy();
  frameEcho.socket.destroy();
  await clients['MsgPack:1'].close();
  await clients['ProtoBuf:1'].close();
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
