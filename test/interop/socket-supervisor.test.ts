import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  listenUnix,
  PluginServerSupervisor,
  SupervisorConflictError,
  type SupervisorEvents,
  SupervisorGaveUpError,
  type SupervisorOptions,
  SupervisorStoppedError,
  type UnixServer,
} from '../../src/socket/index.js';
import {
  type Fixture,
  isRunning,
  killFixture,
  livingInGroup,
  once,
  removeDir,
  SOCKET_FIXTURES,
  startFixture,
  tempSocketDir,
  until,
} from '../helpers/socket.js';

const NODE = process.execPath;
const SERVER = `${SOCKET_FIXTURES}/server.mjs`;

const dirs: string[] = [];
const supervisors: PluginServerSupervisor[] = [];
const fixtures: Fixture[] = [];
const servers: UnixServer[] = [];

function dir(): string {
  const created = tempSocketDir();
  dirs.push(created);
  return created;
}

interface Recorded {
  sup: PluginServerSupervisor;
  logs: { level: string; message: string }[];
  events: { name: keyof SupervisorEvents; at: number; payload: unknown }[];
  of<K extends keyof SupervisorEvents>(name: K): SupervisorEvents[K][0][];
}

function supervise(
  definition: ConstructorParameters<typeof PluginServerSupervisor>[0],
  options: SupervisorOptions = {},
): Recorded {
  const logs: Recorded['logs'] = [];
  const record = (level: string) => (message: string) => logs.push({ level, message });
  const sup = new PluginServerSupervisor(definition, {
    logger: { info: record('info'), warn: record('warn'), error: record('error') },
    stopTimeout: 2000,
    ...options,
  });
  supervisors.push(sup);
  const events: Recorded['events'] = [];
  const names: (keyof SupervisorEvents)[] = [
    'started',
    'log',
    'ready',
    'readyTimeout',
    'exited',
    'restartScheduled',
    'restart',
    'conflict',
    'gave-up',
    'stopping',
    'stopped',
  ];
  for (const name of names) {
    sup.on(name, ((payload: unknown) => events.push({ name, at: performance.now(), payload })) as never);
  }
  return {
    sup,
    logs,
    events,
    of: (name) => events.filter((e) => e.name === name).map((e) => e.payload) as never,
  };
}

function server(sock: string, ...flags: string[]): string {
  return [NODE, SERVER, '--sock', sock, ...flags].join(' ');
}

afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((sup) => sup.stop({ timeout: 1000 })));
  await Promise.all(servers.splice(0).map((s) => s.close({ deadline: 100 })));
  await Promise.all(fixtures.splice(0).map((f) => killFixture(f)));
  for (const created of dirs.splice(0)) removeDir(created);
});

describe('start and output', () => {
  it('runs the command as sh -c "exec <cmd>": the pid is the server itself; $VAR and quotes work', async () => {
    const sock = `${dir()}/s.sock`;
    const r = supervise(
      { name: 'echo', socket: sock, startCmd: `${server(sock)} --say "$GREETING" --say 'two  words'` },
      { env: { GREETING: 'hello from env' } },
    );
    await r.sup.start();
    const pid = r.sup.pid!;
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(SERVER);
    await until(() => r.of('log').length >= 3, 'three log lines');
    expect(r.of('log').map((l) => l.line)).toEqual(
      expect.arrayContaining(['hello from env', 'two  words', `listening ${sock}`]),
    );
    expect(r.logs).toContainEqual({ level: 'info', message: `[echo:${pid}] hello from env` });
    expect(r.logs).toContainEqual({
      level: 'info',
      message: '[pluginserver] starting pluginserver process for echo',
    });
    expect(r.logs).toContainEqual({ level: 'info', message: `[pluginserver] started, pid ${pid}` });
  });

  it('logs stdout and stderr lines with the [name:pid] prefix, skips empty lines, flushes a final partial line, splits long lines', async () => {
    const r = supervise(
      {
        name: 'out',
        socket: `${dir()}/s.sock`,
        startCmd: `${NODE} ${SERVER} --say one --say '' --err two --say ${'y'.repeat(25)} --partial tail --exit 0`,
      },
      { awaitReady: false, restartOnCleanExit: false, maxLineBytes: 10 },
    );
    await r.sup.start();
    await once(r.sup, 'stopped');
    const logs = r.of('log');
    expect(logs.map((l) => [l.stream, l.line, l.continued])).toEqual(
      expect.arrayContaining([
        ['stdout', 'one', false],
        ['stderr', 'two', false],
        ['stdout', 'yyyyyyyyyy', false],
        ['stdout', 'yyyyyyyyyy', true],
        ['stdout', 'yyyyy', true],
        ['stdout', 'tail', false],
      ]),
    );
    expect(logs.some((l) => l.line === '')).toBe(false);
    const pid = logs[0]?.pid;
    // Every output line logs at info with the [name:pid] prefix (Kong's NOTICE lines log at info too).
    for (const l of logs) expect(r.logs).toContainEqual({ level: 'info', message: `[out:${pid}] ${l.line}` });
  });

  it('drains 10 MB of output with no listener attached', async () => {
    const sup = new PluginServerSupervisor(
      { name: 'flood', socket: `${dir()}/s.sock`, startCmd: `${NODE} ${SERVER} --flood 10485760 --exit 0` },
      { awaitReady: false, restartOnCleanExit: false },
    );
    supervisors.push(sup);
    const stopped = once(sup, 'stopped', 30_000);
    await sup.start();
    await stopped;
    expect(sup.state).toBe('stopped');
  });

  it('accepts the argv form, which runs without a shell', async () => {
    const sock = `${dir()}/s.sock`;
    const r = supervise({
      name: 'argv',
      socket: sock,
      argv: [NODE, SERVER, '--sock', sock, '--say', '$NOT_EXPANDED'],
    });
    await r.sup.start();
    await until(() => r.of('log').some((l) => l.line === '$NOT_EXPANDED'), 'the literal argument');
  });
});

describe('restart policies', () => {
  it('kong: a server exiting with status 1 is respawned no faster than once per second', async () => {
    const r = supervise(
      { name: 'crash', socket: `${dir()}/s.sock`, startCmd: `${NODE} ${SERVER} --exit 1` },
      { awaitReady: false },
    );
    await r.sup.start();
    await until(() => r.of('started').length >= 3, 'three spawns', 15_000);
    const at = r.events.filter((e) => e.name === 'started').map((e) => e.at);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(990);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(990);
    expect(r.logs).toContainEqual({
      level: 'info',
      message: "external pluginserver 'crash' terminated: exit 1",
    });
  });

  it('backoff: delays grow and are capped, and reset after a stable run', async () => {
    const base = dir();
    // Runs 1, 2, 4, 5 fail at once; run 3 stays up for 0.6 s (longer than resetAfter).
    const script = `n=$(cat ${base}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${base}/n; if [ $n -eq 3 ]; then sleep 0.6; fi; exit 1`;
    const r = supervise(
      { name: 'bo', socket: `${base}/s.sock`, startCmd: `sh -c '${script}'` },
      {
        policy: 'backoff',
        awaitReady: false,
        respawnInterval: 50,
        backoff: { initialDelay: 100, factor: 2, maxDelay: 400, resetAfter: 400 },
      },
    );
    await r.sup.start();
    await until(() => r.of('restartScheduled').length >= 6, 'six scheduled restarts', 20_000);
    const delays = r.of('restartScheduled').map((e) => Math.round(e.delay));
    expect(delays.slice(0, 6)).toEqual([100, 200, 100, 200, 400, 400]);
  });

  it('kong: exit 127 logs Kong\'s "command not found" text and gives up; start() rejects', async () => {
    const r = supervise({
      name: 'missing',
      socket: `${dir()}/s.sock`,
      startCmd: 'pluginwire-no-such-command',
    });
    const error = await r.sup.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SupervisorGaveUpError);
    expect(r.of('gave-up')).toEqual([
      { name: 'missing', reason: 'exit-code', code: 127, signal: null, restarts: 0 },
    ]);
    expect(r.logs).toContainEqual({
      level: 'error',
      message:
        '[pluginserver] external pluginserver "missing" start command "pluginwire-no-such-command" exited with "command not found"',
    });
    expect(r.logs).toContainEqual({
      level: 'error',
      message: "[pluginserver] exiting: pluginserver 'missing' not respawned.",
    });
    expect(r.sup.generation).toBe(1);
    expect(r.sup.state).toBe('failed');
  });

  it('kong-exact: exit 127 keeps respawning once per second, as Kong really does', async () => {
    const r = supervise(
      { name: 'missing', socket: `${dir()}/s.sock`, startCmd: 'pluginwire-no-such-command' },
      { policy: 'kong-exact', awaitReady: false },
    );
    await r.sup.start();
    await until(() => r.of('exited').length >= 3, 'three exits', 15_000);
    const at = r.events.filter((e) => e.name === 'started').map((e) => e.at);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(990);
    expect(r.of('gave-up')).toEqual([]);
    expect(r.logs.filter((l) => l.message.includes('"command not found"')).length).toBeGreaterThanOrEqual(3);
  });

  it('a start command beginning with FOO=1 exits 127 with the "env FOO=1 …" hint', async () => {
    const r = supervise({ name: 'assign', socket: `${dir()}/s.sock`, startCmd: `FOO=1 ${NODE} ${SERVER}` });
    await expect(r.sup.start()).rejects.toBeInstanceOf(SupervisorGaveUpError);
    expect(
      r.logs.some((l) => l.level === 'error' && l.message.includes(`use "env FOO=1 ${NODE} ${SERVER}"`)),
    ).toBe(true);
  });

  it('respawns after exit status 0 by default; restartOnCleanExit: false stops instead', async () => {
    const again = supervise(
      { name: 'clean', socket: `${dir()}/s.sock`, startCmd: `${NODE} ${SERVER} --exit 0` },
      { awaitReady: false, respawnInterval: 100 },
    );
    await again.sup.start();
    await until(() => again.of('started').length >= 2, 'a respawn');
    const once0 = supervise(
      { name: 'clean2', socket: `${dir()}/s.sock`, startCmd: `${NODE} ${SERVER} --exit 0` },
      { awaitReady: false, restartOnCleanExit: false },
    );
    await once0.sup.start();
    await once(once0.sup, 'stopped');
    expect(once0.of('started')).toHaveLength(1);
  });
});

describe('stop', () => {
  it('a server that exits on SIGTERM stops unforced', async () => {
    const sock = `${dir()}/s.sock`;
    const r = supervise({ name: 'term', socket: sock, startCmd: server(sock) });
    await r.sup.start();
    const pid = r.sup.pid!;
    await r.sup.stop();
    expect(r.of('stopped')).toEqual([{ name: 'term', pid, code: null, signal: 'SIGTERM', forced: false }]);
    expect(r.logs).toContainEqual({
      level: 'info',
      message: `[pluginserver] successfully stopped pluginserver 'term', pid ${pid}`,
    });
    expect(isRunning(pid)).toBe(false);
  });

  it('a server ignoring SIGTERM is SIGKILLed after stopTimeout', async () => {
    const sock = `${dir()}/s.sock`;
    const r = supervise({ name: 'stubborn', socket: sock, startCmd: server(sock, '--ignore-term') });
    await r.sup.start();
    const started = performance.now();
    await r.sup.stop({ timeout: 500 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(450);
    expect(r.of('stopped')[0]).toMatchObject({ signal: 'SIGKILL', forced: true });
  });

  it('leaves no descendant: grandchildren that ignore SIGTERM die with the group (process table)', async () => {
    const sock = `${dir()}/s.sock`;
    const r = supervise({ name: 'family', socket: sock, startCmd: server(sock, '--children', '2') });
    await r.sup.start();
    const pid = r.sup.pid!;
    const sleepers = () => r.of('log').filter((l) => l.line.endsWith(' ignores SIGTERM'));
    await until(() => sleepers().length === 2, 'two children ignoring SIGTERM');
    const children = sleepers().map((l) => Number(l.line.split(' ')[1]));
    expect(livingInGroup(pid).sort()).toEqual([pid, ...children].sort());
    await r.sup.stop({ timeout: 500 });
    expect(livingInGroup(pid)).toEqual([]);
    for (const child of children) expect(isRunning(child)).toBe(false);
    expect(r.of('stopped')[0]).toMatchObject({ forced: true });
  });

  it('stop() during a backoff sleep leaves no process and no later spawn', async () => {
    const r = supervise(
      { name: 'sleepy', socket: `${dir()}/s.sock`, startCmd: `${NODE} ${SERVER} --exit 1` },
      { awaitReady: false, respawnInterval: 60_000 },
    );
    await r.sup.start();
    await once(r.sup, 'restartScheduled');
    await r.sup.stop();
    expect(r.sup.state).toBe('stopped');
    expect(r.sup.generation).toBe(1);
  });

  it('stop() before ready leaves no process; start() rejects with SupervisorStopped', async () => {
    const sock = `${dir()}/s.sock`;
    const r = supervise({ name: 'early', socket: sock, startCmd: server(sock, '--delay', '30000') });
    const starting = r.sup.start();
    await once(r.sup, 'started');
    const pid = r.sup.pid!;
    await r.sup.stop();
    await expect(starting).rejects.toBeInstanceOf(SupervisorStoppedError);
    expect(livingInGroup(pid)).toEqual([]);
    expect(r.of('ready')).toEqual([]);
  });

  it('kong-exact sends one SIGTERM and does not wait', async () => {
    const sock = `${dir()}/s.sock`;
    const r = supervise({ name: 'exact', socket: sock, startCmd: server(sock) }, { policy: 'kong-exact' });
    await r.sup.start();
    const exited = once<{ signal: string }>(r.sup, 'exited');
    await r.sup.stop();
    expect(r.of('stopped')[0]).toMatchObject({ code: null, signal: null, forced: false });
    expect((await exited).signal).toBe('SIGTERM');
  });

  it('removes the socket file a killed server left behind', async () => {
    const sock = `${dir()}/s.sock`;
    const r = supervise({ name: 'litter', socket: sock, startCmd: server(sock, '--ignore-term') });
    await r.sup.start();
    await r.sup.stop({ timeout: 200 });
    await expect(listenUnix(sock, { stale: 'fail' }).then((s) => servers.push(s))).resolves.toBe(1);
  });
});

describe('readiness, conflicts and generations', () => {
  it('is ready only once the socket accepts; a server that never binds gets readyTimeout', async () => {
    const sock = `${dir()}/s.sock`;
    const late = supervise({ name: 'late', socket: sock, startCmd: server(sock, '--delay', '400') });
    await late.sup.start();
    expect(late.of('ready')[0]?.ms).toBeGreaterThanOrEqual(350);
    const never = supervise(
      { name: 'never', socket: `${dir()}/s.sock`, startCmd: `${NODE} ${SERVER} --stdin-eof-exit` },
      { readyTimeout: 300 },
    );
    await expect(never.sup.start()).rejects.toMatchObject({ code: 'SOCKET_READY_TIMEOUT' });
    expect(never.of('readyTimeout')).toHaveLength(1);
    expect(never.sup.state).toBe('starting');
  });

  it('a stale socket of a previous instance does not produce a false ready', async () => {
    const sock = `${dir()}/s.sock`;
    const old = startFixture('server.mjs', ['--sock', sock]);
    fixtures.push(old);
    await old.line(/^listening/);
    old.child.kill('SIGKILL');
    await old.exited;
    // The new server never binds: only the stale file is there, which refuses connections anyway, and the
    // inode check keeps even a racing probe from counting it.
    const r = supervise(
      { name: 'stale', socket: sock, startCmd: `${NODE} ${SERVER} --stdin-eof-exit` },
      { readyTimeout: 500 },
    );
    await expect(r.sup.start()).rejects.toMatchObject({ code: 'SOCKET_READY_TIMEOUT' });
    expect(r.of('ready')).toEqual([]);
  });

  it('a live foreign server on the path → conflict, no spawn', async () => {
    const sock = `${dir()}/s.sock`;
    const foreign = await listenUnix(sock);
    servers.push(foreign);
    const r = supervise({ name: 'dup', socket: sock, startCmd: server(sock) });
    await expect(r.sup.start()).rejects.toBeInstanceOf(SupervisorConflictError);
    expect(r.of('conflict')).toHaveLength(1);
    expect(r.of('started')).toEqual([]);
  });

  it('no startCmd → external: no spawn, ready once an outside process binds the socket', async () => {
    const sock = `${dir()}/s.sock`;
    const r = supervise({ name: 'ext', socket: sock });
    const ready = r.sup.start();
    expect(r.sup.state).toBe('external');
    const outside = startFixture('server.mjs', ['--sock', sock, '--delay', '200']);
    fixtures.push(outside);
    await ready;
    expect(r.of('started')).toEqual([]);
    expect(r.logs).toContainEqual({
      level: 'info',
      message:
        '[pluginserver] start_command undefined for pluginserver ext; assuming external process management',
    });
  });

  it('after a crash, restart carries a new pid and generation + 1', async () => {
    const sock = `${dir()}/s.sock`;
    const r = supervise({ name: 'phoenix', socket: sock, startCmd: server(sock) });
    await r.sup.start();
    const first = r.sup.pid!;
    const restarted = once<{ pid: number; generation: number }>(r.sup, 'restart', 15_000);
    process.kill(first, 'SIGKILL');
    const info = await restarted.catch((error) => {
      throw new Error(`${error.message}: ${JSON.stringify(r.events.map((e) => [e.name, e.payload]))}`);
    });
    expect(info.pid).not.toBe(first);
    expect(info.generation).toBe(2);
    expect(r.of('exited')[0]).toMatchObject({ pid: first, signal: 'SIGKILL', generation: 1 });
  });
});

describe('when the supervisor process ends', () => {
  it('a normal exit kills the server group through the exit hook', async () => {
    const sock = `${dir()}/s.sock`;
    const host = startFixture('supervise.ts', [
      JSON.stringify({ name: 'child', socket: sock, startCmd: server(sock, '--ignore-term') }),
      'exit',
    ]);
    fixtures.push(host);
    const pid = Number((await host.line(/^server \d+$/)).slice(7));
    await host.exited;
    await until(() => livingInGroup(pid).length === 0, 'the server group to die');
  });

  it('a SIGKILLed supervisor: a server that exits on stdin EOF dies too', async () => {
    const sock = `${dir()}/s.sock`;
    const host = startFixture('supervise.ts', [
      JSON.stringify({ name: 'child', socket: sock, startCmd: server(sock, '--stdin-eof-exit') }),
      'hang',
    ]);
    fixtures.push(host);
    const pid = Number((await host.line(/^server \d+$/)).slice(7));
    host.child.kill('SIGKILL');
    await host.exited;
    await until(() => livingInGroup(pid).length === 0, 'the orphaned server to exit on EOF');
  });

  it('installSignalHandlers: SIGTERM to the supervisor stops the server group, then the supervisor dies by SIGTERM', async () => {
    const sock = `${dir()}/s.sock`;
    const host = startFixture('supervise.ts', [
      JSON.stringify({ name: 'child', socket: sock, startCmd: server(sock, '--children', '1') }),
      'signals',
    ]);
    fixtures.push(host);
    const pid = Number((await host.line(/^server \d+$/)).slice(7));
    await until(() => livingInGroup(pid).length === 2, 'the server and its child');
    host.child.kill('SIGTERM');
    expect(await host.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(livingInGroup(pid)).toEqual([]);
  });
});

describe('hooks and limits', () => {
  it('the argv form with a missing program: an error event, exit 127, given up', async () => {
    const r = supervise({
      name: 'ghost',
      socket: `${dir()}/s.sock`,
      argv: ['/nonexistent/pluginwire-server'],
    });
    const errors: Error[] = [];
    r.sup.on('error', (error) => errors.push(error));
    await expect(r.sup.start()).rejects.toBeInstanceOf(SupervisorGaveUpError);
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENOENT']);
    expect(r.of('gave-up')[0]).toMatchObject({ reason: 'exit-code', code: 127 });
  });

  it("onConflict: 'spawn' starts anyway but does not take the foreign socket for readiness", async () => {
    const sock = `${dir()}/s.sock`;
    const foreign = await listenUnix(sock);
    servers.push(foreign);
    const r = supervise(
      { name: 'pushy', socket: sock, startCmd: `${NODE} ${SERVER} --stdin-eof-exit` },
      { onConflict: 'spawn', readyTimeout: 500 },
    );
    await expect(r.sup.start()).rejects.toMatchObject({ code: 'SOCKET_READY_TIMEOUT' });
    expect(r.of('started')).toHaveLength(1);
    expect(r.of('ready')).toEqual([]);
  });

  it('beforeSpawn adjusts the environment and can veto a spawn; onExit can stop the restarts', async () => {
    const sock = `${dir()}/s.sock`;
    let spawns = 0;
    const r = supervise(
      { name: 'hooked', socket: sock, startCmd: `${server(sock)} --say "gen $GEN"` },
      {
        beforeSpawn: (context) => {
          spawns++;
          context.env.GEN = String(context.generation);
          return spawns <= 2 ? undefined : false;
        },
        respawnInterval: 100,
      },
    );
    await r.sup.start();
    await until(() => r.of('log').some((l) => l.line === 'gen 1'), 'gen 1 from the environment');
    process.kill(r.sup.pid!, 'SIGKILL');
    await once(r.sup, 'restart');
    await until(() => r.of('log').some((l) => l.line === 'gen 2'), 'gen 2');
    const gaveUp = once<{ reason: string }>(r.sup, 'gave-up');
    process.kill(r.sup.pid!, 'SIGKILL');
    expect((await gaveUp).reason).toBe('vetoed');

    const stopper = supervise(
      { name: 'stopper', socket: `${dir()}/s.sock`, startCmd: `${NODE} ${SERVER} --exit 3` },
      { awaitReady: false, onExit: (info) => (info.code === 3 ? 'stop' : 'default') },
    );
    await stopper.sup.start();
    expect((await once<{ reason: string; code: number }>(stopper.sup, 'gave-up')).code).toBe(3);
    expect(stopper.of('started')).toHaveLength(1);
  });

  it('backoff: maxRestarts within restartWindow gives up', async () => {
    const r = supervise(
      { name: 'loop', socket: `${dir()}/s.sock`, startCmd: `${NODE} ${SERVER} --exit 1` },
      {
        policy: 'backoff',
        awaitReady: false,
        respawnInterval: 20,
        backoff: { initialDelay: 20, maxDelay: 20, maxRestarts: 2, restartWindow: 60_000 },
      },
    );
    await r.sup.start();
    const gaveUp = await once<{ reason: string; restarts: number }>(r.sup, 'gave-up', 20_000);
    expect(gaveUp).toMatchObject({ reason: 'max-restarts', restarts: 2 });
    expect(r.of('started')).toHaveLength(3);
  });

  it('killOnReadyTimeout kills a server that never binds and restarts it per policy', async () => {
    const r = supervise(
      { name: 'mute', socket: `${dir()}/s.sock`, startCmd: `${NODE} ${SERVER} --stdin-eof-exit` },
      { readyTimeout: 200, killOnReadyTimeout: true, respawnInterval: 100, awaitReady: false },
    );
    await r.sup.start();
    await until(() => r.of('started').length >= 2, 'a second spawn after the kill');
    expect(r.of('exited')[0]).toMatchObject({ signal: 'SIGKILL' });
  });
});
