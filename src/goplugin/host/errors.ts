/**
 * Errors of the host runtime (launching and talking to go-plugin plugins).
 */
import type { PluginwireErrorOptions } from '../../errors.js';
import { GoPluginError, type HandshakeError, type HandshakeErrorCode } from '../errors.js';

/** How a plugin process ended: exit code, or the signal that killed it. */
export interface PluginExit {
  /** Exit status, or `null` when a signal ended the process. */
  code: number | null;
  /** The signal that ended the process (e.g. `SIGKILL`), or `null`. */
  signal: NodeJS.Signals | null;
}

/** Options of a {@link PluginStartError}. */
export interface PluginStartErrorOptions extends PluginwireErrorOptions {
  /** The raw first stdout line, when one was read (truncated to 200 characters). */
  line?: string;
  /** The last stderr lines of the plugin (up to 20). */
  stderrTail: readonly string[];
  /** How the process ended, when it had ended by the time the error was made. */
  exit?: PluginExit;
}

/** Every code of a {@link PluginStartError}. */
export type PluginStartErrorCode =
  | 'GOPLUGIN_START_TIMEOUT'
  | 'GOPLUGIN_EXITED_BEFORE_HANDSHAKE'
  | 'GOPLUGIN_HANDSHAKE_REJECTED';

/**
 * `startPlugin` could not get a usable handshake from the plugin: the family of {@link PluginStartTimeoutError},
 * {@link PluginExitedError} and {@link PluginHandshakeRejectedError}. The plugin has been killed by the time this
 * is thrown. The message ends with the exit status, the stderr tail and a hint; the same facts are properties.
 *
 * @example
 * ```ts
 * try {
 *   await startPlugin(options);
 * } catch (error) {
 *   if (error instanceof PluginStartError) console.error(error.code, error.exit, error.stderrTail.join('\n'));
 *   throw error;
 * }
 * ```
 */
export class PluginStartError extends GoPluginError {
  declare readonly code: PluginStartErrorCode;
  /** The raw first stdout line, when one was read (truncated to 200 characters). */
  readonly line: string | undefined;
  /** The last stderr lines of the plugin (up to 20). */
  readonly stderrTail: readonly string[];
  /** How the process ended (it always has by the time `startPlugin` rejects; `undefined` only if it would not die). */
  readonly exit: PluginExit | undefined;

  /**
   * @param code - the code of the subclass.
   * @param message - what went wrong; the exit status, stderr tail and hint are appended.
   * @param hint - the hint's subject: this code, or the code of the rejected handshake.
   * @param options - the first line, stderr tail, exit and cause.
   */
  protected constructor(
    code: PluginStartErrorCode,
    message: string,
    hint: PluginStartErrorCode | HandshakeErrorCode,
    options: PluginStartErrorOptions,
  ) {
    super(
      code,
      `${message}${describeExit(options.exit)}${describeTail(options.stderrTail)}${hintFor(hint)}`,
      'cause' in options ? { cause: options.cause } : undefined,
    );
    this.line = options.line;
    this.stderrTail = options.stderrTail;
    this.exit = options.exit;
  }
}

/** `startTimeout` ran out before the plugin printed its handshake. */
export class PluginStartTimeoutError extends PluginStartError {
  declare readonly code: 'GOPLUGIN_START_TIMEOUT';
  /**
   * @param message - what went wrong.
   * @param options - the stderr tail and exit.
   */
  constructor(message: string, options: PluginStartErrorOptions) {
    super('GOPLUGIN_START_TIMEOUT', message, 'GOPLUGIN_START_TIMEOUT', options);
  }
}

/** The plugin process exited by itself before it printed a handshake (or before the host could connect). */
export class PluginExitedError extends PluginStartError {
  declare readonly code: 'GOPLUGIN_EXITED_BEFORE_HANDSHAKE';
  /**
   * @param message - what went wrong.
   * @param options - the stderr tail and exit.
   */
  constructor(message: string, options: PluginStartErrorOptions) {
    super('GOPLUGIN_EXITED_BEFORE_HANDSHAKE', message, 'GOPLUGIN_EXITED_BEFORE_HANDSHAKE', options);
  }
}

/**
 * The plugin's first stdout line was not a handshake the host accepts; `cause` is the {@link HandshakeError}
 * subclass that says why (e.g. `HandshakeTooFewFieldsError` for stray output before the handshake).
 */
export class PluginHandshakeRejectedError extends PluginStartError {
  declare readonly code: 'GOPLUGIN_HANDSHAKE_REJECTED';
  /** Why the handshake was rejected. */
  declare readonly cause: HandshakeError;
  /**
   * @param error - why the handshake was rejected.
   * @param options - the first line, stderr tail and exit.
   */
  constructor(error: HandshakeError, options: Omit<PluginStartErrorOptions, 'cause'>) {
    super('GOPLUGIN_HANDSHAKE_REJECTED', error.message, error.code, { ...options, cause: error });
  }
}

function describeExit(exit: PluginExit | undefined): string {
  if (exit === undefined) return '';
  return exit.signal !== null
    ? ` (plugin killed by ${exit.signal})`
    : ` (plugin exited with status ${exit.code})`;
}

function describeTail(tail: readonly string[]): string {
  if (tail.length === 0) return '\nplugin stderr: (empty)';
  return `\nplugin stderr (last ${tail.length} lines):\n${tail.map((line) => `  ${line}`).join('\n')}`;
}

function hintFor(code: PluginStartErrorCode | HandshakeErrorCode): string {
  // The same diagnostics a Go host's runner adds (`hashicorp/go-plugin: client.go`, `runner.Diagnose`).
  if (code === 'GOPLUGIN_TOO_FEW_FIELDS') {
    return (
      '\nhint: the first stdout line must be the handshake; something printed to stdout before it (a banner, ' +
      'a log line, `npm run` without --silent), or the program is not a go-plugin plugin'
    );
  }
  if (code === 'GOPLUGIN_NO_HANDSHAKE' || code === 'GOPLUGIN_EXITED_BEFORE_HANDSHAKE') {
    return (
      '\nhint: check that the binary is a go-plugin plugin built for this OS and architecture, that its ' +
      'libraries are present, that the magic cookie matches, and read its stderr above'
    );
  }
  if (code === 'GOPLUGIN_UNSUPPORTED_PROTOCOL') {
    return (
      '\nhint: this host speaks gRPC only; netrpc (Go net/rpc + gob over yamux) is Go-only. Rebuild the plugin ' +
      'with a GRPCServer in its ServeConfig'
    );
  }
  if (code === 'GOPLUGIN_START_TIMEOUT') {
    return '\nhint: the plugin never printed its handshake; raise startTimeout if it is just slow to start';
  }
  return '';
}

/** The plugin process could not be spawned at all (`ENOENT`, `EACCES`, …). Code `GOPLUGIN_SPAWN_FAILED`. */
export class SpawnFailedError extends GoPluginError {
  declare readonly code: 'GOPLUGIN_SPAWN_FAILED';
  /** The command that failed to start. */
  readonly command: string;
  /** The system error code, e.g. `ENOENT`. */
  readonly errno: string | undefined;

  /**
   * @param command - the command.
   * @param options - the system error as `cause`.
   */
  constructor(command: string, options: PluginwireErrorOptions & { errno?: string | undefined }) {
    super(
      'GOPLUGIN_SPAWN_FAILED',
      `cannot start plugin ${JSON.stringify(command)}: ${options.errno ?? 'error'}`,
      {
        cause: options.cause,
      },
    );
    this.command = command;
    this.errno = options.errno;
  }
}

/** The options given to `startPlugin`, `reattachPlugin` or `servePlugin` are unusable. */
export class InvalidPluginOptionsError extends GoPluginError {
  declare readonly code: 'GOPLUGIN_INVALID_OPTIONS';
  /** @param message - which option is wrong and why. */
  constructor(message: string) {
    super('GOPLUGIN_INVALID_OPTIONS', message);
  }
}

/**
 * The gRPC connection to the plugin did not become ready (TLS failure, refused connection, nothing listening)
 * within the connect deadline. Code `GOPLUGIN_CONNECT_FAILED`.
 */
export class PluginConnectError extends GoPluginError {
  declare readonly code: 'GOPLUGIN_CONNECT_FAILED';
  /** The gRPC target that was dialled, e.g. `unix:/tmp/plugin123`. */
  readonly target: string;

  /**
   * @param target - the target.
   * @param message - what happened.
   * @param options - the `cause`.
   */
  constructor(target: string, message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_CONNECT_FAILED', `cannot connect to plugin at ${target}: ${message}`, options);
    this.target = target;
  }
}

/** Every code of a {@link ReattachError}. */
export type ReattachErrorCode = 'GOPLUGIN_INVALID_REATTACH_CONFIG' | 'GOPLUGIN_REATTACH_NOT_FOUND';

/** Reattaching failed: the family of {@link InvalidReattachConfigError} and {@link ReattachNotFoundError}. */
export class ReattachError extends GoPluginError {
  declare readonly code: ReattachErrorCode;
  /**
   * @param code - the code of the subclass.
   * @param message - what is wrong.
   * @param options - the `cause`.
   */
  protected constructor(code: ReattachErrorCode, message: string, options?: PluginwireErrorOptions) {
    super(code, message, options);
  }
}

/** A reattach configuration (or `TF_REATTACH_PROVIDERS`) is malformed. */
export class InvalidReattachConfigError extends ReattachError {
  declare readonly code: 'GOPLUGIN_INVALID_REATTACH_CONFIG';
  /**
   * @param message - what is wrong.
   * @param options - the `cause`.
   */
  constructor(message: string, options?: PluginwireErrorOptions) {
    super('GOPLUGIN_INVALID_REATTACH_CONFIG', message, options);
  }
}

/** The process a reattach configuration names does not exist (Go: `reattachment process not found`). */
export class ReattachNotFoundError extends ReattachError {
  declare readonly code: 'GOPLUGIN_REATTACH_NOT_FOUND';
  /** @param message - which process. */
  constructor(message: string) {
    super('GOPLUGIN_REATTACH_NOT_FOUND', message);
  }
}

/** The client was killed or closed and cannot be used any more. Code `GOPLUGIN_CLIENT_CLOSED`. */
export class PluginClientClosedError extends GoPluginError {
  declare readonly code: 'GOPLUGIN_CLIENT_CLOSED';
  /** @param what - the operation that was attempted. */
  constructor(what: string) {
    super('GOPLUGIN_CLIENT_CLOSED', `${what}: the plugin client is closed`);
  }
}

/** `ping()` failed: the plugin's health service answered with an error (or not at all). Code `GOPLUGIN_PING_FAILED`. */
export class PingError extends GoPluginError {
  declare readonly code: 'GOPLUGIN_PING_FAILED';
  /** @param options - the gRPC error as `cause`. */
  constructor(options: PluginwireErrorOptions & { detail: string }) {
    super('GOPLUGIN_PING_FAILED', `plugin health check failed: ${options.detail}`, { cause: options.cause });
  }
}

/** `startPlugin` was cancelled through its `signal`. Code `GOPLUGIN_ABORTED`; `cause` is the abort reason. */
export class PluginAbortedError extends GoPluginError {
  declare readonly code: 'GOPLUGIN_ABORTED';
  /** @param options - the abort reason as `cause`. */
  constructor(options?: PluginwireErrorOptions) {
    super('GOPLUGIN_ABORTED', 'starting the plugin was aborted', options);
  }
}
