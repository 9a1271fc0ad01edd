/**
 * msgpack-RPC round trips between two processes over a Unix socket, and framer throughput.
 *
 *   npm run bench -- rpc
 *
 * Kinds: `raw` (55-byte echo, no codec: the baseline; the client writes one 55-byte buffer per round trip, as
 * spec §12.2 describes), `module` (pluginwire's RpcPeer on both sides), `neovim` (the neovim package's
 * msgpack-RPC Transport on both sides: the peer reference). For the pipelined pattern also `raw-batched`, for
 * reading only: the raw client answers each chunk with one write of all the round trips it completed, which no
 * message-by-message peer can do. For every pattern also `codec-only`, for reading only: each side
 * decodes every message with one reused `@msgpack/msgpack` Decoder and answers it through one reused Encoder, with
 * no framing (beyond `decodeMulti` running out of data), limits, validation, correlation or dispatch, one write per
 * chunk; it is the ceiling of any peer built on that codec on this machine. Patterns: one call in flight on one connection, 64 connections with one call in
 * flight each (Kong's pattern), and 64 calls pipelined on one connection. `RPC_BENCH_PATTERNS=64-pipelined` (comma
 * separated) runs only some patterns. Every (kind, pattern) gets a fresh server process per round; all ten run
 * round-robin for ROUNDS rounds (`RPC_BENCH_ROUNDS`, default 5), and each round's ratios are taken against raw
 * from the same round. Timing as in spec §12.2: 300 ms of warm-up, then a 1.5 s window. Prints medians and
 * writes bench/results/rpc.json.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decoder, decodeMulti, Encoder, encode } from '@msgpack/msgpack';
import { FrameDecoder, MessageCodec, RpcPeer } from '../src/msgpack-rpc/index.js';
import { CpuWindow, perOp, probedSpawn } from './cpu.js';

const ROUNDS = Number(process.env.RPC_BENCH_ROUNDS ?? 5);
const WARMUP = 300;
const WINDOW = 1500;
const KINDS = ['raw', 'module', 'neovim'] as const;
const ALL_PATTERNS = ['1-in-flight', '64-connections', '64-pipelined'] as const;
type Kind = (typeof KINDS)[number] | 'raw-batched' | 'codec-only';
type Pattern = (typeof ALL_PATTERNS)[number];
const PATTERNS: readonly Pattern[] = process.env.RPC_BENCH_PATTERNS
  ? ALL_PATTERNS.filter((pattern) => process.env.RPC_BENCH_PATTERNS!.split(',').includes(pattern))
  : ALL_PATTERNS;
/** The kinds measured for a pattern: `raw-batched` only differs from `raw` when calls are pipelined. */
const kindsOf = (pattern: Pattern): readonly Kind[] =>
  pattern === '64-pipelined' ? [...KINDS, 'raw-batched', 'codec-only'] : [...KINDS, 'codec-only'];

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const METHOD = 'plugin.HandleEvent';
const EVENT = { instance_id: 1, event_name: 'access' };
const RAW_REQUEST = encode([0, 1, METHOD, [EVENT]]);
if (RAW_REQUEST.length !== 55) throw new Error(`expected the 55-byte request, got ${RAW_REQUEST.length}`);

interface NeovimTransport {
  attach(writer: Socket, reader: Socket, client: object): void;
  request(method: string, args: unknown[], callback: (error: unknown, result: unknown) => void): void;
  close(): Promise<void>;
}
const { Transport } = require('neovim/lib/utils/transport') as { Transport: new () => NeovimTransport };

interface Server {
  process: ChildProcess;
  path: string;
  exited: Promise<void>;
}

function startServer(kind: Kind, directory: string, name: string): Promise<Server> {
  const path = join(directory, `${name}.sock`);
  const serverKind = kind === 'raw-batched' ? 'raw' : kind;
  const child = probedSpawn(['--import', 'tsx'], [join(here, 'rpc-server.ts'), serverKind, path]);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server not ready`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve({ process: child, path, exited });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} server exited with ${code}`));
    });
  });
}

async function stopServer(server: Server): Promise<void> {
  server.process.stdin!.end();
  server.process.kill('SIGTERM');
  await server.exited;
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What one configuration reached over its window: rate, and CPU µs per round trip on each side. */
interface Measured {
  rate: number;
  clientCpu: number;
  serverCpu: number;
}

/**
 * Decodes every complete message in `bytes` with one reused Decoder; returns the messages and the bytes of an
 * incomplete last one. The codec-only kind's only framing: it leans on the decoder running out of data, reading
 * the decoder's position after each message (a field @msgpack/msgpack keeps public at run time).
 */
function decodeAll(decoder: Decoder, bytes: Buffer): { messages: unknown[]; rest: Buffer | undefined } {
  const messages: unknown[] = [];
  let consumed = 0;
  try {
    for (const message of decoder.decodeMulti(bytes)) {
      messages.push(message);
      consumed = (decoder as unknown as { pos: number }).pos;
    }
  } catch {
    // RangeError: the last message is incomplete; it comes with the next chunk.
  }
  return { messages, rest: consumed < bytes.length ? bytes.subarray(consumed) : undefined };
}

/** Runs one configuration against its server; returns round trips per second and CPU over the window. */
async function measure(kind: Kind, pattern: Pattern, server: Server): Promise<Measured> {
  const { path } = server;
  const connections = pattern === '64-connections' ? 64 : 1;
  const inFlight = pattern === '64-pipelined' ? 64 : 1;
  const sockets = await Promise.all(Array.from({ length: connections }, () => connect(path)));
  let count = 0;
  let running = true;
  const stops: (() => Promise<void>)[] = [];

  for (const socket of sockets) {
    if (kind === 'raw' || kind === 'raw-batched') {
      const batched = kind === 'raw-batched';
      let received = 0;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        const done = Math.floor(received / 55);
        if (done === 0) return;
        received -= done * 55;
        count += done;
        if (!running) return;
        if (!batched || done === 1) for (let index = 0; index < done; index++) socket.write(RAW_REQUEST);
        else socket.write(Buffer.concat(Array(done).fill(RAW_REQUEST)));
      });
      for (let index = 0; index < inFlight; index++) socket.write(RAW_REQUEST);
      stops.push(async () => {
        socket.end();
      });
    } else if (kind === 'codec-only') {
      const decoder = new Decoder();
      const encoder = new Encoder();
      let msgid = 0;
      let partial: Buffer | undefined;
      // One write per chunk for all the requests it frees, as RpcPeer writes once per event-loop turn.
      const send = (requests: number) => {
        const parts: Buffer[] = [];
        for (let index = 0; index < requests; index++) {
          const shared = encoder.encodeSharedRef([0, ++msgid, METHOD, [EVENT]]);
          const bytes = Buffer.allocUnsafe(shared.length);
          bytes.set(shared);
          parts.push(bytes);
        }
        socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      };
      socket.on('data', (chunk: Buffer) => {
        const { messages, rest } = decodeAll(
          decoder,
          partial === undefined ? chunk : Buffer.concat([partial, chunk]),
        );
        partial = rest;
        count += messages.length;
        if (running && messages.length > 0) send(messages.length);
      });
      send(inFlight);
    } else if (kind === 'module') {
      const peer = new RpcPeer(socket);
      const loops = Array.from({ length: inFlight }, async () => {
        while (running) {
          await peer.request(METHOD, [EVENT]);
          count++;
        }
      });
      stops.push(async () => {
        await Promise.all(loops);
        await peer.close();
      });
    } else {
      const transport = new Transport();
      transport.attach(socket, socket, {});
      let outstanding = 0;
      let idle: (() => void) | undefined;
      const go = () => {
        outstanding++;
        transport.request(METHOD, [EVENT], () => {
          outstanding--;
          count++;
          if (running) go();
          else if (outstanding === 0) idle?.();
        });
      };
      for (let index = 0; index < inFlight; index++) go();
      stops.push(async () => {
        if (outstanding > 0) await new Promise<void>((resolve) => (idle = resolve));
        // end(), not destroy(): destroying neovim's far end crashes it (spec §6.4).
        await transport.close();
      });
    }
  }

  await sleep(WARMUP);
  const cpu = new CpuWindow([server.process]);
  await cpu.start();
  const start = count;
  const startTime = performance.now();
  await sleep(WINDOW);
  const done = count - start;
  const rate = (done * 1000) / (performance.now() - startTime);
  const used = await cpu.stop();
  running = false;
  await Promise.all(stops.map((stop) => stop()));
  for (const socket of sockets) socket.destroy();
  return { rate, clientCpu: perOp(used.self, done), serverCpu: perOp(used.children[0]!, done) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

// ---------------------------------------------------------------------------------------------------------------
// Framer throughput

function timeIt(run: () => void, minimum = 400): number {
  run();
  let iterations = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minimum) {
    run();
    iterations++;
    elapsed = performance.now() - start;
  }
  return elapsed / iterations;
}

function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) out.push(bytes.subarray(offset, offset + size));
  return out;
}

function framerThroughput() {
  const codec = new MessageCodec();
  const decoder = new Decoder();
  const shapes = [
    [0, 7, 'plugin.HandleEvent', [{ InstanceId: 3, EventName: 'access' }]],
    [1, 7, null, { EventId: 12, Data: { Method: 'kong.request.get_header', Args: ['x-forwarded-for'] } }],
    [0, 8, 'plugin.Step', [{ EventId: 12, Data: 'text/html; charset=utf-8' }]],
    [1, 8, null, { EventId: 12, Data: 'ret' }],
    [2, 'serverPid', [4321]],
  ];
  const messages: Uint8Array[] = [];
  for (let index = 0; index < 50_000; index++) messages.push(encode(shapes[index % shapes.length]));
  const small = new Uint8Array(Buffer.concat(messages));
  const smallChunks = chunked(small, 64 * 1024);

  // [1, 1, nil, bin32] has 9 bytes of envelope: the frame is exactly 16 MiB, the default maxFrameBytes.
  const big = encode([1, 1, null, new Uint8Array(16 * 1024 * 1024 - 9)]);
  for (let index = 9; index < big.length; index += 4096) big[index] = index & 0xff;
  const bigChunks = chunked(big, 64 * 1024);
  const text = encode([1, 1, null, 'x'.repeat(16 * 1024 * 1024 - 9)]);
  const textChunks = chunked(text, 64 * 1024);

  const frameOnly = (chunks: Uint8Array[]) => () => {
    const framer = new FrameDecoder();
    for (const chunk of chunks) {
      framer.push(chunk);
      while (framer.next());
    }
  };
  const frameAndDecode = (chunks: Uint8Array[]) => () => {
    const framer = new FrameDecoder();
    for (const chunk of chunks) {
      framer.push(chunk);
      for (let frame = framer.next(); frame; frame = framer.next()) codec.decode(frame);
    }
  };
  const rows = [
    {
      name: 'small Kong-shaped messages',
      bytes: small,
      chunks: smallChunks,
      // Perfectly framed input: each message decoded from its own exact bytes.
      whole: () => {
        for (const message of messages) decoder.decode(message);
      },
    },
    {
      name: 'one 16 MiB bin message',
      bytes: big as Uint8Array,
      chunks: bigChunks,
      whole: () => decoder.decode(big),
    },
    { name: 'one 16 MiB str message', bytes: text, chunks: textChunks, whole: () => decoder.decode(text) },
  ];
  return rows.map((row) => {
    const mb = row.bytes.length / (1024 * 1024);
    const wholeMs = timeIt(row.whole);
    const framerMs = timeIt(frameOnly(row.chunks));
    const fullMs = timeIt(frameAndDecode(row.chunks));
    const concatMs = timeIt(() => {
      const joined = Buffer.concat(row.chunks);
      if (row.bytes === small) [...decodeMulti(joined)];
      else decoder.decode(joined);
    });
    return {
      name: row.name,
      bytes: row.bytes.length,
      decodeInOnePieceMBps: mb / (wholeMs / 1000),
      framerOnlyMBps: mb / (framerMs / 1000),
      framerAndDecodeMBps: mb / (fullMs / 1000),
      concatThenDecodeMBps: mb / (concatMs / 1000),
      ratioToDecode: wholeMs / fullMs,
      ratioToConcatThenDecode: concatMs / fullMs,
    };
  });
}

/** Spec §12.2 diagnostics: codec ops/s for the sample request, and large-frame reassembly linearity. */
function diagnostics() {
  const codec = new MessageCodec();
  const sample = [0, 1, METHOD, [EVENT]];
  const codecMs = timeIt(() => {
    for (let index = 0; index < 1000; index++) codec.decode(codec.encode(sample));
  });
  const reassembly: Record<string, number> = {};
  for (const mib of [1, 4, 16]) {
    const frame = encode([1, 1, null, new Uint8Array(mib * 1024 * 1024 - 9)]);
    const chunks = chunked(frame, 64 * 1024);
    reassembly[`${mib} MiB`] = timeIt(() => {
      const framer = new FrameDecoder();
      for (const chunk of chunks) {
        framer.push(chunk);
        while (framer.next());
      }
    }, 300);
  }
  return {
    codecEncodeDecodeOpsPerSecond: 1_000_000 / codecMs,
    reassemblyMs: reassembly,
    reassembly16To1Ratio: reassembly['16 MiB']! / reassembly['1 MiB']!,
  };
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const loadBefore = loadavg();
  if (process.env.RPC_BENCH_ONLY === 'framer') {
    for (const row of framerThroughput()) process.stdout.write(`${JSON.stringify(row)}\n`);
    process.stdout.write(`${JSON.stringify(diagnostics())}\n`);
    return;
  }
  const directory = mkdtempSync(join(tmpdir(), 'pluginwire-bench-'));
  const rates = new Map<string, number[]>();
  const ratios = new Map<string, number[]>();
  const push = (map: Map<string, number[]>, name: string, value: number) =>
    map.set(name, [...(map.get(name) ?? []), value]);
  // CPU µs per round trip, client and server side, per (kind, pattern); and per-round CPU ratios.
  const cpuClient = new Map<string, number[]>();
  const cpuServer = new Map<string, number[]>();
  const cpuRatios = new Map<string, number[]>();
  const key = (kind: Kind, pattern: Pattern) => `${kind}/${pattern}`;
  let neovimRejections = 0;
  const swallow = () => {
    neovimRejections++;
  };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const servers = new Map<string, Server>();
      await Promise.all(
        PATTERNS.flatMap((pattern) =>
          kindsOf(pattern).map(async (kind) => {
            servers.set(
              key(kind, pattern),
              await startServer(kind, directory, `${round}-${kind}-${pattern}`),
            );
          }),
        ),
      );
      const roundRates = new Map<string, number>();
      const roundCpu = new Map<string, number>();
      for (const pattern of PATTERNS) {
        for (const kind of kindsOf(pattern)) {
          const server = servers.get(key(kind, pattern))!;
          // neovim's Transport leaves a rejected promise behind when its stream ends (spec §12.2).
          if (kind === 'neovim') process.on('unhandledRejection', swallow);
          try {
            const { rate, clientCpu, serverCpu } = await measure(kind, pattern, server);
            roundRates.set(key(kind, pattern), rate);
            roundCpu.set(key(kind, pattern), clientCpu + serverCpu);
            push(rates, key(kind, pattern), rate);
            push(cpuClient, key(kind, pattern), clientCpu);
            push(cpuServer, key(kind, pattern), serverCpu);
          } finally {
            await stopServer(server);
            if (kind === 'neovim') {
              await sleep(20);
              process.off('unhandledRejection', swallow);
            }
          }
        }
        const raw = roundRates.get(key('raw', pattern))!;
        const module = roundRates.get(key('module', pattern))!;
        const neovim = roundRates.get(key('neovim', pattern))!;
        ratios.set(`${pattern}/raw`, [...(ratios.get(`${pattern}/raw`) ?? []), module / raw]);
        ratios.set(`${pattern}/neovim`, [...(ratios.get(`${pattern}/neovim`) ?? []), module / neovim]);
        const codecOnly = roundRates.get(key('codec-only', pattern));
        if (codecOnly !== undefined) {
          ratios.set(`${pattern}/codec-only-raw`, [
            ...(ratios.get(`${pattern}/codec-only-raw`) ?? []),
            codecOnly / raw,
          ]);
        }
        // CPU per round trip, both processes together: RpcPeer over each baseline (lower is better).
        for (const baseline of ['raw', 'codec-only', 'neovim'] as const) {
          const theirs = roundCpu.get(key(baseline, pattern));
          if (theirs !== undefined)
            push(cpuRatios, `${pattern}/${baseline}`, roundCpu.get(key('module', pattern))! / theirs);
        }
        const batched = roundRates.get(key('raw-batched', pattern));
        if (batched !== undefined) {
          ratios.set(`${pattern}/raw-batched`, [
            ...(ratios.get(`${pattern}/raw-batched`) ?? []),
            module / batched,
          ]);
        }
      }
      process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }

  const targets: Record<Pattern, number> = {
    '1-in-flight': 0.9,
    '64-connections': 0.75,
    '64-pipelined': 0.5,
  };
  const table = PATTERNS.map((pattern) => {
    const row: Record<string, unknown> = { pattern };
    const cpu: Record<string, unknown> = {};
    for (const kind of kindsOf(pattern)) {
      const values = rates.get(key(kind, pattern))!;
      row[kind] = {
        median: median(values),
        min: Math.min(...values),
        max: Math.max(...values),
        runs: values,
      };
      const client = cpuClient.get(key(kind, pattern))!;
      const server = cpuServer.get(key(kind, pattern))!;
      cpu[kind] = {
        clientUsPerRt: median(client),
        serverUsPerRt: median(server),
        totalUsPerRt: median(client.map((value, index) => value + server[index]!)),
      };
    }
    // µs of CPU per round trip (client + server), medians over rounds; ratios are medians of per-round ratios.
    row.cpu = cpu;
    row.cpuModuleTo = Object.fromEntries(
      (['raw', 'codec-only', 'neovim'] as const)
        .filter((baseline) => cpuRatios.has(`${pattern}/${baseline}`))
        .map((baseline) => [baseline, median(cpuRatios.get(`${pattern}/${baseline}`)!)]),
    );
    row.cpuTargets = { 'codec-only': { atMost: 1.15 }, neovim: { atMost: 0.8 } };
    const toRaw = median(ratios.get(`${pattern}/raw`)!);
    const toNeovim = median(ratios.get(`${pattern}/neovim`)!);
    row.moduleToRaw = toRaw;
    row.moduleToNeovim = toNeovim;
    const codecOnlyToRaw = ratios.get(`${pattern}/codec-only-raw`);
    if (codecOnlyToRaw !== undefined) row.codecOnlyToRaw = median(codecOnlyToRaw);
    const toBatched = ratios.get(`${pattern}/raw-batched`);
    if (toBatched !== undefined) row.moduleToRawBatched = median(toBatched);
    row.targetToRaw = targets[pattern];
    row.targetToNeovim = 1.5;
    row.pass = toRaw >= targets[pattern] && toNeovim >= 1.5;
    return row;
  });

  process.stdout.write(
    `\nround trips/s, median of ${ROUNDS} [min-max]; ratios are medians of per-round ratios\n`,
  );
  const format = (value: number) => Math.round(value).toLocaleString('en-US');
  for (const row of table) {
    const cells = kindsOf(row.pattern as Pattern).map((kind) => {
      const stats = row[kind] as { median: number; min: number; max: number };
      return `${kind} ${format(stats.median)} [${format(stats.min)}-${format(stats.max)}]`;
    });
    process.stdout.write(
      `${String(row.pattern).padEnd(15)} ${cells.join('  ')}\n${''.padEnd(15)} module/raw ${(row.moduleToRaw as number).toFixed(2)} (target ≥ ${row.targetToRaw})  module/neovim ${(row.moduleToNeovim as number).toFixed(2)}× (target ≥ 1.5)  ${row.pass ? 'PASS' : 'MISS'}${row.moduleToRawBatched === undefined ? '' : `  (module/raw-batched ${(row.moduleToRawBatched as number).toFixed(2)}, no target)`}${row.codecOnlyToRaw === undefined ? '' : `  (codec-only/raw ${(row.codecOnlyToRaw as number).toFixed(2)}: the codec's own ceiling)`}\n`,
    );
    const cpu = row.cpu as Record<
      string,
      { clientUsPerRt: number; serverUsPerRt: number; totalUsPerRt: number }
    >;
    const cpuCells = kindsOf(row.pattern as Pattern).map(
      (kind) =>
        `${kind} ${cpu[kind]!.totalUsPerRt.toFixed(1)} (${cpu[kind]!.clientUsPerRt.toFixed(1)}+${cpu[kind]!.serverUsPerRt.toFixed(1)})`,
    );
    const to = row.cpuModuleTo as Record<string, number>;
    process.stdout.write(
      `${''.padEnd(15)} CPU µs/rt client+server: ${cpuCells.join('  ')}\n${''.padEnd(15)} CPU module/raw ${to.raw!.toFixed(2)}  module/codec-only ${to['codec-only']!.toFixed(2)} (target ≤ 1.15)  module/neovim ${to.neovim!.toFixed(2)} (target ≤ 0.8)\n`,
    );
  }

  process.stdout.write('\nframer throughput (64 KiB chunks) vs decode() of the same bytes in one piece\n');
  const framer = framerThroughput();
  for (const row of framer) {
    process.stdout.write(
      `${row.name.padEnd(28)} framer ${row.framerOnlyMBps.toFixed(0)} MB/s, framer+decode ${row.framerAndDecodeMBps.toFixed(0)} MB/s, decode() in one piece ${row.decodeInOnePieceMBps.toFixed(0)} MB/s: ratio ${row.ratioToDecode.toFixed(2)} (target ≥ 0.8); vs concat+decode ${row.ratioToConcatThenDecode.toFixed(2)}\n`,
    );
  }

  const extra = diagnostics();
  process.stdout.write(
    `\ncodec encode+decode of the 55-byte request: ${Math.round(extra.codecEncodeDecodeOpsPerSecond).toLocaleString('en-US')} ops/s\n` +
      `reassembly in 64 KiB chunks: ${Object.entries(extra.reassemblyMs)
        .map(([size, ms]) => `${size} ${ms.toFixed(1)} ms`)
        .join(', ')}; 16 MiB / 1 MiB = ${extra.reassembly16To1Ratio.toFixed(1)} (16 is linear)\n`,
  );

  const loadAfter = loadavg();
  const cores = cpus().length;
  const noisy = Math.max(loadBefore[0]!, loadAfter[0]!) > cores;
  if (noisy) process.stdout.write(`\nnoisy run: load average ${loadAfter[0]!.toFixed(2)} > ${cores} cores\n`);
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(
    join(here, 'results', 'rpc.json'),
    `${JSON.stringify(
      {
        scenario: 'rpc',
        date: new Date().toISOString(),
        node: process.version,
        cpu: cpus()[0]?.model,
        cores,
        loadavgBefore: loadBefore,
        loadavgAfter: loadAfter,
        noisy,
        method: { rounds: ROUNDS, warmupMs: WARMUP, windowMs: WINDOW, requestBytes: RAW_REQUEST.length },
        roundTrips: table,
        framer,
        diagnostics: extra,
        neovimUnhandledRejections: neovimRejections,
      },
      null,
      2,
    )}\n`,
  );
}

await main();
