/**
 * KongPluginClient against KongPluginServer over real Unix sockets: load, restarts, failing plugins, deadlines.
 */

import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  KongConnectError,
  type KongPdkHandler,
  KongPluginClient,
  KongPluginServer,
} from '../../src/kong-rpc/index.js';
import { ConnectionClosedError, RemoteError, RpcTimeoutError } from '../../src/msgpack-rpc/index.js';
import { type FlatLogEntry, flatRecordingLogger } from '../helpers/logger.js';
import { tempDir } from './kong-helpers.js';

const resources: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const dispose of resources.splice(0).reverse()) await dispose();
});

function setup(options: { instanceIdBase?: number } = {}) {
  const dir = tempDir('pw-kong-cs-');
  const socketPath = join(dir.path, 'echo.socket');
  const logs: FlatLogEntry[] = [];
  const makeServer = (base?: number) => {
    const server = new KongPluginServer({
      socketPath,
      logger: flatRecordingLogger((entry) => logs.push(entry)),
      ...(base === undefined ? {} : { instanceIdBase: base }),
    });
    server.addPlugin({
      name: 'echo',
      version: '1.0.0',
      create: (config: { tag?: string }) => ({
        async access(kong) {
          const host = await kong.request.getHeader('host');
          const headers = await kong.request.getHeaders();
          await kong.response.setHeader(
            'x-echo',
            `${config.tag ?? ''}:${host}:${Object.keys(headers).length}`,
          );
        },
      }),
    });
    server.addPlugin({
      name: 'thrower',
      version: '1.0.0',
      create: (config: { after?: boolean }) => ({
        async access(kong) {
          if (config.after) await kong.request.getHeader('host');
          throw new Error('boom (no plugin instance here)');
        },
      }),
    });
    server.addPlugin({
      name: 'sleeper',
      version: '1.0.0',
      phases: ['access'],
      create: () => ({
        access: () => new Promise(() => {}),
      }),
    });
    return server;
  };
  resources.push(() => dir.dispose());
  return { socketPath, logs, makeServer, base: options.instanceIdBase };
}

function headerPdk(host: string): { pdk: KongPdkHandler; headers: Map<string, unknown> } {
  const headers = new Map<string, unknown>();
  const pdk: KongPdkHandler = (method, args) => {
    if (method === 'kong.request.get_header') return host;
    if (method === 'kong.request.get_headers') return { host, accept: ['a', 'b'] };
    if (method === 'kong.response.set_header') headers.set(String(args[0]), args[1]);
    return undefined;
  };
  return { pdk, headers };
}

describe('KongPluginClient ↔ KongPluginServer', () => {
  it('runs 1,000 concurrent events over many connections', async () => {
    const { socketPath, makeServer } = setup();
    const server = makeServer();
    await server.listen();
    resources.push(() => server.close());
    const client = new KongPluginClient({ socketPath });
    resources.push(() => client.close());
    const results = await Promise.all(
      Array.from({ length: 1_000 }, async (_, index) => {
        const { pdk, headers } = headerPdk(`h${index}`);
        const outcome = await client.runEvent('echo', { tag: `t${index % 10}` }, 'access', pdk);
        return { outcome, echo: headers.get('x-echo') };
      }),
    );
    results.forEach(({ outcome, echo }, index) => {
      expect(outcome).toEqual({ pdkCalls: 3, terminal: undefined });
      expect(echo).toBe(`t${index % 10}:h${index}:2`);
    });
    expect(client.connections).toBeGreaterThan(1);
    expect(server.activeEvents).toBe(0);
    // One instance per configuration: 10 configs, 10 instances.
    const status = (await client.getStatus()) as { Plugins: { echo: { Instances: unknown[] } } };
    expect(status.Plugins.echo.Instances).toHaveLength(10);
  });

  it('recreates instances after a server restart mid-traffic (no plugin instance → restart → retry)', async () => {
    const { socketPath, makeServer } = setup();
    let server = makeServer(1_000);
    await server.listen();
    resources.push(() => server.close());
    const client = new KongPluginClient({ socketPath, connectRetry: 10_000 });
    resources.push(() => client.close());
    const resets: unknown[] = [];
    client.on('instancesReset', ({ plugin, reason }) => resets.push([plugin, reason]));

    let stop = false;
    let succeeded = 0;
    const failures: unknown[] = [];
    const traffic = Array.from({ length: 8 }, async (_, worker) => {
      while (!stop) {
        try {
          await client.runEvent('echo', { tag: `w${worker}` }, 'access', headerPdk('x').pdk);
          succeeded++;
        } catch (error) {
          failures.push(error);
        }
      }
    });
    await expect.poll(() => succeeded, { timeout: 10_000 }).toBeGreaterThan(50);
    await server.close();
    // The new process knows none of the old ids (and would not reuse them: another random base).
    server = makeServer(500_000);
    await server.listen();
    const before = succeeded;
    await expect.poll(() => succeeded - before, { timeout: 10_000 }).toBeGreaterThan(100);
    stop = true;
    await Promise.all(traffic);

    expect(resets.length).toBeGreaterThanOrEqual(1);
    expect(resets[0]).toEqual(['echo', expect.objectContaining({ code: 'KONG_RPC_NO_PLUGIN_INSTANCE' })]);
    // Only events caught by the restart itself may fail, and only because the connection or server went away.
    for (const failure of failures) {
      const closedByRestart =
        failure instanceof ConnectionClosedError ||
        failure instanceof KongConnectError ||
        (failure instanceof RemoteError && failure.message.includes('closed with the server'));
      expect(closedByRestart, String(failure)).toBe(true);
    }
    const status = (await client.getStatus()) as { Plugins: { echo: { Instances: { Id: number }[] } } };
    expect(status.Plugins.echo.Instances.map((instance) => instance.Id).every((id) => id >= 500_000)).toBe(
      true,
    );
  });

  it('ends the event of a plugin that throws with the spec’s error, logs it, and keeps serving', async () => {
    const { socketPath, makeServer, logs } = setup();
    const server = makeServer();
    await server.listen();
    resources.push(() => server.close());
    const client = new KongPluginClient({ socketPath });
    resources.push(() => client.close());
    for (const after of [false, true]) {
      const failure = client.runEvent('thrower', { after }, 'access', headerPdk('x').pdk);
      await expect(failure).rejects.toBeInstanceOf(RemoteError);
      // "no plugin instance" in the plugin's message is defused: Kong would retry forever on it.
      await expect(failure).rejects.toThrow(
        'plugin thrower failed in phase access: boom (no plugin-instance here)',
      );
    }
    expect(server.activeEvents).toBe(0);
    expect(logs.filter((entry) => entry.level === 'error' && entry.plugin === 'thrower')).toHaveLength(2);
    const { pdk, headers } = headerPdk('still');
    await client.runEvent('echo', {}, 'access', pdk);
    expect(headers.get('x-echo')).toBe(':still:2');
  });

  it('fails an event at its deadline with RpcTimeoutError and leaves the pool healthy', async () => {
    const { socketPath, makeServer } = setup();
    const server = makeServer();
    await server.listen();
    resources.push(() => server.close());
    const client = new KongPluginClient({ socketPath, timeout: 300 });
    resources.push(() => client.close());
    // The plugin server never answers.
    await expect(client.runEvent('sleeper', {}, 'access', headerPdk('x').pdk)).rejects.toBeInstanceOf(
      RpcTimeoutError,
    );
    // The caller's PDK never answers.
    const hanging: KongPdkHandler = () => new Promise(() => {});
    await expect(client.runEvent('echo', {}, 'access', hanging)).rejects.toBeInstanceOf(RpcTimeoutError);
    const { pdk, headers } = headerPdk('after');
    await client.runEvent('echo', {}, 'access', pdk, { timeout: 10_000 });
    expect(headers.get('x-echo')).toBe(':after:2');
  });

  it('cancels an event with its AbortSignal', async () => {
    const { socketPath, makeServer } = setup();
    const server = makeServer();
    await server.listen();
    resources.push(() => server.close());
    const client = new KongPluginClient({ socketPath });
    resources.push(() => client.close());
    const controller = new AbortController();
    const event = client.runEvent('sleeper', {}, 'access', headerPdk('x').pdk, { signal: controller.signal });
    setImmediate(() => controller.abort(new Error('client went away')));
    await expect(event).rejects.toMatchObject({ name: 'AbortError' });
  });
});
