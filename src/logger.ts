/**
 * The one logger shape every pluginwire module takes.
 *
 * @module
 */

/** Log levels, lowest first (hclog's and most Node loggers' names). */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/**
 * Structured context of a log entry, with camelCase keys (`plugin`, `phase`, `instanceId`, `server`, `pid`,
 * `path`, …); a caught error goes in `error` as the Error object.
 */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Where pluginwire logs. Every method is optional: a missing one drops that level. `console` fits, so does
 * `{ warn: console.warn, error: console.error }`; pino or winston need a two-line adapter. A method that throws is
 * caught and ignored: logging never breaks the library.
 *
 * @example
 * ```ts
 * const logger: Logger = {
 *   info: (message, fields) => console.log(message, fields ?? ''),
 *   error: (message, fields) => console.error(message, fields ?? ''),
 * };
 * ```
 */
export interface Logger {
  /** Wire-level detail. */
  trace?(message: string, fields?: LogFields): void;
  /** Probes, retries and other details nobody needs in production. */
  debug?(message: string, fields?: LogFields): void;
  /** Normal operation: a process started or stopped, an output line of a child. */
  info?(message: string, fields?: LogFields): void;
  /** Something is wrong but handled. */
  warn?(message: string, fields?: LogFields): void;
  /** Something is wrong and not recovered. */
  error?(message: string, fields?: LogFields): void;
}

/** Numeric order of the levels, lowest first. @internal */
export const LOG_LEVEL_RANK: Readonly<Record<LogLevel, number>> = {
  trace: 0,
  debug: 1,
  info: 2,
  warn: 3,
  error: 4,
};

/** The levels, lowest first. @internal */
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

/**
 * Logs through an optional logger at a level, if it has that method; what the logger throws is swallowed.
 *
 * @internal
 */
export function log(logger: Logger | undefined, level: LogLevel, message: string, fields?: LogFields): void {
  const method = logger?.[level];
  if (method === undefined) return;
  try {
    if (fields === undefined) method.call(logger, message);
    else method.call(logger, message, fields);
  } catch {
    // A throwing logger must not break the caller (a stream handler, a kill sequence).
  }
}

/**
 * A logger with every method, each safe to call: missing levels and levels below `minimum` are dropped.
 *
 * @internal
 */
export function completeLogger(logger: Logger | undefined, minimum: LogLevel = 'trace'): Required<Logger> {
  const rank = LOG_LEVEL_RANK[minimum];
  const at =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      if (LOG_LEVEL_RANK[level] >= rank) log(logger, level, message, fields);
    };
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
