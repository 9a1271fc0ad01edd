/**
 * Splits a byte stream into lines the way Kong logs plugin-server output (`Kong/kong:
 * kong/runloop/plugin_servers/process.lua`: every line, empty ones skipped, a final unterminated line still
 * logged), plus a cap: a line longer than `maxLineBytes` is emitted in pieces marked `continued`.
 */
export class KongOutputSplitter {
  readonly #maxLineBytes: number;
  readonly #emit: (line: string, continued: boolean) => void;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #continued = false;

  /**
   * @param maxLineBytes - longest line emitted in one piece, bytes.
   * @param emit - receives each line (without the newline and a trailing `\r`); `continued` is true for the
   *   pieces after the first of a split line.
   */
  constructor(maxLineBytes: number, emit: (line: string, continued: boolean) => void) {
    this.#maxLineBytes = Math.max(1, maxLineBytes);
    this.#emit = emit;
  }

  /** Feeds a chunk. */
  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      let piece = chunk.subarray(start, end);
      // Emit full-size pieces of an over-long line as soon as they are complete: memory stays bounded.
      while (this.#pendingBytes + piece.length > this.#maxLineBytes) {
        const take = this.#maxLineBytes - this.#pendingBytes;
        this.#pending.push(piece.subarray(0, take));
        this.#pendingBytes += take;
        piece = piece.subarray(take);
        this.#flush(false);
        this.#continued = true;
      }
      if (piece.length > 0) {
        this.#pending.push(piece);
        this.#pendingBytes += piece.length;
      }
      if (newline === -1) return;
      this.#flush(true);
      this.#continued = false;
      start = newline + 1;
    }
  }

  /** Emits a final line that had no newline (at EOF). */
  end(): void {
    this.#flush(true);
    this.#continued = false;
  }

  #flush(lineEnded: boolean): void {
    if (this.#pendingBytes === 0) {
      this.#pending = [];
      return;
    }
    let text = Buffer.concat(this.#pending, this.#pendingBytes).toString('utf8');
    this.#pending = [];
    this.#pendingBytes = 0;
    if (lineEnded && text.endsWith('\r')) text = text.slice(0, -1);
    if (text.length === 0) return;
    this.#emit(text, this.#continued);
  }
}
