import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PluginServerSupervisor, UnixSocketPool } from '../../src/socket/index.js';
import { checkPeer } from '../helpers/peers.js';
import { call, isRunning, once, ROOT, removeDir, SOCKET_FIXTURES, tempSocketDir } from '../helpers/socket.js';

/** kong-pdk's plugin server (Kong/kong-js-pdk), installed as a dev dependency. */
const KONG_JS_PLUGINSERVER = join(ROOT, 'node_modules/.bin/kong-js-pluginserver');
const PLUGINS = join(SOCKET_FIXTURES, 'plugins');
const present = checkPeer('kong-pdk (kong-js-pluginserver)', existsSync(KONG_JS_PLUGINSERVER));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.skipIf(!present)("supervising kong-pdk's kong-js-pluginserver", () => {
  it('starts it, serves msgpack-RPC, respawns it after SIGKILL and serves again', async () => {
    const prefix = tempSocketDir();
    cleanups.push(() => removeDir(prefix));
    const socket = join(prefix, 'js.sock');
    const lines: string[] = [];
    const supervisor = new PluginServerSupervisor(
      {
        name: 'js',
        socket,
        startCmd: `${KONG_JS_PLUGINSERVER} -p ${prefix} --sock-name js.sock -d ${PLUGINS}`,
      },
      { logger: { info: (line) => lines.push(line) }, readyTimeout: 30_000 },
    );
    cleanups.push(() => supervisor.stop());
    const pool = new UnixSocketPool(socket, { connect: { retry: { deadline: 15_000 } } });
    cleanups.push(() => pool.close());
    supervisor.on('restart', () => pool.dropIdle());

    await supervisor.start();
    const first = supervisor.pid!;
    const [type, msgid, error, status] = await call(pool, 1, 'plugin.GetStatus');
    expect([type, msgid, error]).toEqual([1, 1, null]);
    // GetStatus reports the server's own pid: with `exec`, the process the supervisor holds is the server.
    expect(status).toMatchObject({ Pid: first, Plugins: {} });
    expect(lines.some((line) => line.startsWith(`[js:${first}] `))).toBe(true);
    const info = await call(pool, 3, 'plugin.GetPluginInfo', ['hello']);
    expect(info[3]).toMatchObject({ Name: 'hello', Version: '0.1.0', Phases: ['access'] });

    const restarted = once<{ pid: number; generation: number }>(supervisor, 'restart', 30_000);
    process.kill(first, 'SIGKILL');
    const { pid, generation } = await restarted;
    expect(pid).not.toBe(first);
    expect(generation).toBe(2);
    expect(isRunning(first)).toBe(false);
    const again = await call(pool, 2, 'plugin.GetStatus');
    expect(again.slice(0, 3)).toEqual([1, 2, null]);
    expect(again[3]).toMatchObject({ Pid: pid });
  });
});
