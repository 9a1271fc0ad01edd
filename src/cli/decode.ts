/** `pluginwire decode [--hex] < capture`: a byte stream of msgpack-RPC messages, one JSON line per message. */
import {
  FrameDecoder,
  type Message,
  MessageCodec,
  ProtocolError,
  parseMessage,
} from '../msgpack-rpc/index.js';
import { type CliIo, type Command, CommandError, describeError, parseCommandArgs, UsageError } from './io.js';

const HELP = `Usage: pluginwire decode [--hex] [--max-frame-bytes N] < capture

Reads a byte stream of msgpack-RPC messages from stdin (a socket capture, e.g. from
socat -x or strace, or a file written by a trace hook) and prints one JSON line per
message: its stream offset, kind, msgid, method and params, or error and result.

JSON has no bytes or 64-bit integers, so bin values print as {"$bin":"<hex>"}, integers
beyond 2^53 as {"$int":"<decimal>"}, ext values as {"$ext":<type>,"data":"<hex>"}.

A value that is valid msgpack but not a msgpack-RPC message prints as
{"offset":…,"invalid":"<reason>","value":…} and decoding goes on (the stream is still
in step); bytes that are not msgpack end the stream with {"offset":…,"error":…}.

Options:
  --hex                stdin is hex text (whitespace, newlines and 0x prefixes ignored)
  --max-frame-bytes N  largest message accepted (default 16 MiB)
  -h, --help           this text

Exit status: 0 every message decoded, 1 some input was not valid msgpack-RPC, 2 usage error.
`;

const HEX_DIGITS = /^[0-9a-fA-F]*$/;

/** Turns hex text into bytes across chunk boundaries (an odd digit is carried to the next chunk). */
export class HexReader {
  private carry = '';
  private offset = 0;

  /** Bytes of this chunk of text. @throws CommandError on a character that is not hex or whitespace. */
  push(text: string): Uint8Array {
    const cleaned = text.replace(/0x/gi, '').replace(/\s+/g, '');
    if (!HEX_DIGITS.test(cleaned)) {
      const bad = cleaned.match(/[^0-9a-fA-F]/)?.[0] ?? '?';
      throw new CommandError(`--hex input contains ${JSON.stringify(bad)}, which is not a hex digit`);
    }
    const digits = this.carry + cleaned;
    const even = digits.length - (digits.length % 2);
    this.carry = digits.slice(even);
    this.offset += even / 2;
    return Buffer.from(digits.slice(0, even), 'hex');
  }

  /** Ends the text. @throws CommandError when an odd digit is left. */
  end(): void {
    if (this.carry !== '') {
      throw new CommandError(`--hex input has an odd number of digits (a lone "${this.carry}" at the end)`);
    }
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** JSON text for a decoded msgpack value, with bytes, bigints and ext values made visible. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, converted: unknown) {
    // JSON.stringify calls Date#toJSON before the replacer: look at the original value.
    const item = this[key] ?? converted;
    if (typeof item === 'bigint') return { $int: item.toString() };
    if (item instanceof Uint8Array) return { $bin: hex(item) };
    if (item instanceof Date) return { $timestamp: item.toISOString() };
    if (item instanceof Map) return Object.fromEntries(item);
    if (item !== null && typeof item === 'object' && 'type' in item && 'data' in item) {
      const ext = item as { type: unknown; data: unknown };
      if (typeof ext.type === 'number' && ext.data instanceof Uint8Array) {
        return { $ext: ext.type, data: hex(ext.data) };
      }
    }
    if (item === undefined) return null;
    return item;
  });
}

function messageRecord(offset: number, message: Message): Record<string, unknown> {
  switch (message.kind) {
    case 'request':
      return {
        offset,
        kind: 'request',
        msgid: message.msgid,
        method: message.method,
        params: message.params,
      };
    case 'response':
      return { offset, kind: 'response', msgid: message.msgid, error: message.error, result: message.result };
    case 'notification':
      return { offset, kind: 'notification', method: message.method, params: message.params };
  }
}

/** Decodes every complete frame buffered in `frames`; returns how many were not valid messages. */
function drain(frames: FrameDecoder, codec: MessageCodec, io: CliIo): number {
  let invalid = 0;
  for (let frame = frames.next(); frame !== undefined; frame = frames.next()) {
    let value: unknown;
    try {
      value = codec.decode(frame);
    } catch (error) {
      invalid++;
      io.stdout.write(
        `${toJson({ offset: frame.offset, invalid: describeError(error), bytes: hex(frame.bytes) })}\n`,
      );
      continue;
    }
    try {
      // go-pluginserver sends `[2, "serverPid", <pid>]` with bare params: show it as the peers read it.
      io.stdout.write(
        `${toJson(messageRecord(frame.offset, parseMessage(value, { nonArrayParams: 'wrap' })))}\n`,
      );
    } catch (error) {
      invalid++;
      const reason = error instanceof ProtocolError ? error.reason : 'invalid';
      io.stdout.write(
        `${toJson({ offset: frame.offset, invalid: reason, message: describeError(error), value })}\n`,
      );
    }
  }
  return invalid;
}

/** The `decode` command. */
export const decodeCommand: Command = {
  name: 'decode',
  summary: 'decode a msgpack-RPC byte stream from stdin into one JSON line per message',
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs({
      args,
      allowPositionals: true,
      options: { hex: { type: 'boolean' }, 'max-frame-bytes': { type: 'string' } },
    });
    if (positionals.length > 0) {
      throw new UsageError(
        `decode reads stdin and takes no arguments (got ${JSON.stringify(positionals[0])})`,
      );
    }
    const maxText = values['max-frame-bytes'];
    if (maxText !== undefined && (!/^\d+$/.test(maxText) || Number(maxText) <= 0)) {
      throw new UsageError(`--max-frame-bytes takes a positive integer (got ${JSON.stringify(maxText)})`);
    }
    const limits = maxText === undefined ? {} : { maxFrameBytes: Number(maxText) };
    const frames = new FrameDecoder(limits);
    const codec = new MessageCodec(limits);
    const hexReader = values.hex === true ? new HexReader() : undefined;
    let invalid = 0;
    try {
      for await (const chunk of io.stdin) {
        const bytes =
          hexReader === undefined
            ? typeof chunk === 'string'
              ? Buffer.from(chunk)
              : (chunk as Uint8Array)
            : hexReader.push(
                typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('latin1'),
              );
        frames.push(bytes);
        invalid += drain(frames, codec, io);
      }
      hexReader?.end();
      frames.end();
    } catch (error) {
      if (error instanceof CommandError) throw error;
      const offset = error instanceof ProtocolError ? error.offset : undefined;
      io.stdout.write(`${toJson({ offset, error: describeError(error) })}\n`);
      const what =
        error instanceof ProtocolError && error.reason === 'truncated'
          ? 'ends inside a message'
          : 'is not msgpack';
      throw new CommandError(`the stream ${what} at offset ${offset ?? '?'}: ${describeError(error)}`);
    }
    if (invalid > 0) throw new CommandError(`${invalid} value(s) were not valid msgpack-RPC messages`);
    return 0;
  },
};
