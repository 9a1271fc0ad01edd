import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { retryDelay } from '../../src/socket/client.js';
import {
  connectUnix,
  listenUnix,
  NotASocketError,
  type RetryInfo,
  SocketAbortedError,
  SocketNotFoundError,
  SocketRefusedError,
  type UnixServer,
} from '../../src/socket/index.js';
import { type Fixture, killFixture, removeDir, startFixture, tempSocketDir } from '../helpers/socket.js';

const dirs: string[] = [];
const fixtures: Fixture[] = [];
const servers: UnixServer[] = [];

function dir(): string {
  const created = tempSocketDir();
  dirs.push(created);
  return created;
}

function fixture(script: string, args: string[]): Fixture {
  const started = startFixture(script, args);
  fixtures.push(started);
  return started;
}

async function staleSocketAt(path: string): Promise<void> {
  const child = fixture('server.mjs', ['--sock', path]);
  await child.line(/^listening/);
  child.child.kill('SIGKILL');
  await child.exited;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close({ deadline: 100 })));
  await Promise.all(fixtures.splice(0).map((f) => killFixture(f)));
  for (const created of dirs.splice(0)) removeDir(created);
});

describe('connectUnix error classes', () => {
  it('missing path → NotFound; stale socket → Refused; regular file → NotASocket, never retried', async () => {
    const base = dir();
    await expect(connectUnix(`${base}/missing.sock`)).rejects.toBeInstanceOf(SocketNotFoundError);
    await staleSocketAt(`${base}/stale.sock`);
    await expect(connectUnix(`${base}/stale.sock`)).rejects.toBeInstanceOf(SocketRefusedError);
    writeFileSync(`${base}/file`, '');
    const error = await connectUnix(`${base}/file`, { retry: { deadline: 3000 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotASocketError);
    expect((error as NotASocketError).attempts).toBe(1);
  });

  it('a saturated server (full backlog) fails with Busy or Timeout within the per-attempt timeout', async () => {
    const path = `${dir()}/s.sock`;
    const blocked = fixture('backlog.mjs', [path]);
    await blocked.line(/^listening/);
    const queued = [0, 1, 2, 3].map(() => connect(path).on('error', () => {}));
    const started = performance.now();
    const error = await connectUnix(path, { timeout: 500 }).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    for (const socket of queued) socket.destroy();
    expect((error as { code: string }).code).toMatch(/^SOCKET_(BUSY|TIMEOUT)$/);
    expect(elapsed).toBeLessThan(3000);
  });
});

describe('connectUnix retry (the boot race)', () => {
  it('connects to a server that binds ~300 ms after the first attempt; delays follow the schedule', async () => {
    const path = `${dir()}/late.sock`;
    const retries: RetryInfo[] = [];
    const schedule = { random: () => 0.5, onRetry: (info: RetryInfo) => retries.push(info) };
    const late = fixture('server.mjs', ['--sock', path, '--delay', '300']);
    const socket = await connectUnix(path, { retry: { deadline: 20_000, ...schedule } });
    socket.destroy();
    await late.line(/^listening/);
    expect(retries.length).toBeGreaterThan(0);
    retries.forEach((info, index) => {
      expect(info.attempt).toBe(index + 1);
      expect(info.kind).toBe('NotFound');
      expect(info.delay).toBe(retryDelay(info.attempt, schedule));
    });
    // random 0.5 is the middle of the jitter band: exactly 50, 100, 200, … ms, capped at 1000.
    expect(retries.slice(0, 3).map((r) => r.delay)).toEqual(
      [50, 100, 200].slice(0, Math.min(3, retries.length)),
    );
  });

  it('after the deadline, one error with attempts, elapsed time and the .sock/.socket hint', async () => {
    const base = dir();
    const other = await listenUnix(`${base}/go-hello.sock`);
    servers.push(other);
    const error = await connectUnix(`${base}/go-hello.socket`, { retry: { deadline: 400 } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SocketNotFoundError);
    const notFound = error as SocketNotFoundError;
    expect(notFound.attempts).toBeGreaterThan(1);
    expect(notFound.elapsed).toBeGreaterThan(0);
    expect(notFound.elapsed).toBeLessThan(400 + 2000);
    expect(notFound.message).toMatch(/after \d+ attempts over \d+ ms: ENOENT/);
    expect(notFound.hints.join(' ')).toContain(`${base}/go-hello.sock exists`);
  });

  it('an AbortSignal aborts a retrying connect within one delay step', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const pending = connectUnix(`${dir()}/never.sock`, {
      retry: { deadline: 60_000, initialDelay: 200, factor: 1, jitter: 0 },
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 300);
    await expect(pending).rejects.toBeInstanceOf(SocketAbortedError);
    expect(performance.now() - started).toBeLessThan(300 + 200 + 1000);
  });
});
