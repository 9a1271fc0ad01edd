/**
 * Managed clean-up (Go's `ClientConfig.Managed` + `CleanupClients`, spec §8.7): every client `startPlugin`
 * returned is tracked until it is killed.
 */

import { addExitHook, addSignalCleanup } from '../../socket/exit.js';

interface Killable {
  kill(): Promise<void>;
  killSync(): void;
}

const live = new Set<Killable>();
let uninstall: (() => void) | undefined;

/** Signals that end a Node process by default; plugins in their own process group do not receive a terminal's. */
const TERMINATING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** How long the signal handler lets the graceful kill sequences run before it SIGKILLs what is left. */
const SIGNAL_CLEANUP_TIMEOUT = 3000;

// Plugins run in their own process group (spec §8.1), so Ctrl-C or a SIGTERM to the host alone would orphan them.
// Following pluginwire's signal policy (socket/exit.ts), the cleanup steps aside when the application has a
// handler of its own for the signal; otherwise it stops the plugins (bounded), the exit hooks SIGKILL what is
// left, and the signal is re-raised so the process still ends by it.
function install(): void {
  if (uninstall !== undefined) return;
  const removers = [
    // `process.exit()` and the end of the event loop run 'exit' handlers synchronously: no await is possible, so
    // the last resort is a SIGKILL of every plugin process group still running.
    addExitHook(() => {
      for (const client of live) client.killSync();
    }),
    ...TERMINATING_SIGNALS.map((signal) =>
      addSignalCleanup(signal, cleanupPlugins, { onlyIfUnhandled: true, timeout: SIGNAL_CLEANUP_TIMEOUT }),
    ),
  ];
  uninstall = () => {
    for (const remove of removers) remove();
    uninstall = undefined;
  };
}

/** Tracks a started client. */
export function registerClient(client: Killable): void {
  live.add(client);
  install();
}

/** Stops tracking a client (it was killed). */
export function unregisterClient(client: Killable): void {
  live.delete(client);
  if (live.size === 0) uninstall?.();
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
