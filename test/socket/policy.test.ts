import { describe, expect, it } from 'vitest';
import { retryDelay } from '../../src/socket/client.js';
import {
  assignmentHint,
  backoffDelay,
  defaultStopOnExitCodes,
  RestartPlanner,
  restartProfile,
  shellArgs,
} from '../../src/socket/policy.js';

describe('restart policy', () => {
  it('backoff delays grow 1, 2, 4 … s and stop at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
    expect([1, 2, 3].map((n) => backoffDelay(n, { initialDelay: 100, factor: 3, maxDelay: 500 }))).toEqual([
      100, 300, 500,
    ]);
  });

  it('spawns like Kong: exec <cmd>, and the command as written for kong-exact 2.3', () => {
    expect(shellArgs('srv -v', 'kong', '3.9')).toEqual(['-c', 'exec srv -v']);
    expect(shellArgs('srv -v', 'kong-exact', '2.4-2.8')).toEqual(['-c', 'exec srv -v']);
    expect(shellArgs('srv -v', 'kong-exact', '2.3')).toEqual(['-c', 'srv -v']);
    expect(shellArgs('srv -v', 'backoff', '2.3')).toEqual(['-c', 'exec srv -v']);
  });

  it('gives up on 127 except under kong-exact', () => {
    expect(defaultStopOnExitCodes('kong')).toEqual([127]);
    expect(defaultStopOnExitCodes('backoff')).toEqual([127]);
    expect(defaultStopOnExitCodes('kong-exact')).toEqual([]);
  });

  it('suggests env for a command that starts with a variable assignment', () => {
    expect(assignmentHint('FOO=1 /usr/bin/srv')).toContain('use "env FOO=1 /usr/bin/srv"');
    expect(assignmentHint('/usr/bin/srv FOO=1')).toBeUndefined();
  });

  it('maps Kong versions to profiles', () => {
    expect(
      ['2.3.3', '2.4', '2.8.1', '3.0', '3.8.0', '3.9', '3.10', '3.11', 'nightly'].map(restartProfile),
    ).toEqual(['2.3', '2.4-2.8', '2.4-2.8', '3.0-3.8', '3.0-3.8', '3.9', '3.10', '3.10', '3.10']);
  });
});

describe('connect retry schedule', () => {
  it('doubles from 50 ms up to 1 s with ±20 % jitter', () => {
    const middle = { random: () => 0.5 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelay(n, middle))).toEqual([
      50, 100, 200, 400, 800, 1000, 1000,
    ]);
    expect(retryDelay(1, { random: () => 0 })).toBeCloseTo(40);
    expect(retryDelay(1, { random: () => 0.999999 })).toBeCloseTo(60);
    expect(retryDelay(3, { jitter: 0, initialDelay: 10, factor: 3, maxDelay: 50, random: () => 0.9 })).toBe(
      50,
    );
  });
});

describe('RestartPlanner', () => {
  const quickFailure = (spawnedAt: number, code: number | null = 1) => ({
    code,
    uptime: 50,
    ready: false,
    spawnedAt,
  });

  it('kong: respawns at least 1 s after the previous spawn, immediately after a long run; gives up on 127', () => {
    const planner = new RestartPlanner('kong');
    expect(planner.afterExit(quickFailure(0), 50)).toEqual({ action: 'restart', delay: 950 });
    expect(planner.afterExit({ code: 1, uptime: 5000, ready: true, spawnedAt: 0 }, 5000)).toEqual({
      action: 'restart',
      delay: 0,
    });
    expect(planner.afterExit(quickFailure(0, 0), 50)).toEqual({ action: 'restart', delay: 950 });
    expect(planner.afterExit(quickFailure(0, 127), 50)).toEqual({ action: 'give-up', reason: 'exit-code' });
  });

  it('kong-exact: keeps respawning a missing command once per second, as Kong does', () => {
    const planner = new RestartPlanner('kong-exact');
    for (let i = 0; i < 5; i++) {
      expect(planner.afterExit(quickFailure(i * 1000, 127), i * 1000 + 10)).toEqual({
        action: 'restart',
        delay: 990,
      });
    }
  });

  it('backoff: 1, 2, 4 … s up to the cap, reset by a stable run or readiness; maxRestarts gives up', () => {
    const planner = new RestartPlanner('backoff', { backoff: { maxDelay: 8000 } });
    const delays = [0, 1, 2, 3, 4, 5].map((i) => planner.afterExit(quickFailure(0), 100 + i));
    expect(delays.map((d) => (d.action === 'restart' ? d.delay : d.action))).toEqual([
      1000, 2000, 4000, 8000, 8000, 8000,
    ]);
    expect(planner.afterExit({ code: 1, uptime: 20_000, ready: false, spawnedAt: 0 }, 20_000)).toEqual({
      action: 'restart',
      delay: 1000,
    });
    expect(planner.afterExit(quickFailure(0), 100)).toEqual({ action: 'restart', delay: 2000 });
    expect(planner.afterExit({ code: 1, uptime: 50, ready: true, spawnedAt: 0 }, 100)).toEqual({
      action: 'restart',
      delay: 1000,
    });
    const limited = new RestartPlanner('backoff', { backoff: { maxRestarts: 2, restartWindow: 1000 } });
    expect(limited.afterExit(quickFailure(0), 10).action).toBe('restart');
    expect(limited.afterExit(quickFailure(0), 20).action).toBe('restart');
    expect(limited.afterExit(quickFailure(0), 30)).toEqual({ action: 'give-up', reason: 'max-restarts' });
    // Outside the window the count starts over.
    expect(limited.afterExit(quickFailure(0), 5000).action).toBe('restart');
  });

  it('honours restartOnCleanExit, stopOnExitCodes and the onExit hook', () => {
    expect(
      new RestartPlanner('kong', { restartOnCleanExit: false }).afterExit(quickFailure(0, 0), 10),
    ).toEqual({
      action: 'clean-exit',
    });
    expect(
      new RestartPlanner('kong', { stopOnExitCodes: [126, 127] }).afterExit(quickFailure(0, 126), 10),
    ).toEqual({
      action: 'give-up',
      reason: 'exit-code',
    });
    const planner = new RestartPlanner('kong');
    expect(planner.afterExit({ ...quickFailure(0, 127), hook: 'restart' }, 10).action).toBe('restart');
    expect(planner.afterExit({ ...quickFailure(0, 1), hook: 'stop' }, 10)).toEqual({
      action: 'give-up',
      reason: 'on-exit',
    });
  });
});
