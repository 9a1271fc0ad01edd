/**
 * Managed clean-up (Go's `ClientConfig.Managed` + `CleanupClients`, spec §8.7): every client `startPlugin`
 * returned is tracked until it is killed.
 */

interface Killable {
  kill(): Promise<void>;
  killSync(): void;
}

const live = new Set<Killable>();
let installed = false;

/** Signals that end a Node process by default; plugins in their own process group do not receive a terminal's. */
const TERMINATING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** How long the signal handler lets the graceful kill sequences run before it SIGKILLs what is left. */
const SIGNAL_CLEANUP_TIMEOUT = 3000;

// `process.exit()` and the end of the event loop run 'exit' handlers synchronously: no await is possible, so the
// last resort is a SIGKILL of every plugin process group still running.
function onExit(): void {
  for (const client of live) client.killSync();
}

// Plugins run in their own process group (spec §8.1), so Ctrl-C or a SIGTERM to the host alone would orphan them;
// Node's default action for these signals does not run 'exit' handlers either. When the application has no
// handler of its own for the signal, stop the plugins, then re-raise the signal so the default action (ending the
// process with that signal) still happens. An application with its own handler keeps full control and is expected
// to call cleanupPlugins() itself.
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    onExit();
    uninstall();
    process.kill(process.pid, signal);
  };
  const timer = setTimeout(finish, SIGNAL_CLEANUP_TIMEOUT);
  void cleanupPlugins().then(finish);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  for (const signal of TERMINATING_SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.removeListener('exit', onExit);
  for (const signal of TERMINATING_SIGNALS) process.removeListener(signal, onSignal);
}

/** Tracks a started client. */
export function registerClient(client: Killable): void {
  live.add(client);
  install();
}

/** Stops tracking a client (it was killed). */
export function unregisterClient(client: Killable): void {
  live.delete(client);
  if (live.size === 0) uninstall();
}

/**
 * Kills every plugin started by `startPlugin` that is still running, in parallel (each with its full kill
 * sequence). Never rejects.
 *
 * Plugins run in their own process groups, so a terminal's Ctrl-C does not reach them. While plugins are running,
 * pluginwire listens for SIGINT, SIGTERM and SIGHUP: if the application has no handler of its own for the signal,
 * it runs this clean-up (bounded to 3 s) and then lets the signal end the process as it would have. An application
 * that handles these signals itself should call `cleanupPlugins()` from its handler. As a last resort, an `exit`
 * handler SIGKILLs plugins still running when the process exits (`process.exit()` skips pending async work).
 *
 * @example
 * ```ts
 * process.once('SIGTERM', () => void cleanupPlugins().then(() => process.exit(0)));
 * ```
 */
export async function cleanupPlugins(): Promise<void> {
  await Promise.all([...live].map((client) => client.kill()));
}

/** How many started plugins are still tracked (for tests and diagnostics). */
export function livePluginCount(): number {
  return live.size;
}
