import type { ServerWritableStream } from '@grpc/grpc-js';
import { writeFully } from '../hclog.js';

/** `plugin.StdioData.Channel` values. */
export const STDIO_CHANNEL = { STDOUT: 1, STDERR: 2 } as const;

/** Go copies the plugin's stdout/stderr pipes in reads of at most 1 KiB (`hashicorp/go-plugin: grpc_stdio.go`). */
const CHUNK_BYTES = 1024;

interface StdioData {
  channel: number;
  data: Buffer;
}

type Write = typeof process.stdout.write;

/**
 * Carries what the plugin writes to `process.stdout` / `process.stderr` after the handshake to the host over
 * `plugin.GRPCStdio/StreamStdio`, as a Go plugin does with its replaced `os.Stdout`/`os.Stderr`.
 *
 * Node cannot block writers, so while no stream is open (hosts older than go-plugin 1.1, such as Debian's 1.0.1,
 * never open one) stderr bytes go to the real fd 2 (old hosts show them as log lines), and stdout bytes are kept up
 * to `bufferBytes`, the oldest dropped beyond that and counted in {@link dropped}.
 */
export class StdioCapture {
  readonly #bufferBytes: number;
  readonly #captureStderr: boolean;
  readonly #streams: ServerWritableStream<unknown, StdioData>[] = [];
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #originalStdout: Write | undefined;
  #originalStderr: Write | undefined;
  /** Stdout bytes dropped because no stream was open and the buffer was full. */
  dropped = 0;

  /**
   * @param options - `bufferBytes` (default 64 KiB) of stdout kept while no stream is open; `captureStderr`
   *   (default true) whether `process.stderr.write` is routed too.
   */
  constructor(options: { bufferBytes?: number; captureStderr?: boolean } = {}) {
    this.#bufferBytes = options.bufferBytes ?? 64 * 1024;
    this.#captureStderr = options.captureStderr ?? true;
  }

  /** Replaces `process.stdout.write` (and `process.stderr.write`); call after the handshake is written. */
  start(): void {
    if (this.#originalStdout !== undefined) return;
    this.#originalStdout = process.stdout.write;
    process.stdout.write = this.#interceptor(STDIO_CHANNEL.STDOUT);
    if (this.#captureStderr) {
      this.#originalStderr = process.stderr.write;
      process.stderr.write = this.#interceptor(STDIO_CHANNEL.STDERR);
    }
  }

  /** Restores the original write functions and ends every open stream. */
  stop(): void {
    if (this.#originalStdout !== undefined) process.stdout.write = this.#originalStdout;
    if (this.#originalStderr !== undefined) process.stderr.write = this.#originalStderr;
    this.#originalStdout = undefined;
    this.#originalStderr = undefined;
    for (const stream of this.#streams.splice(0)) stream.end();
  }

  /** Handler of `StreamStdio`: the oldest open stream receives the data; the call ends when cancelled. */
  readonly streamStdio = (call: ServerWritableStream<unknown, StdioData>): void => {
    this.#streams.push(call);
    const remove = () => {
      const index = this.#streams.indexOf(call);
      if (index !== -1) this.#streams.splice(index, 1);
    };
    call.on('cancelled', remove);
    call.on('error', remove);
    call.on('close', remove);
    if (this.#streams[0] === call) this.#flushPending();
  };

  #interceptor(channel: number): Write {
    const capture = this;
    return function write(
      chunk: string | Uint8Array,
      encodingOrCallback?: BufferEncoding | ((error?: Error | null) => void),
      callback?: (error?: Error | null) => void,
    ): boolean {
      const encoding = typeof encodingOrCallback === 'string' ? encodingOrCallback : undefined;
      const done = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : Buffer.from(chunk);
      capture.#route(channel, bytes);
      if (done) process.nextTick(done);
      return true;
    } as Write;
  }

  #route(channel: number, bytes: Buffer): void {
    if (bytes.length === 0) return;
    const stream = this.#streams[0];
    if (stream !== undefined) {
      send(stream, channel, bytes);
    } else if (channel === STDIO_CHANNEL.STDERR) {
      writeFully(2, bytes);
    } else {
      this.#pending.push(bytes);
      this.#pendingBytes += bytes.length;
      while (this.#pendingBytes > this.#bufferBytes && this.#pending.length > 0) {
        const oldest = this.#pending[0] as Buffer;
        const excess = this.#pendingBytes - this.#bufferBytes;
        if (oldest.length <= excess) {
          this.#pending.shift();
          this.#pendingBytes -= oldest.length;
          this.dropped += oldest.length;
        } else {
          this.#pending[0] = oldest.subarray(excess);
          this.#pendingBytes -= excess;
          this.dropped += excess;
        }
      }
    }
  }

  #flushPending(): void {
    const stream = this.#streams[0];
    if (stream === undefined) return;
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    for (const bytes of pending) send(stream, STDIO_CHANNEL.STDOUT, bytes);
  }
}

function send(stream: ServerWritableStream<unknown, StdioData>, channel: number, bytes: Buffer): void {
  for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
    stream.write({ channel, data: bytes.subarray(offset, offset + CHUNK_BYTES) });
  }
}
