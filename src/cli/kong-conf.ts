/** `pluginwire kong-conf <file>`: the plugin servers a kong.conf resolves to, and every warning with its line. */
import { readFileSync } from 'node:fs';
import {
  type Diagnostic,
  KongConfStartupError,
  KongConfVersionError,
  type PluginServer,
  parseKongConf,
  resolvePluginServers,
} from '../kong-conf/index.js';
import { DEFAULT_KONG_VERSION } from '../kong-conf/versions.js';
import { table } from './handshake.js';
import { type CliIo, type Command, CommandError, parseCommandArgs, UsageError } from './io.js';

const HELP = `Usage: pluginwire kong-conf <file> [--kong-version V] [--json] [--no-env]

Reads a kong.conf exactly as the given Kong version does and prints the external
plugin servers it defines (name, socket, start and query commands) and every
warning with its line: what Kong would do silently, and why it refuses to start.

Options:
  --kong-version V  Kong version whose rules apply (2.3 … 3.10; default ${DEFAULT_KONG_VERSION})
  --json            one JSON object: { servers, warnings } (or { error, warnings })
  --no-env          ignore KONG_* environment variables (Kong applies them)
  -h, --help        this text

Exit status: 0 resolved, 1 Kong would refuse to start or the file cannot be read,
2 usage error.
`;

function serverJson(server: PluginServer): Record<string, unknown> {
  const { infoCmd: _infoCmd, ...rest } = server;
  return rest;
}

function warningLine(file: string, warning: Diagnostic): string {
  return `${file}:${warning.line ?? '-'} ${warning.severity} ${warning.code}: ${warning.message}`;
}

/** The `kong-conf` command. */
export const kongConfCommand: Command = {
  name: 'kong-conf',
  summary: 'resolve the plugin servers of a kong.conf, with every warning and its line',
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs({
      args,
      allowPositionals: true,
      options: {
        'kong-version': { type: 'string' },
        json: { type: 'boolean' },
        'no-env': { type: 'boolean' },
      },
    });
    if (positionals.length !== 1) {
      throw new UsageError(`expected one kong.conf file, got ${positionals.length} arguments`);
    }
    const file = positionals[0] as string;
    const kongVersion = values['kong-version'] ?? DEFAULT_KONG_VERSION;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CommandError(`cannot read ${file}: ${(error as Error).message}`);
    }
    const env = values['no-env'] === true ? {} : io.env;
    try {
      const conf = parseKongConf(text, { filename: file, kongVersion });
      const { servers, warnings } = resolvePluginServers(conf, { kongVersion, env });
      if (values.json === true) {
        io.stdout.write(`${JSON.stringify({ kongVersion, servers: servers.map(serverJson), warnings })}\n`);
        return 0;
      }
      io.stdout.write(`${file}: ${servers.length} plugin server(s) under Kong ${kongVersion} rules\n`);
      if (servers.length > 0) {
        const rows = servers.map((s) => [s.name, s.socket, s.startCmd ?? '(external)', s.queryCmd ?? '-']);
        io.stdout.write(`${table([['name', 'socket', 'start command', 'query command'], ...rows])}\n`);
      }
      for (const warning of warnings) io.stdout.write(`${warningLine(file, warning)}\n`);
      return 0;
    } catch (error) {
      if (error instanceof KongConfVersionError) throw new UsageError(error.message);
      if (error instanceof KongConfStartupError) {
        if (values.json === true) {
          const payload = { error: { code: error.code, message: error.message, line: error.line } };
          io.stdout.write(`${JSON.stringify({ kongVersion, ...payload, warnings: error.diagnostics })}\n`);
        } else {
          for (const warning of error.diagnostics) io.stdout.write(`${warningLine(file, warning)}\n`);
        }
        const where = error.line === undefined ? '' : ` (line ${error.line})`;
        throw new CommandError(
          `Kong ${kongVersion} would refuse to start: ${error.code}: ${error.message}${where}`,
        );
      }
      throw error;
    }
  },
};
