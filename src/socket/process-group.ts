import { readdirSync, readFileSync } from 'node:fs';

/**
 * Signals to a supervised server: to its whole process group when it leads one (spawned with
 * `detached: true`, i.e. `setsid`), so grandchildren started by wrappers or worker forks go too
 * (hashicorp/go-plugin#10, dkron-io/dkron#247).
 */

/**
 * Sends `signal` to the process group `pgid`, falling back to the single pid when the group does not exist
 * (or groups are not used). Never throws.
 *
 * @returns whether a signal was delivered to anything.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0, useGroup: boolean): boolean {
  if (useGroup) {
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      // ESRCH: the group is gone (or was never created); try the leader alone.
    }
  }
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether any process of the group `pgid` is still running. `kill(-pgid, 0)` answers yes for zombies too,
 * and orphaned group members stay zombies for good under an init that does not reap (some container and
 * microVM inits do not), so on Linux the group's members are read from `/proc` and zombies are not counted.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  return livingGroupMembers(pgid).length > 0;
}

/** Linux: pids of the non-zombie processes whose process group is `pgid`. */
export function livingGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return members;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z' && fields[0] !== 'X' && Number(fields[2]) === pgid) members.push(Number(entry));
  }
  return members;
}

/** Resolves with `promise`'s value, or `undefined` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    // Not unref'ed: a stop that someone awaits keeps the process alive until it is done (cleared on resolve).
    const timer = setTimeout(() => resolve(undefined), ms);
    void promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** Polls every 50 ms until the group has no running member; `false` if it still has one after `ms`. */
export async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (performance.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The process {@link stopProcess} stops. */
export interface StoppableProcess<Exit> {
  /** Its pid; with `useGroup`, also the id of the process group it leads (spawned `detached`, i.e. `setsid`). */
  pid: number;
  /** Resolves when the process has exited (and Node has reaped it); never rejects. */
  exited: Promise<Exit>;
  /** Whether it leads its own process group, whose other members must go too. */
  useGroup: boolean;
}

/** Options of {@link stopProcess}. */
export interface StopProcessOptions {
  /** The polite signal; `undefined` when the caller already asked politely (e.g. go-plugin's Shutdown RPC). */
  signal?: NodeJS.Signals | undefined;
  /** How long the process (and its group) may take to go after the polite step, ms. */
  timeout: number;
  /** How long to wait after SIGKILL, ms. Default 2000. */
  killWait?: number;
  /** Called once, just before escalating to SIGKILL (to log it). */
  onEscalate?: () => void;
}

/** What {@link stopProcess} did. */
export interface StopResult<Exit> {
  /** The leader's exit, or `undefined` if it did not exit even after SIGKILL (bounded by `killWait`). */
  exit: Exit | undefined;
  /** Whether SIGKILL was needed (for the leader or for a group member that outlived it). */
  forced: boolean;
}

/**
 * The one stop sequence of every process pluginwire starts (supervised plugin servers, go-plugin plugins,
 * kong-conf query commands): the polite `signal` to the process group, a bounded wait for the leader and then
 * for group members that outlived it, then SIGKILL to the group and a bounded wait. Never throws.
 *
 * Signals go to the pid itself only while the leader has not exited: after that the pid may belong to an
 * unrelated process (hashicorp/go-plugin#320), while the group id stays reserved as long as any member lives,
 * so signalling the group remains safe.
 */
export async function stopProcess<Exit>(
  target: StoppableProcess<Exit>,
  options: StopProcessOptions,
): Promise<StopResult<Exit>> {
  const { pid, useGroup } = target;
  let leaderExited = false;
  void target.exited.then(() => {
    leaderExited = true;
  });
  const send = (signal: NodeJS.Signals): void => {
    if (!leaderExited) signalGroup(pid, signal, useGroup);
    else if (useGroup) {
      try {
        process.kill(-pid, signal);
      } catch {
        // The group is gone.
      }
    }
  };
  const killWait = options.killWait ?? 2000;
  let forced = false;
  const escalate = (): void => {
    if (!forced) options.onEscalate?.();
    forced = true;
    send('SIGKILL');
  };
  const deadline = performance.now() + options.timeout;
  if (options.signal !== undefined) send(options.signal);
  let exit = await withTimeout(target.exited, options.timeout);
  if (exit === undefined) {
    escalate();
    exit = await withTimeout(target.exited, killWait);
  }
  // Group members that outlived the leader (they ignored the signal): wait out the rest, then SIGKILL.
  if (useGroup && process.platform !== 'win32') {
    if (!(await waitGroupGone(pid, Math.max(0, deadline - performance.now())))) {
      escalate();
      await waitGroupGone(pid, killWait);
    }
  }
  return { exit, forced };
}
