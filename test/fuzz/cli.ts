/**
 * Fuzz target of the CLI's `decode` command: arbitrary bytes (or hex text) on stdin. It must print one JSON line
 * per message and exit 0, or fail with the CLI's typed `CommandError` (exit 1, one message, no stack trace);
 * any other error would reach the user as a stack trace or as an unexplained message.
 */
import { Readable } from 'node:stream';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { decodeCommand } from '../../src/cli/decode.js';
import { CommandError } from '../../src/cli/io.js';
import { type FuzzTarget, FuzzViolation } from './harness.js';
import { byteStream, envelope, MiB } from './inputs.js';

/** The bytes as the hex text `decode --hex` reads: spaces, newlines and `0x` prefixes thrown in. */
function asHexText(chunks: readonly Uint8Array[], style: number): string[] {
  return chunks.map((chunk) => {
    const digits = Buffer.from(chunk).toString('hex');
    if (style === 0) return digits;
    if (style === 1) return (digits.match(/.{1,2}/g) ?? []).join(' ');
    return (digits.match(/.{1,8}/g) ?? []).map((word) => `0x${word}\n`).join('');
  });
}

export const cliDecodeTarget: FuzzTarget<{
  chunks: Uint8Array[];
  hex: boolean;
  style: number;
  junk: string;
  maxFrameBytes: number | undefined;
}> = {
  name: 'cli-decode',
  description: '`pluginwire decode [--hex]` on chunked msgpack-RPC streams, mutations, bombs, bad hex',
  arbitrary: fc.record({
    chunks: fc.oneof(
      { weight: 4, arbitrary: byteStream(envelope) },
      // A stream of valid messages only, so decoding reaches the end and exits 0 too.
      {
        weight: 1,
        arbitrary: fc
          .array(envelope, { minLength: 1, maxLength: 4 })
          .map((values) => values.map((v) => encode(v))),
      },
    ),
    hex: fc.boolean(),
    style: fc.nat({ max: 2 }),
    junk: fc.oneof({ weight: 6, arbitrary: fc.constant('') }, fc.constantFrom('g', '0', '0x', 'é', ' \n')),
    maxFrameBytes: fc.option(fc.constantFrom(1, 8, 64, 1024), { nil: undefined }),
  }),
  timeBound: 2_000,
  heapBound: 32 * MiB,
  async run({ chunks, hex, style, junk, maxFrameBytes }) {
    const input: (string | Uint8Array)[] = hex ? asHexText(chunks, style) : chunks;
    if (junk !== '') input.push(hex ? junk : Buffer.from(junk));
    let stdout = '';
    let stderr = '';
    const io = {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      stdin: Readable.from(input, { objectMode: true }),
      progress: false,
      env: {},
    };
    const args = [
      ...(hex ? ['--hex'] : []),
      ...(maxFrameBytes === undefined ? [] : ['--max-frame-bytes', String(maxFrameBytes)]),
    ];
    try {
      const status = await decodeCommand.run(args, io);
      if (status !== 0) throw new FuzzViolation(`decode returned ${status} without an error`);
    } catch (error) {
      if (error instanceof FuzzViolation) throw error;
      if (!(error instanceof CommandError)) {
        const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        throw new FuzzViolation(`decode failed with ${text}, not a CommandError`, { cause: error });
      }
    }
    if (stderr !== '') throw new FuzzViolation(`decode wrote to stderr: ${stderr}`);
    for (const line of stdout.split('\n').slice(0, -1)) {
      try {
        JSON.parse(line);
      } catch {
        throw new FuzzViolation(`decode printed a line that is not JSON: ${line}`);
      }
    }
    if (stdout !== '' && !stdout.endsWith('\n')) throw new FuzzViolation('decode output does not end a line');
  },
};
