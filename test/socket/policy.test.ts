import { describe, expect, it } from 'vitest';
import { backoffDelay, kongProfile, retryDelay } from '../../src/socket/index.js';
import { assignmentHint, defaultStopOnExitCodes, shellArgs } from '../../src/socket/policy.js';

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
      ['2.3.3', '2.4', '2.8.1', '3.0', '3.8.0', '3.9', '3.10', '3.11', 'nightly'].map(kongProfile),
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
