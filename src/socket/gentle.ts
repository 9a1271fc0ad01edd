import type { Socket } from 'node:net';

/** How long a gentle close waits for the peer to close its side, ms. */
export const GENTLE_CLOSE_BOUND = 1000;

/**
 * Closes a connected socket without resetting the peer: half-close (`end()`), read and discard whatever the peer
 * still sends until it closes its side or `bound` ms pass, then destroy. Resolves when the socket is destroyed;
 * never rejects.
 *
 * Why: on Linux, closing a Unix socket with unread data in its receive queue makes the peer's next read or write
 * fail with `ECONNRESET` (`torvalds/linux: net/unix/af_unix.c`, `unix_release_sock`), and a write to a closed peer
 * fails with `EPIPE`. A server that writes first on every connection (go-pdk v0.6's `serverPid` notification,
 * Node servers that greet) and has no per-connection error handler dies of that. Reading until the peer's EOF
 * leaves nothing unread and lets the peer close first.
 *
 * @param socket - a connected socket; its other 'data' listeners keep receiving what arrives.
 * @param bound - the longest wait for the peer's EOF, ms.
 */
export function closeGently(socket: Socket, bound = GENTLE_CLOSE_BOUND): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) {
      resolve();
      return;
    }
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(finish, bound);
    timer.unref();
    // Errors now (the peer reset or vanished) only mean the close is done.
    socket.on('error', finish);
    socket.once('end', finish);
    socket.once('close', finish);
    // Drain: without a reader, a paused socket leaves the peer's bytes in the kernel queue.
    socket.on('data', discard);
    socket.resume();
    if (socket.readableEnded) finish();
    else socket.end();
  });
}

function discard(): void {}
