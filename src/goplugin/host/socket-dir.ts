/**
 * The private directory the host creates for its plugin's Unix socket (`PLUGIN_UNIX_SOCKET_DIR`, go-plugin v1.5+),
 * and the clean-up of the socket a plugin left behind.
 */
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookupGroup } from '../../socket/group.js';
import { maxSocketPathBytes } from '../../socket/path.js';
import { inspectSocketPath, isSameFile } from '../../socket/stale.js';
import { InvalidPluginOptionsError } from './errors.js';

/** The plugin appends `/plugin` + up to 10 digits to the directory (Go's `os.CreateTemp(dir, "plugin*")`). */
const SOCKET_NAME_ROOM = '/plugin'.length + 10;

/** A group name or numeric gid, as Go's `PLUGIN_UNIX_SOCKET_GROUP` handling resolves it (the socket module's lookup). */
async function resolveGroup(group: string): Promise<number> {
  const gid = await lookupGroup(group);
  if (gid === undefined) {
    throw new InvalidPluginOptionsError(`unixSocketGroup: failed to find gid from ${JSON.stringify(group)}`);
  }
  return gid;
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
  const limit = maxSocketPathBytes();
  if (expected > limit) {
    throw new InvalidPluginOptionsError(
      `unixSocketDir ${JSON.stringify(base)} is too long: socket paths in it would be ${expected} bytes, over the ` +
        `${limit}-byte limit of Unix socket paths; use a shorter directory`,
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

/**
 * Unlinks a plugin's Unix socket when it is stale: it exists, is a socket, and refuses connections. Go plugins
 * leave theirs behind after SIGKILL or a crash (`hashicorp/go-plugin#119`). A live socket (someone accepts;
 * probed gently, so it is never reset), a symlink and anything that is not a socket are left alone; the file is
 * removed only if it is still the one that was probed. Never throws.
 *
 * @param path - the socket path from the handshake.
 * @returns whether it was removed.
 */
export async function unlinkStaleSocket(path: string): Promise<boolean> {
  try {
    const found = await inspectSocketPath(path, path, 1000);
    if (found.kind !== 'stale' || !(await isSameFile(path, found.identity))) return false;
    await unlink(path);
    return true;
  } catch {
    return false;
  }
}
