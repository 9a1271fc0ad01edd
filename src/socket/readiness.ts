import { lstat } from 'node:fs/promises';
import { type FileIdentity, identityOfStats, probeSocket, sameIdentity } from './stale.js';

/** How a {@link watchReadiness} loop probes. */
export interface ReadinessOptions {
  /** The socket path as handed to the kernel. */
  kernelPath: string;
  /** A stale socket file seen before the spawn: a connection to it does not count. */
  staleIdentity: FileIdentity | undefined;
  /** Probe interval until `timeout`, ms. */
  interval: number;
  /** Probe interval after `timeout`, ms. */
  slowInterval: number;
  /** When to report a timeout, ms after the start. */
  timeout: number;
  /** Per-probe connect timeout, ms. */
  probeTimeout: number;
  /** Called once, when the socket accepts. */
  onReady: (ms: number) => void;
  /** Called once, at `timeout`, if not ready. */
  onTimeout: () => void;
}

/**
 * Probes a socket until it accepts (connect, close without sending: quiet, never logged above DEBUG).
 * Only a socket file that is not the remembered stale one counts, so a previous instance cannot fake
 * readiness. Returns a function that cancels the loop and its timers.
 */
export function watchReadiness(options: ReadinessOptions): () => void {
  const started = performance.now();
  let cancelled = false;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const timeoutTimer = setTimeout(() => {
    timedOut = true;
    if (!cancelled) options.onTimeout();
  }, options.timeout);
  const schedule = (): void => {
    if (cancelled) return;
    timer = setTimeout(() => void probe(), timedOut ? options.slowInterval : options.interval);
  };
  const probe = async (): Promise<void> => {
    if (cancelled) return;
    if (await acceptsFreshSocket(options)) {
      if (cancelled) return;
      cancelled = true;
      clearTimeout(timeoutTimer);
      options.onReady(performance.now() - started);
      return;
    }
    schedule();
  };
  void probe();
  return () => {
    cancelled = true;
    clearTimeout(timer);
    clearTimeout(timeoutTimer);
  };
}

async function acceptsFreshSocket(options: ReadinessOptions): Promise<boolean> {
  try {
    const stats = await lstat(options.kernelPath, { bigint: true });
    if (!stats.isSocket()) return false;
    const stale = options.staleIdentity;
    if (stale !== undefined && sameIdentity(identityOfStats(stats), stale)) return false;
  } catch {
    return false;
  }
  const result = await probeSocket(options.kernelPath, options.probeTimeout);
  return result.kind === 'live';
}
