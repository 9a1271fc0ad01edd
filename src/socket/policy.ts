/**
 * Restart policies of the plugin-server supervisor (socket spec §4.6) as pure functions, so their timing is
 * testable without processes.
 */

/** How the supervisor restarts a server. See {@link SupervisorOptions.policy}. */
export type RestartPolicy = 'kong-exact' | 'kong' | 'backoff';

/** Kong version profiles, the same names as the kong-conf module uses. */
export type RestartProfile = '2.3' | '2.4-2.8' | '3.0-3.8' | '3.9' | '3.10';

/**
 * Maps a Kong version string (`'3.9'`, `'2.8.1'`, `'3.4.2.0'`) to its profile. Unknown or newer versions map to
 * the newest profile. (Duplicated from kong-conf on purpose: the modules do not import each other.)
 */
export function restartProfile(version: string): RestartProfile {
  const match = /^(\d+)\.(\d+)/.exec(version.trim());
  if (match === null) return '3.10';
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major < 2 || (major === 2 && minor <= 3)) return '2.3';
  if (major === 2) return '2.4-2.8';
  if (major === 3 && minor <= 8) return '3.0-3.8';
  if (major === 3 && minor === 9) return '3.9';
  return '3.10';
}

/** Backoff parameters of the `backoff` policy. */
export interface BackoffOptions {
  /** Delay after the first quick failure, ms. Default 1000. */
  initialDelay?: number;
  /** Growth per consecutive quick failure. Default 2. */
  factor?: number;
  /** Cap, ms. Default 30000. */
  maxDelay?: number;
  /** A run at least this long (or one that reached `ready`) resets the failure count, ms. Default 10000. */
  resetAfter?: number;
  /** Give up after this many restarts within `restartWindow`. Default unlimited. */
  maxRestarts?: number;
  /** Window for `maxRestarts`, ms. Default 60000. */
  restartWindow?: number;
}

/**
 * The `backoff` delay after `failures` consecutive quick failures (1-based):
 * `min(maxDelay, initialDelay × factor^(failures−1))`.
 */
export function backoffDelay(failures: number, options: BackoffOptions = {}): number {
  const initial = options.initialDelay ?? 1000;
  const factor = options.factor ?? 2;
  const max = options.maxDelay ?? 30_000;
  return Math.min(max, initial * factor ** Math.max(0, failures - 1));
}

/** The argv of `/bin/sh` for a start command: Kong's `exec <cmd>` (`ngx.pipe.spawn("exec " .. cmd)`). */
export function shellArgs(startCmd: string, policy: RestartPolicy, profile: RestartProfile): string[] {
  // Kong 2.3 spawned the command as written; `exec` came with 2.4 (Kong/kong: kong/runloop/plugin_servers/process.lua).
  if (policy === 'kong-exact' && profile === '2.3') return ['-c', startCmd];
  return ['-c', `exec ${startCmd}`];
}

/** Default exit statuses after which the server is not respawned. */
export function defaultStopOnExitCodes(policy: RestartPolicy): number[] {
  // Kong keeps respawning a missing command once per second; the other policies stop on "command not found".
  return policy === 'kong-exact' ? [] : [127];
}

/**
 * For a start command that begins with variable assignments (`FOO=1 srv`), `exec FOO=1 srv` makes the shell
 * look for a command named `FOO=1` and exit 127. Returns the `env` form to suggest, or `undefined`.
 */
export function assignmentHint(startCmd: string): string | undefined {
  if (!/^\s*[A-Za-z_][A-Za-z0-9_]*=/.test(startCmd)) return undefined;
  return `the start command begins with a variable assignment, which "exec" treats as a command name; use "env ${startCmd.trim()}"`;
}

/** What {@link RestartPlanner.afterExit} needs to know about one ended process. */
export interface ExitFacts {
  /** Exit status, or `null` when killed by a signal. */
  code: number | null;
  /** How long it ran, ms. */
  uptime: number;
  /** Whether it reached `ready`. */
  ready: boolean;
  /** When it was spawned (a `performance.now()` value). */
  spawnedAt: number;
  /** The `onExit` hook's verdict, if there is a hook. */
  hook?: 'restart' | 'stop' | 'default' | undefined;
}

/** The decision after an exit: respawn after `delay` ms, stop cleanly, or give up with a reason. */
export type RestartDecision =
  | { action: 'restart'; delay: number }
  | { action: 'clean-exit' }
  | { action: 'give-up'; reason: 'exit-code' | 'on-exit' | 'max-restarts' };

/** The knobs of {@link RestartPlanner} (a subset of the supervisor's options). */
export interface PlannerOptions {
  /** Least time between two spawns, ms. Default 1000. */
  respawnInterval?: number;
  /** Exit statuses that end supervision. Default per policy ({@link defaultStopOnExitCodes}). */
  stopOnExitCodes?: number[];
  /** Respawn after exit status 0. Default `true`. */
  restartOnCleanExit?: boolean;
  /** Parameters of the `backoff` policy. */
  backoff?: BackoffOptions;
}

/**
 * Decides, after each exit, whether and when a server is respawned (socket spec §4.6): Kong's timing (spawns
 * at least `respawnInterval` apart, measured spawn to spawn: `next_spawn` in `Kong/kong:
 * kong/runloop/plugin_servers/process.lua`), `stopOnExitCodes`, `restartOnCleanExit`, and for `backoff` the
 * capped exponential delay over consecutive quick failures plus `maxRestarts` within `restartWindow`.
 */
export class RestartPlanner {
  readonly #policy: RestartPolicy;
  readonly #options: PlannerOptions;
  #failures = 0;
  readonly #restartTimes: number[] = [];

  /** @param policy - the restart policy. @param options - see {@link PlannerOptions}. */
  constructor(policy: RestartPolicy, options: PlannerOptions = {}) {
    this.#policy = policy;
    this.#options = options;
  }

  /**
   * @param exit - what happened.
   * @param now - the current `performance.now()` value.
   * @returns the decision.
   */
  afterExit(exit: ExitFacts, now: number): RestartDecision {
    if (exit.hook === 'stop') return { action: 'give-up', reason: 'on-exit' };
    const untilInterval = Math.max(0, exit.spawnedAt + (this.#options.respawnInterval ?? 1000) - now);
    if (exit.hook !== 'restart') {
      const stopCodes = this.#options.stopOnExitCodes ?? defaultStopOnExitCodes(this.#policy);
      if (exit.code !== null && stopCodes.includes(exit.code))
        return { action: 'give-up', reason: 'exit-code' };
      if (exit.code === 0 && this.#options.restartOnCleanExit === false) return { action: 'clean-exit' };
    }
    if (this.#policy !== 'backoff') return { action: 'restart', delay: untilInterval };
    const backoff = this.#options.backoff ?? {};
    if (exit.ready || exit.uptime >= (backoff.resetAfter ?? 10_000)) this.#failures = 0;
    this.#failures++;
    if (backoff.maxRestarts !== undefined) {
      const window = backoff.restartWindow ?? 60_000;
      while (this.#restartTimes.length > 0 && now - (this.#restartTimes[0] ?? 0) > window)
        this.#restartTimes.shift();
      this.#restartTimes.push(now);
      if (this.#restartTimes.length > backoff.maxRestarts)
        return { action: 'give-up', reason: 'max-restarts' };
    }
    return { action: 'restart', delay: Math.max(untilInterval, backoffDelay(this.#failures, backoff)) };
  }
}
