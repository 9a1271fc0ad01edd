import { chmodSync, existsSync, lstatSync, mkdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { connectUnix, listenUnix, type UnixServer } from '../../src/socket/index.js';
import { checkPeer, commandSucceeds } from '../helpers/peers.js';
import { type Fixture, killFixture, removeDir, startFixture, tempSocketDir } from '../helpers/socket.js';

const dirs: string[] = [];
const fixtures: Fixture[] = [];
const servers: UnixServer[] = [];

function dir(): string {
  const created = tempSocketDir();
  dirs.push(created);
  return created;
}

function fixture(script: string, args: string[], options: { user?: number } = {}): Fixture {
  const started = startFixture(script, args, options);
  fixtures.push(started);
  return started;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close({ deadline: 100 })));
  await Promise.all(fixtures.splice(0).map((f) => killFixture(f)));
  for (const created of dirs.splice(0)) removeDir(created);
});

describe('cleanup when the owning process ends (child processes)', () => {
  it('removes the socket file on a normal process.exit() without close()', async () => {
    const path = `${dir()}/s.sock`;
    const child = fixture('listen.ts', [path, '{}', 'exit']);
    await child.line(/^listening/);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(path)).toBe(false);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'with handleSignals, %s removes the file and the process still dies by that signal',
    async (signal) => {
      const path = `${dir()}/s.sock`;
      const child = fixture('listen.ts', [path, JSON.stringify({ handleSignals: [signal] })]);
      await child.line(/^listening/);
      child.child.kill(signal);
      expect(await child.exited).toEqual({ code: null, signal });
      expect(existsSync(path)).toBe(false);
    },
  );

  it("without handleSignals, SIGTERM keeps Node's default: the process dies and the file stays", async () => {
    const path = `${dir()}/s.sock`;
    const child = fixture('listen.ts', [path, '{}']);
    await child.line(/^listening/);
    child.child.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(lstatSync(path).isSocket()).toBe(true);
  });

  it('after SIGKILL the file stays, and the next listen classifies it stale and replaces it', async () => {
    const path = `${dir()}/s.sock`;
    const child = fixture('listen.ts', [path, '{}']);
    await child.line(/^listening/);
    child.child.kill('SIGKILL');
    await child.exited;
    expect(lstatSync(path).isSocket()).toBe(true);
    const server = await listenUnix(path);
    servers.push(server);
    expect(server.staleReplaced).toBe(true);
    (await connectUnix(path)).destroy();
  });
});

// The tests run as root, and root bypasses file permission checks (CAP_DAC_OVERRIDE), so the permission
// cases run their side in a child process as the unprivileged user nobody (uid/gid 65534) through setpriv.
const root = process.getuid?.() === 0;
const canDrop =
  !root ||
  checkPeer(
    'setpriv (util-linux), to run fixtures as an unprivileged user',
    commandSucceeds('setpriv', ['--version']),
  );
const user = root ? 65534 : undefined;

describe.skipIf(!canDrop)('permission denied (as an unprivileged user)', () => {
  const run = async (script: string, args: string[]): Promise<Record<string, unknown>> => {
    const child = fixture(script, args, user === undefined ? {} : { user });
    return JSON.parse(await child.line(/^\{/));
  };

  it('connect to a 0600 socket of another user fails with PermissionDenied after one attempt, despite retry', async () => {
    const path = `${dir()}/s.sock`;
    const server = await listenUnix(path, { mode: 0o600 });
    servers.push(server);
    const result = await run('connect.ts', [path, JSON.stringify({ retry: { deadline: 5000 } })]);
    expect(result).toMatchObject({ ok: false, code: 'SOCKET_CONNECT_PERMISSION_DENIED', attempts: 1 });
  });

  it('listen in an unwritable directory fails with a permission error naming the directory', async () => {
    const base = dir();
    const locked = `${base}/locked`;
    mkdirSync(locked, { mode: 0o755 });
    const result = await run('listen-as.ts', [`${locked}/s.sock`]);
    expect(result).toMatchObject({ ok: false, code: 'SOCKET_PERMISSION_DENIED', target: locked });
    expect(result.message).toContain(locked);
  });

  it('a socket in a directory the user cannot search: cannot tell whether it is live, nothing touched', async () => {
    const base = dir();
    const hidden = `${base}/hidden`;
    mkdirSync(hidden);
    const server = await listenUnix(`${hidden}/s.sock`);
    servers.push(server);
    chmodSync(hidden, 0o700);
    const result = await run('listen-as.ts', [`${hidden}/s.sock`]);
    expect(result).toMatchObject({ ok: false, code: 'SOCKET_PERMISSION_DENIED' });
    expect(lstatSync(`${hidden}/s.sock`).isSocket()).toBe(true);
  });

  it('a group the process is not a member of fails with ChownFailed (EPERM)', async () => {
    const base = dir();
    chmodSync(base, 0o777);
    const result = await run('listen-as.ts', [`${base}/s.sock`, JSON.stringify({ group: 0 })]);
    expect(result).toMatchObject({ ok: false, code: 'SOCKET_CHOWN_FAILED' });
    expect(result.message).toContain('EPERM');
    expect(existsSync(`${base}/s.sock`)).toBe(false);
  });

  it('mode 0o666 lets another user connect', async () => {
    const path = `${dir()}/s.sock`;
    const server = await listenUnix(path, { mode: 0o666 });
    servers.push(server);
    expect(await run('connect.ts', [path])).toEqual({ ok: true });
  });
});
