import { SocketError } from './errors.js';

/** A live server that the supervisor did not start already owns the socket path; nothing was spawned. */
export class SupervisorConflictError extends SocketError {
  declare readonly code: 'SOCKET_CONFLICT';
  /** The plugin server's name. */
  readonly serverName: string;
  /** The socket path. */
  readonly path: string;

  /** @param name - the server name. @param path - the socket path. @param cause - the probe's finding. */
  constructor(name: string, path: string, cause: unknown) {
    super(
      'SOCKET_CONFLICT',
      `pluginserver '${name}': another process already accepts connections on ${path}; not starting a second one`,
      { cause },
    );
    this.serverName = name;
    this.path = path;
  }
}

/** The supervisor gave up on a server (exit status in `stopOnExitCodes`, `maxRestarts`, a veto, a hook). */
export class SupervisorGaveUpError extends SocketError {
  declare readonly code: 'SOCKET_GAVE_UP';
  /** The plugin server's name. */
  readonly serverName: string;
  /** Why: `exit-code`, `clean-exit`, `max-restarts`, `vetoed`, `on-exit`, `spawn-failed`. */
  readonly reason: string;
  /** The last exit status, if the process exited. */
  readonly exitCode: number | null;

  /**
   * @param name - the server name.
   * @param reason - why.
   * @param exitCode - the last exit status.
   * @param detail - a sentence for the message.
   */
  constructor(name: string, reason: string, exitCode: number | null, detail: string) {
    super('SOCKET_GAVE_UP', `pluginserver '${name}' not respawned (${reason}): ${detail}`);
    this.serverName = name;
    this.reason = reason;
    this.exitCode = exitCode;
  }
}

/** The server did not accept connections on its socket within `readyTimeout`. It keeps running. */
export class SupervisorReadyTimeoutError extends SocketError {
  declare readonly code: 'SOCKET_READY_TIMEOUT';
  /** The plugin server's name. */
  readonly serverName: string;

  /** @param name - the server name. @param path - the socket. @param timeout - the timeout, ms. */
  constructor(name: string, path: string, timeout: number) {
    super(
      'SOCKET_READY_TIMEOUT',
      `pluginserver '${name}' did not accept connections on ${path} within ${timeout} ms`,
    );
    this.serverName = name;
  }
}

/** `stop()` was called before the server became ready; `start()` rejects with this. */
export class SupervisorStoppedError extends SocketError {
  declare readonly code: 'SOCKET_SUPERVISOR_STOPPED';
  /** @param name - the server name. */
  constructor(name: string) {
    super('SOCKET_SUPERVISOR_STOPPED', `pluginserver '${name}' was stopped before it became ready`);
  }
}
