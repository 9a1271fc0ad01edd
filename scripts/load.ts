/**
 * Load: `npm run load -- [--connections N] [--requests N] [--streams N] [--stream-requests N] [--only …]`.
 *
 * Three scenarios over real Unix sockets, each checking every answer against what was sent:
 * - `rpc-peer`: N concurrent connections (default 256), each an `RpcPeer` making `--requests` sequential echo
 *   requests (default 10,000) to an `RpcPeer` server;
 * - `kong-server`: N concurrent Kong events at a time (`KongPluginClient` with N pooled connections) against a
 *   `KongPluginServer`, `--requests` events per connection; each event is HandleEvent plus two PDK round trips
 *   (the plugin reads a header and sets it back), so a token travels Kong → plugin → Kong;
 * - `goplugin`: `--streams` (default 32) concurrent call streams against a go-plugin KV plugin started with
 *   `startPlugin` (the Go fixture when built, else the TypeScript one), `--stream-requests` Put+Get pairs each
 *   (default `--requests`).
 * Prints requests/s, p50/p99 latency and peak RSS per scenario, and `<n> lost, <n> mismatched`; exits 1 when
 * any answer was lost (rejected) or did not match. Clients and servers share this process (2 cores: the figures
 * are a floor, not a ceiling).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { startPlugin } from '../src/goplugin/index.js';
import { KongPluginClient, KongPluginServer } from '../src/kong-rpc/index.js';
import { RpcPeer } from '../src/msgpack-rpc/index.js';
import { KV_PROTO_DIR, KVPLUGIN } from '../test/fixtures/go/fixtures.js';

interface Options {
  connections: number;
  requests: number;
  streams: number;
  streamRequests: number;
  only: Set<string>;
}

const SCENARIOS = ['rpc-peer', 'kong-server', 'goplugin'];

function parseArgs(argv: readonly string[]): Options {
  const values: Record<string, number> = { connections: 256, requests: 10_000, streams: 32 };
  let streamRequests: number | undefined;
  const only = new Set<string>();
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    const number = (): number => {
      const value = Number(argv[++index]);
      if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${arg} needs a positive integer`);
      return value;
    };
    if (arg === '--connections') values.connections = number();
    else if (arg === '--requests') values.requests = number();
    else if (arg === '--streams') values.streams = number();
    else if (arg === '--stream-requests') streamRequests = number();
    else if (arg === '--only') {
      const name = argv[++index] ?? '';
      if (!SCENARIOS.includes(name)) throw new Error(`--only takes one of ${SCENARIOS.join(', ')}`);
      only.add(name);
    } else throw new Error(`unknown option ${arg}`);
  }
  return {
    connections: values.connections!,
    requests: values.requests!,
    streams: values.streams!,
    streamRequests: streamRequests ?? values.requests!,
    only: only.size === 0 ? new Set(SCENARIOS) : only,
  };
}

/** Latencies of one scenario, in ms, with the lost and mismatched counts. */
class Tally {
  readonly latencies: Float64Array;
  count = 0;
  lost = 0;
  mismatched = 0;
  firstProblem: string | undefined;

  constructor(expected: number) {
    this.latencies = new Float64Array(expected);
  }

  record(start: number): void {
    this.latencies[this.count++] = performance.now() - start;
  }

  problem(kind: 'lost' | 'mismatched', detail: string): void {
    this[kind]++;
    this.firstProblem ??= `${kind}: ${detail}`;
  }

  report(name: string, expected: number, seconds: number, shape: string): boolean {
    const sorted = this.latencies.subarray(0, this.count).sort();
    const quantile = (q: number) =>
      sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    const unanswered = expected - this.count - this.lost - this.mismatched;
    if (unanswered > 0) this.problem('lost', `${unanswered} never answered`);
    const rss = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(
      `${name.padEnd(12)} ${shape}: ${(this.count / seconds).toFixed(0)} req/s, ` +
        `p50 ${quantile(0.5).toFixed(2)} ms, p99 ${quantile(0.99).toFixed(2)} ms, peak RSS ${rss.toFixed(0)} MiB, ` +
        `${this.lost} lost, ${this.mismatched} mismatched (${this.count} answered in ${seconds.toFixed(1)} s)\n`,
    );
    if (this.firstProblem !== undefined) process.stdout.write(`  first problem: ${this.firstProblem}\n`);
    return this.lost === 0 && this.mismatched === 0;
  }
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function rpcPeerScenario(dir: string, options: Options): Promise<boolean> {
  const path = join(dir, 'rpc.sock');
  const serverPeers = new Set<RpcPeer>();
  const server = createServer((socket) => {
    const peer = new RpcPeer(socket);
    peer.handle('echo', (params) => params);
    serverPeers.add(peer);
    peer.on('close', () => serverPeers.delete(peer));
  });
  server.maxConnections = options.connections * 2;
  await new Promise<void>((resolve) => server.listen({ path, backlog: options.connections * 2 }, resolve));
  const total = options.connections * options.requests;
  const tally = new Tally(total);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.connections }, async (_, connection) => {
      const peer = new RpcPeer(await connect(path), { requestTimeout: 60_000 });
      for (let seq = 0; seq < options.requests; seq++) {
        const token = `${connection}:${seq}`;
        const start = performance.now();
        try {
          const result = (await peer.request('echo', [connection, seq, token])) as unknown[];
          if (result[0] !== connection || result[1] !== seq || result[2] !== token) {
            tally.problem('mismatched', `sent ${token}, got ${JSON.stringify(result)}`);
          } else tally.record(start);
        } catch (error) {
          tally.problem('lost', `${token}: ${String(error)}`);
        }
      }
      await peer.close();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const peer of serverPeers) peer.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return tally.report(
    'rpc-peer',
    total,
    seconds,
    `${options.connections} connections × ${options.requests} requests`,
  );
}

async function kongScenario(dir: string, options: Options): Promise<boolean> {
  const server = new KongPluginServer({ socketPath: join(dir, 'kong.socket'), serverPid: true });
  server.addPlugin({
    name: 'echo',
    version: '1.0.0',
    priority: 1,
    schema: [],
    create: () => ({
      async access(kong) {
        const token = await kong.request.getHeader('x-token');
        await kong.response.setHeader('x-echo', token ?? '');
      },
    }),
  });
  const socketPath = await server.listen();
  const client = new KongPluginClient({
    socketPath,
    maxConnections: options.connections,
    poolSize: options.connections,
    timeout: 60_000,
  });
  const total = options.connections * options.requests;
  const tally = new Tally(total);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.connections }, async (_, worker) => {
      for (let seq = 0; seq < options.requests; seq++) {
        const token = `${worker}:${seq}`;
        let echoed: unknown;
        const start = performance.now();
        try {
          await client.runEvent('echo', {}, 'access', (method, args) => {
            if (method === 'kong.request.get_header') return args[0] === 'x-token' ? token : undefined;
            if (method === 'kong.response.set_header' && args[0] === 'x-echo') echoed = args[1];
            return undefined;
          });
          if (echoed !== token) tally.problem('mismatched', `sent ${token}, got ${String(echoed)}`);
          else tally.record(start);
        } catch (error) {
          tally.problem('lost', `${token}: ${String(error)}`);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await client.close();
  await server.close();
  return tally.report(
    'kong-server',
    total,
    seconds,
    `${options.connections} connections × ${options.requests} events (3 round trips each)`,
  );
}

async function goPluginScenario(options: Options): Promise<boolean> {
  const go = existsSync(KVPLUGIN);
  const command = go ? KVPLUGIN : process.execPath;
  const args = go
    ? []
    : ['--import', 'tsx', join(import.meta.dirname, '..', 'test/fixtures/goplugin/ts-kv-plugin.ts')];
  const plugin = await startPlugin({
    command,
    args,
    magicCookieKey: 'BASIC_PLUGIN',
    magicCookieValue: 'hello',
    startTimeout: 60_000,
  });
  const definition = loadSync(join(KV_PROTO_DIR, 'kv.proto'), { keepCase: true });
  const KV = (loadPackageDefinition(definition) as unknown as { proto: { KV: ServiceClientConstructor } })
    .proto.KV;
  const kv = plugin.makeClient(KV) as Client &
    Record<
      string,
      (request: object, done: (error: Error | null, reply?: { value?: Buffer }) => void) => void
    >;
  const call = (method: 'Put' | 'Get', request: object) =>
    new Promise<{ value?: Buffer } | undefined>((resolve, reject) => {
      kv[method]!.call(kv, request, (error, reply) => (error ? reject(error) : resolve(reply)));
    });
  const total = options.streams * options.streamRequests;
  const tally = new Tally(total);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.streams }, async (_, stream) => {
      for (let seq = 0; seq < options.streamRequests; seq++) {
        const key = `s${stream}-${seq % 64}`;
        const token = `${stream}:${seq}`;
        const start = performance.now();
        try {
          await call('Put', { key, value: Buffer.from(token) });
          const reply = await call('Get', { key });
          if (reply?.value?.toString() !== token) {
            tally.problem('mismatched', `put ${token}, got ${String(reply?.value)}`);
          } else tally.record(start);
        } catch (error) {
          tally.problem('lost', `${token}: ${String(error)}`);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  // kill() closes the channel kv shares (closing kv first would close it under the plugin client).
  await plugin.kill();
  return tally.report(
    'goplugin',
    total,
    seconds,
    `${options.streams} streams × ${options.streamRequests} Put+Get (${go ? 'Go' : 'TypeScript'} plugin)`,
  );
}

const options = parseArgs(process.argv.slice(2));
const dir = mkdtempSync(join(tmpdir(), 'pw-load-'));
let ok = true;
try {
  if (options.only.has('rpc-peer')) ok = (await rpcPeerScenario(dir, options)) && ok;
  if (options.only.has('kong-server')) ok = (await kongScenario(dir, options)) && ok;
  if (options.only.has('goplugin')) ok = (await goPluginScenario(options)) && ok;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(ok ? 'load: 0 lost, 0 mismatched\n' : 'load: FAILED (lost or mismatched responses)\n');
process.exit(ok ? 0 : 1);
