import { spawnSync } from 'node:child_process';

/** The command that installs every real peer the interop tests use. */
export const PEERS_INSTALL_COMMAND = 'npm run peers:install';

/** Whether this run must fail, rather than skip, when a real peer is missing (CI sets it). */
export const peersRequired = process.env.PLUGINWIRE_REQUIRE_PEERS === '1';

/**
 * Reports whether a real peer is present. When it is missing, the test file should skip its interop tests
 * (`describe.skipIf(!available)`); this prints why and how to install it. Under `PLUGINWIRE_REQUIRE_PEERS=1` a
 * missing peer throws instead, so the test file fails and CI cannot pass by skipping.
 *
 * @param name - what the peer is, for the message (e.g. `'luajit with lua-messagepack'`).
 * @param present - whether it was found.
 */
export function checkPeer(name: string, present: boolean): boolean {
  if (present) return true;
  const message = `real peer missing: ${name}; install it with \`${PEERS_INSTALL_COMMAND}\``;
  if (peersRequired) throw new Error(`${message} (PLUGINWIRE_REQUIRE_PEERS=1 makes this a failure)`);
  process.stderr.write(`skipping interop tests: ${message}\n`);
  return false;
}

/** Whether `command args…` runs and exits 0 (used to probe for peers). */
export function commandSucceeds(command: string, args: readonly string[] = []): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 });
  return result.status === 0;
}
