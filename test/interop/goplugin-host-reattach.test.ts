/**
 * Reattach: start the Go KV plugin, reattach a second client (directly and through Terraform's
 * TF_REATTACH_PROVIDERS shape), check that the second client never kills it, and kill it through the first.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cleanupPlugins,
  formatReattachProviders,
  type PluginClient,
  parseReattachProviders,
  reattachPlugin,
  startPlugin,
} from '../../src/goplugin/index.js';
import { checkPeer } from '../helpers/peers.js';
import {
  alive,
  bounded,
  COOKIE,
  call,
  hostFixturesBuilt,
  KVPLUGIN,
  KVService,
  PEER_NAME,
} from './goplugin-host-helpers.js';

const ok = checkPeer(PEER_NAME, hostFixturesBuilt());

describe.skipIf(!ok)('reattachPlugin with the Go KV plugin', () => {
  const clients: PluginClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.kill()));
    await cleanupPlugins();
  });

  it('shares one plugin between two clients; only the first one kills it', async () => {
    const first = await startPlugin({ ...COOKIE, command: KVPLUGIN, startTimeout: 20_000 });
    clients.push(first);
    const config = first.reattachConfig();
    expect(config).toMatchObject({ protocol: 'grpc', protocolVersion: 1, pid: first.pid, test: false });
    const second = await reattachPlugin(config);
    clients.push(second);
    expect(second.reattached).toBe(true);
    expect(second.pid).toBe(first.pid);

    await call(second.makeClient(KVService), 'Put', { key: 'shared', value: Buffer.from('from second') });
    const got = await call<{ value: Buffer }>(first.makeClient(KVService), 'Get', { key: 'shared' });
    expect(got.value.toString()).toBe('from second');

    // Killing the reattached client only disconnects it.
    await second.kill();
    expect(await second.exited).toEqual({ code: null, signal: null });
    expect(alive(first.pid)).toBe(true);
    await first.ping();

    const socket = first.address.address;
    await first.kill();
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(alive(first.pid)).toBe(false);
    expect(existsSync(socket)).toBe(false);
  });

  it("reattaches from Terraform's TF_REATTACH_PROVIDERS and notices when the process goes away", async () => {
    const first = await startPlugin({ ...COOKIE, command: KVPLUGIN, startTimeout: 20_000 });
    clients.push(first);
    const text = formatReattachProviders({ 'registry.terraform.io/pluginwire/kv': first.reattachConfig() });
    expect(JSON.parse(text)['registry.terraform.io/pluginwire/kv']).toMatchObject({
      Protocol: 'grpc',
      ProtocolVersion: 1,
      Pid: first.pid,
      Addr: { Network: 'unix', String: first.address.address },
    });
    const entry = JSON.parse(text)['registry.terraform.io/pluginwire/kv'];
    const second = await reattachPlugin(entry);
    clients.push(second);
    const viaParsed = await reattachPlugin(
      parseReattachProviders(text)['registry.terraform.io/pluginwire/kv']!,
    );
    clients.push(viaParsed);
    await second.ping();
    await viaParsed.ping();
    await first.kill();
    // The pid is polled every second.
    expect(await bounded(second.exited, 10_000, 'the reattached client to see the exit')).toEqual({
      code: null,
      signal: null,
    });
  });

  it('fails with GOPLUGIN_REATTACH_NOT_FOUND for a pid that does not exist', async () => {
    const first = await startPlugin({ ...COOKIE, command: KVPLUGIN, startTimeout: 20_000 });
    clients.push(first);
    const config = first.reattachConfig();
    await first.kill();
    await expect(reattachPlugin(config)).rejects.toMatchObject({ code: 'GOPLUGIN_REATTACH_NOT_FOUND' });
  });

  it('refuses to describe an AutoMTLS connection as a reattach config', async () => {
    const client = await startPlugin({ ...COOKIE, command: KVPLUGIN, autoMTLS: true, startTimeout: 20_000 });
    clients.push(client);
    expect(() => client.reattachConfig()).toThrow(
      expect.objectContaining({ code: 'GOPLUGIN_INVALID_OPTIONS' }),
    );
  });
});
