/**
 * Faults on both Kong sides, with real sockets and processes: the peer is SIGKILLed mid-frame, mid-request and
 * mid-event. Every case: the pending calls settle with pluginwire errors, nothing escapes as an uncaught
 * exception (vitest fails the run on one), and no handle, descriptor or child is left behind. Also a supervised
 * server SIGKILLed and restarted during traffic (kong-client-server.test.ts has an in-process restart); deadlines
 * are in faults-deadlines.test.ts.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PluginwireError } from '../../src/errors.js';
import { KongPluginClient, KongPluginServer } from '../../src/kong-rpc/index.js';
import { PluginServerSupervisor } from '../../src/socket/index.js';
import { type FlatLogEntry, flatRecordingLogger } from '../helpers/logger.js';
import {
  expectNoLeaks,
  KONG_PEER,
  type ResourceSnapshot,
  settles,
  snapshot,
  startPeer,
} from './faults-helpers.js';

let dir: string;
let before: ResourceSnapshot;
const cleanups: Array<() => unknown> = [];

beforeEach(() => {
  before = snapshot();
  dir = mkdtempSync(join(tmpdir(), 'pw-fk-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('KongPluginClient when the plugin server process dies', () => {
  async function serverPeer() {
    const socketPath = join(dir, 'k.socket');
    const peer = startPeer(['server', socketPath]);
    cleanups.push(() => peer.kill());
    await peer.line(/^ready$/);
    const client = new KongPluginClient({ socketPath, timeout: 20_000 });
    cleanups.push(() => client.close());
    return { peer, client };
  }

  it('mid-request: HandleEvent in flight when the server is killed', async () => {
    const { peer, client } = await serverPeer();
    const event = settles(client.runEvent('sleepy', {}, 'access', () => null));
    await peer.line(/^access sleepy$/);
    await peer.kill();
    const outcome = await event;
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(PluginwireError);
    await client.close();
    await expectNoLeaks(before);
  });

  it('mid-event: the server dies while Kong answers a PDK call', async () => {
    const { peer, client } = await serverPeer();
    const event = settles(
      client.runEvent('asker', {}, 'access', async () => {
        await peer.kill();
        return 'example.com';
      }),
    );
    const outcome = await event;
    expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(PluginwireError);
    expect(client.connections).toBe(0);
    await client.close();
    await expectNoLeaks(before);
  });

  it('mid-frame: the server writes half a response, then dies', async () => {
    const socketPath = join(dir, 'raw.socket');
    const peer = startPeer(['rawserver', socketPath]);
    cleanups.push(() => peer.kill());
    await peer.line(/^ready$/);
    const client = new KongPluginClient({ socketPath, timeout: 20_000 });
    cleanups.push(() => client.close());
    const outcome = await settles(client.getStatus());
    expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(PluginwireError);
    await peer.exited;
    await client.close();
    await expectNoLeaks(before);
  });
});

describe('KongPluginServer when the Kong process dies', () => {
  let released: () => void = () => {};
  let pdkOutcome: Promise<{ ok: boolean; error?: unknown }> | undefined;
  const accessed = new Set<string>();

  async function startServer() {
    const logs: FlatLogEntry[] = [];
    const server = new KongPluginServer({
      socketPath: join(dir, 's.socket'),
      eventTimeout: 300,
      logger: flatRecordingLogger((entry) => logs.push(entry)),
    });
    server.addPlugin({
      name: 'sleepy',
      version: '1.0.0',
      priority: 1,
      schema: [],
      create: () => ({
        async access() {
          accessed.add('sleepy');
          await new Promise<void>((resolve) => {
            released = resolve;
          });
        },
      }),
    });
    server.addPlugin({
      name: 'asker',
      version: '1.0.0',
      priority: 1,
      schema: [],
      create: () => ({
        async access(kong) {
          accessed.add('asker');
          pdkOutcome = settles(kong.request.getHeader('host')).then((outcome) =>
            outcome.ok ? { ok: true } : { ok: false, error: outcome.error },
          );
          await pdkOutcome;
        },
      }),
    });
    cleanups.push(() => server.close());
    const socketPath = await server.listen();
    return { server, socketPath, logs };
  }

  /** The server still answers a fresh Kong after the fault. */
  async function stillServes(socketPath: string): Promise<void> {
    const client = new KongPluginClient({ socketPath, timeout: 10_000 });
    try {
      expect(await client.getPluginInfo('sleepy')).toMatchObject({ name: 'sleepy' });
    } finally {
      await client.close();
    }
  }

  it('mid-frame: half a request, then the client dies', async () => {
    const { server, socketPath, logs } = await startServer();
    const peer = startPeer(['rawclient', socketPath]);
    await peer.exited;
    await stillServes(socketPath);
    for (const entry of logs)
      if (entry.error !== undefined) expect(entry.error).toBeInstanceOf(PluginwireError);
    await server.close();
    await expectNoLeaks(before);
  });

  it('mid-request: the client dies while HandleEvent runs; the late answer goes nowhere', async () => {
    const { server, socketPath } = await startServer();
    const peer = startPeer(['client', socketPath, 'sleepy']);
    cleanups.push(() => peer.kill());
    await peer.line(/^calling$/);
    await expect.poll(() => accessed.has('sleepy'), { timeout: 20_000 }).toBe(true);
    await peer.kill();
    released();
    await expect.poll(() => server.activeEvents, { timeout: 10_000 }).toBe(0);
    await stillServes(socketPath);
    await server.close();
    await expectNoLeaks(before);
  });

  it('mid-event: the client dies with a PDK call pending; the plugin sees a typed rejection', async () => {
    const { server, socketPath } = await startServer();
    const peer = startPeer(['client', socketPath, 'asker']);
    cleanups.push(() => peer.kill());
    await peer.line(/^pdk kong\.request\.get_header$/);
    await peer.kill();
    // Kong may continue an event on another connection, so the event lives until eventTimeout drops it.
    await expect.poll(() => pdkOutcome !== undefined, { timeout: 10_000 }).toBe(true);
    const outcome = await pdkOutcome!;
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toBeInstanceOf(PluginwireError);
    await expect.poll(() => server.activeEvents, { timeout: 10_000 }).toBe(0);
    await stillServes(socketPath);
    await server.close();
    await expectNoLeaks(before);
  });
});

describe('a supervised plugin server that dies and restarts during traffic', () => {
  it('every call settles (answered, or a typed error), traffic resumes on the new process, nothing leaks', async () => {
    const socketPath = join(dir, 'sup.socket');
    const supervisor = new PluginServerSupervisor(
      {
        name: 'sleepy',
        socket: socketPath,
        argv: [process.execPath, '--import', 'tsx', KONG_PEER, 'server', socketPath],
      },
      { respawnInterval: 200, readyTimeout: 30_000, stopTimeout: 2_000 },
    );
    cleanups.push(() => supervisor.stop({ timeout: 2_000 }));
    const readyTwice = new Promise<void>((resolve) => {
      let ready = 0;
      supervisor.on('ready', () => {
        ready++;
        if (ready === 2) resolve();
      });
    });
    await supervisor.start();
    const client = new KongPluginClient({ socketPath, timeout: 10_000, connectRetry: 20_000 });
    cleanups.push(() => client.close());
    const pids = new Set<number>();
    client.on('serverPid', ({ pid }) => pids.add(pid));
    let restarted = false;
    let answeredAfterRestart = 0;
    const failures: unknown[] = [];
    const worker = async () => {
      while (answeredAfterRestart < 20) {
        const outcome = await settles(client.getPluginInfo('sleepy'));
        if (outcome.ok) {
          if (restarted) answeredAfterRestart++;
        } else failures.push(outcome.error);
      }
    };
    const traffic = Promise.all(Array.from({ length: 8 }, worker));
    await expect.poll(() => pids.size, { timeout: 20_000 }).toBe(1);
    process.kill(supervisor.pid!, 'SIGKILL');
    await readyTwice;
    restarted = true;
    await settles(traffic, 60_000);
    for (const failure of failures) expect(failure).toBeInstanceOf(PluginwireError);
    expect(pids.size).toBe(2);
    await client.close();
    await supervisor.stop({ timeout: 2_000 });
    await expectNoLeaks(before);
  });
});
