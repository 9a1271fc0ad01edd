import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { groupAlive, stopProcess } from '../../src/socket/process-group.js';

/** A shell leading its own process group, after it printed `ready` (its traps are then installed). */
async function spawnGroup(script: string): Promise<{ pid: number; exited: Promise<NodeJS.Signals | null> }> {
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('error', reject);
  });
  return { pid: child.pid as number, exited };
}

describe('stopProcess', () => {
  it('stops a group that honours the polite signal without SIGKILL', async () => {
    const target = await spawnGroup('sleep 30 & echo ready; wait');
    const result = await stopProcess({ ...target, useGroup: true }, { signal: 'SIGTERM', timeout: 5000 });
    expect(result).toEqual({ exit: 'SIGTERM', forced: false });
    expect(groupAlive(target.pid)).toBe(false);
  });

  it('SIGKILLs a group member that ignores the signal and outlives its leader, and reports it forced', async () => {
    // The leader exits on SIGTERM; its child ignores SIGTERM and would survive as an orphan.
    const target = await spawnGroup(`sh -c 'trap "" TERM; echo ready; while :; do sleep 1; done' & wait`);
    const escalations: number[] = [];
    const started = performance.now();
    const result = await stopProcess(
      { ...target, useGroup: true },
      { signal: 'SIGTERM', timeout: 300, onEscalate: () => escalations.push(performance.now() - started) },
    );
    expect(result.forced).toBe(true);
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toBeGreaterThanOrEqual(250);
    expect(groupAlive(target.pid)).toBe(false);
  });

  it('escalates to SIGKILL when the leader ignores the signal', async () => {
    const target = await spawnGroup(`trap "" TERM; echo ready; while :; do sleep 1; done`);
    const result = await stopProcess({ ...target, useGroup: true }, { signal: 'SIGTERM', timeout: 200 });
    expect(result).toEqual({ exit: 'SIGKILL', forced: true });
    expect(groupAlive(target.pid)).toBe(false);
  });

  it('with no polite signal only waits, then kills', async () => {
    const target = await spawnGroup('echo ready; sleep 30');
    const result = await stopProcess({ ...target, useGroup: true }, { timeout: 100 });
    expect(result).toEqual({ exit: 'SIGKILL', forced: true });
  });
});
