/**
 * Process helpers of the goplugin interop tests: run a command to completion with a bound, or start a plugin and
 * read its handshake line, tracking every child so tests can kill leftovers in afterEach.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FirstLineReader } from '../../src/goplugin/first-line.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The TypeScript KV plugin fixture. */
export const TS_KV_PLUGIN = join(here, '..', 'fixtures', 'goplugin', 'ts-kv-plugin.ts');
/** argv that runs the TS KV plugin (node directly, never npm run). */
export const TS_KV_ARGV = [process.execPath, '--import', 'tsx', TS_KV_PLUGIN];

const live = new Set<ChildProcess>();

/** Kills every child still running (SIGKILL) and waits for it. */
export async function killLeftovers(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  live.clear();
}

/** What a finished process left. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, ms. */
  elapsed: number;
}

/** Runs `argv` to completion (killed after `timeout` ms, then rejects). */
export function run(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeout = 45_000,
): Promise<RunResult> {
  const [command, ...args] = argv as [string, ...string[]];
  const started = performance.now();
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${argv.join(' ')} did not finish within ${timeout} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeout);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr, elapsed: performance.now() - started });
    });
  });
}

/** A started plugin with its handshake line. */
export interface StartedPlugin {
  child: ChildProcess;
  line: string;
  /** stderr so far (keeps growing). */
  stderr(): string;
  /** stdout after the handshake line. */
  rest(): string;
  /** Resolves with the exit status once the process ended (bounded by `timeout`). */
  exited(timeout?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns a plugin directly (as a host would) and waits for its first stdout line. */
export function startPlugin(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  timeout = 30_000,
): Promise<StartedPlugin> {
  const [command, ...args] = argv as [string, ...string[]];
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stderr = '';
  let rest = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitWaiters: Array<() => void> = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.on('exit', (code, signal) => {
    exit = { code, signal };
    live.delete(child);
    for (const wake of exitWaiters.splice(0)) wake();
  });
  const exited = (bound = 10_000) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done, fail) => {
      const limit = setTimeout(() => fail(new Error(`plugin did not exit within ${bound} ms`)), bound);
      const finish = () => {
        clearTimeout(limit);
        done(exit as NonNullable<typeof exit>);
      };
      if (exit !== undefined) finish();
      else exitWaiters.push(finish);
    });
  const reader = new FirstLineReader();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no handshake within ${timeout} ms; stderr: ${stderr}`));
    }, timeout);
    child.on('exit', () => {
      if (!reader.done) {
        clearTimeout(timer);
        reject(new Error(`plugin exited before its handshake; stderr: ${stderr}`));
      }
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      if (reader.done) {
        rest += chunk.toString('utf8');
        return;
      }
      const line = reader.push(chunk);
      if (line === undefined) return;
      clearTimeout(timer);
      rest += chunk.subarray(chunk.indexOf(0x0a) + 1).toString('utf8');
      resolve({ child, line, stderr: () => stderr, rest: () => rest, exited });
    });
  });
}
