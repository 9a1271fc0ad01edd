import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { decode, encode } from '@msgpack/msgpack';
import { buildSync } from 'esbuild';
import type { UnixSocketPool } from '../../src/socket/index.js';

/** The worktree root (tests run from it). */
export const ROOT = resolve(import.meta.dirname, '../..');

/** Fixtures of the socket module. */
export const SOCKET_FIXTURES = join(ROOT, 'test/fixtures/socket');

/**
 * Root of every temporary socket directory the socket tests create: short (sun_path is 108 bytes) and
 * specific to this checkout, so the global teardown can check it for leftovers without seeing other runs.
 */
export const SOCKET_TEST_ROOT = join(
  tmpdir(),
  `pws-${createHash('sha1').update(ROOT).digest('hex').slice(0, 6)}`,
);

/** A fresh, short directory for one test's sockets (mode 0755 so an unprivileged fixture can enter it). */
export function tempSocketDir(): string {
  const dir = join(SOCKET_TEST_ROOT, randomBytes(3).toString('hex'));
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

/** Removes a directory made by {@link tempSocketDir}. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Resolves with the first `event` from `emitter` (its arguments), or rejects after `timeout` ms. */
export function once<T = unknown>(emitter: EventEmitter, event: string, timeout = 10_000): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`no '${event}' event within ${timeout} ms`));
    }, timeout);
    function onEvent(value: T): void {
      clearTimeout(timer);
      resolvePromise(value);
    }
    emitter.once(event, onEvent);
  });
}

/** Polls `condition` every 20 ms until it holds, or rejects after `timeout` ms with `what`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeout = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A fixture child process with its collected stdout lines. */
export interface Fixture {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first stdout line matching `pattern`. */
  line(pattern: RegExp, timeout?: number): Promise<string>;
  /** Resolves when the child exits (code, signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts a fixture (`.ts` through tsx, `.mjs` with plain node). `user` runs it as that unprivileged uid/gid
 * through setpriv (the tests run as root, and root bypasses file permission checks).
 */
export function startFixture(script: string, args: string[] = [], options: { user?: number } = {}): Fixture {
  const path = join(SOCKET_FIXTURES, script);
  // An unprivileged user may not be able to read this checkout (CI clones into a 0700 directory), so its
  // fixtures run as one self-contained bundle in a world-readable temporary directory.
  const runnable = options.user === undefined ? path : bundleForAnyUser(path);
  const nodeArgs = runnable.endsWith('.ts') ? ['--import', 'tsx', runnable, ...args] : [runnable, ...args];
  const command = options.user === undefined ? process.execPath : 'setpriv';
  const commandArgs =
    options.user === undefined
      ? nodeArgs
      : [
          `--reuid=${options.user}`,
          `--regid=${options.user}`,
          '--clear-groups',
          process.execPath,
          ...nodeArgs,
        ];
  const cwd = options.user === undefined ? ROOT : dirname(runnable);
  const child = spawn(command, commandArgs, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let buffered = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
    for (const waiter of waiters.splice(0)) waiter();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      for (const waiter of waiters.splice(0)) waiter();
      r({ code, signal });
    }),
  );
  const line = (pattern: RegExp, timeout = 15_000): Promise<string> =>
    new Promise((resolvePromise, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`fixture ${script}: no line ${pattern} in ${timeout} ms; stderr: ${stderr}`)),
        timeout,
      );
      const check = (): void => {
        const found = lines.find((l) => pattern.test(l));
        if (found !== undefined) {
          clearTimeout(timer);
          resolvePromise(found);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(
            new Error(`fixture ${script} exited (${child.exitCode ?? child.signalCode}); stderr: ${stderr}`),
          );
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  return { child, lines, line, exited };
}

const bundles = new Map<string, string>();

/**
 * Bundles a fixture and what it imports (pluginwire's sources) into one `.mjs` file under a fresh 0755 directory
 * in the temp dir, once per fixture per test file; removed at process exit.
 */
function bundleForAnyUser(path: string): string {
  const cached = bundles.get(path);
  if (cached !== undefined) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'pws-bundle-'));
  chmodSync(dir, 0o755);
  const outfile = join(dir, 'fixture.mjs');
  buildSync({
    entryPoints: [path],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
  });
  chmodSync(outfile, 0o644);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  bundles.set(path, outfile);
  return outfile;
}

/** Kills a fixture (SIGKILL) if still running and waits for its exit. */
export async function killFixture(fixture: Fixture | undefined): Promise<void> {
  if (fixture === undefined) return;
  if (fixture.child.exitCode === null && fixture.child.signalCode === null) fixture.child.kill('SIGKILL');
  await fixture.exited;
}

/** Non-zombie processes whose process group is `pgid` (read from the process table). */
export function livingInGroup(pgid: number): number[] {
  const output = execFileSync('ps', ['-eo', 'pid=,pgid=,stat='], { encoding: 'utf8' });
  return output
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length === 3 && Number(fields[1]) === pgid && !fields[2]?.startsWith('Z'))
    .map((fields) => Number(fields[0]));
}

/** Whether a pid is a running (non-zombie) process. */
export function isRunning(pid: number): boolean {
  try {
    const stat = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return stat !== '' && !stat.startsWith('Z');
  } catch {
    return false;
  }
}

/**
 * One msgpack-RPC request, one response, on a pooled connection. One frame per write: kong-js-pluginserver
 * decodes each chunk on its own and crashes on two frames in one chunk (Kong/kong-js-pdk: listener.js).
 */
export async function call(
  pool: UnixSocketPool,
  msgid: number,
  method: string,
  args: unknown[] = [],
): Promise<unknown[]> {
  return pool.exchange(async (lease) => {
    await lease.write(encode([0, msgid, method, args]));
    const chunks: Buffer[] = [];
    for (;;) {
      chunks.push(await lease.read());
      try {
        return decode(Buffer.concat(chunks)) as unknown[];
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
      }
    }
  });
}
