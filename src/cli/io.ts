/**
 * What every command gets: its output streams, its input, its environment, and the two error kinds the CLI
 * reports (a usage mistake, exit 2; a failed operation, exit 1).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A place text is written to (`process.stdout`, or a buffer in tests). */
export interface TextSink {
  write(text: string): unknown;
}

/** The environment one command runs in. */
export interface CliIo {
  /** Results: the only thing scripts should parse. */
  stdout: TextSink;
  /** Errors, and progress when {@link CliIo.progress} is on. */
  stderr: TextSink;
  /** Standard input (`decode` reads its capture from it). */
  stdin: NodeJS.ReadableStream;
  /** Whether progress lines go to stderr: only when stderr is a terminal. */
  progress: boolean;
  /** The process environment (kong.conf's `KONG_*` overlay). */
  env: Readonly<Record<string, string | undefined>>;
}

/** Bad command-line input: printed with the command's usage line; exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The operation itself failed (file missing, peer unreachable, …); exit status 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** Writes a progress line to stderr when stderr is a terminal; silent otherwise (pipes, CI, tests). */
export function progress(io: CliIo, text: string): void {
  if (io.progress) io.stderr.write(`… ${text}\n`);
}

/**
 * `parseArgs` in strict mode, with its TypeError (unknown option, missing value) turned into a
 * {@link UsageError} whose message is node's own explanation.
 */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    // Callers never pass `strict`; parseArgs defaults it to true, which is what every command wants.
    return parseArgs(config);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** A message for any thrown value: `CODE: message` for pluginwire errors, the message otherwise. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const prefix = typeof code === 'string' && !error.message.startsWith(code) ? `${code}: ` : '';
    const cause =
      error.cause instanceof Error && !error.message.includes(error.cause.message)
        ? ` (cause: ${error.cause.message})`
        : '';
    return `${prefix}${error.message}${cause}`;
  }
  return String(error);
}

/** One command of the CLI. */
export interface Command {
  /** The name users type. */
  name: string;
  /** One line for `pluginwire --help`. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  /** Runs it; resolves to the exit status. Throws {@link UsageError} or {@link CommandError} on failure. */
  run(args: string[], io: CliIo): Promise<number>;
}
