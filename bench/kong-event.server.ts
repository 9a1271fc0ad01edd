/**
 * The server process of bench/kong-event.bench.ts: a KongPluginServer whose `bench` plugin makes `config.calls`
 * PDK calls per access event, and a plain RpcPeer echo server (the baseline round trip), both in Kong's profile.
 *
 *   node --import tsx bench/kong-event.server.ts <kong socket> <echo socket>
 */
import { createServer } from 'node:net';
import { type KongPdk, KongPluginServer } from '../src/kong-rpc/index.js';
import { KONG_PEER_OPTIONS, RpcPeer } from '../src/msgpack-rpc/index.js';

const [kongSocket, echoSocket] = process.argv.slice(2);
if (kongSocket === undefined || echoSocket === undefined)
  throw new Error('usage: kong-event.server.ts <kong socket> <echo socket>');

const server = new KongPluginServer({ socketPath: kongSocket });
server.addPlugin({
  name: 'bench',
  version: '1.0.0',
  phases: ['access'],
  create: (config: { calls?: number }) => ({
    async access(kong: KongPdk) {
      const calls = config.calls ?? 0;
      for (let index = 0; index < calls; index++) await kong.request.getHeader('host');
    },
  }),
});
await server.listen();

const echo = createServer((socket) => {
  const peer = new RpcPeer(socket, KONG_PEER_OPTIONS);
  peer.handleUnknown((_method, params) => params[0]);
});
await new Promise<void>((resolve) => echo.listen(echoSocket, resolve));
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  echo.close();
  server.close().then(() => process.exit(0));
});
