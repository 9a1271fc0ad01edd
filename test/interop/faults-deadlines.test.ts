/**
 * Faults that are not deaths: a server that accepts and never answers (deadlines fire, the pool recovers), a
 * reader that stops reading (backpressure keeps memory bounded), and a read-only socket directory. Real sockets;
 * every case ends with no leaked handle, descriptor or child.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PluginwireError } from '../../src/errors.js';
import { createHclogLogger } from '../../src/goplugin/hclog.js';
import { servePlugin } from '../../src/goplugin/index.js';
import { KongListenError, KongPluginClient, KongPluginServer } from '../../src/kong-rpc/index.js';
import { QueueFullError, RpcPeer, RpcTimeoutError } from '../../src/msgpack-rpc/index.js';
import { listenUnix } from '../../src/socket/index.js';
import { checkPeer } from '../helpers/peers.js';
import { expectNoLeaks, type ResourceSnapshot, settles, snapshot } from './faults-helpers.js';

let dir: string;
let before: ResourceSnapshot;
const cleanups: Array<() => unknown> = [];

beforeEach(() => {
  before = snapshot();
  dir = mkdtempSync(join(tmpdir(), 'pw-fd-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('a server that accepts and never answers', () => {
  it('KongPluginClient: every call fails at its deadline, and the pool recovers when the server answers', async () => {
    const path = join(dir, 'mute.socket');
    const kong = new KongPluginServer({ socketPath: path, name: 'mute' });
    kong.addPlugin({ name: 'mute', version: '1', priority: 1, schema: [], create: () => ({}) });
    let mute = true;
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      if (mute) socket.resume();
      else kong.serve(socket);
    });
    await listen(server, path);
    cleanups.push(() => closeServer(server, sockets));
    cleanups.push(() => kong.close());
    const client = new KongPluginClient({ socketPath: path, timeout: 300, maxConnections: 4 });
    cleanups.push(() => client.close());
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => settles(client.getStatus())));
    for (const outcome of outcomes)
      expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(RpcTimeoutError);
    expect(client.connections).toBeLessThanOrEqual(4);
    mute = false;
    // The timed-out connections were dropped (an answer might still arrive on them); new ones work.
    expect(await client.getStatus()).toBeTypeOf('object');
    await client.close();
    await kong.close();
    await closeServer(server, sockets);
    await expectNoLeaks(before);
  });

  it('RpcPeer: every request times out, and destroy() settles the ones still pending', async () => {
    const path = join(dir, 'mute.sock');
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.resume();
    });
    await listen(server, path);
    const socket = createConnection(path);
    const peer = new RpcPeer(socket, { requestTimeout: 200 });
    const timedOut = await Promise.all(Array.from({ length: 20 }, (_, i) => settles(peer.request('m', [i]))));
    for (const outcome of timedOut)
      expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(RpcTimeoutError);
    expect(peer.pendingCount).toBe(0);
    const pending = Array.from({ length: 5 }, () => settles(peer.request('m', [], { timeout: 60_000 })));
    peer.destroy();
    for (const outcome of await Promise.all(pending)) {
      expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(PluginwireError);
    }
    await closeServer(server, sockets);
    await expectNoLeaks(before);
  });
});

describe('a slow reader', () => {
  it('backpressure: a peer writing to a reader that stopped reading holds at most maxQueuedBytes', async () => {
    const path = join(dir, 'slow.sock');
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.pause(); // the reader never reads
    });
    await listen(server, path);
    const socket = createConnection(path);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const maxQueuedBytes = 4 * 1024 * 1024;
    const peer = new RpcPeer(socket, { maxQueuedBytes });
    const payload = new Uint8Array(256 * 1024).fill(7);
    const heap = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const start = heap();
    let sent = 0;
    let refused: unknown;
    // 256 MiB offered; the kernel buffers some, the queue at most 4 MiB, the rest must be refused.
    for (let index = 0; index < 1024; index++) {
      try {
        peer.notify('blob', [payload]);
        sent++;
      } catch (error) {
        refused = error;
        break;
      }
      if (index % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(refused).toBeInstanceOf(QueueFullError);
    expect(sent * payload.length).toBeLessThan(64 * 1024 * 1024);
    expect(heap() - start).toBeLessThan(48 * 1024 * 1024);
    peer.destroy();
    await closeServer(server, sockets);
    await expectNoLeaks(before);
  });
});

/** What KongPluginServer.listen and servePlugin (test mode) reject with when they listen in `directory`. */
async function protocolListenersIn(directory: string): Promise<{ kongError: unknown; served: unknown }> {
  const rejection = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error,
    );
  const kong = new KongPluginServer({ socketPath: join(directory, 'k.socket') });
  const kongError = await rejection(kong.listen());
  await kong.close();
  const served = await rejection(
    servePlugin({
      magicCookieKey: 'BASIC_PLUGIN',
      magicCookieValue: 'hello',
      versions: { 1: () => {} },
      test: true,
      exit: false,
      env: { PLUGIN_UNIX_SOCKET_DIR: directory },
      logger: createHclogLogger({ write: () => {} }),
    }),
  );
  return { kongError, served };
}

/** A read-only directory: a read-only tmpfs when we are root (root ignores modes), else mode 0500. */
function readOnlyDir(): string | undefined {
  const target = join(dir, 'ro');
  mkdirSync(target);
  if (process.getuid?.() !== 0) {
    execFileSync('chmod', ['0500', target]);
    cleanups.push(() => execFileSync('chmod', ['0700', target]));
    return target;
  }
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', target], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  cleanups.push(() => execFileSync('umount', [target]));
  return target;
}

const probeDir = mkdtempSync(join(tmpdir(), 'pw-ro-probe-'));
const readOnlyPossible = (() => {
  try {
    if (process.getuid?.() !== 0) return true;
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', probeDir], { stdio: 'ignore' });
    execFileSync('umount', [probeDir]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
  }
})();
const canMount = checkPeer(
  'a read-only directory (non-root, or root allowed to mount tmpfs)',
  readOnlyPossible,
);

describe.skipIf(!canMount)('a read-only socket directory', () => {
  it('listenUnix, KongPluginServer.listen and servePlugin fail with typed errors and leave nothing open', async () => {
    const ro = readOnlyDir()!;
    // EROFS is a bind failure (root on a read-only mount), EACCES a permission error (mode 0500).
    const refused = await listenUnix(join(ro, 'a.sock')).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(PluginwireError);
    expect((refused as PluginwireError).code).toMatch(/^SOCKET_(BIND_FAILED|PERMISSION_DENIED)$/);
    const nested = await listenUnix(join(ro, 'sub', 'a.sock'), { createDir: true }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(nested).toBeInstanceOf(Error);
    const { kongError, served } = await protocolListenersIn(ro);
    expect(kongError).toBeInstanceOf(KongListenError);
    expect(kongError).toMatchObject({
      code: 'KONG_RPC_LISTEN',
      errno: expect.stringMatching(/EROFS|EACCES/),
    });
    expect(served).toBeInstanceOf(PluginwireError);
    await expectNoLeaks(before);
  });
});

/** A full directory: a tmpfs with room for two inodes, filled, so creating the socket file fails with ENOSPC. */
function fullDir(): string | undefined {
  const target = join(dir, 'full');
  mkdirSync(target);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k,nr_inodes=2', 'tmpfs', target], {
      stdio: 'ignore',
    });
  } catch {
    return undefined;
  }
  cleanups.push(() => execFileSync('umount', [target]));
  for (let index = 0; ; index++) {
    try {
      writeFileSync(join(target, `filler-${index}`), 'x');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return target;
      throw error;
    }
  }
}

// Root is needed to mount the small tmpfs; CI runs as root, so the case always runs there.
const canFill = checkPeer(
  'a full socket directory (root allowed to mount tmpfs)',
  process.getuid?.() === 0 && readOnlyPossible,
);

describe.skipIf(!canFill)('a full (ENOSPC) socket directory', () => {
  it('listenUnix, KongPluginServer.listen and servePlugin fail with errors naming ENOSPC and leave nothing open', async () => {
    const full = fullDir()!;
    const refused = await listenUnix(join(full, 'a.sock')).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(PluginwireError);
    expect((refused as PluginwireError).code).toBe('SOCKET_BIND_FAILED');
    expect(String((refused as Error).message) + String((refused as Error).cause)).toContain('ENOSPC');
    const { kongError, served } = await protocolListenersIn(full);
    expect(kongError).toBeInstanceOf(KongListenError);
    expect(kongError).toMatchObject({ code: 'KONG_RPC_LISTEN', errno: 'ENOSPC' });
    expect(served).toBeInstanceOf(PluginwireError);
    await expectNoLeaks(before);
  });
});
