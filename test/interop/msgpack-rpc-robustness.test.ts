import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMulti, encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcPeer } from '../../src/msgpack-rpc/index.js';
import { checkPeer } from '../helpers/peers.js';

const script = join(import.meta.dirname, '../fixtures/msgpack-rpc-peer/robust-server.ts');
const tsx = join(import.meta.dirname, '../../node_modules/tsx');
const available = checkPeer('node with tsx (runs the msgpack-RPC robustness server)', existsSync(tsx));

let child: ChildProcess | undefined;
let exited: Promise<number | null> | undefined;
let directory = '';
let path = '';

beforeAll(async () => {
  if (!available) return;
  directory = mkdtempSync(join(tmpdir(), 'pluginwire-robust-'));
  path = join(directory, 'server.sock');
  const proc = spawn(process.execPath, ['--import', 'tsx', script, path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('robustness server not ready after 30 s')), 30_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`robustness server exited with ${code}`));
    });
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await exited;
  }
  if (directory) rmSync(directory, { recursive: true, force: true });
});

interface Exchange {
  replies: unknown[][];
  ended: boolean;
}

/**
 * Sends `chunks` as separate writes on a fresh connection and collects the replies until `expected` of them
 * arrived or the server closed the connection (bounded).
 */
async function exchange(chunks: Uint8Array[], expected: number): Promise<Exchange> {
  const socket: Socket = createConnection(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const received: Buffer[] = [];
  let ended = false;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no complete answer within 10 s')), 10_000);
    const check = () => {
      const count = [...decodeMulti(Buffer.concat(received))].length;
      if (count >= expected || ended) {
        clearTimeout(timer);
        resolve();
      }
    };
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      check();
    });
    socket.on('close', () => {
      ended = true;
      check();
    });
    socket.on('error', () => {});
  });
  for (const chunk of chunks) {
    await new Promise<void>((resolve) => socket.write(chunk, () => resolve()));
  }
  await done;
  socket.destroy();
  return { replies: [...decodeMulti(Buffer.concat(received))] as unknown[][], ended };
}

const status = (msgid: number) => encode([0, msgid, 'plugin.GetStatus', []]);
const both = (first: Uint8Array, second: Uint8Array) => new Uint8Array(Buffer.concat([first, second]));

describe.skipIf(!available)(
  'T69: robustness matrix against the module as a server in a child process',
  () => {
    it('answers two requests that arrive in one write', async () => {
      const { replies } = await exchange([both(status(1), status(2))], 2);
      expect(replies).toEqual([
        [1, 1, null, 'ok'],
        [1, 2, null, 'ok'],
      ]);
    });

    it('answers a request split byte by byte', async () => {
      const bytes = status(3);
      const { replies } = await exchange(
        Array.from(bytes, (byte) => new Uint8Array([byte])),
        1,
      );
      expect(replies).toEqual([[1, 3, null, 'ok']]);
    });

    it('does not answer a non-array message, and answers the request after it', async () => {
      const { replies } = await exchange([both(encode('hello'), status(4))], 1);
      expect(replies).toEqual([[1, 4, null, 'ok']]);
    });

    it('does not answer a response with an unknown msgid, and answers the request after it', async () => {
      const { replies } = await exchange([both(encode([1, 999, null, null]), status(5))], 1);
      expect(replies).toEqual([[1, 5, null, 'ok']]);
    });

    it('does not answer an unknown message type, and answers the request after it', async () => {
      const { replies } = await exchange([both(encode([7, 1, 'x', []]), status(6))], 1);
      expect(replies).toEqual([[1, 6, null, 'ok']]);
    });

    it('closes only that connection on 0xc1, and keeps accepting new ones', async () => {
      const { replies, ended } = await exchange([both(new Uint8Array([0xc1]), status(7))], 1);
      expect(ended).toBe(true);
      expect(replies).toEqual([]);
      const socket = createConnection(path);
      await new Promise((resolve) => socket.once('connect', resolve));
      const peer = new RpcPeer(socket);
      const stats = (await peer.request('stats', [], { timeout: 10_000 })) as {
        reasons: string[];
        consoleCalls: string[];
      };
      await peer.close();
      expect(stats.reasons).toEqual(['not-an-array', 'unknown-msgid', 'bad-type', 'invalid-byte']);
      expect(stats.consoleCalls).toEqual([]);
      expect(child!.exitCode).toBeNull();
    });
  },
);
