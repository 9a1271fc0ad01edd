/**
 * Splits a byte stream into lines the way Go's `bufio.Reader.ReadLine` does with a fixed buffer: lines end at
 * `\n`, a `\r` right before it is dropped, and a line longer than the buffer comes out in buffer-sized pieces.
 */

/** One line, or one piece of a line longer than the limit. */
export interface SplitLine {
  /** The text, decoded as UTF-8, without the line ending. */
  text: string;
  /** Byte length of the text as read. */
  bytes: number;
  /** Whether this is a piece of an over-long line rather than a whole line. */
  piece: boolean;
}

/** Incremental line splitter; see the file comment. Not exported from the package. */
export class StderrLineSplitter {
  readonly #maxLineBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  // A line that overflowed continues: its later pieces (and its end) are pieces too, as in go-plugin's logStderr.
  #continuation = false;

  /** @param maxLineBytes - the buffer size; Go's default for plugin stderr is 64 KiB. */
  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /**
   * Consumes a chunk.
   *
   * @param chunk - bytes as read.
   * @returns the lines (and pieces) completed by it.
   */
  push(chunk: Buffer): SplitLine[] {
    const out: SplitLine[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      const room = this.#maxLineBytes - this.#pendingBytes;
      if (end - start > room) {
        // The buffer fills before the line ends: emit it as a piece and continue with the rest.
        this.#append(chunk.subarray(start, start + room));
        out.push(this.#take(true, false));
        this.#continuation = true;
        start += room;
        continue;
      }
      this.#append(chunk.subarray(start, end));
      if (newline === -1) break;
      out.push(this.#take(this.#continuation, true));
      this.#continuation = false;
      start = newline + 1;
    }
    return out;
  }

  /**
   * Ends the stream.
   *
   * @returns the final unterminated line, if any bytes were left (Go's ReadLine returns it too).
   */
  end(): SplitLine | undefined {
    if (this.#pendingBytes === 0) return undefined;
    const last = this.#take(this.#continuation, true);
    this.#continuation = false;
    return last;
  }

  #append(part: Buffer): void {
    if (part.length === 0) return;
    this.#pending.push(part);
    this.#pendingBytes += part.length;
  }

  #take(piece: boolean, lineEnd: boolean): SplitLine {
    let bytes =
      this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    if (lineEnd && bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, -1);
    return { text: bytes.toString('utf8'), bytes: bytes.length, piece };
  }
}
