import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  KongConfDumpError,
  KongConfQueryError,
  parseKongConf,
  queryPluginServer,
  resolvePluginServers,
} from '../../src/kong-conf/index.js';
import { checkPeer } from '../helpers/peers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pluginServer = `${root}node_modules/.bin/kong-js-pluginserver`;
const pluginsDir = `${root}test/fixtures/kong-conf/js-plugins`;
const noisy = `${root}test/fixtures/kong-conf/noisy-dump.js`;
const ok = checkPeer("kong-pdk's kong-js-pluginserver (npm dev dependency)", existsSync(pluginServer));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe.skipIf(!ok)('queryPluginServer against kong-js-pluginserver', () => {
  it('reads the real dump of a resolved server as Kong 3.9 does', async () => {
    const conf = parseKongConf(
      [
        'pluginserver_names = js',
        `pluginserver_js_start_cmd = ${pluginServer} -d ${pluginsDir}`,
        `pluginserver_js_query_cmd = ${pluginServer} -d ${pluginsDir} --dump-all-plugins`,
      ].join('\n'),
    );
    const { servers } = resolvePluginServers(conf, { fileExists: () => false });
    const [server] = servers;
    if (server === undefined) throw new Error('no server resolved');
    const dump = await queryPluginServer(server, { kongVersion: '3.9', timeout: 30_000 });
    expect(dump.protocol).toBe('MsgPack:1');
    expect(dump.plugins.map((p) => p.Name).sort()).toEqual(['js-hello', 'js-second']);
    expect(dump.registered).toHaveLength(1);
    expect(dump.warnings.map((w) => w.code)).toEqual(['dump-extra-plugins']);
    const hello = dump.plugins.find((p) => p.Name === 'js-hello');
    expect(hello).toMatchObject({ Version: '0.1.0', Priority: 10, Phases: ['access'] });
    expect(hello?.Schema).toMatchObject({
      name: 'js-hello',
      fields: [{ config: { type: 'record', fields: [{ message: { type: 'string' } }] } }],
    });
  });

  it('registers every plugin of the real dump on 3.8', async () => {
    const dump = await queryPluginServer(`${pluginServer} -d ${pluginsDir} --dump-all-plugins`, {
      kongVersion: '3.8',
      timeout: 30_000,
    });
    expect(dump.registered.map((p) => p.Name).sort()).toEqual(['js-hello', 'js-second']);
  });

  it('rejects a dump with a log line before the JSON, showing the output', async () => {
    const error = await rejection(queryPluginServer(`node ${noisy}`, { timeout: 30_000 }));
    expect(error).toBeInstanceOf(KongConfDumpError);
    expect(error).toMatchObject({
      code: 'KONG_CONF_DUMP_INVALID_JSON',
      message: 'failed decoding plugin info: Expected value but found invalid token at character 1',
    });
    expect((error as KongConfDumpError).output.startsWith('plugin loaded\n[{"Name":"noisy"')).toBe(true);
  });

  it('rejects the same dump with Kong 3.8’s message, naming the command', async () => {
    const error = await rejection(
      queryPluginServer(`node ${noisy}`, { kongVersion: '3.8', timeout: 30_000 }),
    );
    expect(
      (error as Error).message.startsWith(`Not a plugin info table: \nnode ${noisy}\nplugin loaded\n`),
    ).toBe(true);
  });
});

describe('queryPluginServer runs the command as Kong does, within bounds', () => {
  it('runs through /bin/sh with the given environment and ignores the exit status', async () => {
    const dump = await queryPluginServer('printf \'[{"Name":"%s"}]\' "$PLUGIN"; exit 3', {
      env: { PLUGIN: 'from-env', PATH: '/usr/bin:/bin' },
      timeout: 10_000,
    });
    expect(dump.registered.map((p) => p.Name)).toEqual(['from-env']);
  });

  it('reads empty stdout of a missing command as Kong does, with stderr kept out of the dump', async () => {
    const error = await rejection(queryPluginServer('/nonexistent/query-cmd', { timeout: 10_000 }));
    expect(error).toMatchObject({
      message: 'failed decoding plugin info: Expected value but found T_END at character 1',
    });
  });

  it('kills a command that runs past the timeout', async () => {
    const error = await rejection(queryPluginServer('sleep 30; echo []', { timeout: 300 }));
    expect(error).toBeInstanceOf(KongConfQueryError);
    expect(error).toMatchObject({ code: 'KONG_CONF_QUERY_TIMEOUT', command: 'sleep 30; echo []' });
  });

  it('kills a command whose output exceeds the cap', async () => {
    const error = await rejection(queryPluginServer('yes', { maxOutput: 64 * 1024, timeout: 10_000 }));
    expect(error).toMatchObject({ code: 'KONG_CONF_QUERY_OUTPUT_TOO_LARGE' });
  });

  it('stops on abort', async () => {
    const controller = new AbortController();
    const pending = queryPluginServer('sleep 30', { signal: controller.signal, timeout: 20_000 });
    controller.abort(new Error('no longer needed'));
    const error = await rejection(pending);
    expect(error).toMatchObject({ code: 'KONG_CONF_QUERY_ABORTED' });
    await expect(queryPluginServer('echo []', { signal: controller.signal })).rejects.toMatchObject({
      code: 'KONG_CONF_QUERY_ABORTED',
    });
  });

  it('fails with Kong’s text for a server without a query command', async () => {
    const { servers } = resolvePluginServers('', {
      kongVersion: '3.8',
      overrides: { pluginserver_names: 'gopher' },
    });
    const [server] = servers;
    if (server === undefined) throw new Error('no server resolved');
    await expect(queryPluginServer(server)).rejects.toMatchObject({
      code: 'KONG_CONF_NO_QUERY_COMMAND',
      message: 'no info query for gopher',
    });
  });
});
