/**
 * Managed clean-up (Go's `ClientConfig.Managed` + `CleanupClients`, spec §8.7): every client `startPlugin`
 * returned is tracked until it is killed.
 */

interface Killable {
  kill(): Promise<void>;
  killSync(): void;
}

const live = new Set<Killable>();
let exitHandlerInstalled = false;

// `process.exit()` and the end of the event loop run 'exit' handlers synchronously: no await is possible, so the
// last resort is a SIGKILL of every plugin process group still running.
function onExit(): void {
  for (const client of live) client.killSync();
}

/** Tracks a started client. */
export function registerClient(client: Killable): void {
  live.add(client);
  if (!exitHandlerInstalled) {
    process.on('exit', onExit);
    exitHandlerInstalled = true;
  }
}

/** Stops tracking a client (it was killed). */
export function unregisterClient(client: Killable): void {
  live.delete(client);
  if (live.size === 0 && exitHandlerInstalled) {
    process.removeListener('exit', onExit);
    exitHandlerInstalled = false;
  }
}

/**
 * Kills every plugin started by `startPlugin` that is still running, in parallel (each with its full kill
 * sequence). Call it from your shutdown path (SIGINT/SIGTERM handlers, before `process.exit()`); plugins run in
 * their own process groups, so a terminal's Ctrl-C does not reach them. Never rejects.
 *
 * As a last resort, an `exit` handler SIGKILLs plugins still running when the host process exits.
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
