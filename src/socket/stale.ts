import type { BigIntStats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { connect } from 'node:net';
import {
  BindFailedError,
  SocketInUseError,
  SocketPathIsSymlinkError,
  SocketPathNotSocketError,
  SocketPermissionDeniedError,
} from './errors.js';
import { closeGently, GENTLE_CLOSE_BOUND } from './gentle.js';

/**
 * Identity of a socket file: device, inode and birth time. The inode alone is not enough: filesystems reuse a
 * freed inode number at once (ext4 does), so a server that unlinks the old socket and binds gets the same
 * number back. The birth time (statx) tells the two apart; where the platform has none it reads as 0.
 */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  birth: bigint;
}

/** The identity of what `lstat` found. */
export function identityOfStats(stats: { dev: bigint; ino: bigint; birthtimeNs: bigint }): FileIdentity {
  return { dev: stats.dev, ino: stats.ino, birth: stats.birthtimeNs };
}

/** Whether two identities name the same file. */
export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.birth === b.birth;
}

/** What {@link probeSocket} learnt about a socket path. */
export type ProbeResult =
  | { kind: 'live' }
  | { kind: 'stale' }
  | { kind: 'missing' }
  | { kind: 'busy'; reason: string }
  | { kind: 'denied'; errno: string }
  | { kind: 'error'; error: NodeJS.ErrnoException };

/**
 * Connects to a socket, sends nothing and closes gently: the liveness probe of §2.1 step 3. Resolves as soon as
 * the answer is known; the connection is then closed with {@link closeGently} (half-close, drain until the server
 * closes or a short bound passes), so a server that writes first is never reset. Never throws.
 *
 * @param kernelPath - the path (or `\0name`) to connect to.
 * @param timeout - how long to wait for the connection, in ms.
 */
export function probeSocket(kernelPath: string, timeout: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ path: kernelPath });
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.removeAllListeners('connect');
      socket.on('error', () => {});
      if (result.kind === 'live') void closeGently(socket, Math.min(timeout, GENTLE_CLOSE_BOUND));
      else socket.destroy();
      resolve(result);
    };
    // A server whose backlog is full answers neither yes nor no within the timeout: alive.
    const timer = setTimeout(() => done({ kind: 'busy', reason: `no answer within ${timeout} ms` }), timeout);
    socket.once('connect', () => done({ kind: 'live' }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      switch (error.code) {
        case 'ECONNREFUSED':
          return done({ kind: 'stale' });
        case 'ENOENT':
          return done({ kind: 'missing' });
        case 'EAGAIN':
          return done({ kind: 'busy', reason: 'its backlog is full (EAGAIN)' });
        case 'EACCES':
        case 'EPERM':
          return done({ kind: 'denied', errno: error.code });
        default:
          return done({ kind: 'error', error });
      }
    });
  });
}

/** What is at a socket path, as far as `listenUnix` and the supervisor care. */
export type PathState = { kind: 'missing' } | { kind: 'stale'; identity: FileIdentity };

function describeMode(stats: { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean }): string {
  if (stats.isFile()) return 'regular file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isFIFO()) return 'FIFO';
  return 'device or other non-socket file';
}

/**
 * Inspects a filesystem socket path without following symlinks, and probes a socket found there.
 *
 * @param kernelPath - the path as handed to the kernel.
 * @param display - the absolute path, for errors.
 * @param probeTimeout - the probe's timeout in ms.
 * @returns `missing`, or `stale` with the dead socket's identity.
 * @throws {@link SocketPathIsSymlinkError}, {@link SocketPathNotSocketError}, {@link SocketInUseError},
 *   {@link SocketPermissionDeniedError}, {@link BindFailedError}.
 */
export async function inspectSocketPath(
  kernelPath: string,
  display: string,
  probeTimeout: number,
): Promise<PathState> {
  let stats: BigIntStats;
  try {
    // lstat, never stat: a symlink must be reported as such, not followed to whatever it points at.
    stats = await lstat(kernelPath, { bigint: true });
  } catch (error) {
    const errno = error as NodeJS.ErrnoException;
    if (errno.code === 'ENOENT') return { kind: 'missing' };
    if (errno.code === 'EACCES' || errno.code === 'EPERM') {
      throw new SocketPermissionDeniedError(display, 'cannot inspect the socket path', display, {
        cause: errno,
        errno: errno.code,
      });
    }
    throw new BindFailedError(display, 'lstat', errno);
  }
  if (stats.isSymbolicLink()) throw new SocketPathIsSymlinkError(display);
  if (!stats.isSocket()) throw new SocketPathNotSocketError(display, describeMode(stats));
  const identity = identityOfStats(stats);
  const probe = await probeSocket(kernelPath, probeTimeout);
  switch (probe.kind) {
    case 'live':
      throw new SocketInUseError(display);
    case 'busy':
      throw new SocketInUseError(display, probe.reason, { errno: 'EAGAIN' });
    case 'missing':
      return { kind: 'missing' };
    case 'stale':
      return { kind: 'stale', identity };
    case 'denied':
      throw new SocketPermissionDeniedError(
        display,
        'socket exists and is not accessible; cannot tell whether it is live',
        display,
        { errno: probe.errno },
      );
    case 'error':
      throw new BindFailedError(display, 'probing the existing socket', probe.error);
  }
}

/** Whether `path` still is the socket file identified by `identity`. */
export async function isSameFile(path: string, identity: FileIdentity): Promise<boolean> {
  try {
    return sameIdentity(identityOfStats(await lstat(path, { bigint: true })), identity);
  } catch {
    return false;
  }
}
