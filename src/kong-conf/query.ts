/**
 * Running a query command as Kong does (spec §9): `io.popen(query_command)`, i.e. `/bin/sh -c '<command>'`
 * with no `exec` prefix, all of stdout read, the exit status ignored, stderr not captured. Unlike Kong this
 * bounds the run with a timeout and the output with a cap, and kills the whole process group on either.
 */
import { spawn } from 'node:child_process';
import { onAbort } from '../abort.js';
import { stopProcess } from '../socket/process-group.js';
import { type DumpResult, parseDump } from './dump.js';
import type { Env } from './env.js';
import {
  type KongConfError,
  KongConfNoQueryCommandError,
  KongConfQueryAbortedError,
  KongConfQueryOutputTooLargeError,
  KongConfQuerySpawnFailedError,
  KongConfQueryTimeoutError,
} from './errors.js';
import type { PluginServer } from './resolve.js';
import type { KongVersion } from './versions.js';

/** Options of {@link queryPluginServer}. */
export interface QueryOptions {
  /** The Kong version whose dump rules apply; default `'3.9'`. */
  kongVersion?: KongVersion;
  /** Milliseconds to wait for the command to finish and close stdout; default 30 000. */
  timeout?: number;
  /** Largest stdout accepted, in bytes; default 16 MiB. */
  maxOutput?: number;
  /** The command's environment; default: this process's environment, as `io.popen` inherits Kong's. */
  env?: Env;
  /** The command's working directory; default: this process's. */
  cwd?: string;
  /** Cancels the run (the process group is killed). */
  signal?: AbortSignal;
}

const STDERR_KEEP = 8 * 1024;
/** How long a timed-out or aborted query command gets between SIGTERM and SIGKILL, ms. */
const KILL_GRACE = 500;

/**
 * Runs a plugin server's query command as Kong does and reads its output with {@link parseDump}.
 *
 * @param server - a resolved server (its `queryCmd` is run) or a command string.
 * @param options - Kong version, timeout, output cap, environment, cancellation.
 * @returns what Kong would read from the dump.
 * @throws {@link KongConfQueryError} `KONG_CONF_NO_QUERY_COMMAND` (`no info query for <name>`, Kong's text),
 *   `KONG_CONF_QUERY_TIMEOUT`, `KONG_CONF_QUERY_OUTPUT_TOO_LARGE`, `KONG_CONF_QUERY_SPAWN_FAILED`,
 *   `KONG_CONF_QUERY_ABORTED`; {@link KongConfDumpError} for output Kong rejects.
 * @example
 * ```ts
 * const dump = await queryPluginServer('kong-js-pluginserver -d ./plugins --dump-all-plugins', { timeout: 10_000 });
 * dump.registered.map((info) => info.Name);
 * ```
 */
export async function queryPluginServer(
  server: PluginServer | string,
  options: QueryOptions = {},
): Promise<DumpResult> {
  const command = typeof server === 'string' ? server : server.queryCmd;
  if (command === undefined) {
    const name = typeof server === 'string' ? server : server.name;
    throw new KongConfNoQueryCommandError(`no info query for ${name}`);
  }
  const stdout = await runCommand(command, options);
  const dumpOptions = {
    command,
    ...(options.kongVersion !== undefined ? { kongVersion: options.kongVersion } : {}),
  };
  return parseDump(stdout, dumpOptions);
}

function runCommand(command: string, options: QueryOptions): Promise<string> {
  const timeout = options.timeout ?? 30_000;
  const maxOutput = options.maxOutput ?? 16 * 1024 * 1024;
  const signal = options.signal;
  return new Promise<string>((resolve, reject) => {
    if (signal?.aborted) {
      reject(
        new KongConfQueryAbortedError(`query aborted: ${command}`, { command }, { cause: signal.reason }),
      );
      return;
    }
    const child = spawn('/bin/sh', ['-c', command], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout kills the shell and everything it started.
      detached: true,
      ...(options.env !== undefined ? { env: { ...options.env } } : {}),
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    let failure: KongConfError | undefined;
    let settled = false;

    const output = (): string => Buffer.concat(chunks).toString('utf8');
    const exited = new Promise<void>((resolveExit) => {
      child.once('exit', () => resolveExit());
      child.once('error', () => resolveExit());
    });
    // A query command has nothing to finish: SIGTERM its group, SIGKILL what is left after a short grace.
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      void stopProcess(
        { pid: child.pid, exited, useGroup: true },
        { signal: 'SIGTERM', timeout: KILL_GRACE, killWait: KILL_GRACE },
      );
    };
    const stop = (error: KongConfError): void => {
      if (failure !== undefined) return;
      failure = error;
      killGroup();
      // Stop reading too: a process that escaped the group must not keep the pipe, and so the promise, open.
      child.stdout.destroy();
      child.stderr.destroy();
    };
    const timer = setTimeout(() => {
      stop(
        new KongConfQueryTimeoutError(`query command did not finish within ${timeout} ms: ${command}`, {
          command,
          output: output(),
          stderr,
        }),
      );
    }, timeout);
    timer.unref();
    const disposeAbort = onAbort(signal, (reason) => {
      stop(
        new KongConfQueryAbortedError(
          `query aborted: ${command}`,
          { command, output: output(), stderr },
          { cause: reason },
        ),
      );
    });

    child.stdout.on('data', (chunk: Buffer) => {
      if (failure !== undefined) return;
      size += chunk.length;
      if (size > maxOutput) {
        stop(
          new KongConfQueryOutputTooLargeError(
            `query command wrote more than ${maxOutput} bytes: ${command}`,
            { command, output: output(), stderr },
          ),
        );
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEEP);
    });
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      disposeAbort();
      if (failure !== undefined) reject(failure);
      else if (error !== undefined) {
        reject(
          new KongConfQuerySpawnFailedError(
            `cannot run query command: ${error.message}`,
            { command, stderr },
            { cause: error },
          ),
        );
      } else resolve(output());
    };
    child.on('error', (error) => finish(error));
    // 'close' waits for stdout to end, as Kong's `fd:read("*a")` does; the exit status is ignored.
    child.on('close', () => finish());
  });
}
