/**
 * Host side of `plugin.GRPCStdio`: the plugin's stdout/stderr written after its handshake, streamed back and
 * forwarded to the user's sinks (`hashicorp/go-plugin: grpc_stdio.go`, `client.go` `SyncStdout`/`SyncStderr`).
 */
import { type ClientReadableStream, status } from '@grpc/grpc-js';
import type { Logger } from '../../logger.js';
import { safeLog } from './process.js';

/** Where forwarded plugin output goes: a writable stream (`process.stdout`) or a function. */
export type OutputSink = NodeJS.WritableStream | ((data: Buffer) => void);

/** `StdioData.Channel` values (`grpc_stdio.proto`). */
const STDOUT = 1;
const STDERR = 2;

interface StdioData {
  channel: number;
  data: Buffer;
}

function write(sink: OutputSink | undefined, data: Buffer): void {
  if (sink === undefined) return;
  try {
    if (typeof sink === 'function') sink(data);
    else sink.write(data);
  } catch {
    // A failing sink loses that chunk; it must not end the stream.
  }
}

/**
 * Forwards a `StreamStdio` call to the sinks until it ends. UNIMPLEMENTED (plugins on go-plugin < 1.1, such as
 * Debian's 1.0.1), UNAVAILABLE, CANCELLED and end of stream are normal ends (`hashicorp/go-plugin#139`).
 *
 * @returns a promise that resolves when the stream has ended (it never rejects).
 */
export function forwardStdio(
  call: ClientReadableStream<StdioData>,
  sinks: { stdout: OutputSink | undefined; stderr: OutputSink | undefined },
  logger: Logger | undefined,
  name: string,
): Promise<void> {
  return new Promise((resolve) => {
    const log = (level: 'debug' | 'warn', message: string, fields: Record<string, unknown> = {}): void =>
      safeLog(logger, { level, message, timestamp: new Date(), fields, name, origin: 'host' });
    call.on('data', (message: StdioData) => {
      if (message.channel === STDOUT) write(sinks.stdout, message.data);
      else if (message.channel === STDERR) write(sinks.stderr, message.data);
      else log('warn', 'unknown channel, dropping', { channel: message.channel });
    });
    call.on('error', (error: Error & { code?: number }) => {
      const quiet = [status.UNIMPLEMENTED, status.UNAVAILABLE, status.CANCELLED];
      if (error.code !== undefined && quiet.includes(error.code))
        log('debug', 'received EOF, stopping recv loop');
      else log('warn', 'error receiving data from plugin stdio', { error: error.message });
    });
    call.on('close', () => resolve());
    call.on('end', () => resolve());
  });
}
