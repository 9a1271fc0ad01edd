import type { Logger } from '../logger.js';
import type { BackoffOptions, RestartPolicy } from './policy.js';

/**
 * One plugin server to supervise. kong-conf's resolved `PluginServer` objects fit as they are (extra members
 * such as `queryCmd` and `protocol` are ignored: reading query output is kong-conf's business).
 */
export interface PluginServerDefinition {
  /** The server's name, used in log prefixes and events. */
  name: string;
  /** The Unix socket path the server listens on. */
  socket: string;
  /**
   * Shell command line, run like Kong as `/bin/sh -c "exec <startCmd>"` (shell expansion applies). Neither
   * this nor `argv`: the server is managed externally and only its socket is watched.
   */
  startCmd?: string | undefined;
  /** Program and arguments, run without a shell (nothing is expanded or interpreted). Wins over `startCmd`. */
  argv?: readonly string[] | undefined;
}

/** States of a {@link PluginServerSupervisor}. */
export type SupervisorState =
  | 'idle'
  | 'starting'
  | 'running'
  | 'backoff'
  | 'stopping'
  | 'stopped'
  | 'failed'
  | 'external';

/** What {@link SupervisorOptions.beforeSpawn} may adjust. */
export interface SpawnContext {
  /** The server name. */
  name: string;
  /** The generation about to be spawned. */
  generation: number;
  /** The environment for the process (inherited plus `options.env`); mutate it to adjust. */
  env: NodeJS.ProcessEnv;
  /** The working directory, `undefined` to inherit. */
  cwd: string | undefined;
}

/** How a server process ended. */
export interface ExitInfo {
  /** The server name. */
  name: string;
  /** The process id. */
  pid: number;
  /** Which spawn it was (1-based). */
  generation: number;
  /** Exit status, or `null` when killed by a signal. */
  code: number | null;
  /** The signal that killed it, or `null`. */
  signal: NodeJS.Signals | null;
  /** How long it ran, ms. */
  uptime: number;
}

/** Options of {@link PluginServerSupervisor}. */
export interface SupervisorOptions {
  /**
   * `kong` (default): Kong's timing (spawns at least `respawnInterval` apart) with process groups, SIGKILL
   * escalation and giving up on exit 127. `kong-exact`: what Kong really does (keeps respawning after 127, no
   * groups, one SIGTERM on stop). `backoff`: `kong` plus capped exponential delays for crash loops.
   */
  policy?: RestartPolicy;
  /** Kong version whose behaviour `kong-exact` reproduces (spawn string, stop signal, log texts). Default `'3.9'`. */
  kongVersion?: string;
  /** Receives Kong's log texts and each output line as `[name:pid] line` (at `info`). */
  logger?: Logger;
  /** Extra environment variables (on top of the inherited environment). */
  env?: Record<string, string | undefined>;
  /** Working directory of the server. Default: inherited. */
  cwd?: string;
  /** Least time between two spawns, ms. Default 1000 (Kong's `next_spawn`). */
  respawnInterval?: number;
  /** Readiness probe interval, ms. Default 100. */
  readyProbeInterval?: number;
  /** `readyTimeout` is emitted after this long without an accepting socket, ms. Default 10000. */
  readyTimeout?: number;
  /** Kill the server (and restart per policy) at `readyTimeout`. Default `false`: keep it running. */
  killOnReadyTimeout?: boolean;
  /** `start()` resolves at `ready` (default) or, with `false`, right after the first spawn. */
  awaitReady?: boolean;
  /** Timeout of one socket probe, ms. Default 500. */
  probeTimeout?: number;
  /** Time between the stop signal and SIGKILL, ms. Default 5000. */
  stopTimeout?: number;
  /** Signal that asks the server to stop. Default `SIGTERM`. */
  stopSignal?: NodeJS.Signals;
  /** Respawn after exit status 0. Default `true` (Kong does). */
  restartOnCleanExit?: boolean;
  /** Exit statuses after which the server is given up. Default `[127]` (`[]` for `kong-exact`). */
  stopOnExitCodes?: number[];
  /** Parameters of the `backoff` policy. */
  backoff?: BackoffOptions;
  /** Longest output line emitted in one `log` event, bytes. Default 65536. */
  maxLineBytes?: number;
  /** A live foreign server on the socket: `fail` (default: `conflict`, no spawn) or `spawn` anyway. */
  onConflict?: 'fail' | 'spawn';
  /** SIGKILL the server's group synchronously when this process exits. Default `true`. */
  killOnExit?: boolean;
  /** Called before every spawn; may adjust `env`/`cwd`, or return `false` to veto (the server is given up). */
  beforeSpawn?: (context: SpawnContext) => boolean | undefined | Promise<boolean | undefined>;
  /** Called after every exit; may override the restart decision. */
  onExit?: (info: ExitInfo & { ready: boolean }) => 'restart' | 'stop' | 'default' | undefined;
}

/** Payload of `started` and `restart`: one process of a server. */
export interface ProcessEvent {
  /** The server name. */
  name: string;
  /** The process id. */
  pid: number;
  /** Which spawn it is (1-based). */
  generation: number;
}

/** Payload of `log`: one output line of the server. */
export interface LogEvent extends ProcessEvent {
  /** Which pipe the line came from (the relative order of the two streams is not preserved). */
  stream: 'stdout' | 'stderr';
  /** The line, without its newline and a trailing `\r`, decoded as UTF-8 with replacement. */
  line: string;
  /** `true` for the second and later pieces of a line longer than `maxLineBytes`. */
  continued: boolean;
}

/** Payload of `ready`. */
export interface ReadyEvent {
  /** The server name. */
  name: string;
  /** The process id; `undefined` for an externally managed server. */
  pid: number | undefined;
  /** Which spawn it is (0 for an externally managed server). */
  generation: number;
  /** Time from spawn (or from `start()`, for an external server) to the first accepted probe, ms. */
  ms: number;
}

/** Payload of `readyTimeout`. */
export interface ReadyTimeoutEvent {
  /** The server name. */
  name: string;
  /** The process id; `undefined` for an externally managed server. */
  pid: number | undefined;
  /** Which spawn it is (0 for an externally managed server). */
  generation: number;
  /** The `readyTimeout` that passed, ms. */
  timeout: number;
}

/** Payload of `restartScheduled`. */
export interface RestartScheduledEvent {
  /** The server name. */
  name: string;
  /** The generation that just exited. */
  generation: number;
  /** Time until the next spawn, ms. */
  delay: number;
  /** How many restarts have been scheduled so far, this one included. */
  attempt: number;
}

/** Payload of `conflict`. */
export interface ConflictEvent {
  /** The server name. */
  name: string;
  /** The socket path. */
  path: string;
  /** What the inspection of the path found (e.g. `SocketInUseError`). */
  error: Error;
}

/** Payload of `gave-up`. */
export interface GaveUpEvent {
  /** The server name. */
  name: string;
  /** Why: `exit-code`, `max-restarts`, `conflict`, `vetoed`, `on-exit`, `error` (a hook threw). */
  reason: string;
  /** The last exit status, if any. */
  code: number | null;
  /** The signal that ended the last process, if any. */
  signal: NodeJS.Signals | null;
  /** Restarts scheduled before giving up. */
  restarts: number;
}

/** Payload of `stopping`. */
export interface StoppingEvent {
  /** The server name. */
  name: string;
  /** The process being stopped, if one runs. */
  pid: number | undefined;
}

/** Payload of `stopped`. */
export interface StoppedEvent {
  /** The server name. */
  name: string;
  /** The last process id, if a process was ever spawned. */
  pid: number | undefined;
  /** Its exit status (`null` when killed by a signal, or not waited for under `kong-exact`). */
  code: number | null;
  /** The signal that ended it, if any. */
  signal: NodeJS.Signals | null;
  /** Whether SIGKILL was needed. */
  forced: boolean;
}

/** Events of {@link PluginServerSupervisor}: every payload carries `name`, and `pid`/`generation` where a process exists. */
export interface SupervisorEvents {
  /** A process was spawned. */
  started: [ProcessEvent];
  /** One output line. */
  log: [LogEvent];
  /** The socket accepts connections. */
  ready: [ReadyEvent];
  /** The socket did not accept within `readyTimeout`. */
  readyTimeout: [ReadyTimeoutEvent];
  /** The process ended. */
  exited: [ExitInfo];
  /** A respawn is scheduled. */
  restartScheduled: [RestartScheduledEvent];
  /** A new generation became ready after an earlier one: drop pooled connections and instance ids. */
  restart: [ProcessEvent];
  /** A live server that is not ours already owns the socket. */
  conflict: [ConflictEvent];
  /** The server will not be respawned. */
  'gave-up': [GaveUpEvent];
  /** `stop()` began. */
  stopping: [StoppingEvent];
  /** `stop()` finished (or the server ended cleanly with `restartOnCleanExit: false`). */
  stopped: [StoppedEvent];
  /** A failure outside any call (e.g. the argv form's program is missing); logged when nobody listens. */
  error: [Error];
}
