import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { lstat, unlink } from 'node:fs/promises';
import { log } from '../logger.js';
import { watchChild } from './child-output.js';
import { addExitHook, addSignalCleanup } from './exit.js';
import { resolveAddress } from './path.js';
import {
  assignmentHint,
  RestartPlanner,
  type RestartPolicy,
  type RestartProfile,
  restartProfile,
  shellArgs,
} from './policy.js';
import { signalGroup, stopProcess } from './process-group.js';
import { watchReadiness } from './readiness.js';
import { type FileIdentity, identityOfStats, inspectSocketPath, probeSocket } from './stale.js';
import { registerSupervisedSocket } from './supervised-sockets.js';
import {
  SupervisorConflictError,
  SupervisorGaveUpError,
  SupervisorReadyTimeoutError,
  SupervisorStoppedError,
} from './supervisor-errors.js';
import type {
  ExitInfo,
  PluginServerDefinition,
  SupervisorEvents,
  SupervisorOptions,
  SupervisorState,
} from './supervisor-types.js';

interface Current {
  child: ChildProcess;
  pid: number;
  generation: number;
  spawnedAt: number;
  exited: Promise<ExitInfo>;
  done: boolean;
  ready: boolean;
}

const supervisors = new Set<PluginServerSupervisor>();

/**
 * Runs, watches, restarts and stops one external plugin server the way Kong does (`Kong/kong:
 * kong/runloop/plugin_servers/process.lua`), plus what Kong lacks: process groups, readiness on the socket,
 * bounded stop with SIGKILL escalation, backoff, events. The input is one server as resolved by kong-conf's
 * `resolvePluginServers`, or a plain `{ name, socket, startCmd }` (or `argv`, which runs without a shell).
 *
 * @example
 * ```ts
 * const sup = new PluginServerSupervisor(
 *   { name: 'js', socket: '/usr/local/kong/js.sock', startCmd: 'kong-js-pluginserver -d /plugins' },
 *   { logger: { info: console.log, error: console.error } },
 * );
 * sup.on('restart', () => pool.dropIdle());
 * await sup.start();   // resolves when the socket accepts
 * await sup.stop();
 * ```
 */
export class PluginServerSupervisor extends EventEmitter<SupervisorEvents> {
  /** The server this supervisor runs. */
  readonly definition: PluginServerDefinition;
  readonly #options: SupervisorOptions;
  readonly #policy: RestartPolicy;
  readonly #profile: RestartProfile;
  readonly #kernelPath: string;
  readonly #useGroup: boolean;
  #state: SupervisorState = 'idle';
  #generation = 0;
  #restarts = 0;
  #current: Current | undefined;
  #lastPid: number | undefined;
  #everReady = false;
  #startPromise: Promise<void> | undefined;
  #settleStart: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #stopPromise: Promise<void> | undefined;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #cancelSleep: (() => void) | undefined;
  #cancelReadiness: (() => void) | undefined;
  #cleanups: Array<() => void> = [];

  /**
   * @param definition - the server: `name`, `socket`, and `startCmd` (shell) or `argv` (no shell); neither
   *   means externally managed.
   * @param options - see {@link SupervisorOptions}.
   * @throws the address errors of the socket path.
   */
  constructor(definition: PluginServerDefinition, options: SupervisorOptions = {}) {
    super();
    this.definition = definition;
    this.#options = options;
    this.#policy = options.policy ?? 'kong';
    this.#profile = restartProfile(options.kongVersion ?? '3.9');
    this.#kernelPath = resolveAddress(definition.socket).kernelPath;
    // Kong signals the pid only; the other policies give each server its own group (no orphans).
    this.#useGroup = this.#policy !== 'kong-exact';
  }

  /** Current state. */
  get state(): SupervisorState {
    return this.#state;
  }

  /** Pid of the running server, if any. */
  get pid(): number | undefined {
    return this.#current?.done === false ? this.#current.pid : undefined;
  }

  /** Number of spawns so far (1 for the first process). */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Starts supervising. Resolves when the socket first accepts connections (or right after the first spawn
   * with `awaitReady: false`). Calling it again returns the same promise.
   *
   * @throws {@link SupervisorConflictError} when a live foreign server owns the socket;
   *   {@link SupervisorGaveUpError} when the server is given up before it was ready (e.g. exit 127);
   *   {@link SupervisorReadyTimeoutError} after `readyTimeout` (the process keeps running: call `stop()`);
   *   {@link SupervisorStoppedError} when `stop()` is called first.
   */
  start(): Promise<void> {
    if (this.#startPromise) return this.#startPromise;
    this.#startPromise = new Promise<void>((resolve, reject) => {
      this.#settleStart = { resolve, reject };
    });
    supervisors.add(this);
    this.#cleanups.push(
      registerSupervisedSocket(resolveAddress(this.definition.socket).display, () => this.#hint()),
    );
    if (this.#options.killOnExit !== false) this.#cleanups.push(addExitHook(() => this.#killSync()));
    if (this.#command() === undefined) {
      this.#state = 'external';
      this.#notice(
        `[pluginserver] start_command undefined for pluginserver ${this.definition.name}; assuming external process management`,
      );
      this.#watchExternal();
    } else {
      this.#state = 'starting';
      this.#loop = this.#run().catch((error: unknown) => {
        // A throwing hook or an unexpected failure: report it and give the server up rather than reject nowhere.
        this.#emitError(error as Error);
        if (this.#state !== 'stopped' && this.#state !== 'failed')
          this.#giveUp('error', null, null, error as Error);
      });
    }
    return this.#startPromise;
  }

  /**
   * Stops the server: no more respawns, `stopSignal` to its process group, SIGKILL after `timeout` ms
   * (default `stopTimeout`, 5000), then removes a socket file the dead server left behind. Under
   * `kong-exact` it sends one SIGTERM and does not wait, like Kong. Idempotent. Never rejects.
   */
  stop(options: { timeout?: number } = {}): Promise<void> {
    this.#stopPromise ??= this.#stop(options.timeout ?? this.#options.stopTimeout ?? 5000);
    return this.#stopPromise;
  }

  #command(): { file: string; args: string[]; display: string } | undefined {
    const { argv, startCmd } = this.definition;
    if (argv !== undefined && argv.length > 0) {
      const [file, ...args] = argv as [string, ...string[]];
      return { file, args, display: argv.join(' ') };
    }
    if (startCmd === undefined || startCmd.trim() === '') return undefined;
    return { file: '/bin/sh', args: shellArgs(startCmd, this.#policy, this.#profile), display: startCmd };
  }

  async #run(): Promise<void> {
    let nextSpawnAt = 0;
    const planner = new RestartPlanner(this.#policy, this.#options);
    while (!this.#stopping) {
      const wait = nextSpawnAt - performance.now();
      if (wait > 0) await this.#sleep(wait);
      if (this.#stopping) break;
      let staleIdentity: FileIdentity | undefined;
      try {
        const found = await inspectSocketPath(
          this.#kernelPath,
          this.definition.socket,
          this.#options.probeTimeout ?? 500,
        );
        staleIdentity = found.kind === 'stale' ? found.identity : undefined;
      } catch (error) {
        if (this.#stopping) break;
        // With onConflict 'spawn', whatever is there now must not count as our server being ready.
        staleIdentity = await lstat(this.#kernelPath, { bigint: true }).then(
          identityOfStats,
          () => undefined,
        );
        if (this.#options.onConflict !== 'spawn') {
          this.emit('conflict', {
            name: this.definition.name,
            path: this.definition.socket,
            error: error as Error,
          });
          this.#giveUp(
            'conflict',
            null,
            null,
            new SupervisorConflictError(this.definition.name, this.definition.socket, error),
          );
          return;
        }
      }
      if (this.#stopping) break;
      const context = {
        name: this.definition.name,
        generation: this.#generation + 1,
        env: { ...process.env, ...this.#options.env },
        cwd: this.#options.cwd,
      };
      if ((await this.#options.beforeSpawn?.(context)) === false) {
        this.#giveUp('vetoed', null, null);
        return;
      }
      if (this.#stopping) break;
      const current = this.#spawn(context.env, context.cwd, staleIdentity);
      const exit = await current.exited;
      this.#cancelReadiness?.();
      if (this.#stopping) break;
      const hook = this.#options.onExit?.({ ...exit, name: this.definition.name, ready: current.ready });
      const decision = planner.afterExit(
        { code: exit.code, uptime: exit.uptime, ready: current.ready, spawnedAt: current.spawnedAt, hook },
        performance.now(),
      );
      if (decision.action === 'clean-exit') {
        this.#finishStopped(exit, false);
        return;
      }
      if (decision.action === 'give-up') {
        this.#giveUp(decision.reason, exit.code, exit.signal);
        return;
      }
      const { delay } = decision;
      this.#restarts++;
      this.#state = 'backoff';
      this.emit('restartScheduled', {
        name: this.definition.name,
        generation: this.#generation,
        delay,
        attempt: this.#restarts,
      });
      nextSpawnAt = performance.now() + delay;
    }
  }

  #spawn(env: NodeJS.ProcessEnv, cwd: string | undefined, staleIdentity: FileIdentity | undefined): Current {
    const command = this.#command()!;
    const { name } = this.definition;
    this.#notice(`[pluginserver] starting pluginserver process for ${name}`);
    // stdin is a pipe nobody writes: when the supervisor dies (even by SIGKILL) the server sees EOF.
    const child = spawn(command.file, command.args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: this.#useGroup,
      env,
      ...(cwd === undefined ? {} : { cwd }),
    });
    this.#generation++;
    const generation = this.#generation;
    const pid = child.pid ?? -1;
    const spawnedAt = performance.now();
    const current: Current = {
      child,
      pid,
      generation,
      spawnedAt,
      exited: undefined as never,
      done: false,
      ready: false,
    };
    current.exited = this.#watchExit(current, command.display);
    this.#current = current;
    this.#lastPid = pid;
    this.#state = 'starting';
    if (child.pid !== undefined) {
      this.#notice(
        this.#profile === '3.9' || this.#profile === '3.10'
          ? `[pluginserver] started, pid ${pid}`
          : `Starting ${name}`,
      );
      this.emit('started', { name, pid, generation });
      this.#cancelReadiness = watchReadiness({
        kernelPath: this.#kernelPath,
        staleIdentity,
        interval: this.#options.readyProbeInterval ?? 100,
        slowInterval: 1000,
        timeout: this.#options.readyTimeout ?? 10_000,
        probeTimeout: this.#options.probeTimeout ?? 500,
        onReady: (ms) => this.#onReady(current, ms),
        onTimeout: () => this.#onReadyTimeout(current),
      });
      if (this.#options.awaitReady === false) this.#settleStart?.resolve();
    }
    return current;
  }

  async #watchExit(current: Current, display: string): Promise<ExitInfo> {
    const { name } = this.definition;
    let uptime = 0;
    const outcome = await watchChild(
      current.child,
      this.#options.maxLineBytes ?? 65_536,
      (stream, line, continued) => {
        this.#options.logger?.info?.(`[${name}:${current.pid}] ${line}`);
        this.emit('log', { name, pid: current.pid, generation: current.generation, stream, line, continued });
      },
      () => {
        current.done = true;
        uptime = performance.now() - current.spawnedAt;
      },
    );
    if (outcome.spawnError) this.#emitError(outcome.spawnError);
    this.#logExit(outcome.code, outcome.signal, display);
    const info: ExitInfo = {
      name,
      pid: current.pid,
      generation: current.generation,
      code: outcome.code,
      signal: outcome.signal,
      uptime,
    };
    this.emit('exited', info);
    return info;
  }

  #logExit(code: number | null, signal: NodeJS.Signals | null, display: string): void {
    const { name } = this.definition;
    if (code === 127) {
      this.#options.logger?.error?.(
        `[pluginserver] external pluginserver "${name}" start command "${display}" exited with "command not found"`,
      );
      const hint =
        this.definition.startCmd === undefined ? undefined : assignmentHint(this.definition.startCmd);
      if (hint !== undefined) this.#options.logger?.error?.(`[pluginserver] ${name}: ${hint}`);
      return;
    }
    const reason = signal === null ? `exit ${code}` : `signal ${signal}`;
    this.#notice(`external pluginserver '${name}' terminated: ${reason}`);
  }

  #onReady(current: Current, ms: number): void {
    if (current.done || this.#stopping) return;
    current.ready = true;
    this.#state = 'running';
    const { name } = this.definition;
    this.emit('ready', { name, pid: current.pid, generation: current.generation, ms });
    if (this.#everReady) this.emit('restart', { name, pid: current.pid, generation: current.generation });
    this.#everReady = true;
    this.#settleStart?.resolve();
  }

  #onReadyTimeout(current: Current): void {
    if (current.done || this.#stopping) return;
    const { name } = this.definition;
    const timeout = this.#options.readyTimeout ?? 10_000;
    this.#options.logger?.warn?.(
      `[pluginserver] '${name}' does not accept connections on ${this.definition.socket} after ${timeout} ms`,
    );
    this.emit('readyTimeout', { name, pid: current.pid, generation: current.generation, timeout });
    if (!this.#everReady)
      this.#settleStart?.reject(new SupervisorReadyTimeoutError(name, this.definition.socket, timeout));
    if (this.#options.killOnReadyTimeout) signalGroup(current.pid, 'SIGKILL', this.#useGroup);
  }

  #watchExternal(): void {
    const { name } = this.definition;
    const timeout = this.#options.readyTimeout ?? 10_000;
    this.#cancelReadiness = watchReadiness({
      kernelPath: this.#kernelPath,
      staleIdentity: undefined,
      interval: this.#options.readyProbeInterval ?? 100,
      slowInterval: 1000,
      timeout,
      probeTimeout: this.#options.probeTimeout ?? 500,
      onReady: (ms) => {
        this.#everReady = true;
        this.emit('ready', { name, pid: undefined, generation: 0, ms });
        this.#settleStart?.resolve();
      },
      onTimeout: () => {
        this.emit('readyTimeout', { name, pid: undefined, generation: 0, timeout });
        this.#settleStart?.reject(new SupervisorReadyTimeoutError(name, this.definition.socket, timeout));
      },
    });
  }

  #giveUp(reason: string, code: number | null, signal: NodeJS.Signals | null, error?: Error): void {
    const { name } = this.definition;
    this.#state = 'failed';
    this.#options.logger?.error?.(`[pluginserver] exiting: pluginserver '${name}' not respawned.`);
    this.emit('gave-up', { name, reason, code, signal, restarts: this.#restarts });
    this.#settleStart?.reject(
      error ?? new SupervisorGaveUpError(name, reason, code, `last exit ${signal ?? code}`),
    );
    this.#release();
  }

  #finishStopped(exit: Pick<ExitInfo, 'code' | 'signal'>, forced: boolean): void {
    const { name } = this.definition;
    this.#state = 'stopped';
    const pid = this.#lastPid;
    if (pid !== undefined)
      this.#notice(`[pluginserver] successfully stopped pluginserver '${name}', pid ${pid}`);
    this.emit('stopped', { name, pid, code: exit.code, signal: exit.signal, forced });
    this.#settleStart?.reject(new SupervisorStoppedError(name));
    this.#release();
  }

  #release(): void {
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    supervisors.delete(this);
    // After settling, a start() nobody awaits any more must not turn into an unhandled rejection.
    this.#startPromise?.catch(() => {});
    this.#settleStart = undefined;
  }

  async #stop(timeout: number): Promise<void> {
    const wasState = this.#state;
    this.#stopping = true;
    this.#cancelSleep?.();
    this.#cancelReadiness?.();
    if (wasState === 'idle' || wasState === 'stopped' || wasState === 'failed') {
      if (wasState === 'idle') this.#state = 'stopped';
      this.#release();
      return;
    }
    this.#state = 'stopping';
    const { name } = this.definition;
    const current = this.#current;
    this.emit('stopping', { name, pid: current?.done === false ? current.pid : undefined });
    if (wasState === 'external' || current === undefined || current.done) {
      await this.#loop;
      this.#finishStopped({ code: null, signal: null }, false);
      return;
    }
    if (this.#policy === 'kong-exact') {
      // Kong: one SIGTERM to the pid (none before 3.0, which had no graceful shutdown), no wait, no escalation.
      if (this.#profile !== '2.3' && this.#profile !== '2.4-2.8') signalGroup(current.pid, 'SIGTERM', false);
      this.#finishStopped({ code: null, signal: null }, false);
      return;
    }
    const { exit, forced } = await stopProcess(
      { pid: current.pid, exited: current.exited, useGroup: true },
      { signal: this.#options.stopSignal ?? 'SIGTERM', timeout },
    );
    await this.#loop;
    await this.#removeDeadSocket();
    this.#finishStopped(exit ?? { code: null, signal: 'SIGKILL' }, forced);
  }

  /** §4.7 step 5: a socket file left by the dead server (it refuses connections) is removed. */
  async #removeDeadSocket(): Promise<void> {
    try {
      const found = await inspectSocketPath(
        this.#kernelPath,
        this.definition.socket,
        this.#options.probeTimeout ?? 500,
      );
      if (found.kind === 'stale' && (await probeSocket(this.#kernelPath, 500)).kind === 'stale') {
        await unlink(this.#kernelPath);
      }
    } catch {
      // Live, not a socket, or gone: not ours to remove.
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#cancelSleep = done;
    });
  }

  #killSync(): void {
    const current = this.#current;
    if (current !== undefined && !current.done) signalGroup(current.pid, 'SIGKILL', this.#useGroup);
  }

  #hint(): string {
    return `a supervised pluginserver '${this.definition.name}' for this path is ${this.#state}`;
  }

  #notice(message: string): void {
    // Kong logs these at NOTICE, which the shared Logger folds into `info`.
    log(this.#options.logger, 'info', message, { server: this.definition.name });
  }

  #emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.#options.logger?.error?.(`[pluginserver] ${this.definition.name}: ${error.message}`);
  }
}

/** Stops every supervisor of this process, in parallel. Never rejects. */
export async function stopAll(options: { timeout?: number } = {}): Promise<void> {
  await Promise.all([...supervisors].map((supervisor) => supervisor.stop(options)));
}

/**
 * Process groups keep the terminal's Ctrl-C away from the servers, so the owner must stop them on its own
 * SIGINT/SIGTERM: this installs handlers that run {@link stopAll} and then re-raise the signal.
 *
 * @returns a function that removes the handlers.
 */
export function installSignalHandlers(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): () => void {
  const removers = signals.map((signal) => addSignalCleanup(signal, () => stopAll()));
  return () => {
    for (const remove of removers) remove();
  };
}
