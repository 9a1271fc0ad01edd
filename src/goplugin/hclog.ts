/**
 * An hclog-compatible JSON logger: the stderr format go-plugin hosts parse into levelled log lines
 * (`hashicorp/go-plugin: client.go`, `logStderr`; `log_entry.go`).
 */
import { writeSync } from 'node:fs';
import { LOG_LEVEL_RANK, type LogFields, type Logger, type LogLevel } from '../logger.js';

/** Options of {@link createHclogLogger}. */
export interface HclogLoggerOptions {
  /** `@module` of every entry (hclog's logger name); omitted when empty. */
  name?: string;
  /** Entries below this level are dropped. Default `trace` (as a Go plugin's internal logger). */
  level?: LogLevel;
  /**
   * Where lines go. Default: written synchronously to file descriptor 2 (the real stderr, bypassing any
   * `process.stderr.write` interception), so no line is lost when the process exits right after.
   */
  write?: (line: string) => void;
  /** Clock, for tests. Default: the wall clock with microsecond resolution. */
  now?: () => HclogClock;
}

/** A reading of the clock for {@link HclogLoggerOptions.now}. */
export interface HclogClock {
  /** Milliseconds since the Unix epoch. */
  epochMs: number;
  /** Microseconds within that millisecond, 0..999: the last three of the timestamp's six fractional digits. */
  micros: number;
}

const LEVELS = LOG_LEVEL_RANK;

/**
 * Formats a timestamp the way Go hosts require: `YYYY-MM-DDTHH:MM:SS.ffffffZ`, exactly six fractional digits and
 * an upper-case `Z` (Go layout `2006-01-02T15:04:05.000000Z07:00`). JavaScript's `toISOString()` has three
 * digits, which a Go host rejects (it then logs the whole line as text at DEBUG).
 *
 * @param epochMs - milliseconds since the epoch (an integer).
 * @param micros - the microseconds within that millisecond, 0–999.
 * @returns the timestamp text.
 */
export function formatHclogTimestamp(epochMs: number, micros = 0): string {
  const iso = new Date(epochMs).toISOString(); // …THH:MM:SS.mmmZ
  return `${iso.slice(0, 23)}${String(Math.trunc(micros)).padStart(3, '0')}Z`;
}

function wallClock(): HclogClock {
  const microsTotal = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return { epochMs: Math.floor(microsTotal / 1000), micros: microsTotal % 1000 };
}

/**
 * Writes a string to a file descriptor synchronously, retrying while the descriptor reports `EAGAIN` (Node sets
 * pipes it owns to non-blocking mode). Errors other than `EAGAIN` (a closed pipe) are swallowed: logging must
 * never take the plugin down.
 *
 * @param fd - the file descriptor (1 or 2).
 * @param text - what to write.
 */
export function writeFully(fd: number, text: string | Uint8Array): void {
  let bytes =
    typeof text === 'string' ? Buffer.from(text) : Buffer.from(text.buffer, text.byteOffset, text.length);
  while (bytes.length > 0) {
    try {
      const written = writeSync(fd, bytes);
      bytes = bytes.subarray(written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
  }
}

function jsonValue(value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  return value;
}

function encodeEntry(entry: Record<string, unknown>): string {
  try {
    return JSON.stringify(entry, (_key, value: unknown) => jsonValue(value));
  } catch {
    // Circular structures: fall back to plain strings for every field.
    const flat: Record<string, string> = {};
    for (const [key, value] of Object.entries(entry)) flat[key] = String(value);
    return JSON.stringify(flat);
  }
}

/**
 * Creates an hclog-compatible JSON logger. Each entry is one line:
 * `{"@level":"info","@message":"…","@module":"…","@timestamp":"2026-11-22T09:11:09.326383Z", …fields}`.
 * `@level`, `@message` and `@timestamp` are always strings: a Go host type-asserts them and would panic on
 * anything else. Fields cannot override the `@` keys; errors are logged as their message, bigints as strings.
 *
 * @param options - name, minimum level, sink and clock.
 * @returns the logger.
 * @example
 * ```ts
 * const log = createHclogLogger({ name: 'kv' });
 * log.info('stored', { key: 'hello' });
 * // {"@level":"info","@message":"stored","@module":"kv","@timestamp":"…","key":"hello"}
 * ```
 */
export function createHclogLogger(options: HclogLoggerOptions = {}): Required<Logger> {
  const minimum = LEVELS[options.level ?? 'trace'];
  const write = options.write ?? ((line: string) => writeFully(2, line));
  const now = options.now ?? wallClock;
  const log = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVELS[level] < minimum) return;
    const { epochMs, micros } = now();
    const entry: Record<string, unknown> = {};
    if (fields !== undefined) {
      for (const [key, value] of Object.entries(fields)) if (!key.startsWith('@')) entry[key] = value;
    }
    const head: Record<string, unknown> = { '@level': level, '@message': String(message) };
    if (options.name) head['@module'] = options.name;
    head['@timestamp'] = formatHclogTimestamp(epochMs, micros);
    write(`${encodeEntry({ ...head, ...entry })}\n`);
  };
  return {
    trace: (message, fields) => log('trace', message, fields),
    debug: (message, fields) => log('debug', message, fields),
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
  };
}
