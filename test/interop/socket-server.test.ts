import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectUnix,
  GroupNotFoundError,
  InvalidSocketPathError,
  listenUnix,
  type SocketAddress,
  SocketDirMissingError,
  SocketInUseError,
  SocketPathIsSymlinkError,
  SocketPathNotSocketError,
  SocketPathTooLongError,
  StaleSocketError,
  UnixServer,
} from '../../src/socket/index.js';
import {
  type Fixture,
  killFixture,
  once,
  ROOT,
  removeDir,
  startFixture,
  tempSocketDir,
  until,
} from '../helpers/socket.js';

const dirs: string[] = [];
const servers: UnixServer[] = [];
const fixtures: Fixture[] = [];

function dir(): string {
  const created = tempSocketDir();
  dirs.push(created);
  return created;
}

async function serve(path: SocketAddress, options = {}): Promise<UnixServer> {
  const server = new UnixServer(path, options);
  servers.push(server);
  server.on('connection', (conn) => conn.socket.pipe(conn.socket));
  return server.listen();
}

function fixture(script: string, args: string[]): Fixture {
  const started = startFixture(script, args);
  fixtures.push(started);
  return started;
}

async function roundTrip(path: SocketAddress, text = 'ping'): Promise<string> {
  const socket = await connectUnix(path, { timeout: 5000 });
  try {
    const reply = once<Buffer>(socket, 'data');
    socket.write(text);
    return String(await reply);
  } finally {
    socket.destroy();
  }
}

/** A socket file whose server died without unlinking it: a child listens and is SIGKILLed. */
async function staleSocketAt(path: string): Promise<void> {
  const child = fixture('server.mjs', ['--sock', path]);
  await child.line(/^listening/);
  child.child.kill('SIGKILL');
  await child.exited;
  expect(lstatSync(path).isSocket()).toBe(true);
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close({ deadline: 100 })));
  await Promise.all(fixtures.splice(0).map((f) => killFixture(f)));
  for (const created of dirs.splice(0)) removeDir(created);
});

describe('paths', () => {
  it('listens and connects on a 107-byte path; rejects 108 bytes before creating anything, for listen and connect', async () => {
    const base = dir();
    const parent = `${base}/${'d'.repeat(107 - base.length - 1 - 7)}`;
    mkdirSync(parent);
    const ok = `${parent}/s.sock`;
    expect(Buffer.byteLength(ok)).toBe(107);
    await serve(ok);
    expect(await roundTrip(ok)).toBe('ping');

    const long = `${parent}/s.sockx`;
    expect(Buffer.byteLength(long)).toBe(108);
    const before = readdirSync(parent).sort();
    const error = await listenUnix(long).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SocketPathTooLongError);
    expect((error as Error).message).toMatch(/108 bytes; linux allows at most 107 \(sun_path is 108 bytes/);
    expect(readdirSync(parent).sort()).toEqual(before);
    await expect(connectUnix(long)).rejects.toBeInstanceOf(SocketPathTooLongError);
  });

  it('rejects a path whose UTF-8 byte length exceeds the limit while its character count does not', async () => {
    const path = `${dir()}/${'é'.repeat(50)}.sock`;
    expect(path.length).toBeLessThanOrEqual(107);
    expect(Buffer.byteLength(path)).toBeGreaterThan(107);
    await expect(listenUnix(path)).rejects.toMatchObject({ code: 'SOCKET_PATH_TOO_LONG', limit: 107 });
  });

  it('rejects a path containing NUL', async () => {
    await expect(listenUnix(`${dir()}/a\0b`)).rejects.toBeInstanceOf(InvalidSocketPathError);
    await expect(connectUnix(`${dir()}/a\0b`)).rejects.toBeInstanceOf(InvalidSocketPathError);
  });

  it('removes the right file after chdir when it listened on a relative path (child process)', async () => {
    const base = dir();
    // The fixture runs in the worktree root; the relative path leads from there into our directory.
    const child = fixture('listen.ts', [relative(ROOT, join(base, 'rel.sock')), '{}', 'chdir']);
    const listening = await child.line(/^listening/);
    expect(JSON.parse(listening.slice('listening '.length)).path).toBe(join(base, 'rel.sock'));
    await child.line(/^closed$/);
    expect(existsSync(join(base, 'rel.sock'))).toBe(false);
  });
});

describe('what is already at the path', () => {
  it('listens on an empty path with staleReplaced false', async () => {
    const server = new UnixServer(`${dir()}/s.sock`);
    servers.push(server);
    const listening = once<{ staleReplaced: boolean }>(server, 'listening');
    await server.listen();
    expect((await listening).staleReplaced).toBe(false);
  });

  it('replaces a stale socket left by a SIGKILLed server and emits staleSocketRemoved', async () => {
    const path = `${dir()}/s.sock`;
    await staleSocketAt(path);
    const server = new UnixServer(path);
    servers.push(server);
    server.on('connection', (conn) => conn.socket.pipe(conn.socket));
    const removed = once(server, 'staleSocketRemoved');
    await server.listen();
    await removed;
    expect(server.staleReplaced).toBe(true);
    expect(await roundTrip(path)).toBe('ping');
  });

  it('fails with SocketInUse on a live socket of another process, which still serves afterwards', async () => {
    const path = `${dir()}/s.sock`;
    const other = fixture('server.mjs', ['--sock', path]);
    await other.line(/^listening/);
    const inode = lstatSync(path).ino;
    await expect(listenUnix(path)).rejects.toBeInstanceOf(SocketInUseError);
    expect(lstatSync(path).ino).toBe(inode);
    expect(await roundTrip(path, 'still')).toBe('still');
  });

  it('treats a live server with a full backlog as in use and leaves its file alone', async () => {
    const path = `${dir()}/s.sock`;
    const blocked = fixture('backlog.mjs', [path]);
    await blocked.line(/^listening/);
    // Fill the backlog: queued connections are never accepted; once full, connect() answers EAGAIN.
    const queued = [0, 1, 2, 3].map(() => connect(path).on('error', () => {}));
    const inode = lstatSync(path).ino;
    const error = await listenUnix(path, { probeTimeout: 300 }).catch((e: unknown) => e);
    for (const socket of queued) socket.destroy();
    expect(error).toBeInstanceOf(SocketInUseError);
    expect(lstatSync(path).ino).toBe(inode);
  });

  it.each([
    ['regular file', (p: string) => writeFileSync(p, 'keep me')],
    ['directory', (p: string) => mkdirSync(p)],
    ['FIFO', (p: string) => execFileSync('mkfifo', [p])],
  ])('refuses a %s at the path and leaves it untouched', async (found, make) => {
    const path = `${dir()}/s.sock`;
    make(path);
    const before = lstatSync(path);
    const error = await listenUnix(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SocketPathNotSocketError);
    expect((error as SocketPathNotSocketError).found).toBe(found);
    expect(lstatSync(path).ino).toBe(before.ino);
    if (found === 'regular file') expect(readFileSync(path, 'utf8')).toBe('keep me');
  });

  it('refuses a symlink (to a stale socket, a live socket, a regular file, dangling) and touches neither end', async () => {
    const base = dir();
    const stale = `${base}/stale.sock`;
    await staleSocketAt(stale);
    const live = `${base}/live.sock`;
    await serve(live);
    const file = `${base}/file`;
    writeFileSync(file, 'x');
    for (const [name, target] of [
      ['to-stale', stale],
      ['to-live', live],
      ['to-file', file],
      ['dangling', `${base}/nothing`],
    ] as const) {
      const link = `${base}/${name}`;
      symlinkSync(target, link);
      const targetBefore = existsSync(target) ? lstatSync(target).ino : undefined;
      await expect(listenUnix(link)).rejects.toBeInstanceOf(SocketPathIsSymlinkError);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(existsSync(target) ? lstatSync(target).ino : undefined).toBe(targetBefore);
    }
    expect(await roundTrip(live)).toBe('ping');
  });

  it('fails with SocketDirMissing for a missing directory, and creates it with mode 0700 under createDir', async () => {
    const base = dir();
    const path = `${base}/missing/s.sock`;
    const error = await listenUnix(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SocketDirMissingError);
    expect((error as SocketDirMissingError).dir).toBe(`${base}/missing`);
    await serve(path, { createDir: true });
    expect(lstatSync(`${base}/missing`).mode & 0o777).toBe(0o700);
  });

  it("fails with StaleSocket under stale: 'fail' and leaves the file", async () => {
    const path = `${dir()}/s.sock`;
    await staleSocketAt(path);
    const inode = lstatSync(path).ino;
    await expect(listenUnix(path, { stale: 'fail' })).rejects.toBeInstanceOf(StaleSocketError);
    expect(lstatSync(path).ino).toBe(inode);
  });

  it('handles a name too short for a private temporary name: stale replaced, live refused, removed on close', async () => {
    const path = `${dir()}/s`;
    await staleSocketAt(path);
    const server = await serve(path);
    expect(server.staleReplaced).toBe(true);
    expect(await roundTrip(path)).toBe('ping');
    await expect(listenUnix(path)).rejects.toBeInstanceOf(SocketInUseError);
    await server.close();
    expect(existsSync(path)).toBe(false);
  });

  it('lets exactly one of two concurrent starters listen; the winner keeps a working socket', async () => {
    for (let round = 0; round < 5; round++) {
      const path = `${dir()}/s.sock`;
      const results = await Promise.allSettled([serve(path), serve(path)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.filter((r) => r.status === 'rejected');
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(SocketInUseError);
      expect(await roundTrip(path)).toBe('ping');
    }
  });
});

describe('permissions and lifecycle', () => {
  it('creates the socket with mode 0600 by default, visible with that mode from the start', async () => {
    const path = `${dir()}/s.sock`;
    const modes = new Set<number>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        try {
          modes.add(lstatSync(path).mode & 0o777);
        } catch {}
        await new Promise((r) => setImmediate(r));
      }
    })();
    await serve(path);
    await until(() => modes.size > 0, 'the watcher to see the socket');
    watching = false;
    await watcher;
    expect([...modes]).toEqual([0o600]);
  });

  it('applies a group by name and by gid with mode 0660; an unknown group fails with its name', async () => {
    const base = dir();
    const byName = await serve(`${base}/a.sock`, { group: 'nogroup' });
    expect(lstatSync(byName.path).gid).toBe(65534);
    expect(lstatSync(byName.path).mode & 0o777).toBe(0o660);
    const byGid = await serve(`${base}/b.sock`, { group: 65534, mode: 0o620 });
    expect(lstatSync(byGid.path).gid).toBe(65534);
    expect(lstatSync(byGid.path).mode & 0o777).toBe(0o620);
    const error = await listenUnix(`${base}/c.sock`, { group: 'no-such-group-pw' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GroupNotFoundError);
    expect((error as Error).message).toContain('failed to find gid from "no-such-group-pw"');
    expect(existsSync(`${base}/c.sock`)).toBe(false);
  });

  it('binds a Linux abstract name: no file anywhere, connectable, a second bind is SocketInUse', async () => {
    const name = `pluginwire-test-${process.pid}-${Date.now()}`;
    const server = await serve({ abstract: name });
    expect(server.path).toBe(`@${name}`);
    expect(await roundTrip({ abstract: name })).toBe('ping');
    await expect(listenUnix({ abstract: name })).rejects.toBeInstanceOf(SocketInUseError);
    await expect(listenUnix({ abstract: 'a'.repeat(108) })).rejects.toBeInstanceOf(SocketPathTooLongError);
  });

  it('close() removes the file and may be called twice', async () => {
    const path = `${dir()}/s.sock`;
    const server = await serve(path);
    const first = server.close();
    expect(server.close()).toBe(first);
    await first;
    expect(existsSync(path)).toBe(false);
  });

  it('leaves a file that another process put at the path after we listened', async () => {
    const path = `${dir()}/s.sock`;
    const server = await serve(path);
    // The foreign server unlinks whatever is there and binds, as Kong's plugin servers do.
    const other = fixture('server.mjs', ['--sock', path]);
    await other.line(/^listening/);
    await server.close();
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(await roundTrip(path, 'theirs')).toBe('theirs');
  });

  it('watchPath notices a deleted socket (tmp cleaner) and rebinds with rebindOnLoss', async () => {
    const path = `${dir()}/s.sock`;
    const server = await serve(path, { watchPath: 50, rebindOnLoss: true });
    const lost = once(server, 'socketLost');
    execFileSync('rm', [path]);
    await lost;
    await until(() => existsSync(path), 'the socket to be bound again');
    expect(await roundTrip(path)).toBe('ping');
  });

  it('graceful close: idle closed at once, busy finishes, over-deadline destroyed; later clients get ENOENT', async () => {
    const path = `${dir()}/s.sock`;
    const server = await listenUnix(path);
    servers.push(server);
    let n = 0;
    server.on('connection', (conn) => {
      const index = n++;
      if (index === 0) return; // stays idle
      conn.busy();
      // index 1 finishes its exchange 100 ms after its request; index 2 stays busy past the deadline.
      if (index === 1) conn.socket.once('data', () => setTimeout(() => conn.idle(), 100));
    });
    const clients: ReturnType<typeof connect>[] = [];
    for (let i = 0; i < 3; i++) {
      clients.push(connect(path).on('error', () => {}));
      await until(() => server.connections === i + 1, `connection ${i + 1}`);
    }
    const closing = server.close({ deadline: 1000 });
    clients[1]?.write('go');
    await until(() => !existsSync(path), 'the file to be removed at the start of close');
    await expect(connectUnix(path)).rejects.toMatchObject({ code: 'SOCKET_NOT_FOUND' });
    expect(await closing).toEqual({ closedIdle: 1, finished: 1, destroyed: 1 });
    for (const client of clients) client.destroy();
  });

  it('tracks connections, rejects beyond maxConnections, and stays quiet for connect-and-close probes', async () => {
    const path = `${dir()}/s.sock`;
    const logged: string[] = [];
    const server = await serve(path, {
      maxConnections: 2,
      logger: { warn: (m: string) => logged.push(m), error: (m: string) => logged.push(m) },
    });
    const errors: Error[] = [];
    server.on('error', (e) => errors.push(e));
    const rejected = once(server, 'connectionRejected');
    const clients = [0, 1].map(() => connect(path).on('error', () => {}));
    await until(() => server.connections === 2, 'two connections');
    const extra = connect(path).on('error', () => {});
    await rejected;
    for (const client of [...clients, extra]) client.destroy();
    await until(() => server.connections === 0, 'connections to go back to 0');
    for (let i = 0; i < 6; i++) {
      const probe = connect(path).on('error', () => {});
      await once(probe, 'connect');
      // Half of them write and vanish at once, so the server may see EPIPE/ECONNRESET.
      if (i % 2 === 0) probe.write('x');
      probe.destroy();
    }
    await until(() => server.connections === 0, 'probes to be gone');
    expect(errors).toEqual([]);
    expect(logged).toEqual([]);
  });
});
