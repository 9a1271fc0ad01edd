import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolvePluginServers } from '../../src/kong-conf/index.js';
import { PluginServerSupervisor, UnixSocketPool } from '../../src/socket/index.js';
import { checkPeer } from '../helpers/peers.js';
import { call, isRunning, once, ROOT, removeDir, SOCKET_FIXTURES, tempSocketDir } from '../helpers/socket.js';

// Composes two independent modules the way an application would: kong-conf resolves the servers a kong.conf
// declares, the socket module supervises them. Neither module imports the other.
const KONG_JS_PLUGINSERVER = join(ROOT, 'node_modules/.bin/kong-js-pluginserver');
const PLUGINS = join(SOCKET_FIXTURES, 'plugins');
const present = checkPeer('kong-pdk (kong-js-pluginserver)', existsSync(KONG_JS_PLUGINSERVER));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.skipIf(!present)('a kong.conf, resolvePluginServers, and the supervisor', () => {
  it('supervises the server a kong.conf declares: SIGKILLed, respawned, serving again', async () => {
    const prefix = tempSocketDir();
    cleanups.push(() => removeDir(prefix));
    const conf = [
      `prefix = ${prefix}`,
      'pluginserver_names = js',
      `pluginserver_js_socket = ${prefix}/js.sock`,
      `pluginserver_js_start_cmd = ${KONG_JS_PLUGINSERVER} -p ${prefix} --sock-name js.sock -d ${PLUGINS}`,
      `pluginserver_js_query_cmd = ${KONG_JS_PLUGINSERVER} -d ${PLUGINS} --dump-all-plugins`,
      '',
    ].join('\n');
    const { servers } = resolvePluginServers(conf, { kongVersion: '3.9' });
    expect(servers).toHaveLength(1);
    const [server] = servers;
    if (server === undefined) throw new Error('no server resolved');
    expect(server.socket).toBe(`${prefix}/js.sock`);

    const supervisor = new PluginServerSupervisor(server, { readyTimeout: 30_000 });
    cleanups.push(() => supervisor.stop());
    const pool = new UnixSocketPool(server.socket, { connect: { retry: { deadline: 15_000 } } });
    cleanups.push(() => pool.close());
    supervisor.on('restart', () => pool.dropIdle());

    await supervisor.start();
    const first = supervisor.pid!;
    expect((await call(pool, 1, 'plugin.GetStatus'))[3]).toMatchObject({ Pid: first });

    const restarted = once<{ pid: number; generation: number }>(supervisor, 'restart', 30_000);
    process.kill(first, 'SIGKILL');
    const { pid, generation } = await restarted;
    expect(generation).toBe(2);
    expect(isRunning(first)).toBe(false);
    const again = await call(pool, 2, 'plugin.GetStatus');
    expect(again.slice(0, 3)).toEqual([1, 2, null]);
    expect(again[3]).toMatchObject({ Pid: pid });
  });
});
