/**
 * A tiny scripted ProtoBuf:1 peer for the Kong-side fault tests: each connection runs a script that reads and
 * writes raw frames, over a real Unix socket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame, FrameReader } from '../../../src/kong-rpc/protobuf/framing.js';
import { messageType } from '../../../src/kong-rpc/protobuf/schema.js';

/** One connection, as the script sees it. */
export interface ScriptConnection {
  /** The next frame's payload; rejects when the connection closes first. */
  readFrame(): Promise<Buffer>;
  /** The next frame decoded as an RpcCall. */
  readCall(): Promise<Record<string, Record<string, unknown> | number>>;
  /** Writes one frame. */
  frame(payload: Uint8Array | string): void;
  /** Writes raw bytes. */
  raw(bytes: Uint8Array): void;
  /** Writes an RpcReturn. */
  reply(value: Record<string, unknown>): void;
  socket: Socket;
}

/** A running scripted server. */
export interface ScriptedServer {
  socketPath: string;
  readonly connections: number;
  close(): Promise<void>;
}

/** Starts a server that runs `script` on every connection. */
export async function scriptedServer(
  script: (conn: ScriptConnection) => Promise<void> | void,
): Promise<ScriptedServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-pb-script-'));
  const socketPath = join(dir, 'plugin.sock');
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new FrameReader();
    const frames: Buffer[] = [];
    const waiting: { resolve(b: Buffer): void; reject(e: Error): void }[] = [];
    let ended = false;
    socket.on('data', (chunk) => {
      reader.push(chunk);
      for (let f = reader.read(); f !== undefined; f = reader.read()) {
        const w = waiting.shift();
        if (w !== undefined) w.resolve(f);
        else frames.push(f);
      }
    });
    socket.on('close', () => {
      ended = true;
      for (const w of waiting.splice(0)) w.reject(new Error('closed'));
    });
    const conn: ScriptConnection = {
      socket,
      readFrame: () => {
        const f = frames.shift();
        if (f !== undefined) return Promise.resolve(f);
        if (ended) return Promise.reject(new Error('closed'));
        return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
      },
      readCall: async () => {
        const RpcCall = messageType('kong_plugin_protocol.RpcCall');
        return RpcCall.toObject(RpcCall.decode(await conn.readFrame()), { longs: Number }) as Record<
          string,
          Record<string, unknown> | number
        >;
      },
      frame: (payload) =>
        socket.write(encodeFrame(typeof payload === 'string' ? Buffer.from(payload) : payload)),
      raw: (bytes) => socket.write(bytes),
      reply: (value) => {
        const RpcReturn = messageType('kong_plugin_protocol.RpcReturn');
        socket.write(encodeFrame(RpcReturn.encode(RpcReturn.fromObject(value)).finish()));
      },
    };
    Promise.resolve()
      .then(() => script(conn))
      .catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    get connections() {
      return accepted;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Encodes a PDK message of the schema. */
export function pdkMessage(type: string, value: Record<string, unknown>): Uint8Array {
  const t = messageType(type);
  return t.encode(t.fromObject(value)).finish();
}
