/**
 * The `pluginwire` command line: debugging tools for plugin setups, composed only from pluginwire's public
 * modules. `main(argv, io)` runs one command and resolves to its exit status; this file is also the entry of
 * `dist/cli.js` (the package's `bin`).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeCommand } from './decode.js';
import { gopluginProbeCommand } from './goplugin-probe.js';
import { handshakeCommand } from './handshake.js';
import { type CliIo, type Command, CommandError, describeError, UsageError } from './io.js';
import { kongConfCommand } from './kong-conf.js';
import { kongProbeCommand } from './kong-probe.js';

/** Every command, in `--help` order. */
export const COMMANDS: readonly Command[] = [
  kongConfCommand,
  kongProbeCommand,
  gopluginProbeCommand,
  handshakeCommand,
  decodeCommand,
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `Usage: pluginwire <command> [options]

Debugging tools for out-of-process plugin setups (Kong plugin servers, go-plugin).

Commands:
${lines.join('\n')}

Run \`pluginwire <command> --help\` for a command's options.
`;
}

/** Whether the arguments before a `--` ask for help. */
function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * Runs the CLI.
 *
 * @param argv - the arguments after the program name.
 * @param io - streams and environment.
 * @returns the exit status: 0 success, 1 the operation failed, 2 usage error.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(overview());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr.write(`pluginwire: unknown command ${JSON.stringify(name)}\n\n${overview()}`);
    return 2;
  }
  if (wantsHelp(args)) {
    io.stdout.write(command.help);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`pluginwire ${name}: ${error.message}\n${command.help.split('\n')[0]}\n`);
      io.stderr.write(`Run \`pluginwire ${name} --help\` for details.\n`);
      return 2;
    }
    io.stderr.write(
      `pluginwire ${name}: ${error instanceof CommandError ? error.message : describeError(error)}\n`,
    );
    return 1;
  }
}

/** Runs {@link main} on this process's arguments and streams, and sets the exit status. */
export async function runFromProcess(): Promise<void> {
  const io: CliIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    progress: process.stderr.isTTY === true,
    env: process.env,
  };
  process.exitCode = await main(process.argv.slice(2), io);
}

// Run when executed (dist/cli.js, or `tsx src/cli/main.ts`), not when imported by a test.
const invoked = process.argv[1];
if (invoked !== undefined && realpathSync(invoked) === realpathSync(fileURLToPath(import.meta.url))) {
  void runFromProcess();
}
