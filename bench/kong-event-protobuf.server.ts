/**
 * A server process of bench/kong-event-protobuf.bench.ts, one kind per process so each one's CPU time is its own:
 * - `kong <MsgPack:1|ProtoBuf:1> <socket>`: a KongPluginServer whose `bench` plugin makes `config.calls`
 *   `kong.request.get_header('host')` calls per access event;
 * - `rpc-echo <socket>`: a plain RpcPeer echo in Kong's profile (the baseline round trip);
 * - `frame-echo <socket>`: a bare ProtoBuf:1-framed echo, no protobuf at all: for every two frames received (a
 *   PDK call's method name and argument) it writes one result frame, the bytes of one PDK call with none of the
 *   work (the ceiling of any ProtoBuf:1 implementation on this machine).
 *
 * It prints `ready`; its CPU time is read by bench/cpu.ts's probe, preloaded by the benchmark.
 */
import { createServer } from 'node:net';
import { type KongPdk, KongPluginServer, type KongProtocol } from '../src/kong-rpc/index.js';
import { encodeFrame, FrameReader } from '../src/kong-rpc/protobuf/framing.js';
import { KONG_PEER_OPTIONS, RpcPeer } from '../src/msgpack-rpc/index.js';

const [kind, ...rest] = process.argv.slice(2);

async function listen(socketPath: string, onConnection: Parameters<typeof createServer>[1]) {
  const server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return () => server.close();
}

let stop: () => unknown;
if (kind === 'kong') {
  const [protocol, socketPath] = rest as [KongProtocol, string];
  const server = new KongPluginServer({ socketPath, protocol });
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
  stop = () => server.close();
} else if (kind === 'rpc-echo') {
  stop = await listen(rest[0] as string, (socket) => {
    const peer = new RpcPeer(socket, KONG_PEER_OPTIONS);
    peer.handleUnknown((_method, params) => params[0]);
  });
} else if (kind === 'frame-echo') {
  // The result Kong writes for get_header('host'): String{v:"example.com"}.
  const result = encodeFrame(Buffer.from('0a0b6578616d706c652e636f6d', 'hex'));
  stop = await listen(rest[0] as string, (socket) => {
    const reader = new FrameReader();
    let frames = 0;
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      while (reader.read() !== undefined) {
        if (++frames % 2 === 0) socket.write(result);
      }
    });
    socket.on('error', () => {});
  });
} else {
  throw new Error(
    'usage: kong-event-protobuf.server.ts kong <protocol> <socket> | rpc-echo <socket> | frame-echo <socket>',
  );
}

process.on('SIGTERM', async () => {
  await stop();
  process.exit(0);
});
process.stdout.write('ready\n');
