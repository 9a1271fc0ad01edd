/**
 * Test helpers for the ProtoBuf:1 plugin-server side: a server on a temp socket and a raw frame-level "Kong"
 * connection that writes frames and reads them back one at a time, with bounded waits.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame, FrameReader } from '../../../src/kong-rpc/protobuf/framing.js';
import { messageType } from '../../../src/kong-rpc/protobuf/schema.js';
import { KongPluginServer, type KongPluginServerOptions } from '../../../src/kong-rpc/server.js';
import { type FlatLogEntry, flatRecordingLogger } from '../../helpers/logger.js';

/** A frame read from the server, or the end of the connection. */
export type ReadResult = Buffer | 'closed';

/** A raw connection speaking frames. */
export interface RawKong {
  socket: Socket;
  /** Writes one frame (length + payload). */
  send(payload: Uint8Array): void;
  /** Writes raw bytes. */
  write(bytes: Uint8Array): void;
  /** The next frame, or `'closed'` when the server closed first. Fails after `timeout` ms. */
  read(timeout?: number): Promise<ReadResult>;
  /** Resolves when the server has closed the connection. */
  closed(timeout?: number): Promise<void>;
  /** Whether a frame is already buffered. */
  readonly buffered: number;
}

/** Connects a raw frame connection to a socket. */
export async function connectRaw(socketPath: string): Promise<RawKong> {
  const socket = createConnection(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const reader = new FrameReader();
  const frames: Buffer[] = [];
  let ended = false;
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  socket.on('data', (chunk: Buffer) => {
    reader.push(chunk);
    for (let frame = reader.read(); frame !== undefined; frame = reader.read()) frames.push(frame);
    wake();
  });
  socket.on('close', () => {
    ended = true;
    wake();
  });
  socket.on('error', () => {});
  const until = (ready: () => boolean, timeout: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (ready()) {
        resolve();
        return;
      }
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeout);
      const check = () => {
        if (ready()) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      waiters.push(check);
    });
  return {
    socket,
    send: (payload) => socket.write(encodeFrame(payload)),
    write: (bytes) => socket.write(bytes),
    async read(timeout = 5_000) {
      await until(() => frames.length > 0 || ended, timeout, 'a frame');
      return frames.shift() ?? 'closed';
    },
    async closed(timeout = 5_000) {
      await until(() => ended, timeout, 'the server to close the connection');
    },
    get buffered() {
      return frames.length;
    },
  };
}

/** A ProtoBuf:1 server with its plugins on a temp socket, its log lines recorded. */
export async function startProtobufServer(
  setup: (server: KongPluginServer) => void,
  options: KongPluginServerOptions = {},
): Promise<{
  server: KongPluginServer;
  socketPath: string;
  logs: FlatLogEntry[];
  connect(): Promise<RawKong>;
  dispose(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-kong-pb-'));
  const logs: FlatLogEntry[] = [];
  const server = new KongPluginServer({
    prefix: dir,
    protocol: 'ProtoBuf:1',
    logger: flatRecordingLogger((entry) => logs.push(entry)),
    ...options,
  });
  setup(server);
  const socketPath = await server.listen();
  const raws: RawKong[] = [];
  return {
    server,
    socketPath,
    logs,
    async connect() {
      const raw = await connectRaw(socketPath);
      raws.push(raw);
      return raw;
    },
    async dispose() {
      for (const raw of raws) raw.socket.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Encodes a message of the schema (field names as in the .proto). */
export function encode(type: string, value: Record<string, unknown>): Uint8Array {
  return messageType(type).encode(value).finish();
}

/** Decodes a message of the schema to a plain object (longs as numbers, bytes as Buffers, oneofs named). */
export function decode(type: string, bytes: Uint8Array): Record<string, unknown> {
  const message = messageType(type);
  return message.toObject(message.decode(bytes), { longs: Number, oneofs: true, defaults: false });
}

/** Hex of bytes. */
export function hex(bytes: Uint8Array | ReadResult): string {
  return typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('hex');
}
