/**
 * Turns the lines a go-plugin plugin writes to its real stderr into log entries, the way a Go host does
 * (`hashicorp/go-plugin: client.go` `logStderr`, `log_entry.go` `parseJSON`), without ever throwing.
 */
import type { LogLevel } from '../../logger.js';

const LEVELS: ReadonlySet<string> = new Set(['trace', 'debug', 'info', 'warn', 'error']);

/**
 * One log entry of a hosted plugin, or of the host runtime about that plugin.
 *
 * Entries parsed from hclog JSON carry the plugin's own level, message, timestamp and fields; any other stderr
 * line arrives whole as `message` (at the level its `[LEVEL]` tag names, ERROR after a Go panic started, DEBUG
 * otherwise), with `raw` set to the line.
 */
export interface PluginLogEntry {
  /** The level. */
  level: LogLevel;
  /** The message: hclog's `@message`, or the whole raw line for text lines. */
  message: string;
  /** hclog's `@timestamp`, when the line had one; Go shows a zero time where this is `undefined`. */
  timestamp: Date | undefined;
  /** Every other key of an hclog JSON line (`@module` and `@caller` included); empty for text lines. */
  fields: Record<string, unknown>;
  /** Logger name: the basename of the plugin command (as Go's `logger.Named(filepath.Base(cmd))`). */
  name: string;
  /** `plugin` for lines the plugin wrote to stderr, `host` for the host runtime's own diagnostics. */
  origin: 'plugin' | 'host';
  /** The stderr line exactly as read (without its line ending), for plugin entries. */
  raw?: string;
  /**
   * Set when the line was a JSON object whose `@message`, `@level` or `@timestamp` is not a string. A Go host
   * panics on such a line (spec §12 hazard 2); this host logs it as text instead and flags it here.
   */
  malformed?: true;
}

/** What {@link HclogLineParser.parse} makes of one line: a {@link PluginLogEntry} without `name`/`origin`. */
export type ParsedLogLine = Omit<PluginLogEntry, 'name' | 'origin'>;

/**
 * Go layout `2006-01-02T15:04:05.000000Z07:00` (hclog's `TimeFormat`): exactly six fractional digits, then `Z`
 * or a `±hh:mm` offset. JavaScript's `toISOString()` (3 digits) does not match, and Go rejects it.
 */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})(?:Z|([+-])(\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses an hclog timestamp with Go's `time.Parse` rules for hclog's layout; `undefined` when Go would fail.
 *
 * @param text - e.g. `2026-11-22T09:11:09.326383Z`.
 */
export function parseHclogTimestamp(text: string): Date | undefined {
  const match = TIMESTAMP.exec(text);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const micros = Number(match[7]);
  // Go's range checks (`time/format.go`): month 1-12, day within the month, hour < 24, minute and second < 60,
  // offset hour <= 24 and offset minute < 60.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (match[8] !== undefined) {
    const offsetHour = Number(match[9]);
    const offsetMinute = Number(match[10]);
    if (offsetHour > 24 || offsetMinute > 59) return undefined;
    offsetMinutes = (offsetHour * 60 + offsetMinute) * (match[8] === '-' ? -1 : 1);
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, Math.floor(micros / 1000));
  // Date.UTC maps years 0-99 to 1900-1999; Go does not.
  const date = new Date(utc - offsetMinutes * 60_000);
  if (year < 100) date.setUTCFullYear(date.getUTCFullYear() - 1900);
  return date;
}

/** The `[LEVEL]` tags Go recognises at column 0 of a text line (case-sensitive). */
const TEXT_TAGS: ReadonlyArray<readonly [string, LogLevel]> = [
  ['[TRACE]', 'trace'],
  ['[DEBUG]', 'debug'],
  ['[INFO]', 'info'],
  ['[WARN]', 'warn'],
  ['[ERROR]', 'error'],
];

/**
 * Parses a plugin's stderr, one line at a time, as a Go host does. Stateful: after a line that starts with
 * `panic: ` or `fatal error: ` every later untagged text line is ERROR (go-plugin v1.7, `hashicorp/go-plugin#292`),
 * so a Go panic's stack trace is logged at ERROR as a whole.
 *
 * Never throws, whatever the line contains.
 *
 * @example
 * ```ts
 * const parser = new HclogLineParser();
 * parser.parse('{"@level":"info","@message":"m","@timestamp":"2026-11-22T09:11:09.326383Z","k":1}');
 * // { level: 'info', message: 'm', timestamp: Date, fields: { k: 1 }, raw: '…' }
 * parser.parse('[WARN] disk low'); // { level: 'warn', message: '[WARN] disk low', … }
 * ```
 */
export class HclogLineParser {
  #panicking = false;

  /** Whether a `panic: ` or `fatal error: ` line has been seen. */
  get panicking(): boolean {
    return this.#panicking;
  }

  /**
   * Parses one line (without its line ending).
   *
   * @param line - the stderr line.
   * @returns the log entry for it.
   */
  parse(line: string): ParsedLogLine {
    let value: unknown;
    let isJson = false;
    try {
      value = JSON.parse(line);
      // Go unmarshals into a map: an object or `null` succeeds, anything else (array, number, string) fails.
      isJson = value === null || (typeof value === 'object' && !Array.isArray(value));
    } catch {
      isJson = false;
    }
    if (!isJson) return this.#text(line);
    const object = (value ?? {}) as Record<string, unknown>;
    const message = object['@message'];
    const level = object['@level'];
    const timestamp = object['@timestamp'];
    const isStringOrAbsent = (field: unknown): boolean => field === undefined || typeof field === 'string';
    if (!isStringOrAbsent(message) || !isStringOrAbsent(level) || !isStringOrAbsent(timestamp)) {
      // A Go host's unchecked type assertion panics here (`log_entry.go`); we log the line as text instead.
      return { ...this.#text(line), malformed: true };
    }
    let parsedTimestamp: Date | undefined;
    if (timestamp !== undefined) {
      parsedTimestamp = parseHclogTimestamp(timestamp as string);
      // Go's parseJSON returns the time.Parse error, so the whole line takes the text path.
      if (parsedTimestamp === undefined) return this.#text(line);
    }
    // hclog.LevelFromString: trimmed and lower-cased; anything unknown is NoLevel, logged verbatim at DEBUG.
    const normalized = ((level as string | undefined) ?? '').trim().toLowerCase();
    if (!LEVELS.has(normalized))
      return { level: 'debug', message: line, timestamp: undefined, fields: {}, raw: line };
    const fields: Record<string, unknown> = {};
    for (const [key, fieldValue] of Object.entries(object)) {
      // defineProperty, not assignment: a plugin's `"__proto__"` field must stay data, not become the prototype.
      if (key !== '@message' && key !== '@level' && key !== '@timestamp')
        Object.defineProperty(fields, key, {
          value: fieldValue,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return {
      level: normalized as LogLevel,
      message: (message as string | undefined) ?? '',
      timestamp: parsedTimestamp,
      fields,
      raw: line,
    };
  }

  /**
   * A piece of a line longer than the stderr buffer: Go logs every piece verbatim at DEBUG, never as JSON.
   *
   * @param piece - the piece.
   * @returns the log entry for it.
   */
  parsePiece(piece: string): ParsedLogLine {
    return { level: 'debug', message: piece, timestamp: undefined, fields: {}, raw: piece };
  }

  #text(line: string): ParsedLogLine {
    let level: LogLevel = 'debug';
    const tag = TEXT_TAGS.find(([prefix]) => line.startsWith(prefix));
    if (tag !== undefined) level = tag[1];
    else if (line.startsWith('panic: ') || line.startsWith('fatal error: ')) {
      this.#panicking = true;
      level = 'error';
    } else if (this.#panicking) level = 'error';
    return { level, message: line, timestamp: undefined, fields: {}, raw: line };
  }
}
