import type { LogFields, Logger, LogLevel } from '../../src/logger.js';

/** One call a {@link recordingLogger} received. */
export interface LoggedEntry {
  level: LogLevel;
  message: string;
  fields: Record<string, unknown>;
}

/** A logger with every level that hands each call to `sink` as a {@link LoggedEntry}. */
export function recordingLogger(sink: (entry: LoggedEntry) => void): Required<Logger> {
  const at =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}): void => {
      sink({ level, message, fields: { ...fields } });
    };
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
