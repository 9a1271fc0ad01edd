/**
 * The scenarios of `npm run load` (scripts/load.ts): each opens its servers and clients over real Unix sockets
 * (and, for go-plugin, a real plugin process), then runs one checked round trip at a time per worker. A round trip
 * whose answer does not match what was sent is `mismatched`; one that fails is `lost`.
 *
 * Adding a scenario is one more {@link Scenario} in {@link SCENARIOS}: the fixed-count run and the soak pick it
 * up.
 */
import { existsSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { type Client, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { startPlugin } from '../src/goplugin/index.js';
import { KongPluginClient, KongPluginServer, type KongProtocol } from '../src/kong-rpc/index.js';
import { RpcPeer } from '../src/msgpack-rpc/index.js';
import { KV_PROTO_DIR, KVPLUGIN } from '../test/fixtures/go/fixtures.js';

/** Latencies (the last `capacity` of them, so a soak runs in constant memory) and lost/mismatched counts. */
export class Tally {
  private readonly latencies: Float64Array;
  /** Round trips answered correctly. */
  count = 0;
  lost = 0;
  mismatched = 0;
  firstProblem: string | undefined;

  constructor(capacity: number) {
    this.latencies = new Float64Array(Math.max(1, capacity));
  }

  record(start: number): void {
    this.latencies[this.count++ % this.latencies.length] = performance.now() - start;
  }

  problem(kind: 'lost' | 'mismatched', detail: string): void {
    this[kind]++;
    this.firstProblem ??= `${kind}: ${detail}`;
  }

  /** The q-quantile of the kept latencies, ms. */
  quantile(q: number): number {
    const sorted = this.latencies.slice(0, Math.min(this.count, this.latencies.length)).sort();
    return sorted.length === 0
      ? Number.NaN
      : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  }
}

/** Sizes of a run. */
export interface LoadOptions {
  /** Concurrent connections (rpc-peer, kong-server). */
  connections: number;
  /** Concurrent go-plugin call streams. */
  streams: number;
}

/** A scenario whose servers and clients are open. */
export interface RunningScenario {
  /** e.g. `256 connections`. */
  shape: string;
  /** Concurrent workers; each runs one round trip at a time. */
  workers: number;
  /** One checked round trip of `worker`, its `seq`-th; records into `tally`, never rejects. */
  roundTrip(worker: number, seq: number, tally: Tally): Promise<void>;
  /** Pids of the child processes it started (their fds and RSS are sampled in a soak). */
  childPids(): number[];
  /** Closes everything it opened. */
  close(): Promise<void>;
}

/** One scenario. */
export interface Scenario {
  name: string;
  /** What one round trip is, for the report. */
  unit: string;
  open(dir: string, options: LoadOptions): Promise<RunningScenario>;
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** N `RpcPeer` clients, each making sequential echo requests to an `RpcPeer` server. */
const rpcPeer: Scenario = {
  name: 'rpc-peer',
  unit: 'echo requests',
  async open(dir, options) {
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
    const clients = await Promise.all(
      Array.from(
        { length: options.connections },
        async () => new RpcPeer(await connect(path), { requestTimeout: 60_000 }),
      ),
    );
    return {
      shape: `${options.connections} connections`,
      workers: options.connections,
      async roundTrip(worker, seq, tally) {
        const token = `${worker}:${seq}`;
        const start = performance.now();
        try {
          const result = (await clients[worker]!.request('echo', [worker, seq, token])) as unknown[];
          if (result[0] !== worker || result[1] !== seq || result[2] !== token) {
            tally.problem('mismatched', `sent ${token}, got ${JSON.stringify(result)}`);
          } else tally.record(start);
        } catch (error) {
          tally.problem('lost', `${token}: ${String(error)}`);
        }
      },
      childPids: () => [],
      async close() {
        await Promise.all(clients.map((peer) => peer.close()));
        for (const peer of serverPeers) peer.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  },
};

/**
 * Both Kong sides over one of Kong's protocols: `KongPluginClient` (Kong's side, N pooled connections) runs events
 * against a `KongPluginServer`; each event is HandleEvent plus two PDK round trips (the plugin reads a header and
 * sets it back), so a token travels Kong → plugin → Kong.
 */
function kongScenario(name: string, protocol: KongProtocol): Scenario {
  return {
    name,
    unit: `events over ${protocol} (3 round trips each)`,
    async open(dir, options) {
      const server = new KongPluginServer({
        socketPath: join(dir, `${name}.socket`),
        serverPid: true,
        protocol,
      });
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
        protocol,
        maxConnections: options.connections,
        poolSize: options.connections,
        timeout: 60_000,
      });
      return {
        shape: `${options.connections} connections`,
        workers: options.connections,
        async roundTrip(worker, seq, tally) {
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
        },
        childPids: () => [],
        async close() {
          await client.close();
          await server.close();
        },
      };
    },
  };
}

/** Concurrent Put+Get call streams against a go-plugin KV plugin (the Go fixture when built, else TypeScript). */
const goPlugin: Scenario = {
  name: 'goplugin',
  unit: 'Put+Get pairs',
  async open(_dir, options) {
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
    return {
      shape: `${options.streams} streams (${go ? 'Go' : 'TypeScript'} plugin)`,
      workers: options.streams,
      async roundTrip(stream, seq, tally) {
        // A bounded key space: the plugin's store stays the same size however long the run.
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
      },
      childPids: () => (plugin.pid === undefined ? [] : [plugin.pid]),
      // kill() closes the channel kv shares (closing kv first would close it under the plugin client).
      close: () => plugin.kill(),
    };
  },
};

/** Every scenario, in the order they run. */
export const SCENARIOS: readonly Scenario[] = [
  rpcPeer,
  kongScenario('kong-server', 'MsgPack:1'),
  kongScenario('kong-protobuf', 'ProtoBuf:1'),
  goPlugin,
];
