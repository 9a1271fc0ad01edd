import { describe, expect, it } from 'vitest';
import { within } from './harness.js';
import { pendingTurnTimers, withTurnClock } from './turn-clock.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the turn clock of the kong-client fuzz target', () => {
  it('fires setTimeout(fn, n) after n event-loop turns, cancels on clearTimeout, and restores the timers', async () => {
    const realSetTimeout = globalThis.setTimeout;
    const fired: string[] = [];
    await withTurnClock(async () => {
      setTimeout(() => fired.push('three'), 3);
      const cancelled = setTimeout(() => fired.push('cancelled'), 2);
      // A long delay in ms is as many turns, not a sleep: 10,000 ms here passes in microseconds.
      const long = setTimeout(() => fired.push('long'), 10_000).unref();
      clearTimeout(cancelled);
      await turn();
      await turn();
      expect(fired).toEqual([]);
      await turn();
      expect(fired).toEqual(['three']);
      clearTimeout(long);
    });
    expect(globalThis.setTimeout).toBe(realSetTimeout);
    expect(pendingTurnTimers()).toBe(0);
    expect(fired).toEqual(['three']);
  });

  it('leaves the harness bounds in real time', async () => {
    const started = performance.now();
    const outcome = await withTurnClock(() =>
      within(new Promise<never>(() => {}), 50, 'never').catch((error: Error) => error.message),
    );
    expect(outcome).toBe('never did not settle within 50 ms');
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });
});
