/**
 * The socket file of a plugin server. Kong never creates or removes it (kong-rpc spec §1), so the server
 * removes a stale one before `listen` and its own on close.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { KongConfigError, KongSocketInUseError } from './errors.js';

/**
 * Removes a socket file nobody answers on (a server that died without cleaning up).
 *
 * @throws {@link KongSocketInUseError} when a server answers on it; {@link KongConfigError} when the path is
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
  if (!isSocket) throw new KongConfigError(`${path} exists and is not a socket; refusing to replace it`);
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

/** Removes a socket file; one that is already gone is fine. */
export function removeSocketFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
