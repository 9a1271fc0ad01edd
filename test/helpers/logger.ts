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

/** A log call with its fields lifted beside `level` and `message` (`entry.plugin`, `entry.error`, …). */
export type FlatLogEntry = { level: LogLevel; message: string } & Record<string, unknown>;

/** Like {@link recordingLogger}, with the fields lifted to the top of each entry. */
export function flatRecordingLogger(sink: (entry: FlatLogEntry) => void): Required<Logger> {
  return recordingLogger(({ level, message, fields }) => sink({ ...fields, level, message }));
}
