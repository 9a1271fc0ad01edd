/**
 * KongPluginClient plays Kong against the real JS plugin server from npm (`kong-pdk` 0.6.0,
 * `kong-js-pluginserver`) with the gatekeeper plugin of test/fixtures/kong-pdk/plugins (kong-rpc spec §14.1;
 * msgpack-rpc spec T70).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type KongPdkHandler,
  KongPluginClient,
  type KongPluginClientEvents,
  NoPluginInstanceError,
  pdkFailure,
} from '../../src/kong-rpc/index.js';
import { RemoteError } from '../../src/msgpack-rpc/index.js';
import { checkPeer } from '../helpers/peers.js';
import { tempDir } from './kong-helpers.js';

const bin = fileURLToPath(new URL('../../node_modules/.bin/kong-js-pluginserver', import.meta.url));
const pluginsDir = fileURLToPath(new URL('../fixtures/kong-pdk/plugins', import.meta.url));
const available = checkPeer(
  'kong-pdk (npm dev dependency, node_modules/.bin/kong-js-pluginserver)',
  existsSync(bin),
);

/** A fake Kong PDK that records calls and keeps the response headers the plugin sets. */
function fakeKong(
  requestHeaders: Record<string, string | string[]>,
  overrides: Record<string, unknown> = {},
) {
  const calls: [string, unknown[]][] = [];
  const responseHeaders: Record<string, unknown> = {};
  const pdk: KongPdkHandler = (method, args) => {
    calls.push([method, args]);
    if (method in overrides) return overrides[method];
    switch (method) {
      case 'kong.request.get_header': {
        const value = requestHeaders[String(args[0])];
        return Array.isArray(value) ? value[0] : value;
      }
      case 'kong.request.get_headers':
        return requestHeaders;
      case 'kong.response.set_header':
        responseHeaders[String(args[0])] = args[1];
        return undefined;
      case 'kong.log.serialize':
        return { request: { uri: '/x', headers: requestHeaders } };
      default:
        return undefined;
    }
  };
  return { pdk, calls, responseHeaders };
}

describe.skipIf(!available)('KongPluginClient against kong-pdk’s kong-js-pluginserver', () => {
  const dir = tempDir('pw-kong-pdk-');
  const socketPath = join(dir.path, 'js.sock');
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let client: KongPluginClient;
  const config = { greeting: 'hi', token: 'letmein' };

  function startServer(): void {
    const started = spawn(bin, ['-p', dir.path, '--sock-name', 'js.sock', '-d', pluginsDir], {
      stdio: 'ignore',
    });
    child = started;
    exited = new Promise((resolve) => started.once('exit', (code) => resolve(code)));
  }

  async function stopServer(): Promise<void> {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  }

  beforeAll(() => {
    startServer();
    // The socket appears ~300 ms after start; connectRetry waits for it (bounded), no sleeping.
    client = new KongPluginClient({ socketPath, connectRetry: 20_000, timeout: 20_000 });
  });

  afterAll(async () => {
    await client?.close();
    await stopServer();
    dir.dispose();
  });

  it('reads the plugin info (GetPluginInfo)', async () => {
    const info = await client.getPluginInfo('gatekeeper');
    expect(info).toEqual({
      name: 'gatekeeper',
      version: '1.2.0',
      phases: ['log', 'access'],
      priority: 900,
      schema: {
        name: 'gatekeeper',
        fields: [
          {
            config: {
              type: 'record',
              fields: [{ greeting: { type: 'string' } }, { token: { type: 'string' } }],
            },
          },
        ],
      },
    });
  });

  it('runs start, access (headers, multimap, nil result), log and close', async () => {
    const status = await client.startInstance('gatekeeper', config);
    expect(status.name).toBe('gatekeeper');
    expect(status.config).toEqual(config);
    expect(status.startTime).toBeGreaterThan(1.6e9);

    const kong = fakeKong({ host: 'example.com', 'x-token': 'letmein', accept: ['*/*', 'text/html'] });
    const outcome = await client.handleEvent(status.id, 'access', kong.pdk);
    expect(outcome).toEqual({ pdkCalls: 8, terminal: undefined });
    expect(kong.calls.map(([method]) => method)).toEqual([
      'kong.request.get_header',
      'kong.request.get_header',
      'kong.response.set_header',
      'kong.response.set_header',
      'kong.request.get_headers',
      'kong.response.set_header',
      'kong.request.get_body',
      'kong.response.set_header',
    ]);
    expect(kong.responseHeaders).toEqual({
      'x-gatekeeper-host': 'example.com',
      'x-gatekeeper-greeting': 'hi',
      // The multimap fixup turned host: "example.com" into ["example.com"] and kept accept's array.
      'x-gatekeeper-accept': '*/*,text/html',
      // A nil PDK result travels as a Step without Data; the plugin sees undefined.
      'x-gatekeeper-body': 'undefined',
    });

    const log = fakeKong({ host: 'example.com' });
    expect(await client.handleEvent(status.id, 'log', log.pdk)).toEqual({ pdkCalls: 2, terminal: undefined });
    // kong.log.serialize reaches the plugin as JSON text, as Kong's override sends it.
    expect(log.calls[1]).toEqual([
      'kong.log.info',
      ['gatekeeper served', '{"request":{"uri":"/x","headers":{"host":"example.com"}}}'],
    ]);

    const closed = await client.closeInstance(status.id);
    expect(closed).toMatchObject({ name: 'gatekeeper', id: status.id, config });
    await expect(client.handleEvent(status.id, 'access', kong.pdk)).rejects.toBeInstanceOf(
      NoPluginInstanceError,
    );
    await expect(client.instanceStatus(status.id)).rejects.toMatchObject({
      instanceId: status.id,
      message: `no plugin instance #${status.id}`,
    });
  });

  it('ends the event on kong.response.exit without sending a Step', async () => {
    const { id } = await client.startInstance('gatekeeper', config);
    const kong = fakeKong({ host: 'example.com', 'x-token': 'wrong' });
    const outcome = await client.handleEvent(id, 'access', kong.pdk);
    expect(outcome).toEqual({
      pdkCalls: 5,
      terminal: { method: 'kong.response.exit', args: [403, 'forbidden', { 'x-gatekeeper': 'denied' }] },
    });
    // The connection went back to the pool in a clean state: the next event on it works.
    expect(
      (await client.handleEvent(id, 'access', fakeKong({ 'x-token': 'letmein' }).pdk)).terminal,
    ).toBeUndefined();
  });

  it('answers a Kong 2.x PDK failure with plugin.StepError, which the JS plugin sees as a thrown error', async () => {
    const { id } = await client.startInstance('gatekeeper', config);
    const kong = fakeKong(
      { 'x-token': 'letmein' },
      { 'kong.request.get_body': pdkFailure('body too large') },
    );
    await client.handleEvent(id, 'access', kong.pdk);
    expect(kong.responseHeaders['x-gatekeeper-body']).toBe(
      'failed: PDK method kong.request.get_body failed:  body too large',
    );
  });

  it('restarts the instance and retries the event once after the server restarted (runEvent)', async () => {
    const resets: unknown[] = [];
    const onReset = ({ plugin, reason }: KongPluginClientEvents['instancesReset'][0]) => {
      resets.push([plugin, reason]);
    };
    client.on('instancesReset', onReset);
    const kong = fakeKong({ 'x-token': 'letmein' });
    await client.runEvent('gatekeeper', config, 'access', kong.pdk);
    await client.runEvent('gatekeeper', config, 'access', kong.pdk);
    expect(resets).toHaveLength(0);
    // Kong's JS server sends no serverPid, so only `no plugin instance` reveals the restart.
    await stopServer();
    startServer();
    const outcome = await client.runEvent('gatekeeper', config, 'access', kong.pdk);
    expect(outcome.terminal).toBeUndefined();
    expect(resets).toEqual([['gatekeeper', expect.any(NoPluginInstanceError)]]);
    expect(((await client.getStatus()) as { Pid: number }).Pid).toBe(child.pid);
    client.off('instancesReset', onReset);
  });

  it('reports other server errors as RemoteError with the server’s text', async () => {
    const failure = client.startInstance('no-such-plugin', {});
    await expect(failure).rejects.toBeInstanceOf(RemoteError);
    await expect(failure).rejects.toThrow('no-such-plugin not initizlied');
  });

  it('T70: 200 sequential calls on one connection, then 64 connections × 20 calls; the server survives', async () => {
    const sequential = new KongPluginClient({ socketPath, timeout: 20_000 });
    try {
      for (let index = 0; index < 200; index++) await sequential.getStatus();
      expect(sequential.connections).toBe(1);
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          for (let call = 0; call < 20; call++) await sequential.getPluginInfo('gatekeeper');
        }),
      );
      expect(sequential.connections).toBe(64);
    } finally {
      await sequential.close();
    }
    expect(child.exitCode).toBeNull();
    expect((await client.getPluginInfo('gatekeeper')).name).toBe('gatekeeper');
  });
});
