/**
 * An RPC tap for the demo's trace: a Unix socket in front of a plugin server's socket that forwards bytes
 * both ways unchanged and decodes a copy of each direction with pluginwire's layers (FrameDecoder →
 * MessageCodec → parseMessage), so the trace shows every msgpack-RPC message Kong's side and the plugin
 * server exchange.
 */
import { connect } from 'node:net';
import { FrameDecoder, type Message, MessageCodec, parseMessage } from '../../src/msgpack-rpc/index.js';
import { listenUnix, type UnixServer } from '../../src/socket/index.js';

/** Which way a message went. */
export type Direction = 'gateway→server' | 'server→gateway';

/** A running tap. */
export interface Tap {
  /** Where the gateway connects. */
  path: string;
  /** Stops listening, ends open connections, removes the socket. */
  close(): Promise<void>;
}

function watcher(direction: Direction, onMessage: (direction: Direction, message: Message) => void) {
  const frames = new FrameDecoder();
  const codec = new MessageCodec();
  return (chunk: Buffer) => {
    try {
      frames.push(chunk);
      for (let frame = frames.next(); frame !== undefined; frame = frames.next()) {
        onMessage(direction, parseMessage(codec.decode(frame), { nonArrayParams: 'wrap' }));
      }
    } catch {
      // The tap only observes: a frame it cannot read is still forwarded unchanged.
    }
  };
}

/**
 * Starts a tap.
 *
 * @param path - the tap's socket.
 * @param target - the plugin server's socket.
 * @param onMessage - receives each decoded message.
 */
export async function startTap(
  path: string,
  target: string,
  onMessage: (direction: Direction, message: Message) => void,
): Promise<Tap> {
  const server: UnixServer = await listenUnix(path);
  const open = new Set<{ destroy(): void }>();
  server.on('connection', (conn) => {
    const client = conn.socket;
    const upstream = connect(target);
    open.add(client);
    open.add(upstream);
    client.on('data', watcher('gateway→server', onMessage));
    upstream.on('data', watcher('server→gateway', onMessage));
    client.pipe(upstream);
    upstream.pipe(client);
    const done = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('close', done).on('error', done);
    upstream.on('close', done).on('error', done);
  });
  return {
    path,
    async close() {
      for (const socket of open) socket.destroy();
      await server.close();
    },
  };
}
