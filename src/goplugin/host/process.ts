/**
 * The plugin process: spawning it in its own process group, reading the first stdout line (and draining the
 * rest), parsing stderr into log entries, and signalling it only while it is known to be alive.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { basename } from 'node:path';
import { onAbort } from '../../abort.js';
import { type Logger, log } from '../../logger.js';
import { signalGroup, stopProcess } from '../../socket/process-group.js';
import type { HandshakeError } from '../errors.js';
import { FirstLineReader } from '../first-line.js';
import {
  PluginAbortedError,
  type PluginExit,
  PluginExitedError,
  PluginHandshakeRejectedError,
  PluginStartTimeoutError,
  SpawnFailedError,
} from './errors.js';
import { HclogLineParser, type PluginLogEntry } from './hclog-parse.js';
import { StderrLineSplitter } from './lines.js';

/** Go's `PluginLogBufferSize` default: stderr lines longer than this come out in pieces. */
const STDERR_BUFFER_BYTES = 64 * 1024;
const STDERR_TAIL_LINES = 20;
/** After a failure, how long to wait for the killed process to exit and its pipes to close. */
const REAP_TIMEOUT = 2000;

/** Options of {@link PluginProcess.spawn}. */
export interface SpawnPluginOptions {
  command: string;
  args: readonly string[];
  env: Record<string, string>;
  cwd: string | undefined;
  stdin: 'ignore' | 'inherit';
  processGroup: boolean;
  logger: Logger | undefined;
}

/**
 * Logs one entry about a plugin through the user's logger, as a Go host forwards plugin lines into its own hclog
 * logger (`hashicorp/go-plugin: client.go`, `logStderr`): the plugin's fields, then `plugin` (the command's basename),
 * `origin`, and for parsed lines `timestamp`, `raw` and `malformed`. A throwing logger is ignored (`log`).
 */
export function safeLog(logger: Logger | undefined, entry: PluginLogEntry): void {
  if (logger === undefined) return;
  log(logger, entry.level, entry.message, {
    ...entry.fields,
    plugin: entry.name,
    origin: entry.origin,
    ...(entry.timestamp !== undefined && { timestamp: entry.timestamp }),
    ...(entry.raw !== undefined && { raw: entry.raw }),
    ...(entry.malformed && { malformed: true }),
  });
}

/** Why the plugin did not start: the start timeout, an exit, or a handshake line that was refused. */
type StartFailure =
  | { kind: 'timeout'; message: string }
  | { kind: 'exited'; message: string }
  | { kind: 'handshake'; error: HandshakeError };

/** Waits for a promise up to `timeout` ms; resolves `false` when the time ran out. */
export function within(promise: Promise<unknown>, timeout: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeout);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

/** A spawned plugin process. Not exported from the package. */
export class PluginProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly name: string;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<PluginExit>;
  /** Resolves once stdout and stderr are both closed (never rejects). */
  readonly streamsClosed: Promise<void>;
  readonly #processGroup: boolean;
  readonly #logger: Logger | undefined;
  readonly #tail: string[] = [];
  readonly #firstLine = new FirstLineReader();
  #exit: PluginExit | undefined;
  #killedByUs = false;
  // What stdout gave so far: nothing yet, the first line, a too-long line, or end of stream without a line.
  #stdoutResult: { line: string } | { error: HandshakeError } | undefined;
  #onStdoutResult: (() => void) | undefined;

  private constructor(child: ChildProcess, options: SpawnPluginOptions) {
    this.child = child;
    this.pid = child.pid!;
    this.name = basename(options.command);
    this.#processGroup = options.processGroup;
    this.#logger = options.logger;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
    const stdoutClosed = new Promise<void>((resolve) => child.stdout!.once('close', resolve));
    const stderrClosed = new Promise<void>((resolve) => child.stderr!.once('close', resolve));
    this.streamsClosed = Promise.all([stdoutClosed, stderrClosed]).then(() => undefined);
    this.#readStdout();
    this.#readStderr();
  }

  /**
   * Spawns the plugin and waits until the OS reports it started.
   *
   * @throws {@link SpawnFailedError} with the errno when it cannot start.
   */
  static spawn(options: SpawnPluginOptions): Promise<PluginProcess> {
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(options.command, [...options.args], {
          env: options.env,
          cwd: options.cwd,
          stdio: [options.stdin, 'pipe', 'pipe'],
          // Its own process group, so the kill ladder reaches wrappers' children too (spec §8.1).
          detached: options.processGroup && process.platform !== 'win32',
          windowsHide: true,
        });
      } catch (error) {
        reject(
          new SpawnFailedError(options.command, {
            cause: error,
            errno: (error as NodeJS.ErrnoException).code,
          }),
        );
        return;
      }
      // Permanent: a ChildProcess also emits 'error' when a signal cannot be delivered, and an unhandled one throws.
      child.on('error', (error: NodeJS.ErrnoException) => {
        if (child.pid === undefined) {
          reject(
            new SpawnFailedError(options.command, { cause: error, ...(error.code && { errno: error.code }) }),
          );
        }
      });
      child.once('spawn', () => resolve(new PluginProcess(child, options)));
    });
  }

  /** The exit, once the process has exited. */
  get exit(): PluginExit | undefined {
    return this.#exit;
  }

  /** The last stderr lines (up to 20). */
  get stderrTail(): string[] {
    return [...this.#tail];
  }

  /**
   * Sends a signal to the process group (or the process), but only while the process is not known to have exited:
   * after that its pid may belong to someone else (`hashicorp/go-plugin#320`).
   */
  signal(signal: NodeJS.Signals): void {
    if (this.#exit !== undefined) return;
    if (signal === 'SIGKILL') this.#killedByUs = true;
    signalGroup(this.pid, signal, this.#processGroup && process.platform !== 'win32');
  }

  /**
   * The kill ladder after the caller asked politely (the Shutdown RPC): waits up to `timeout` for the process
   * and its group to go, then SIGKILLs the group and waits up to `timeout` again. Never rejects.
   */
  async stop(timeout: number, onEscalate: () => void): Promise<void> {
    if (this.#exit !== undefined) return;
    const { forced } = await stopProcess(
      { pid: this.pid, exited: this.exited, useGroup: this.#processGroup && process.platform !== 'win32' },
      { timeout, killWait: timeout, onEscalate },
    );
    if (forced) this.#killedByUs = true;
  }

  /** SIGKILLs the process if needed and waits (bounded) for its exit and pipe closure. */
  async reap(): Promise<PluginExit | undefined> {
    this.signal('SIGKILL');
    await within(this.exited, REAP_TIMEOUT);
    await within(this.streamsClosed, REAP_TIMEOUT);
    return this.#exit;
  }

  /**
   * Waits for the first stdout line. Races the line, the process's exit, `timeout` and `signal`; on every failure
   * the process is killed and reaped before the returned promise rejects.
   *
   * @throws {@link PluginStartTimeoutError}, {@link PluginExitedError}, {@link PluginHandshakeRejectedError}
   *   (`NoHandshakeError` or `HandshakeLineTooLongError` as `cause`); {@link PluginAbortedError} when `signal`
   *   aborts.
   */
  readFirstLine(timeout: number, signal: AbortSignal | undefined): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        fail({ kind: 'timeout', message: `timeout while waiting for the plugin to start (${timeout} ms)` });
      }, timeout);
      timer.unref();
      // Assigned below; `let` because onAbort() runs the listener (and so cleanup) at once on an aborted signal.
      let disposeAbort = (): void => {};
      const cleanup = (): void => {
        settled = true;
        clearTimeout(timer);
        disposeAbort();
        this.#onStdoutResult = undefined;
      };
      const fail = (failure: StartFailure): void => {
        if (settled) return;
        cleanup();
        void this.reap().then((exit) => {
          // A process that exited by itself before we killed it: report that, with its status.
          const exitedByItself = exit !== undefined && !(exit.signal === 'SIGKILL' && this.#killedByUs);
          const line = failure.kind === 'handshake' ? failure.error.line : undefined;
          const options = {
            stderrTail: this.stderrTail,
            ...(exit !== undefined && { exit }),
            ...(line !== undefined && { line: line.slice(0, 200) }),
          };
          if (failure.kind === 'timeout') reject(new PluginStartTimeoutError(failure.message, options));
          else if (failure.kind === 'exited') reject(new PluginExitedError(failure.message, options));
          else if (failure.error.code === 'GOPLUGIN_NO_HANDSHAKE' && exitedByItself) {
            reject(new PluginExitedError(failure.error.message, { ...options, cause: failure.error }));
          } else reject(new PluginHandshakeRejectedError(failure.error, options));
        });
      };
      disposeAbort = onAbort(signal, (reason) => {
        if (settled) return;
        cleanup();
        void this.reap().then(() => reject(new PluginAbortedError({ cause: reason })));
      });
      if (settled) return;
      const onResult = (): void => {
        const result = this.#stdoutResult;
        if (settled || result === undefined) return;
        if ('line' in result) {
          cleanup();
          resolve(result.line);
        } else fail({ kind: 'handshake', error: result.error });
      };
      this.#onStdoutResult = onResult;
      onResult();
      void this.exited.then(async () => {
        if (settled) return;
        // Let the last stdout and stderr bytes arrive, so the error shows everything the plugin said.
        await within(this.streamsClosed, REAP_TIMEOUT);
        fail({ kind: 'exited', message: 'plugin exited before we could connect' });
      });
    });
  }

  #readStdout(): void {
    const stdout = this.child.stdout!;
    const settle = (result: { line: string } | { error: HandshakeError }): void => {
      this.#stdoutResult = result;
      this.#onStdoutResult?.();
    };
    stdout.on('data', (chunk: Buffer) => {
      // After the first line, stdout is read and discarded forever: a pipe nobody reads would eventually block
      // the plugin (spec §8.2, `pivotal/skenario#103`). Go hosts discard it too.
      if (this.#stdoutResult !== undefined) return;
      try {
        const line = this.#firstLine.push(chunk);
        if (line !== undefined) settle({ line });
      } catch (error) {
        settle({ error: error as HandshakeError });
      }
    });
    stdout.once('end', () => {
      if (this.#stdoutResult !== undefined) return;
      try {
        // The final unterminated line counts as a line (Go's scanner returns it too).
        settle({ line: this.#firstLine.end() });
      } catch (error) {
        settle({ error: error as HandshakeError });
      }
    });
    stdout.on('error', () => undefined);
  }

  #readStderr(): void {
    const stderr = this.child.stderr!;
    const splitter = new StderrLineSplitter(STDERR_BUFFER_BYTES);
    const parser = new HclogLineParser();
    const handle = (text: string, piece: boolean): void => {
      this.#tail.push(text.length > 500 ? `${text.slice(0, 500)}…` : text);
      if (this.#tail.length > STDERR_TAIL_LINES) this.#tail.shift();
      if (this.#logger === undefined) return;
      const parsed = piece ? parser.parsePiece(text) : parser.parse(text);
      safeLog(this.#logger, { ...parsed, name: this.name, origin: 'plugin' });
    };
    stderr.on('data', (chunk: Buffer) => {
      for (const line of splitter.push(chunk)) handle(line.text, line.piece);
    });
    stderr.once('end', () => {
      const last = splitter.end();
      if (last !== undefined) handle(last.text, last.piece);
    });
    stderr.on('error', () => undefined);
  }
}
