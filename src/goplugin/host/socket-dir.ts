/**
 * The private directory the host creates for its plugin's Unix socket (`PLUGIN_UNIX_SOCKET_DIR`, go-plugin v1.5+),
 * and the clean-up of the socket a plugin left behind.
 */
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { lstat, readFile, rm, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidPluginOptionsError } from './errors.js';

/** `sun_path` on Linux is 108 bytes with the NUL (104 on macOS/BSD); the plugin appends `/plugin` + 10 digits. */
const SUN_PATH_LIMIT = process.platform === 'linux' ? 107 : 103;
const SOCKET_NAME_ROOM = '/plugin'.length + 10;

/**
 * Resolves a group name or numeric gid as Go's `PLUGIN_UNIX_SOCKET_GROUP` handling does: numeric first, then a
 * lookup by name (in `/etc/group`; Node has no `getgrnam`).
 */
async function resolveGroup(group: string): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  let text = '';
  try {
    text = await readFile('/etc/group', 'utf8');
  } catch {
    // No group database: fall through to the error below.
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new InvalidPluginOptionsError(`unixSocketGroup: failed to find gid from ${JSON.stringify(group)}`);
}

/**
 * Creates a fresh private socket directory: mode 0700, or 0770 and owned by `group` when one is given.
 *
 * @param parent - where to create it; default the temp dir.
 * @param group - the `PLUGIN_UNIX_SOCKET_GROUP` value, if any.
 * @returns the directory's path.
 * @throws {@link InvalidPluginOptionsError} when a socket in it would exceed the `sun_path` limit, or the group
 *   is unknown.
 */
export async function createSocketDir(
  parent: string | undefined,
  group: string | undefined,
): Promise<string> {
  const base = parent ?? tmpdir();
  // mkdtemp appends 6 characters to the prefix.
  const expected = Buffer.byteLength(join(base, 'plug-XXXXXX')) + SOCKET_NAME_ROOM;
  if (expected > SUN_PATH_LIMIT) {
    throw new InvalidPluginOptionsError(
      `unixSocketDir ${JSON.stringify(base)} is too long: socket paths in it would be ${expected} bytes, over the ` +
        `${SUN_PATH_LIMIT}-byte limit of Unix socket paths; use a shorter directory`,
    );
  }
  const gid = group === undefined ? undefined : await resolveGroup(group);
  // Synchronous on purpose: three metadata syscalls on a local directory take microseconds, while the promise
  // versions cost a thread-pool round trip each (about 1.5 ms in all on the path to the plugin's first call).
  const dir = mkdtempSync(join(base, 'plug-'));
  try {
    if (gid === undefined) chmodSync(dir, 0o700);
    else {
      chownSync(dir, process.getuid?.() ?? -1, gid);
      chmodSync(dir, 0o770);
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return dir;
}

/** Removes a socket directory and everything in it; never throws. */
export async function removeSocketDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

function refusesConnections(path: string, timeout: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const timer = setTimeout(() => finish(false), timeout);
    timer.unref();
    function finish(refused: boolean): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(refused);
    }
    socket.once('connect', () => finish(false));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code === 'ECONNREFUSED'));
  });
}

/**
 * Unlinks a plugin's Unix socket when it is stale: it exists, is a socket, and refuses connections. Go plugins
 * leave theirs behind after SIGKILL or a crash (`hashicorp/go-plugin#119`). A live socket (someone accepts) and
 * anything that is not a socket are left alone. Never throws.
 *
 * @param path - the socket path from the handshake.
 * @returns whether it was removed.
 */
export async function unlinkStaleSocket(path: string): Promise<boolean> {
  try {
    const stats = await lstat(path);
    if (!stats.isSocket()) return false;
    if (!(await refusesConnections(path, 1000))) return false;
    await unlink(path);
    return true;
  } catch {
    return false;
  }
}
