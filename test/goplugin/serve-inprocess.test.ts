import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ClientDuplexStream,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceClientConstructor,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';
// The .proto files, loaded with proto-loader: an independent check of the compiled definitions the runtime uses.
import { GOPLUGIN_PROTO_DIR, GOPLUGIN_PROTO_FILES } from '../../scripts/gen-goplugin-protos.js';
import { createHclogLogger } from '../../src/goplugin/hclog.js';
import { type ConnInfo, type ServedPlugin, servePlugin } from '../../src/goplugin/index.js';
import { KV_PROTO_DIR } from '../fixtures/go/fixtures.js';

const protoDir = GOPLUGIN_PROTO_DIR;
const internal = loadPackageDefinition(
  loadSync(
    GOPLUGIN_PROTO_FILES.map((file) => join(protoDir, file)),
    { keepCase: true, enums: String, defaults: true, includeDirs: [protoDir] },
  ),
);
const fixture = loadPackageDefinition(loadSync(join(KV_PROTO_DIR, 'broker.proto'), { keepCase: true }));
const ctor = (root: GrpcObject, path: string) => {
  let node: unknown = root;
  for (const part of path.split('.')) node = (node as GrpcObject)[part];
  return node as ServiceClientConstructor;
};
const Health = ctor(internal, 'grpc.health.v1.Health');
const Controller = ctor(internal, 'plugin.GRPCController');
const Broker = ctor(internal, 'plugin.GRPCBroker');
const Echo = ctor(fixture, 'proto.Echo');

type Client = InstanceType<ServiceClientConstructor>;
type Unary = (request: unknown, done: (error: Error | null, reply?: unknown) => void) => void;
const call = (client: Client, method: string, request: unknown) =>
  new Promise<unknown>((resolve, reject) => {
    (client[method] as Unary).call(client, request, (error, reply) =>
      error ? reject(error) : resolve(reply),
    );
  });
const echoImpl = (who: string) => ({
  Echo: (c: ServerUnaryCall<{ text: string }, unknown>, done: sendUnaryData<unknown>) =>
    done(null, { text: `${who}:${c.request.text}` }),
});

describe('servePlugin in test mode (in process, reattach instead of a handshake)', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(extra: { signal?: AbortSignal } = {}): Promise<{ plugin: ServedPlugin; dir: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'pws-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const plugin = await servePlugin({
      magicCookieKey: 'BASIC_PLUGIN',
      magicCookieValue: 'hello',
      versions: { 3: (server) => server.addService(Echo.service, echoImpl('v3')), 2: () => {} },
      test: true,
      env: { PLUGIN_UNIX_SOCKET_DIR: dir, PLUGIN_PROTOCOL_VERSIONS: '3' },
      logger: createHclogLogger({ write: () => {} }),
      ...extra,
    });
    cleanups.push(() => plugin.stop());
    return { plugin, dir };
  }

  it('serves without a cookie, reports reattach data, and answers health and the application service', async () => {
    const { plugin, dir } = await start();
    expect(plugin.reattach).toEqual({
      protocol: 'grpc',
      protocolVersion: 3,
      addr: { network: 'unix', address: plugin.address },
      pid: process.pid,
      test: true,
    });
    expect(plugin.address.startsWith(`${dir}/plugin`)).toBe(true);
    const target = `unix:${plugin.address}`;
    const health = new Health(target, credentials.createInsecure());
    const echo = new Echo(target, credentials.createInsecure());
    cleanups.push(
      () => health.close(),
      () => echo.close(),
    );
    expect(await call(health, 'Check', { service: 'plugin' })).toEqual({ status: 'SERVING' });
    expect(await call(echo, 'Echo', { text: 'hi' })).toEqual({ text: 'v3:hi' });
  });

  it("accepts messages beyond grpc-js's 4 MiB default (go-plugin limits)", async () => {
    const { plugin } = await start();
    const echo = new Echo(`unix:${plugin.address}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
    });
    cleanups.push(() => echo.close());
    const text = 'x'.repeat(6 * 1024 * 1024);
    expect(((await call(echo, 'Echo', { text })) as { text: string }).text.length).toBe(text.length + 3);
  });

  it('Shutdown stops the server and removes the socket; closed settles', async () => {
    const { plugin } = await start();
    const controller = new Controller(`unix:${plugin.address}`, credentials.createInsecure());
    cleanups.push(() => controller.close());
    expect(await call(controller, 'Shutdown', {})).toEqual({});
    await plugin.closed;
    expect(existsSync(plugin.address)).toBe(false);
  });

  it('an AbortSignal stops the plugin', async () => {
    const controller = new AbortController();
    const { plugin } = await start({ signal: controller.signal });
    controller.abort();
    await plugin.closed;
    expect(existsSync(plugin.address)).toBe(false);
  });

  it('brokers both ways over a real StartStream: plugin dials a host service, host dials a plugin service', async () => {
    const { plugin, dir } = await start();
    const broker = new Broker(`unix:${plugin.address}`, credentials.createInsecure());
    cleanups.push(() => broker.close());
    const stream = (broker.StartStream as () => ClientDuplexStream<ConnInfo, ConnInfo>).call(broker);
    stream.on('error', () => {}); // ends with CANCELLED/OK when the plugin stops

    // Host side accepts id 1: a host-side Echo server announced on the stream.
    const hostServer = new Server();
    hostServer.addService(Echo.service, echoImpl('host'));
    const hostSocket = join(dir, 'host.sock');
    await new Promise<void>((resolve, reject) =>
      hostServer.bindAsync(`unix:${hostSocket}`, ServerCredentials.createInsecure(), (e) =>
        e ? reject(e) : resolve(),
      ),
    );
    cleanups.push(() => hostServer.forceShutdown());
    stream.write({ service_id: 1, network: 'unix', address: hostSocket });
    const connection = await plugin.broker.dial(1);
    const toHost = new Echo(connection.target, connection.credentials, connection.options);
    cleanups.push(() => toHost.close());
    expect(await call(toHost, 'Echo', { text: 'a' })).toEqual({ text: 'host:a' });

    // Plugin side accepts id 2; the host learns the address from the stream.
    const announced = new Promise<ConnInfo>((resolve) => stream.once('data', resolve));
    const served = await plugin.broker.accept(plugin.broker.nextId(), (server) =>
      server.addService(Echo.service, echoImpl('plugin')),
    );
    const info = await announced;
    expect(info).toMatchObject({ service_id: served.id, network: 'unix', address: served.listener.address });
    const toPlugin = new Echo(`unix:${info.address}`, credentials.createInsecure());
    cleanups.push(() => toPlugin.close());
    expect(await call(toPlugin, 'Echo', { text: 'b' })).toEqual({ text: 'plugin:b' });
    await plugin.stop();
    expect(existsSync(served.listener.address)).toBe(false);
  });
});
