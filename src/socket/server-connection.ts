import type { Socket } from 'node:net';

/**
 * A connection accepted by a {@link UnixServer}. Protocol layers mark it {@link ServerConnection.busy} while an
 * exchange is in progress and {@link ServerConnection.idle} when it is done: a graceful `close()` ends idle
 * connections at once and lets busy ones finish their exchange.
 */
export class ServerConnection {
  /** The underlying socket: read and write it as usual. */
  readonly socket: Socket;
  #busy = false;
  #idleWaiters: Array<() => void> = [];

  /** @param socket - the accepted socket. */
  constructor(socket: Socket) {
    this.socket = socket;
  }

  /** Whether an exchange is in progress. */
  get isBusy(): boolean {
    return this.#busy;
  }

  /** Marks the start of an exchange (a request was received and is being answered). */
  busy(): void {
    this.#busy = true;
  }

  /** Marks the end of an exchange; a closing server ends the connection now. */
  idle(): void {
    this.#busy = false;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /** @internal Runs `callback` at the next {@link ServerConnection.idle}. */
  onIdle(callback: () => void): void {
    this.#idleWaiters.push(callback);
  }
}
