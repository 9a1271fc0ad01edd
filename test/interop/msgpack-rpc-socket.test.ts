import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcPeer } from '../../src/msgpack-rpc/index.js';
import { checkPeer } from '../helpers/peers.js';

const child = join(import.meta.dirname, '../fixtures/msgpack-rpc-peer/child.ts');
const tsx = join(import.meta.dirname, '../../node_modules/tsx');
const available = checkPeer(
  'node with tsx (runs the msgpack-RPC child peer)',
  existsSync(tsx) && existsSync(child),
);

interface Running {
  process: ChildProcess;
  exited: Promise<number | null>;
  directory: string;
  socket?: Socket;
  peer?: RpcPeer;
}

const running: Running[] = [];

async function startChild(): Promise<Running> {
  const directory = mkdtempSync(join(tmpdir(), 'pluginwire-rpc-'));
  const path = join(directory, 'peer.sock');
  const proc = spawn(process.execPath, ['--import', 'tsx', child, path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const entry: Running = { process: proc, exited, directory };
  running.push(entry);
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready after 30 s: ${stderr}`)), 30_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited with ${code}: ${stderr}`));
    });
  });
  const socket = createConnection(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  entry.socket = socket;
  entry.peer = new RpcPeer(socket);
  return entry;
}

afterEach(async () => {
  for (const entry of running.splice(0)) {
    await entry.peer?.close();
    const exited = await Promise.race([
      entry.exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000).unref()),
    ]);
    if (!exited) {
      entry.process.kill('SIGKILL');
      await entry.exited;
    }
    rmSync(entry.directory, { recursive: true, force: true });
  }
});

describe.skipIf(!available)('msgpack-RPC between two processes over a Unix socket', () => {
  it('matches every response of 10,000 concurrent requests sent from both sides at once', async () => {
    const { peer } = await startChild();
    const local = peer!;
    let doubled = 0;
    local.handle('double', ([value]) => {
      doubled++;
      return (value as number) * 2;
    });
    const count = 10_000;
    const storm = local.request('storm', [count], { timeout: 60_000 });
    const echoes = Array.from({ length: count }, (_, index) =>
      local.request('echo', [{ index, text: `value-${index}`, bytes: new Uint8Array([index & 0xff]) }], {
        timeout: 60_000,
      }),
    );
    const [matched, ...results] = await Promise.all([storm, ...echoes]);
    expect(matched).toBe(count);
    expect(doubled).toBe(count);
    results.forEach((result, index) => {
      expect(result).toEqual({ index, text: `value-${index}`, bytes: new Uint8Array([index & 0xff]) });
    });
    expect(local.pendingCount).toBe(0);
  });

  it('keeps serving after the other process sees a clean close, and the child exits', async () => {
    const entry = await startChild();
    const pid = await entry.peer!.request('pid', []);
    expect(pid).toBe(entry.process.pid);
    await entry.peer!.close();
    expect(await entry.exited).toBe(0);
  });
});
