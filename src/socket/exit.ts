/**
 * Process-wide hooks shared by servers and supervisors: synchronous cleanup at `process.on('exit')`, and
 * opt-in signal handling that cleans up and then re-raises the signal so the exit status still says
 * "killed by signal".
 *
 * One listener per event for the whole process, added while something needs it and removed afterwards, so
 * many servers do not trigger Node's MaxListenersExceeded warning and an idle module leaves `process` as it
 * found it.
 */

const exitHooks = new Set<() => void>();

function runExitHooks(): void {
  for (const hook of [...exitHooks]) {
    try {
      hook();
    } catch {
      // An exit hook must not stop the others; there is nobody left to report to.
    }
  }
}

/**
 * Runs `hook` synchronously when the process exits normally (also through `process.exit()`).
 *
 * @returns a function that unregisters the hook.
 */
export function addExitHook(hook: () => void): () => void {
  if (exitHooks.size === 0) process.on('exit', runExitHooks);
  exitHooks.add(hook);
  return () => {
    exitHooks.delete(hook);
    if (exitHooks.size === 0) process.off('exit', runExitHooks);
  };
}

const signalTargets = new Map<NodeJS.Signals, Set<() => Promise<unknown>>>();
const signalListeners = new Map<NodeJS.Signals, () => void>();

/**
 * Handles `signal` by running `cleanup` (with every other cleanup registered for it), then removing the
 * handler and re-raising the signal. Installing any listener disables Node's default action for the
 * signal, which is why this only happens when a caller asks for it.
 *
 * @returns a function that unregisters `cleanup` (and the process listener when it was the last one).
 */
export function addSignalCleanup(signal: NodeJS.Signals, cleanup: () => Promise<unknown>): () => void {
  let targets = signalTargets.get(signal);
  if (targets === undefined) {
    targets = new Set();
    signalTargets.set(signal, targets);
    const listener = (): void => {
      const pending = [...(signalTargets.get(signal) ?? [])];
      signalTargets.delete(signal);
      process.off(signal, listener);
      signalListeners.delete(signal);
      void Promise.allSettled(pending.map((run) => run())).then(() => {
        // Re-raise: with our listener gone, Node's default action (or the application's own listener) runs.
        process.kill(process.pid, signal);
      });
    };
    signalListeners.set(signal, listener);
    process.on(signal, listener);
  }
  targets.add(cleanup);
  return () => {
    const current = signalTargets.get(signal);
    if (current === undefined || !current.delete(cleanup) || current.size > 0) return;
    signalTargets.delete(signal);
    const listener = signalListeners.get(signal);
    if (listener !== undefined) process.off(signal, listener);
    signalListeners.delete(signal);
  };
}
