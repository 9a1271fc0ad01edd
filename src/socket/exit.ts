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

/** Options of {@link addSignalCleanup}. */
export interface SignalCleanupOptions {
  /**
   * Run only when the application has no listener of its own for the signal. An application that handles the
   * signal keeps full control (and is expected to clean up itself); pluginwire then does nothing.
   */
  onlyIfUnhandled?: boolean;
  /** How long the cleanup may run before the signal is re-raised anyway, ms. Default 3000. */
  timeout?: number;
}

interface SignalTarget {
  cleanup: () => Promise<unknown>;
  onlyIfUnhandled: boolean;
  timeout: number;
}

const signalTargets = new Map<NodeJS.Signals, Set<SignalTarget>>();
const signalListeners = new Map<NodeJS.Signals, () => void>();

function removeSignalListener(signal: NodeJS.Signals): void {
  const listener = signalListeners.get(signal);
  if (listener !== undefined) process.off(signal, listener);
  signalListeners.delete(signal);
  signalTargets.delete(signal);
}

function onSignal(signal: NodeJS.Signals): void {
  const targets = signalTargets.get(signal);
  if (targets === undefined) return;
  // Our own listener is one of them; any other belongs to the application.
  const applicationHandles = process.listenerCount(signal) > 1;
  const running = [...targets].filter((target) => !(target.onlyIfUnhandled && applicationHandles));
  if (running.length === 0) return;
  for (const target of running) targets.delete(target);
  if (targets.size === 0) removeSignalListener(signal);
  void Promise.allSettled(running.map((target) => bounded(target.cleanup, target.timeout))).then(() => {
    // The default action of a signal runs no 'exit' listeners: run the exit hooks now (remove our socket files,
    // SIGKILL child process groups still alive), then re-raise so that, with our listener gone, Node's default
    // action (or the application's own listener) runs and the exit status still says "killed by signal".
    runExitHooks();
    process.kill(process.pid, signal);
  });
}

function bounded(cleanup: () => Promise<unknown>, timeout: number): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeout);
    timer.unref();
    void Promise.resolve()
      .then(cleanup)
      .finally(() => {
        clearTimeout(timer);
        resolve(undefined);
      })
      .catch(() => undefined);
  });
}

/**
 * Handles `signal` by running `cleanup` (with every other cleanup registered for it, each bounded by its
 * `timeout`), then the exit hooks, then removing the handler and re-raising the signal.
 *
 * Policy (DEVELOPERS.md, "Signals"): adding a listener disables Node's default action for the signal, so a
 * pluginwire object registers a cleanup here only when its caller asks (`handleSignals`,
 * `installSignalHandlers()`), or with `onlyIfUnhandled` for child processes a terminal's signal cannot reach
 * (they run in their own process group): such a cleanup steps aside whenever the application listens for the
 * signal itself.
 *
 * @returns a function that unregisters `cleanup` (and the process listener when it was the last one).
 */
export function addSignalCleanup(
  signal: NodeJS.Signals,
  cleanup: () => Promise<unknown>,
  options: SignalCleanupOptions = {},
): () => void {
  let targets = signalTargets.get(signal);
  if (targets === undefined) {
    targets = new Set();
    signalTargets.set(signal, targets);
    const listener = (): void => onSignal(signal);
    signalListeners.set(signal, listener);
    process.on(signal, listener);
  }
  const target: SignalTarget = {
    cleanup,
    onlyIfUnhandled: options.onlyIfUnhandled ?? false,
    timeout: options.timeout ?? 3000,
  };
  targets.add(target);
  return () => {
    const current = signalTargets.get(signal);
    if (current === undefined || !current.delete(target) || current.size > 0) return;
    removeSignalListener(signal);
  };
}
