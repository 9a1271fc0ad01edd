import { handshakeError } from './errors.js';
import { DEFAULT_MAX_LINE_BYTES } from './handshake.js';

/**
 * Finds the first line of a plugin's stdout the way Go's `bufio.Scanner` does: the line ends at the first `\n`,
 * one `\r` before it is dropped, an unterminated last line counts at end of stream, and a line that (with its
 * `\n`) does not fit in `maxLineBytes` is an error. Feed it chunks as they arrive; it never re-concatenates more
 * than the first line.
 *
 * @example
 * ```ts
 * const reader = new FirstLineReader();
 * child.stdout.on('data', (chunk) => {
 *   const line = reader.push(chunk);
 *   if (line !== undefined) handshake = parseHandshake(line);
 * });
 * child.stdout.on('end', () => { if (!reader.done) handshake = parseHandshake(reader.end()); });
 * ```
 */
export class FirstLineReader {
  readonly #maxLineBytes: number;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  #line: string | undefined;

  /** @param options - `maxLineBytes`, default 65536 (Go's `bufio.MaxScanTokenSize`). */
  constructor(options: { maxLineBytes?: number } = {}) {
    this.#maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  /** Whether the first line has been found. */
  get done(): boolean {
    return this.#line !== undefined;
  }

  /**
   * Adds stdout bytes.
   *
   * @param chunk - the next bytes (strings are taken as UTF-8).
   * @returns the first line once it is complete (on this call and every later one), else `undefined`.
   * @throws a `HandshakeError` `GOPLUGIN_LINE_TOO_LONG` once `maxLineBytes` bytes arrived without a `\n`.
   */
  push(chunk: Uint8Array | string): string | undefined {
    if (this.#line !== undefined) return this.#line;
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk)
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const newline = bytes.indexOf(0x0a);
    if (newline !== -1 && this.#buffered + newline < this.#maxLineBytes) {
      this.#chunks.push(bytes.subarray(0, newline));
      return this.#finish();
    }
    this.#chunks.push(bytes);
    this.#buffered += bytes.length;
    if (this.#buffered >= this.#maxLineBytes) {
      const head = Buffer.concat(this.#chunks).subarray(0, 200).toString('utf8');
      this.#chunks.length = 0;
      throw handshakeError(
        'GOPLUGIN_LINE_TOO_LONG',
        `the plugin's first stdout line is longer than ${this.#maxLineBytes - 1} bytes`,
        { line: head },
      );
    }
    return undefined;
  }

  /**
   * Signals end of stdout.
   *
   * @returns the first line: the complete one if found, else the unterminated remainder.
   * @throws a `HandshakeError` `GOPLUGIN_NO_HANDSHAKE` when stdout closed without a single byte.
   */
  end(): string {
    if (this.#line !== undefined) return this.#line;
    if (this.#buffered === 0) {
      throw handshakeError('GOPLUGIN_NO_HANDSHAKE', "failed to read any lines from plugin's stdout");
    }
    return this.#finish();
  }

  #finish(): string {
    let line = Buffer.concat(this.#chunks).toString('utf8');
    this.#chunks.length = 0;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    this.#line = line;
    return line;
  }
}

/**
 * Parses a complete stdout capture (everything the plugin printed until it closed stdout) into its first line.
 *
 * @param stdout - the captured bytes or text.
 * @param options - `maxLineBytes`, default 65536.
 * @returns the first line, without its terminator.
 * @throws a `HandshakeError` `GOPLUGIN_NO_HANDSHAKE` for empty output, `GOPLUGIN_LINE_TOO_LONG`.
 */
export function firstStdoutLine(
  stdout: Uint8Array | string,
  options: { maxLineBytes?: number } = {},
): string {
  const reader = new FirstLineReader(options);
  return reader.push(stdout) ?? reader.end();
}
