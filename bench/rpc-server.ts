/**
 * Server side of `rpc.bench.ts`, one process per (kind, pattern): listens on the Unix socket path argv[3] and
 * answers `[0, id, "plugin.HandleEvent", [event]]` with `[1, id, nil, event]`.
 *
 *   raw         echoes bytes (no codec)
 *   codec-only  one reused @msgpack/msgpack Decoder and Encoder per connection, nothing else (decodeMulti over each
 *               chunk, the incomplete tail kept for the next; one write per chunk)
 *   module      pluginwire's RpcPeer
 *   neovim      the neovim package's msgpack-RPC Transport
 *
 * Prints `ready` when listening; exits on SIGTERM or when stdin closes.
 */
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { RpcPeer } from '../src/msgpack-rpc/index.js';

const [kind, path] = process.argv.slice(2);
const require = createRequire(import.meta.url);

interface NeovimTransport {
  attach(writer: Socket, reader: Socket, client: object): void;
  on(
    event: 'request',
    listener: (method: string, args: unknown[], response: { send(value: unknown): void }) => void,
  ): void;
}

/** Every complete message in `bytes`, and the incomplete tail (see `decodeAll` in rpc.bench.ts). */
function decodeAll(decoder: Decoder, bytes: Buffer): { messages: unknown[]; rest: Buffer | undefined } {
  const messages: unknown[] = [];
  let consumed = 0;
  try {
    for (const message of decoder.decodeMulti(bytes)) {
      messages.push(message);
      consumed = (decoder as unknown as { pos: number }).pos;
    }
  } catch {
    // RangeError: the last message is incomplete.
  }
  return { messages, rest: consumed < bytes.length ? bytes.subarray(consumed) : undefined };
}

function serve(socket: Socket): void {
  socket.on('error', () => socket.destroy());
  if (kind === 'raw') {
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
  } else if (kind === 'codec-only') {
    const decoder = new Decoder();
    const encoder = new Encoder();
    let partial: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      const { messages, rest } = decodeAll(
        decoder,
        partial === undefined ? chunk : Buffer.concat([partial, chunk]),
      );
      partial = rest;
      if (messages.length === 0) return;
      // One write per chunk for all its answers, as RpcPeer writes once per data pass.
      const parts: Buffer[] = [];
      for (const message of messages) {
        const request = message as [number, number, string, unknown[]];
        const shared = encoder.encodeSharedRef([1, request[1], null, request[3][0]]);
        const out = Buffer.allocUnsafe(shared.length);
        out.set(shared);
        parts.push(out);
      }
      socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    });
  } else if (kind === 'module') {
    const peer = new RpcPeer(socket);
    peer.handle('plugin.HandleEvent', ([event]) => event);
  } else if (kind === 'neovim') {
    const { Transport } = require('neovim/lib/utils/transport') as { Transport: new () => NeovimTransport };
    const transport = new Transport();
    transport.attach(socket, socket, {});
    transport.on('request', (_method, args, response) => response.send(args[0]));
  } else {
    throw new Error(`unknown kind ${kind}`);
  }
}

if (kind === 'neovim') {
  // neovim's Transport rejects an unobserved promise when its stream ends (decodeMultiStream); keep the server up.
  process.on('unhandledRejection', () => {});
}
const server = createServer(serve);
server.listen(path, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
