/**
 * Where the socket module sends log lines: the library never writes to the console itself. Every method is
 * optional; a missing method drops that level.
 *
 * @example
 * ```ts
 * const logger: SocketLogger = { info: (m) => console.log(m), error: (m) => console.error(m) };
 * ```
 */
export interface SocketLogger {
  /** Probe results, retries and other details nobody needs in production. */
  debug?(message: string): void;
  /** Normal operation, e.g. each output line of a supervised server. */
  info?(message: string): void;
  /** Kong's NOTICE level: process started, exited, stopped. */
  notice?(message: string): void;
  /** Something is wrong but handled. */
  warn?(message: string): void;
  /** Something is wrong and not recovered, e.g. a server that will not be respawned. */
  error?(message: string): void;
}
