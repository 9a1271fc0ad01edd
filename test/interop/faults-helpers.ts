/**
 * Shared pieces of the fault tests: child processes that print milestones, and leak checks against the
 * process's open handles (process.getActiveResourcesInfo()), its file descriptors (/proc/self/fd) and its
 * children (the process table).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

export const KONG_PEER = join(import.meta.dirname, '..', 'fixtures', 'faults', 'kong-peer.ts');

/** Open handles by type, file descriptors, and child processes of this process. */
export interface ResourceSnapshot {
  handles: Map<string, number>;
  fds: number;
}

// Transient file-system requests come and go with vitest's own work; they are not handles a test can leak.
const IGNORED = new Set(['FSReqCallback', 'FSReqPromise', 'FileHandleCloseReq', 'StatWatcher']);

export function snapshot(): ResourceSnapshot {
  const handles = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) {
    if (!IGNORED.has(type)) handles.set(type, (handles.get(type) ?? 0) + 1);
  }
  return { handles, fds: readdirSync('/proc/self/fd').length };
}

/** Live (non-zombie) children of this process, other than the `ps` that lists them. */
export function childProcesses(): string[] {
  const output = execFileSync('ps', ['-o', 'pid=,stat=,args=', '--ppid', String(process.pid)], {
    encoding: 'utf8',
  });
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^\d+\s+Z/.test(line) && !/\sps -o/.test(line));
}

function leaks(before: ResourceSnapshot): string[] {
  const now = snapshot();
  const found: string[] = [];
  for (const [type, count] of now.handles) {
    const was = before.handles.get(type) ?? 0;
    if (count > was) found.push(`${count - was} more ${type}`);
  }
  if (now.fds > before.fds) found.push(`${now.fds - before.fds} more file descriptors`);
  const children = childProcesses();
  if (children.length > 0) found.push(`children: ${children.join('; ')}`);
  return found;
}

/**
 * Waits (bounded) until nothing is open beyond `before`: handles closing and children being reaped complete
 * asynchronously after the objects that own them are closed.
 */
export async function expectNoLeaks(before: ResourceSnapshot, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  let found = leaks(before);
  while (found.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    found = leaks(before);
  }
  expect(found).toEqual([]);
}

/** A child process with its stdout lines. */
export interface Peer {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line matching `pattern` (rejects after `timeout` ms or when the child exits). */
  line(pattern: RegExp, timeout?: number): Promise<string>;
  /** SIGKILLs it (if still running) and waits for its exit. */
  kill(): Promise<void>;
  /** Resolves when it has exited. */
  exited: Promise<void>;
}

/** Starts kong-peer.ts with `args`, or another script with `['--script', path, ...args]`. */
export function startPeer(args: string[]): Peer {
  const script = args[0] === '--script' ? args[1]! : KONG_PEER;
  const rest = args[0] === '--script' ? args.slice(2) : args;
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...rest], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
    for (const waiter of waiters) waiter();
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    child,
    lines,
    exited,
    line(pattern, timeout = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((line) => pattern.test(line));
          if (found === undefined) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no line ${pattern} within ${timeout} ms; got ${JSON.stringify(lines)}`));
        }, timeout);
        const onExit = () => {
          check();
          done();
          reject(new Error(`peer exited before ${pattern}; got ${JSON.stringify(lines)}`));
        };
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Resolves when `promise` settles, with how it settled; fails the test if it does not settle in `timeout` ms. */
export async function settles<T>(
  promise: Promise<T>,
  timeout = 15_000,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the promise did not settle within ${timeout} ms`)), timeout);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export { once };
