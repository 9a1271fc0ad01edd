import { randomBytes } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import type { Server } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { BindFailedError } from './errors.js';
import { type FileIdentity, identityOfStats } from './stale.js';

/** Small steps of `UnixServer.listen` (socket spec §2.1). */

/** Listens on `path` (with `backlog`); rejects with the bind error. */
export function listenOn(server: Server, path: string, backlog: number | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen({ path, ...(backlog === undefined ? {} : { backlog }) }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Closes a listening server; resolves at once when it is not listening. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

/**
 * A private, random name in the socket's directory, no longer than the final path so it satisfies the same
 * limit. `undefined` when the final name is too short to hide a random part in.
 */
export function temporaryName(kernelPath: string): string | undefined {
  const length = Math.min(10, Buffer.byteLength(basename(kernelPath)));
  if (length < 5) return undefined;
  const random = randomBytes(8)
    .toString('hex')
    .slice(0, length - 2);
  return join(dirname(kernelPath), `.s${random}`);
}

/** The identity of the file at `kernelPath`, right after it was installed. */
export async function identityOf(kernelPath: string, display: string): Promise<FileIdentity> {
  try {
    return identityOfStats(await lstat(kernelPath, { bigint: true }));
  } catch (error) {
    throw new BindFailedError(display, 'lstat after bind', error as NodeJS.ErrnoException);
  }
}

/** The errno-style cause for a second `listen()`. */
export function alreadyError(): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error('server already listening or closed');
  error.code = 'EALREADY';
  return error;
}
