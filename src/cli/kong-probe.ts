/** `pluginwire kong-probe <socket>`: a running Kong plugin server's status and plugin infos. */
import { KongPluginClient, type KongRemotePluginInfo } from '../kong-rpc/index.js';
import { table } from './handshake.js';
import {
  type CliIo,
  type Command,
  CommandError,
  describeError,
  parseCommandArgs,
  progress,
  UsageError,
} from './io.js';

const HELP = `Usage: pluginwire kong-probe <socket> [--plugin NAME] [--timeout MS] [--json]

Connects to a running Kong external plugin server (MsgPack:1, e.g. kong-js-pluginserver,
a go-pdk server, or one built with pluginwire's KongPluginServer) on its Unix socket,
as Kong does, and prints plugin.GetStatus (pid, plugins, instances) and the
plugin.GetPluginInfo of every plugin it reports (or only of NAME).

Options:
  --plugin NAME  only this plugin's info (asked for even if the status does not list it)
  --timeout MS   connect and per-call timeout (default 5000)
  --json         one JSON object: { status, plugins }
  -h, --help     this text

Exit status: 0 answered, 1 unreachable or failed call, 2 usage error.
`;

/** Parses a positive integer option value. */
export function parsePositive(text: string | undefined, option: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) <= 0) {
    throw new UsageError(`${option} takes a positive integer of milliseconds (got ${JSON.stringify(text)})`);
  }
  return Number(text);
}

function pluginNames(status: Record<string, unknown>): string[] {
  const plugins = status.Plugins;
  if (plugins === null || typeof plugins !== 'object') return [];
  return Object.keys(plugins);
}

function instanceCount(status: Record<string, unknown>, name: string): string {
  const entry = (status.Plugins as Record<string, { Instances?: unknown }> | undefined)?.[name];
  return Array.isArray(entry?.Instances) ? String(entry.Instances.length) : '-';
}

/** The `kong-probe` command. */
export const kongProbeCommand: Command = {
  name: 'kong-probe',
  summary: "print a running Kong plugin server's status and plugin infos",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs({
      args,
      allowPositionals: true,
      options: { plugin: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' } },
    });
    if (positionals.length !== 1) {
      throw new UsageError(`expected one socket path, got ${positionals.length} arguments`);
    }
    const socketPath = positionals[0] as string;
    const timeout = parsePositive(values.timeout, '--timeout', 5_000);
    const client = new KongPluginClient({ socketPath, timeout, connectTimeout: timeout, poolSize: 1 });
    try {
      progress(io, `connecting to ${socketPath}`);
      let status: Record<string, unknown>;
      try {
        status = await client.getStatus();
      } catch (error) {
        throw new CommandError(`plugin.GetStatus on ${socketPath} failed: ${describeError(error)}`);
      }
      const names = values.plugin === undefined ? pluginNames(status) : [values.plugin];
      const infos: KongRemotePluginInfo[] = [];
      for (const name of names) {
        progress(io, `plugin.GetPluginInfo ${name}`);
        try {
          infos.push(await client.getPluginInfo(name));
        } catch (error) {
          throw new CommandError(
            `plugin.GetPluginInfo ${JSON.stringify(name)} failed: ${describeError(error)}`,
          );
        }
      }
      if (values.json === true) {
        io.stdout.write(`${JSON.stringify({ status, plugins: infos })}\n`);
        return 0;
      }
      io.stdout.write(`server ${socketPath}: pid ${String(status.Pid ?? '?')}, ${names.length} plugin(s)\n`);
      if (infos.length > 0) {
        const rows = infos.map((info) => [
          info.name,
          info.version,
          String(info.priority),
          info.phases.join(','),
          instanceCount(status, info.name),
        ]);
        io.stdout.write(`${table([['plugin', 'version', 'priority', 'phases', 'instances'], ...rows])}\n`);
        for (const info of infos) io.stdout.write(`schema ${info.name}: ${JSON.stringify(info.schema)}\n`);
      }
      return 0;
    } finally {
      await client.close();
    }
  },
};
