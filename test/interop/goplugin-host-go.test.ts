/**
 * startPlugin driving real Go plugins built on Debian's go-plugin 1.0.1: the KV plugin with and without AutoMTLS,
 * two protocol versions, the broker both ways, and the host-side variants (hclog + panic, stdout garbage before
 * the handshake, never handshakes, exits at once). Every test checks that no process, socket file or socket
 * directory is left behind.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { livePluginCount } from '../../src/goplugin/host/live-clients.js';
import {
  cleanupPlugins,
  type PluginClient,
  PluginStartError,
  type StartPluginOptions,
  startPlugin,
} from '../../src/goplugin/index.js';
import { recordingLogger } from '../helpers/logger.js';
import { checkPeer } from '../helpers/peers.js';
import {
  alive,
  BrokeredService,
  bounded,
  COOKIE,
  call,
  EchoService,
  hostFixturesBuilt,
  KVEXIT,
  KVGARBAGE,
  KVLINGER,
  KVLOGPANIC,
  KVNETRPC,
  KVPLUGIN,
  KVService,
  KVSILENT,
  PEER_NAME,
  socketParent,
} from './goplugin-host-helpers.js';

/** A log entry with the host's fields lifted to the top, for terse assertions. */
interface HostLogEntry {
  level: string;
  message: string;
  fields: Record<string, unknown>;
  origin: unknown;
  name: unknown;
  timestamp: unknown;
  malformed?: unknown;
}

function hostLogger(entries: HostLogEntry[]) {
  return recordingLogger(({ level, message, fields }) => {
    entries.push({
      level,
      message,
      fields,
      origin: fields.origin,
      name: fields.plugin,
      timestamp: fields.timestamp,
      ...(fields.malformed !== undefined && { malformed: fields.malformed }),
    });
  });
}

const ok = checkPeer(PEER_NAME, hostFixturesBuilt());

/** Resolves once no process is left in the group (there is no event for that, so check every 20 ms). */
function groupGone(pgid: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      try {
        process.kill(-pgid, 0);
        setTimeout(check, 20);
      } catch {
        resolve();
      }
    };
    check();
  });
}

describe.skipIf(!ok)('startPlugin with real Go plugins (go-plugin 1.0.1)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await cleanupPlugins();
    expect(livePluginCount()).toBe(0);
  });

  /** Starts a plugin in a fresh socket parent dir; the afterEach kills it and checks nothing is left. */
  async function start(options: Partial<StartPluginOptions> & { command: string }): Promise<PluginClient> {
    const parent = await socketParent();
    let client: PluginClient | undefined;
    cleanups.push(async () => {
      if (client !== undefined) {
        await client.kill();
        expect(alive(client.pid)).toBe(false);
        if (client.address.network === 'unix') expect(existsSync(client.address.address)).toBe(false);
      }
      expect(await parent.entries()).toEqual([]);
      await parent.remove();
    });
    client = await startPlugin({ ...COOKIE, unixSocketDir: parent.dir, startTimeout: 20_000, ...options });
    return client;
  }

  async function startFailure(
    options: Partial<StartPluginOptions> & { command: string },
  ): Promise<PluginStartError> {
    const parent = await socketParent();
    cleanups.push(async () => {
      expect(await parent.entries()).toEqual([]);
      await parent.remove();
    });
    const error = await startPlugin({
      ...COOKIE,
      unixSocketDir: parent.dir,
      tmpdirInSocketDir: true,
      ...options,
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(PluginStartError);
    return error as PluginStartError;
  }

  it.each([false, true])(
    'runs the KV plugin (autoMTLS %s): handshake, ping, put/get, kill with status 0',
    async (autoMTLS) => {
      const client = await start({ command: KVPLUGIN, autoMTLS });
      const handshake = client.handshake!;
      expect(handshake.raw).toMatch(/^1\|1\|unix\|\/tmp\/plugin\d+\|grpc\|/);
      expect(handshake.fieldCount).toBe(6);
      if (autoMTLS) expect(handshake.serverCertDer?.length).toBeGreaterThan(300);
      else expect(handshake.raw.endsWith('|grpc|')).toBe(true);
      await client.ping();
      const kv = client.makeClient(KVService);
      const value = Buffer.from(`value-${process.pid}-${Date.now()}`);
      await call(kv, 'Put', { key: 'hello', value });
      const got = await call<{ value: Buffer }>(kv, 'Get', { key: 'hello' });
      expect(got.value.equals(value)).toBe(true);
      await expect(call(kv, 'Get', { key: 'missing' })).rejects.toThrow('key "missing" not found');
      const socket = client.address.address;
      const killing = client.kill();
      expect(client.kill()).toBe(killing);
      await killing;
      expect(await client.exited).toEqual({ code: 0, signal: null });
      // 1.0.1 ignores PLUGIN_UNIX_SOCKET_DIR; its listener removes the socket on a graceful Shutdown.
      expect(existsSync(socket)).toBe(false);
      await expect(client.ping()).rejects.toMatchObject({ code: 'GOPLUGIN_CLIENT_CLOSED' });
    },
  );

  it('talks AutoMTLS capped at TLS 1.2 (tlsMaxVersion) to a Go plugin', async () => {
    const client = await start({ command: KVPLUGIN, autoMTLS: true, tlsMaxVersion: 'TLSv1.2' });
    await client.ping();
    await call(client.makeClient(KVService), 'Put', { key: 'tls12', value: Buffer.from('ok') });
  });

  it('negotiates between two protocol versions and rejects a version the host does not speak', async () => {
    const env = { KV_PLUGIN_VERSIONS: '1,2' };
    const both = await start({ command: KVPLUGIN, env, versions: [1, 2] });
    expect(both.protocolVersion).toBe(2);
    const onlyOne = await start({ command: KVPLUGIN, env, versions: [1] });
    expect(onlyOne.protocolVersion).toBe(1);
    await call(onlyOne.makeClient(KVService), 'Put', { key: 'k', value: Buffer.from('v') });
    // No common version: the Go plugin falls back to its lowest (1), which the host must reject.
    const error = await startFailure({ command: KVPLUGIN, env, versions: [3] });
    expect(error).toMatchObject({
      code: 'GOPLUGIN_HANDSHAKE_REJECTED',
      cause: { code: 'GOPLUGIN_APP_VERSION_UNSUPPORTED' },
    });
    expect(error.exit).toBeDefined();
  });

  it.each([false, true])(
    'dials a service the Go plugin serves on a broker id (autoMTLS %s)',
    async (autoMTLS) => {
      const client = await start({ command: KVPLUGIN, autoMTLS });
      const offer = await call<{ broker_id: number }>(client.makeClient(BrokeredService), 'Offer', {});
      const connection = await client.broker.dial(offer.broker_id);
      const echo = await call<{ text: string }>(connection.makeClient(EchoService), 'Echo', { text: 'hi' });
      expect(echo.text).toBe('plugin:hi');
      connection.close();
    },
  );

  it('serves a host-side service on a broker id that the Go plugin dials back', async () => {
    // Without AutoMTLS: go-plugin 1.0.1 cannot verify a host's brokered server (fixed in #193, issue #109).
    const client = await start({ command: KVPLUGIN });
    const id = client.broker.nextId();
    await client.broker.accept(id, (server) => {
      server.addService(EchoService.service, {
        Echo: (
          request: { request: { text: string } },
          reply: (error: null, response: { text: string }) => void,
        ) => reply(null, { text: `host:${request.request.text}` }),
      });
    });
    const answer = await call<{ text: string }>(client.makeClient(BrokeredService), 'CallBack', {
      broker_id: id,
      text: 'ping',
    });
    expect(answer.text).toBe('plugin:host:ping');
    await expect(client.broker.dial(9999)).rejects.toMatchObject({
      code: 'GOPLUGIN_BROKER_TIMEOUT',
    });
  });

  it('logs hclog JSON at its levels with fields, survives odd lines, and reports a panic at ERROR', async () => {
    const entries: HostLogEntry[] = [];
    const client = await start({ command: KVLOGPANIC, logger: hostLogger(entries) });
    const kv = client.makeClient(KVService);
    await call(kv, 'Put', { key: 'a', value: Buffer.from('xyz') });
    await expect(call(kv, 'Put', { key: 'panic', value: Buffer.from('boom') })).rejects.toThrow();
    expect(await bounded(client.exited, 10_000, 'the panicking plugin to exit')).toEqual({
      code: 2,
      signal: null,
    });
    await bounded(client.kill(), 10_000, 'kill after the crash');
    const plugin = entries.filter((entry) => entry.origin === 'plugin');
    expect(plugin.every((entry) => entry.name === 'kvlogpanic')).toBe(true);
    expect(plugin).toContainEqual(
      expect.objectContaining({
        level: 'info',
        message: 'put',
        fields: expect.objectContaining({ key: 'a', bytes: 3 }),
      }),
    );
    expect(plugin.find((entry) => entry.message === 'put')?.timestamp).toBeInstanceOf(Date);
    expect(plugin).toContainEqual(expect.objectContaining({ level: 'debug', malformed: true }));
    expect(plugin).toContainEqual(
      expect.objectContaining({ level: 'warn', message: '[WARN] tagged text line' }),
    );
    expect(plugin).toContainEqual(expect.objectContaining({ level: 'error', message: 'about to panic' }));
    const panicIndex = plugin.findIndex((entry) => entry.message === 'panic: kvlogpanic: boom');
    expect(panicIndex).toBeGreaterThan(-1);
    const trace = plugin.slice(panicIndex);
    expect(trace.length).toBeGreaterThan(3);
    expect(trace.every((entry) => entry.level === 'error')).toBe(true);
    expect(trace.some((entry) => entry.message.startsWith('goroutine '))).toBe(true);
    expect(entries).toContainEqual(
      expect.objectContaining({ origin: 'host', level: 'error', message: 'plugin process exited' }),
    );
  });

  it('reports stray stdout before the handshake as GOPLUGIN_TOO_FEW_FIELDS with the line and a hint', async () => {
    const error = await startFailure({ command: KVGARBAGE });
    expect(error).toMatchObject({
      code: 'GOPLUGIN_HANDSHAKE_REJECTED',
      cause: { code: 'GOPLUGIN_TOO_FEW_FIELDS' },
    });
    expect(error.line).toBe('Starting plugin...');
    expect(error.message).toContain('hint:');
    expect(error.exit).toBeDefined();
  });

  it('times out a plugin that never handshakes, with its stderr tail, and kills it', async () => {
    const started = Date.now();
    const error = await startFailure({ command: KVSILENT, startTimeout: 1500 });
    expect(error.code).toBe('GOPLUGIN_START_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(error.stderrTail).toContain('[INFO] warming up, this takes forever');
    expect(error.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(error.message).toContain('warming up');
  });

  it('reports a plugin that exits at once with its exit status and stderr', async () => {
    const error = await startFailure({ command: KVEXIT });
    expect(error.code).toBe('GOPLUGIN_EXITED_BEFORE_HANDSHAKE');
    expect(error.exit).toEqual({ code: 3, signal: null });
    expect(error.stderrTail).toEqual(['[ERROR] kvexit: configuration file /etc/kvexit.hcl not found']);
    expect(error.message).toContain('status 3');
  });

  it('reports a wrong magic cookie as an early exit with the plugin message', async () => {
    const error = await startFailure({ command: KVPLUGIN, magicCookieValue: 'wrong' });
    expect(error.code).toBe('GOPLUGIN_EXITED_BEFORE_HANDSHAKE');
    expect(error.exit?.code).toBe(1);
    expect(error.stderrTail[0]).toBe('This binary is a plugin. These are not meant to be executed directly.');
  });

  it('rejects a first stdout line over 64 KiB with GOPLUGIN_LINE_TOO_LONG', async () => {
    const error = await startFailure({
      command: '/bin/sh',
      args: ['-c', "head -c 70000 /dev/zero | tr '\\0' x; sleep 30"],
    });
    expect(error).toMatchObject({
      code: 'GOPLUGIN_HANDSHAKE_REJECTED',
      cause: { code: 'GOPLUGIN_LINE_TOO_LONG' },
    });
    expect(error.line).toBe('x'.repeat(200));
    expect(error.exit?.signal).toBe('SIGKILL');
  });

  it('reports GOPLUGIN_NO_HANDSHAKE when a still-running plugin closes stdout without a line', async () => {
    const error = await startFailure({
      command: '/bin/sh',
      args: ['-c', 'exec 1>&-; echo "closed stdout" >&2; sleep 30'],
    });
    expect(error).toMatchObject({
      code: 'GOPLUGIN_HANDSHAKE_REJECTED',
      cause: { code: 'GOPLUGIN_NO_HANDSHAKE' },
    });
    expect(error.exit).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('cancels a start through its AbortSignal and kills the plugin', async () => {
    const parent = await socketParent();
    cleanups.push(async () => {
      expect(await parent.entries()).toEqual([]);
      await parent.remove();
    });
    const controller = new AbortController();
    const error = await startPlugin({
      ...COOKIE,
      command: KVSILENT,
      unixSocketDir: parent.dir,
      signal: controller.signal,
      // Abort once the plugin is demonstrably running (its first stderr line).
      logger: recordingLogger(() => controller.abort(new Error('user cancelled'))),
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'GOPLUGIN_ABORTED' });
  });

  it('refuses a netrpc plugin with GOPLUGIN_UNSUPPORTED_PROTOCOL and says netrpc is Go-only', async () => {
    const error = await startFailure({ command: KVNETRPC });
    expect(error).toMatchObject({
      code: 'GOPLUGIN_HANDSHAKE_REJECTED',
      cause: { code: 'GOPLUGIN_UNSUPPORTED_PROTOCOL' },
    });
    expect(error.line).toMatch(/^1\|1\|unix\|.*\|netrpc\|$/);
    expect(error.message).toContain('netrpc');
    expect(error.message).toContain('Go-only');
  });

  it('SIGKILLs the whole process group of a plugin that lingers after Shutdown, with a WARN', async () => {
    const entries: HostLogEntry[] = [];
    // A shell in front of the plugin, as with `sh -c`: only a process-group kill reaches the real plugin.
    const client = await start({
      command: '/bin/sh',
      args: ['-c', `${KVLINGER}; echo "wrapper done" >&2`],
      killTimeout: 500,
      logger: hostLogger(entries),
    });
    await call(client.makeClient(KVService), 'Put', { key: 'k', value: Buffer.from('v') });
    const pgid = client.pid!;
    await client.kill();
    expect(entries).toContainEqual(
      expect.objectContaining({ origin: 'host', level: 'warn', message: 'plugin failed to exit gracefully' }),
    );
    expect(await client.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(entries.some((entry) => entry.message === 'wrapper done')).toBe(false);
    // The group's members were SIGKILLed; wait (bounded) until the last of them has been reaped.
    await bounded(groupGone(pgid), 5000, `process group ${pgid} to disappear`);
  });

  it('fails with GOPLUGIN_SPAWN_FAILED for a command that does not exist', async () => {
    await expect(startPlugin({ ...COOKIE, command: '/nonexistent/kvplugin' })).rejects.toMatchObject({
      code: 'GOPLUGIN_SPAWN_FAILED',
      errno: 'ENOENT',
    });
  });

  it('rejects netrpc up front: it is Go-only', async () => {
    await expect(
      startPlugin({ ...COOKIE, command: KVPLUGIN, allowedProtocols: ['grpc', 'netrpc'] }),
    ).rejects.toMatchObject({ code: 'GOPLUGIN_INVALID_OPTIONS' });
  });

  it('cleanupPlugins kills every live plugin in parallel', async () => {
    const first = await start({ command: KVPLUGIN });
    const second = await start({ command: KVPLUGIN, autoMTLS: true });
    expect(livePluginCount()).toBe(2);
    await cleanupPlugins();
    expect(livePluginCount()).toBe(0);
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });
});
