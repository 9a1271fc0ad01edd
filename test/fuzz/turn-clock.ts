/**
 * A clock for the code under test that counts event-loop turns instead of milliseconds.
 *
 * While installed, `setTimeout(fn, n)` fires `fn` after `n` turns of the event loop (one `setImmediate` each), and
 * `clearTimeout` cancels it; everything else (I/O, `setImmediate`, `process.nextTick`, `setInterval`) is real. Over
 * in-memory duplex pairs, whose writes arrive one turn later, an exchange of k messages takes about k turns, so a
 * timeout of n turns fires exactly when a peer stayed silent for that long: deterministically, without sleeping,
 * and however loaded the machine is. A real 2 ms timeout costs far more than 2 ms there, because the process loses
 * the CPU each time it sleeps.
 *
 * The harness keeps real timers for its own bounds (it captured them before any install, see harness.ts).
 */

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

let nextId = 1;

/** A pending timer: what `setTimeout` returns while the clock is installed (the `NodeJS.Timeout` methods). */
class TurnTimer {
  readonly id = nextId++;
  remaining: number;
  cancelled = false;
  private referenced = true;

  constructor(
    readonly turns: number,
    readonly fire: () => void,
  ) {
    this.remaining = turns;
  }

  ref(): this {
    this.referenced = true;
    return this;
  }

  unref(): this {
    this.referenced = false;
    return this;
  }

  hasRef(): boolean {
    return this.referenced;
  }

  refresh(): this {
    this.remaining = this.turns;
    if (!pending.has(this)) schedule(this);
    return this;
  }

  close(): this {
    cancel(this);
    return this;
  }

  [Symbol.toPrimitive](): number {
    return this.id;
  }
}

const pending = new Set<TurnTimer>();
let ticking = false;

function schedule(timer: TurnTimer): void {
  timer.cancelled = false;
  pending.add(timer);
  if (!ticking) {
    ticking = true;
    setImmediate(tick);
  }
}

function cancel(timer: TurnTimer): void {
  timer.cancelled = true;
  pending.delete(timer);
}

/** One turn: every pending timer is a turn closer; the ones at zero fire, in the order they were set. */
function tick(): void {
  const due: TurnTimer[] = [];
  for (const timer of pending) if (--timer.remaining <= 0) due.push(timer);
  for (const timer of due) {
    if (timer.cancelled) continue;
    pending.delete(timer);
    timer.fire();
  }
  if (pending.size > 0) setImmediate(tick);
  else ticking = false;
}

function turnSetTimeout(
  callback: (...args: unknown[]) => void,
  delay?: number,
  ...args: unknown[]
): TurnTimer {
  const timer = new TurnTimer(Math.max(1, Math.ceil(Number(delay) || 0)), () => callback(...args));
  schedule(timer);
  return timer;
}

function turnClearTimeout(timer: unknown): void {
  if (timer instanceof TurnTimer) cancel(timer);
  else realClearTimeout(timer as NodeJS.Timeout);
}

/**
 * Runs `work` with the turn clock installed; the real timers are back when it settles. Timers set during `work`
 * keep counting turns until they fire or are cleared.
 */
export async function withTurnClock<T>(work: () => Promise<T>): Promise<T> {
  globalThis.setTimeout = turnSetTimeout as unknown as typeof setTimeout;
  globalThis.clearTimeout = turnClearTimeout as typeof clearTimeout;
  try {
    return await work();
  } finally {
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
  }
}

/** Timers of the code under test still counting turns (for tests of the clock). */
export function pendingTurnTimers(): number {
  return pending.size;
}
