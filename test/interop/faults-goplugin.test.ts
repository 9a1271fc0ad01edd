/**
 * Faults on both go-plugin sides, real processes: the plugin SIGKILLed with calls (and a large message) in
 * flight, for the TypeScript and the Go plugin; and the host SIGKILLed under a TypeScript plugin, which must
 * notice and stop. Every case: calls settle, the host's API fails with typed errors, the private socket directory
 * is gone, nothing is left open or running.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PluginwireError } from '../../src/errors.js';
import { startPlugin } from '../../src/goplugin/index.js';
import { checkPeer } from '../helpers/peers.js';
import { expectNoLeaks, type ResourceSnapshot, settles, snapshot, startPeer } from './faults-helpers.js';
import { alive, call, hostFixturesBuilt, KVPLUGIN, KVService } from './goplugin-host-helpers.js';

const TS_KV_PLUGIN = join(import.meta.dirname, '..', 'fixtures', 'goplugin', 'ts-kv-plugin.ts');
const SIGNAL_HOST = join(import.meta.dirname, '..', 'fixtures', 'goplugin-host', 'signal-host.ts');
const MIDCALL_HOST = join(import.meta.dirname, '..', 'fixtures', 'goplugin-host', 'midcall-host.ts');
const COOKIE = { magicCookieKey: 'BASIC_PLUGIN', magicCookieValue: 'hello' } as const;

let dir: string;
let before: ResourceSnapshot;
const cleanups: Array<() => unknown> = [];
beforeEach(() => {
  before = snapshot();
  dir = mkdtempSync(join(tmpdir(), 'pw-fg-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** An executable that runs the TS KV plugin (startPlugin and the signal host take one command). */
function tsPluginCommand(): string {
  const path = join(dir, 'ts-kv-plugin.sh');
  writeFileSync(
    path,
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(TS_KV_PLUGIN)}\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

const goBuilt = checkPeer('Go fixtures (test/fixtures/go/build.sh)', hostFixturesBuilt());

describe('the host when the plugin process dies', () => {
  const plugins = [
    { name: 'TypeScript', command: () => tsPluginCommand(), present: true },
    { name: 'Go', command: () => KVPLUGIN, present: goBuilt },
  ];
  for (const plugin of plugins) {
    it.skipIf(!plugin.present)(
      `${plugin.name} plugin SIGKILLed with calls and a 4 MiB message in flight`,
      async () => {
        const client = await startPlugin({ ...COOKIE, command: plugin.command(), startTimeout: 30_000 });
        cleanups.push(() => client.kill());
        const socketDir = dirname(client.address.address);
        const kv = client.makeClient(KVService);
        await call(kv, 'Put', { key: 'warm', value: Buffer.from('up') });
        const calls = [
          ...Array.from({ length: 20 }, (_, i) =>
            settles(call(kv, 'Put', { key: `k${i}`, value: Buffer.alloc(1024, i) })),
          ),
          settles(call(kv, 'Put', { key: 'big', value: Buffer.alloc(4 * 1024 * 1024, 1) })),
        ];
        process.kill(client.pid!, 'SIGKILL');
        const outcomes = await Promise.all(calls);
        expect(outcomes.length).toBe(21);
        expect(await settles(client.exited)).toMatchObject({ ok: true, value: { signal: 'SIGKILL' } });
        const ping = await settles(client.ping());
        expect(ping.ok ? undefined : ping.error).toBeInstanceOf(PluginwireError);
        await client.kill();
        kv.close();
        // The host removes the socket a killed plugin leaves behind, and its private directory when it made one
        // (Debian's go-plugin 1.0.1 ignores PLUGIN_UNIX_SOCKET_DIR and binds in the temp dir).
        expect(existsSync(client.address.address)).toBe(false);
        if (socketDir !== tmpdir()) expect(existsSync(socketDir)).toBe(false);
        await expectNoLeaks(before);
      },
    );
  }
});

describe('a TypeScript plugin when its host dies', () => {
  it('notices the host is gone, stops serving and removes its socket', async () => {
    const host = startPeerWith(SIGNAL_HOST, tsPluginCommand());
    cleanups.push(() => host.kill());
    const ready = await host.line(/^READY \d+ \S+$/);
    const [, pid, address] = ready.split(' ') as [string, string, string];
    const pluginPid = Number(pid);
    cleanups.push(() => {
      if (alive(pluginPid)) process.kill(pluginPid, 'SIGKILL');
    });
    expect(alive(pluginPid)).toBe(true);
    await host.kill();
    // servePlugin polls its parent once a second (go-plugin itself never notices; go-plugin#10).
    await expect.poll(() => alive(pluginPid), { timeout: 15_000, interval: 100 }).toBe(false);
    expect(existsSync(address)).toBe(false);
    await expectNoLeaks(before);
  });
});

describe('a TypeScript plugin when its host dies mid-call', () => {
  it('with a call in flight on the plugin side: stops serving, removes its socket, nothing crashes', async () => {
    const host = startPeerWith(MIDCALL_HOST, tsPluginCommand());
    cleanups.push(() => host.kill());
    const inflight = await host.line(/^INFLIGHT \d+ \S+$/);
    const [, pid, address] = inflight.split(' ') as [string, string, string];
    const pluginPid = Number(pid);
    cleanups.push(() => {
      if (alive(pluginPid)) process.kill(pluginPid, 'SIGKILL');
    });
    expect(existsSync(address)).toBe(true);
    await host.kill();
    await expect.poll(() => alive(pluginPid), { timeout: 15_000, interval: 100 }).toBe(false);
    expect(existsSync(address)).toBe(false);
    await expectNoLeaks(before);
  });
});

/** startPeer for another script than kong-peer.ts. */
function startPeerWith(script: string, ...args: string[]) {
  return startPeer(['--script', script, ...args]);
}

describe('the host after the application closed the shared channel', () => {
  it('ping() fails with a typed error and kill() still stops the plugin and cleans up', async () => {
    const client = await startPlugin({
      ...COOKIE,
      command: tsPluginCommand(),
      startTimeout: 30_000,
      killTimeout: 2_000,
    });
    cleanups.push(() => client.kill());
    const pid = client.pid!;
    const socketDir = dirname(client.address.address);
    // A client from makeClient() shares the plugin's channel; closing it closes the channel (grpc-js).
    client.makeClient(KVService).close();
    const ping = await settles(client.ping());
    expect(ping.ok ? undefined : ping.error).toBeInstanceOf(PluginwireError);
    expect((await settles(client.kill())).ok).toBe(true);
    expect(alive(pid)).toBe(false);
    expect(existsSync(socketDir)).toBe(false);
    await expectNoLeaks(before);
  });
});
