import { describe, expect, it } from 'vitest';
import { abortableSleep, Deadline, onAbort, raceAbort } from '../src/abort.js';

/** How many 'abort' listeners a signal holds now (Node keeps them on the EventTarget's kEvents map). */
function listenerCount(signal: AbortSignal): number {
  const symbols = Object.getOwnPropertySymbols(signal);
  const events = symbols.find((symbol) => symbol.description === 'kEvents');
  const map = (signal as unknown as Record<symbol, Map<string, { size: number }>>)[events as symbol];
  return map?.get('abort')?.size ?? 0;
}

describe('onAbort', () => {
  it('calls the listener with the reason when the signal aborts, and the disposer removes it', () => {
    const controller = new AbortController();
    const reasons: unknown[] = [];
    const dispose = onAbort(controller.signal, (reason) => reasons.push(reason));
    expect(listenerCount(controller.signal)).toBe(1);
    controller.abort('why');
    expect(reasons).toEqual(['why']);
    dispose();
    const other = new AbortController();
    const disposeOther = onAbort(other.signal, (reason) => reasons.push(reason));
    disposeOther();
    expect(listenerCount(other.signal)).toBe(0);
    other.abort('late');
    expect(reasons).toEqual(['why']);
  });

  it('calls the listener at once for an already aborted signal and adds no listener', () => {
    const signal = AbortSignal.abort('before');
    const reasons: unknown[] = [];
    onAbort(signal, (reason) => reasons.push(reason))();
    expect(reasons).toEqual(['before']);
    expect(listenerCount(signal)).toBe(0);
  });

  it('accepts no signal', () => {
    expect(() => onAbort(undefined, () => {})()).not.toThrow();
  });
});

describe('abortableSleep', () => {
  it('resolves after the time and leaves no listener', async () => {
    const controller = new AbortController();
    await abortableSleep(5, { signal: controller.signal });
    expect(listenerCount(controller.signal)).toBe(0);
  });

  it('rejects with the mapped reason as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const sleeping = abortableSleep(60_000, {
      signal: controller.signal,
      abortError: (reason) => new Error(`aborted: ${String(reason)}`),
    });
    controller.abort('stop');
    await expect(sleeping).rejects.toThrow('aborted: stop');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(listenerCount(controller.signal)).toBe(0);
  });

  it('rejects at once for an already aborted signal', async () => {
    await expect(abortableSleep(60_000, { signal: AbortSignal.abort('x') })).rejects.toBe('x');
  });
});

describe('raceAbort', () => {
  it('settles like the work and removes its listener', async () => {
    const controller = new AbortController();
    await expect(raceAbort(Promise.resolve(1), controller.signal)).resolves.toBe(1);
    await expect(raceAbort(Promise.reject(new Error('no')), controller.signal)).rejects.toThrow('no');
    expect(listenerCount(controller.signal)).toBe(0);
  });

  it('rejects when the signal aborts first', async () => {
    const controller = new AbortController();
    const racing = raceAbort(new Promise(() => {}), controller.signal, () => new Error('cancelled'));
    controller.abort();
    await expect(racing).rejects.toThrow('cancelled');
  });
});

describe('Deadline', () => {
  it('aborts with the timeout reason and says it expired', async () => {
    const deadline = new Deadline({ timeout: 5, timeoutReason: () => new Error('too slow') });
    await new Promise((resolve) => deadline.signal.addEventListener('abort', resolve, { once: true }));
    expect(deadline.expired).toBe(true);
    expect((deadline.signal.reason as Error).message).toBe('too slow');
    deadline.dispose();
  });

  it("follows the caller's signal, not expired, and removes its listener when disposed", () => {
    const controller = new AbortController();
    const deadline = new Deadline({ timeout: 60_000, signal: controller.signal });
    expect(listenerCount(controller.signal)).toBe(1);
    controller.abort('user');
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.signal.reason).toBe('user');
    expect(deadline.expired).toBe(false);
    deadline.dispose();
    const second = new AbortController();
    new Deadline({ timeout: 60_000, signal: second.signal }).dispose();
    expect(listenerCount(second.signal)).toBe(0);
  });

  it('is aborted at once for an already aborted signal', () => {
    const deadline = new Deadline({ timeout: 60_000, signal: AbortSignal.abort('early') });
    expect(deadline.signal.reason).toBe('early');
    deadline.dispose();
  });
});
