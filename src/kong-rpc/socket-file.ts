/**
 * The socket file of a plugin server. Kong never creates or removes it (kong-rpc spec §1), so the server
 * removes a stale one before `listen` and its own on close.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, lstatSync, renameSync, unlinkSync } from 'node:fs';
import { createConnection, type Server } from 'node:net';
import { KongRpcUsageError, KongSocketInUseError } from './errors.js';

/**
 * Removes a socket file nobody answers on (a server that died without cleaning up).
 *
 * @throws {@link KongSocketInUseError} when a server answers on it; {@link KongRpcUsageError} when the path is
 *   not a socket (never delete someone's file).
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!isSocket) throw new KongRpcUsageError(`${path} exists and is not a socket; refusing to replace it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    // A server too busy to accept within a second is still a live server.
    const timer = setTimeout(() => finish(true), 1_000);
    const finish = (answer: boolean) => {
      clearTimeout(timer);
      probe.destroy();
      resolve(answer);
    };
    probe.once('connect', () => finish(true));
    probe.once('error', () => finish(false));
  });
  if (live) throw new KongSocketInUseError(path);
  removeSocketFile(path);
}

/** Device, inode and birth time of the file at `path` (not followed), or `undefined` when there is none. */
export function fileIdentity(path: string): string | undefined {
  try {
    const stats = lstatSync(path, { bigint: true });
    return `${stats.dev}:${stats.ino}:${stats.birthtimeNs}`;
  } catch {
    return undefined;
  }
}

/**
 * Binds `listener` at `path` and returns the identity of the socket file it made.
 *
 * libuv unlinks the name a server was bound to when it closes, whatever is there by then. So the listener binds
 * a private name that is hard-linked into place: close() then removes only the private name, `path` is removed
 * by {@link removeOwnSocketFile} only while it is still ours, and link(2) refuses (EEXIST) a file that
 * appeared at `path` since the stale check. A path too long for a private sibling binds in place. `mode` is set
 * on the private name, so the socket never appears at `path` with a wider mode (except when bound in place).
 *
 * @throws {@link KongSocketInUseError} when a file appeared at `path` meanwhile; the bind's own errors.
 */
export async function bindSocketFile(
  listener: Server,
  path: string,
  mode: number,
): Promise<string | undefined> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const bindTo = Buffer.byteLength(temp) <= 107 ? temp : path;
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(bindTo, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  try {
    chmodSync(bindTo, mode);
  } catch (error) {
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    throw error;
  }
  if (bindTo !== path) {
    try {
      linkSync(bindTo, path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A filesystem without hard links: the atomic rename is the best that remains.
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') renameSync(bindTo, path);
      else {
        await new Promise<void>((resolve) => listener.close(() => resolve()));
        if (code === 'EEXIST') throw new KongSocketInUseError(path);
        throw error;
      }
    } finally {
      try {
        unlinkSync(bindTo);
      } catch {
        // Already gone: renamed into place, or removed by the listener's close.
      }
    }
  }
  return fileIdentity(path);
}

/** Removes the socket file at `path` if it is still the one `identity` names; anything else stays. */
export function removeOwnSocketFile(path: string, identity: string | undefined): void {
  if (identity === undefined || fileIdentity(path) !== identity) return;
  removeSocketFile(path);
}

/** Removes a socket file; one that is already gone is fine. */
export function removeSocketFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
