/**
 * The server process of bench/kong-event.bench.ts: a KongPluginServer whose `bench` plugin makes `config.calls`
 * PDK calls per access event, a plain RpcPeer echo server (the baseline round trip), both in Kong's profile, and a
 * codec-only echo (one reused @msgpack/msgpack Decoder and Encoder, no framing beyond one message per chunk with
 * one call in flight, no validation, correlation or dispatch): the ceiling of any peer on that codec.
 *
 *   node --import tsx bench/kong-event.server.ts <kong socket> <echo socket> <codec-only socket>
 */
import { createServer } from 'node:net';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { type KongPdk, KongPluginServer } from '../src/kong-rpc/index.js';
import { KONG_PEER_OPTIONS, RpcPeer } from '../src/msgpack-rpc/index.js';

const [kongSocket, echoSocket, codecSocket] = process.argv.slice(2);
if (kongSocket === undefined || echoSocket === undefined || codecSocket === undefined)
  throw new Error('usage: kong-event.server.ts <kong socket> <echo socket> <codec-only socket>');

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

const codecOnly = createServer((socket) => {
  const decoder = new Decoder();
  const encoder = new Encoder();
  socket.on('data', (chunk: Buffer) => {
    // One call in flight: each chunk is one whole request (the client writes it in one piece).
    const request = decoder.decode(chunk) as [number, number, string, unknown[]];
    const shared = encoder.encodeSharedRef([1, request[1], null, request[3][0]]);
    const out = Buffer.allocUnsafe(shared.length);
    out.set(shared);
    socket.write(out);
  });
  socket.on('error', () => socket.destroy());
});
await new Promise<void>((resolve) => codecOnly.listen(codecSocket, resolve));
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  echo.close();
  codecOnly.close();
  server.close().then(() => process.exit(0));
});
