/**
 * Unix-socket round trips: 64-byte request/response exchanges against an in-process echo server, through
 * `UnixSocketPool.exchange` (keepalive and perExchange) and, as the baseline measured in the same run, a raw
 * `net` socket kept open (keepalive) or a raw `net.connect` per exchange. Also the cost of one connect:
 * `connectUnix` against `net.connect`. Prints medians and ratios, and the CPU µs per operation of this process (it
 * runs both ends); writes bench/results/socket.json.
 *
 *   npm run bench -- socket
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectUnix, listenUnix, UnixSocketPool } from '../src/socket/index.js';
import { cpuNow, cpuSince } from './cpu.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'pwb-'));
const path = join(dir, 'bench.sock');
const server = await listenUnix(path);
server.on('connection', (conn) => conn.socket.pipe(conn.socket));
const payload = Buffer.alloc(64, 0x61);

/** CPU µs per operation of each measurement, by name (client and server share this process). */
const cpuPerOp: Record<string, number> = {};

/**
 * Median per-operation time in µs of `op` over batches of `batch` operations filling `budget` ms; also records
 * the process's CPU µs per operation over all the timed batches under `name`.
 */
async function measure(
  name: string,
  op: () => Promise<unknown>,
  batch: number,
  budget: number,
): Promise<number> {
  for (let i = 0; i < batch; i++) await op(); // warm up
  const perOp: number[] = [];
  const start = performance.now();
  const cpuStart = cpuNow();
  while (perOp.length < 5 || performance.now() - start < budget) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) await op();
    perOp.push(((performance.now() - t0) * 1000) / batch);
  }
  cpuPerOp[name] = perOp.length > 0 ? cpuSince(cpuStart) / (perOp.length * batch) : Number.NaN;
  perOp.sort((a, b) => a - b);
  return perOp[Math.floor(perOp.length / 2)] as number;
}

function rawRoundTrip(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received >= payload.length) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.write(payload);
  });
}

function rawConnect(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function poolRoundTrip(pool: UnixSocketPool): Promise<void> {
  await pool.exchange(async (lease) => {
    await lease.write(payload);
    let received = 0;
    while (received < payload.length) received += (await lease.read()).length;
  });
}

const raw = await rawConnect();
const keepalive = new UnixSocketPool(path);
const perExchange = new UnixSocketPool(path, { mode: 'perExchange' });

const results = {
  rawKeepaliveUs: await measure('rawKeepaliveUs', () => rawRoundTrip(raw), 500, 3000),
  poolKeepaliveUs: await measure('poolKeepaliveUs', () => poolRoundTrip(keepalive), 500, 3000),
  rawConnectPerExchangeUs: await measure(
    'rawConnectPerExchangeUs',
    async () => {
      const socket = await rawConnect();
      await rawRoundTrip(socket);
      socket.destroy();
    },
    200,
    3000,
  ),
  poolPerExchangeUs: await measure('poolPerExchangeUs', () => poolRoundTrip(perExchange), 200, 3000),
  netConnectUs: await measure('netConnectUs', async () => (await rawConnect()).destroy(), 200, 3000),
  connectUnixUs: await measure('connectUnixUs', async () => (await connectUnix(path)).destroy(), 200, 3000),
};
raw.destroy();
await keepalive.close();
await perExchange.close();
await server.close();
rmSync(dir, { recursive: true, force: true });

const ratios = {
  poolKeepaliveVsRaw: results.poolKeepaliveUs / results.rawKeepaliveUs,
  poolPerExchangeVsRaw: results.poolPerExchangeUs / results.rawConnectPerExchangeUs,
  connectUnixVsNetConnect: results.connectUnixUs / results.netConnectUs,
};
const fmt = (n: number): string => n.toFixed(1).padStart(8);
process.stdout.write(
  [
    `round trip, kept-open connection:  raw net ${fmt(results.rawKeepaliveUs)} µs   pool ${fmt(results.poolKeepaliveUs)} µs   ratio ${ratios.poolKeepaliveVsRaw.toFixed(2)}`,
    `round trip, connection per call:   raw net ${fmt(results.rawConnectPerExchangeUs)} µs   pool ${fmt(results.poolPerExchangeUs)} µs   ratio ${ratios.poolPerExchangeVsRaw.toFixed(2)}`,
    `connect + close:                   net     ${fmt(results.netConnectUs)} µs   connectUnix ${fmt(results.connectUnixUs)} µs   ratio ${ratios.connectUnixVsNetConnect.toFixed(2)}`,
    `CPU µs per operation (client and server in this process): ${Object.entries(cpuPerOp)
      .map(([name, value]) => `${name.replace(/Us$/, '')} ${value.toFixed(1)}`)
      .join(', ')}`,
    '',
  ].join('\n'),
);
writeFileSync(
  join(here, 'results/socket.json'),
  `${JSON.stringify({ scenario: 'socket', node: process.version, results, cpuUsPerOp: cpuPerOp, ratios }, null, 2)}\n`,
);
