import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectionLostError,
  LeaseEndedError,
  listenUnix,
  type PoolLease,
  PoolTimeoutError,
  ReadTimeoutError,
  type ServerConnection,
  type UnixServer,
  UnixSocketPool,
} from '../../src/socket/index.js';
import {
  type Fixture,
  killFixture,
  removeDir,
  startFixture,
  tempSocketDir,
  until,
} from '../helpers/socket.js';

const dirs: string[] = [];
const fixtures: Fixture[] = [];
const servers: UnixServer[] = [];
const pools: UnixSocketPool[] = [];

function dir(): string {
  const created = tempSocketDir();
  dirs.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close({ deadline: 100 })));
  await Promise.all(servers.splice(0).map((server) => server.close({ deadline: 100 })));
  await Promise.all(fixtures.splice(0).map((f) => killFixture(f)));
  for (const created of dirs.splice(0)) removeDir(created);
});

interface TestServer {
  server: UnixServer;
  accepts: number;
  /** Set when a connection ever had two requests outstanding (pipelining). */
  overlapped: boolean;
  connections: ServerConnection[];
}

/** A server answering each newline-terminated request with `re:<request>\n` after `delay` ms. */
async function requestServer(
  path: string,
  options: { delay?: number; greet?: string } = {},
): Promise<TestServer> {
  const server = await listenUnix(path);
  servers.push(server);
  const state: TestServer = { server, accepts: 0, overlapped: false, connections: [] };
  server.on('connection', (conn) => {
    state.accepts++;
    state.connections.push(conn);
    if (options.greet !== undefined) conn.socket.write(options.greet);
    let outstanding = 0;
    let buffered = '';
    conn.socket.on('data', (chunk) => {
      buffered += String(chunk);
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const request = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        outstanding++;
        if (outstanding > 1) state.overlapped = true;
        conn.busy();
        setTimeout(() => {
          outstanding--;
          if (!conn.socket.destroyed) conn.socket.write(`re:${request}\n`);
          conn.idle();
        }, options.delay ?? 0);
      }
    });
  });
  return state;
}

function pool(path: string, options = {}): UnixSocketPool {
  const created = new UnixSocketPool(path, options);
  pools.push(created);
  return created;
}

async function ask(lease: PoolLease, request: string): Promise<string> {
  await lease.write(`${request}\n`);
  let reply = '';
  while (!reply.endsWith('\n')) reply += String(await lease.read());
  return reply.trim();
}

describe('UnixSocketPool', () => {
  it('runs two concurrent exchanges on two connections, never two requests on one', async () => {
    const path = `${dir()}/s.sock`;
    const server = await requestServer(path, { delay: 50 });
    const p = pool(path);
    const replies = await Promise.all([1, 2, 3, 4].map((n) => p.exchange((lease) => ask(lease, `r${n}`))));
    expect(replies).toEqual(['re:r1', 're:r2', 're:r3', 're:r4']);
    expect(server.accepts).toBe(4);
    await Promise.all([1, 2].map((n) => p.exchange((lease) => ask(lease, `s${n}`))));
    expect(server.accepts).toBe(4);
    expect(server.overlapped).toBe(false);
  });

  it('reuses one connection for sequential exchanges (a single accept)', async () => {
    const path = `${dir()}/s.sock`;
    const server = await requestServer(path);
    const p = pool(path);
    for (let i = 0; i < 10; i++) expect(await p.exchange((lease) => ask(lease, `${i}`))).toBe(`re:${i}`);
    expect(server.accepts).toBe(1);
    expect(p.idle).toBe(1);
  });

  it('serves waiters FIFO when max leases are out, and fails with PoolTimeout after acquireTimeout', async () => {
    const path = `${dir()}/s.sock`;
    await requestServer(path, { delay: 30 });
    const p = pool(path, { max: 1, acquireTimeout: 5000 });
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3, 4].map((n) =>
        p.exchange(async (lease) => {
          order.push(n);
          return ask(lease, `${n}`);
        }),
      ),
    );
    expect(order).toEqual([1, 2, 3, 4]);
    const short = pool(path, { max: 1, acquireTimeout: 100 });
    let release: () => void = () => {};
    const holding = short.exchange(() => new Promise<void>((r) => (release = r)));
    await expect(short.exchange((lease) => ask(lease, 'x'))).rejects.toBeInstanceOf(PoolTimeoutError);
    release();
    await holding;
  });

  it('gets a fresh connection, without error, after the server closed an idle pooled one', async () => {
    const path = `${dir()}/s.sock`;
    const server = await requestServer(path);
    const p = pool(path);
    await p.exchange((lease) => ask(lease, 'a'));
    server.connections[0]?.socket.destroy();
    await until(() => p.idle === 0, 'the pool to drop the closed connection');
    expect(await p.exchange((lease) => ask(lease, 'b'))).toBe('re:b');
    expect(server.accepts).toBe(2);
  });

  it('fails an in-flight exchange with ConnectionLost when the server dies mid-exchange, then reconnects', async () => {
    const path = `${dir()}/s.sock`;
    const silent = startFixture('server.mjs', ['--sock', path, '--silent']);
    fixtures.push(silent);
    await silent.line(/^listening/);
    const p = pool(path, { connect: { retry: { deadline: 15_000 } } });
    const inFlight = p.exchange((lease) => ask(lease, 'lost'));
    await silent.line(/^request$/);
    silent.child.kill('SIGKILL');
    const error = await inFlight.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect((error as ConnectionLostError).bytesReceived).toBe(0);
    // The replacement binds a moment later: the next lease reconnects through the boot-race retry.
    const next = p.exchange((lease) => ask(lease, 'again'));
    const echo = startFixture('server.mjs', ['--sock', path, '--delay', '200']);
    fixtures.push(echo);
    expect(await next).toBe('again');
  });

  it('destroys the connection of an exchange that throws instead of reusing it', async () => {
    const path = `${dir()}/s.sock`;
    const server = await requestServer(path);
    const p = pool(path);
    await expect(
      p.exchange(async (lease) => {
        await ask(lease, 'a');
        throw new Error('protocol error');
      }),
    ).rejects.toThrow('protocol error');
    await p.exchange((lease) => ask(lease, 'b'));
    expect(server.accepts).toBe(2);
  });

  it('hands bytes the server wrote right after accept to the first lessee', async () => {
    const path = `${dir()}/s.sock`;
    await requestServer(path, { greet: 'hello\n' });
    const p = pool(path);
    const first = await p.exchange(async (lease) => {
      let text = '';
      while (!text.endsWith('hello\n')) text += String(await lease.read());
      return text;
    });
    expect(first).toBe('hello\n');
    expect(await p.exchange((lease) => ask(lease, 'x'))).toBe('re:x');
  });

  it('closes idle connections after idleTimeout; perExchange opens one per exchange; readTimeout → ReadTimeout', async () => {
    const path = `${dir()}/s.sock`;
    const server = await requestServer(path);
    const idle = pool(path, { idleTimeout: 50 });
    await idle.exchange((lease) => ask(lease, 'a'));
    await until(() => idle.size === 0 && server.server.connections === 0, 'the idle connection to close');

    const per = pool(path, { mode: 'perExchange' });
    const before = server.accepts;
    for (let i = 0; i < 3; i++) await per.exchange((lease) => ask(lease, `${i}`));
    expect(server.accepts - before).toBe(3);
    expect(per.size).toBe(0);

    const slow = pool(path, { readTimeout: 100 });
    await expect(slow.exchange((lease) => lease.read())).rejects.toBeInstanceOf(ReadTimeoutError);
    expect(slow.size).toBe(0);
  });
});

describe('PoolLease', () => {
  it('cannot be used after its exchange ended', async () => {
    const path = `${dir()}/s.sock`;
    await requestServer(path);
    const p = pool(path);
    let kept: PoolLease | undefined;
    await p.exchange(async (lease) => {
      kept = lease;
      return ask(lease, 'a');
    });
    expect(() => kept?.write('late\n')).toThrow(LeaseEndedError);
    expect(() => kept?.read()).toThrow(LeaseEndedError);
  });

  it('close() waits for an active exchange up to the deadline, then destroys it', async () => {
    const path = `${dir()}/s.sock`;
    await requestServer(path);
    const p = pool(path);
    let leased = false;
    const active = p.exchange((lease) => {
      leased = true;
      return lease.read();
    });
    await until(() => leased, 'the lease');
    const started = performance.now();
    await p.close({ deadline: 200 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    await expect(active).rejects.toBeInstanceOf(ConnectionLostError);
  });
});
