/**
 * `npm run demo`: a small API gateway composed only from pluginwire's public modules.
 *
 * 1. kong-conf: reads ./kong.conf with Kong 3.9's rules, resolves its three plugin servers, runs their query
 *    commands as Kong does and reads the plugin infos and the protocol they dump.
 * 2. socket: supervises the servers (a TypeScript KongPluginServer on MsgPack:1, kong-pdk's
 *    kong-js-pluginserver, and a TypeScript KongPluginServer on ProtoBuf:1, the protocol of Go plugins) as Kong
 *    does: `/bin/sh -c "exec …"`, own process group, ready when the socket accepts.
 * 3. kong-rpc: serves HTTP on 127.0.0.1 and runs each plugin's access and log phases per request through
 *    KongPluginClient, in the protocol each server's dump named, with a small real PDK (./pdk.ts); a tap
 *    (./tap.ts) decodes every msgpack-RPC message, and the ProtoBuf:1 plugin's PDK calls are traced.
 * 4. goplugin: hosts a TypeScript go-plugin plugin (./kv-plugin.ts) with startPlugin and does a KV round trip.
 *
 * It sends a few requests to itself, prints a trace, cleans everything up and exits 0. `--serve` keeps
 * serving (on `--port`, default 8000) until Ctrl-C. `--quiet` leaves the RPC messages out of the trace.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { type GrpcObject, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { type PluginClient, startPlugin } from '../../src/goplugin/index.js';
import { parseKongConf, queryPluginServer, resolvePluginServers } from '../../src/kong-conf/index.js';
import { type KongPhase, KongPluginClient } from '../../src/kong-rpc/index.js';
import type { Message } from '../../src/msgpack-rpc/index.js';
import { PluginServerSupervisor } from '../../src/socket/index.js';
import { type Exchange, gatewayPdk } from './pdk.js';
import { startTap, type Tap } from './tap.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');

const { values: flags } = parseArgs({
  options: {
    serve: { type: 'boolean' },
    port: { type: 'string' },
    quiet: { type: 'boolean' },
  },
});

const out = (line = '') => process.stdout.write(`${line}\n`);
const short = (value: unknown, max = 150) => {
  const json = JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v));
  return json.length > max ? `${json.slice(0, max - 1)}…` : json;
};

/** One plugin the gateway runs, on the server that serves it. */
interface RoutePlugin {
  name: string;
  server: string;
  priority: number;
  phases: string[];
  config: Record<string, unknown>;
  client: KongPluginClient;
  /** The protocol its server's dump named. */
  protocol: string;
}

// Each plugin's configuration on the demo's one route (Kong would read these from its database).
const CONFIGS: Record<string, Record<string, unknown>> = {
  greeter: { greeting: 'hello', token: 'letmein' },
  stamp: { tag: 'pluginwire' },
};

/** What the gateway owns; `cleanup` releases it in reverse order on every path. */
const resources: (() => Promise<unknown> | unknown)[] = [];
async function cleanup(): Promise<void> {
  for (const release of resources.reverse()) {
    try {
      await release();
    } catch (error) {
      process.stderr.write(`cleanup: ${(error as Error).message}\n`);
    }
  }
  resources.length = 0;
}

async function setUpPluginServers(prefix: string): Promise<RoutePlugin[]> {
  // kong.conf's commands expand these in /bin/sh, as Kong's would expand the variables of its environment.
  process.env.DEMO_NODE = process.execPath;
  process.env.DEMO_DIR = HERE;
  process.env.DEMO_KONG_JS = join(ROOT, 'node_modules', '.bin', 'kong-js-pluginserver');
  process.env.KONG_PREFIX = prefix;

  const confPath = join(HERE, 'kong.conf');
  const conf = parseKongConf(readFileSync(confPath, 'utf8'), { filename: 'kong.conf' });
  const { servers, warnings } = resolvePluginServers(conf, { kongVersion: '3.9', prefix, env: {} });
  out('== kong-conf: examples/gateway/kong.conf, Kong 3.9 rules');
  for (const server of servers)
    out(`  server ${server.name}: socket ${server.socket.replace(prefix, '$KONG_PREFIX')}`);
  for (const warning of warnings.filter((w) => w.severity !== 'info')) {
    out(`  kong.conf:${warning.line ?? '-'} ${warning.code}: ${warning.message}`);
  }

  const plugins: RoutePlugin[] = [];
  out('== socket: supervising the plugin servers');
  for (const server of servers) {
    const dump = await queryPluginServer(server, { cwd: ROOT, timeout: 60_000 });
    const supervisor = new PluginServerSupervisor(
      { name: server.name, socket: server.socket, startCmd: server.startCmd },
      {
        cwd: ROOT,
        readyTimeout: 60_000,
        logger: { error: (message: string) => process.stderr.write(`  [${server.name}] ${message}\n`) },
      },
    );
    resources.push(() => supervisor.stop());
    await supervisor.start();
    out(`  ${server.name}: pid ${supervisor.pid}, ready on its socket, speaks ${dump.protocol}`);
    // The msgpack tap forwards to the real socket; point the client at the real one with --quiet. ProtoBuf:1
    // servers are reached directly (their PDK calls are traced instead).
    let socketPath = server.socket;
    if (dump.protocol === 'MsgPack:1' && !flags.quiet) {
      const tap: Tap = await startTap(
        join(prefix, `${server.name}.tap`),
        server.socket,
        (direction, message) => traceMessage(server.name, direction, message),
      );
      resources.push(() => tap.close());
      socketPath = tap.path;
    }
    // The protocol comes from the dump, as Kong does: the client never speaks the other one.
    const client = KongPluginClient.forServer(
      { socket: socketPath, protocol: dump.protocol },
      { timeout: 20_000 },
    );
    resources.push(() => client.close());
    for (const info of dump.registered) {
      out(
        `  ${server.name} serves ${info.Name} ${info.Version} (priority ${info.Priority}, phases ${info.Phases?.join(',')})`,
      );
      plugins.push({
        name: info.Name,
        server: server.name,
        priority: info.Priority ?? 0,
        phases: info.Phases ?? [],
        config: CONFIGS[info.Name] ?? {},
        client,
        protocol: dump.protocol,
      });
    }
  }
  // Kong runs plugins by descending priority.
  return plugins.sort((a, b) => b.priority - a.priority);
}

let tracing = false;
function traceMessage(server: string, direction: string, message: Message): void {
  if (!tracing || flags.quiet) return;
  const arrow = direction === 'gateway→server' ? `gateway → ${server}` : `${server} → gateway`;
  const body =
    message.kind === 'request'
      ? `[0, ${message.msgid}, ${message.method}, ${short(message.params, 110)}]`
      : message.kind === 'response'
        ? `[1, ${message.msgid}, ${short(message.error)}, ${short(message.result, 110)}]`
        : `[2, ${message.method}, ${short(message.params)}]`;
  out(`      rpc ${arrow}: ${body}`);
}

async function runPhase(plugin: RoutePlugin, phase: KongPhase, exchange: Exchange) {
  out(`    ${phase} ${plugin.name} (${plugin.server}, ${plugin.protocol})`);
  const traced = flags.quiet || plugin.protocol !== 'MsgPack:1';
  const pdk = gatewayPdk(exchange, plugin.name, (method, args, result) => {
    if (traced) out(`      pdk ${method}(${short(args).slice(1, -1)}) = ${short(result ?? null)}`);
  });
  return plugin.client.runEvent(plugin.name, plugin.config, phase, pdk);
}

/** Handles one request: access phases by priority, the upstream (an echo) unless a plugin exited, log phases. */
async function handle(plugins: RoutePlugin[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const url = new URL(req.url ?? '/', 'http://gateway');
  const requestHeaders: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined) requestHeaders[name] = value;
  const exchange: Exchange = {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.search.slice(1),
    requestHeaders,
    body: Buffer.concat(chunks).toString('utf8'),
    status: 200,
    responseHeaders: {},
    logs: [],
  };
  let body: string | undefined;
  for (const plugin of plugins.filter((p) => p.phases.includes('access'))) {
    const outcome = await runPhase(plugin, 'access', exchange);
    if (outcome.terminal !== undefined) {
      // kong.response.exit(status, body, headers): Kong answers the client and skips the upstream.
      const [status, exitBody, headers] = outcome.terminal.args as [
        number,
        unknown,
        Record<string, unknown>?,
      ];
      exchange.status = status;
      // ProtoBuf:1 carries the body as bytes (a Lua string in Kong), MsgPack:1 as text or a table.
      body =
        typeof exitBody === 'string'
          ? exitBody
          : exitBody instanceof Uint8Array
            ? Buffer.from(exitBody).toString('utf8')
            : exitBody === undefined
              ? ''
              : JSON.stringify(exitBody);
      for (const [name, value] of Object.entries(headers ?? {}))
        exchange.responseHeaders[name] = String(value);
      out(`      ${plugin.name} ended the request: ${outcome.terminal.method}(${status})`);
      break;
    }
  }
  if (body === undefined) {
    body = `${JSON.stringify({ upstream: 'echo', method: exchange.method, path: exchange.path })}\n`;
    exchange.responseHeaders['content-type'] = 'application/json';
  }
  res.writeHead(exchange.status, exchange.responseHeaders);
  res.end(body);
  for (const plugin of plugins.filter((p) => p.phases.includes('log')))
    await runPhase(plugin, 'log', exchange);
  for (const line of exchange.logs) out(`    log ${line}`);
}

/** Exchanges still running their log phases (after the response was sent), so the trace can wait for them. */
const inFlight = new Set<Promise<void>>();

function listen(plugins: RoutePlugin[], port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const exchange = handle(plugins, req, res).catch((error: Error) => {
      out(`    error: ${error.message}`);
      if (!res.headersSent) res.writeHead(500).end(`gateway error: ${error.message}\n`);
    });
    inFlight.add(exchange);
    void exchange.finally(() => inFlight.delete(exchange));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const REQUESTS: { title: string; path: string; headers: Record<string, string> }[] = [
  { title: 'both plugins let it through', path: '/hello', headers: { 'x-name': 'newcomer' } },
  { title: 'greeter (priority 900) wants a token', path: '/private/report', headers: {} },
  { title: 'with the token', path: '/private/report', headers: { 'x-token': 'letmein', 'x-name': 'admin' } },
  { title: 'stamp blocks this host', path: '/hello', headers: { host: 'blocked.example' } },
];

async function selfRequests(port: number): Promise<void> {
  for (const [index, request] of REQUESTS.entries()) {
    out(`  #${index + 1} GET ${request.path} ${short(request.headers)}: ${request.title}`);
    const response = await get(port, request.path, request.headers);
    // The log phases run after the response is sent, as in Kong: wait for them so the trace stays in order.
    await Promise.all(inFlight);
    const set = Object.entries(response.headers).filter(([name]) => name.startsWith('x-'));
    out(
      `    → ${response.status} ${short(response.body.trimEnd(), 80)}; plugin headers ${short(Object.fromEntries(set))}`,
    );
  }
}

/** A GET with any headers (fetch refuses to set `host`), bounded by a timeout. */
function get(port: number, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>(
    (resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers, timeout: 30_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
      req.on('error', reject);
      req.end();
    },
  );
}

async function kvRoundTrip(): Promise<void> {
  out('== goplugin: hosting examples/gateway/kv-plugin.ts (a TypeScript go-plugin plugin) with startPlugin');
  const proto = loadPackageDefinition(loadSync(join(HERE, 'kv.proto'))).proto as GrpcObject;
  type Callback<T> = (error: Error | null, response: T) => void;
  interface KVClient {
    Put(request: { key: string; value: Buffer }, callback: Callback<object>): void;
    Get(request: { key: string }, callback: Callback<{ value: Buffer }>): void;
  }
  const plugin: PluginClient = await startPlugin({
    command: process.execPath,
    args: ['--import', 'tsx', join(HERE, 'kv-plugin.ts')],
    cwd: ROOT,
    magicCookieKey: 'BASIC_PLUGIN',
    magicCookieValue: 'hello',
    autoMTLS: true,
    startTimeout: 60_000,
    logger: {
      // The plugin's hclog lines arrive at their own level, with the plugin's fields and `origin: 'plugin'`.
      info: (message, fields) => {
        if (fields?.origin === 'plugin') out(`  plugin log [info] ${message} ${short(fields)}`);
      },
    },
  });
  resources.push(() => plugin.kill());
  out(`  handshake ${plugin.handshake?.raw.slice(0, 60)}… (pid ${plugin.pid}, AutoMTLS)`);
  const kv = plugin.makeClient(proto.KV as ServiceClientConstructor) as unknown as KVClient;
  await promisify(kv.Put.bind(kv))({ key: 'greeting', value: Buffer.from('hello from the gateway') });
  const { value } = await promisify(kv.Get.bind(kv))({ key: 'greeting' });
  out(`  KV Put greeting, Get greeting = ${JSON.stringify(value.toString())}`);
  await plugin.ping();
  out('  health: SERVING');
}

// Plugin servers and the go-plugin plugin run in their own process groups, so the terminal's Ctrl-C reaches only
// this process: stop them here. While serving, the signal ends the serve wait; before that, it cleans up and exits.
let serving: (() => void) | undefined;
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (serving !== undefined) return serving();
  interrupted = true;
  out(`\n${signal}: stopping`);
  void cleanup().then(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

async function main(): Promise<void> {
  const port = flags.serve ? Number(flags.port ?? 8000) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port takes a port number, got ${flags.port}`);
  const prefix = mkdtempSync(join(tmpdir(), 'pluginwire-demo-'));
  resources.push(() => rmSync(prefix, { recursive: true, force: true }));
  out(`pluginwire demo gateway (prefix ${prefix})`);
  const plugins = await setUpPluginServers(prefix);
  const server = await listen(plugins, port);
  resources.push(() => new Promise((resolve) => server.close(resolve)));
  const actualPort = (server.address() as AddressInfo).port;
  out(
    `== kong-rpc: gateway on http://127.0.0.1:${actualPort}, plugins by priority: ${plugins.map((p) => p.name).join(', ')}`,
  );
  tracing = true;
  await selfRequests(actualPort);
  tracing = false;
  await kvRoundTrip();
  if (flags.serve) {
    tracing = true;
    out(`== serving: curl -i -H 'x-name: you' http://127.0.0.1:${actualPort}/hello   (Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      serving = resolve;
    });
  }
  await cleanup();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  out('== done: servers stopped, go-plugin plugin killed, sockets and prefix removed');
}

main().catch(async (error: Error) => {
  if (interrupted) return; // the signal handler is cleaning up and exits 130
  process.stderr.write(`demo failed: ${error.stack ?? error.message}\n`);
  await cleanup();
  process.exitCode = 1;
});
