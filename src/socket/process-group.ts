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
