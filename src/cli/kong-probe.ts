/** `pluginwire kong-probe <socket>`: what a running Kong plugin server answers, over the protocol it speaks. */
import { readFileSync } from 'node:fs';
import { parseDump } from '../kong-conf/index.js';
import { KongPluginClient, type KongProtocol, type KongRemotePluginInfo } from '../kong-rpc/index.js';
import { KONG_PROTOCOLS } from '../kong-rpc/protocol.js';
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
import { detectKongProtocol, SAFE_MSGPACK_PROBE_LENGTH } from './kong-detect.js';

const HELP = `Usage: pluginwire kong-probe <socket> [--protocol P | --dump FILE] [--plugin NAME] [--timeout MS] [--json]

Connects to a running Kong external plugin server on its Unix socket, as Kong does, over
the protocol it speaks, and reports what it answers:
  MsgPack:1   plugin.GetStatus (pid, plugins, instances; go-pdk v0.6 servers lack it) and
              plugin.GetPluginInfo of every plugin (kong-js-pluginserver, go-pdk <= v0.6,
              pluginwire's KongPluginServer)
  ProtoBuf:1  cmd_get_plugin_names and cmd_get_plugin_info (go-pdk >= v0.7 answers both with
              an empty frame: Kong takes plugin info from the dump)

The protocol comes from --protocol, else from the Protocol of the dump in FILE (the query
command's stdout, e.g. \`my-plugin -dump > dump.json\`), else it is detected: listen for a
greeting, then send one msgpack request whose first four bytes a ProtoBuf:1 server reads as
a ${SAFE_MSGPACK_PROBE_LENGTH}-byte frame (never Kong's 2.9 GB one). ProtoBuf:1 bytes are never sent to
a server not known to speak it (kong-js-pluginserver exits on them).

Options:
  --protocol P   MsgPack:1 or ProtoBuf:1
  --dump FILE    read the protocol (and plugin names) from this dump
  --plugin NAME  only this plugin's info (asked for even if the server does not list it)
  --timeout MS   connect and per-call timeout (default 5000)
  --json         one JSON object: { protocol, protocolSource, status, plugins, errors }
  -h, --help     this text

Exit status: 0 the server answered in its protocol (calls it lacks are reported, not
fatal), 1 unreachable, wrong protocol or no usable answer, 2 usage error.
`;

/** Parses a positive integer option value. */
export function parsePositive(text: string | undefined, option: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) <= 0) {
    throw new UsageError(`${option} takes a positive integer of milliseconds (got ${JSON.stringify(text)})`);
  }
  return Number(text);
}

function instanceCount(status: Record<string, unknown>, name: string): string {
  const entry = (status.Plugins as Record<string, { Instances?: unknown }> | undefined)?.[name];
  return Array.isArray(entry?.Instances) ? String(entry.Instances.length) : '-';
}

interface ProbeReport {
  protocol: KongProtocol;
  protocolSource: string;
  status?: Record<string, unknown>;
  pluginNames?: string[];
  plugins: KongRemotePluginInfo[];
  /** Call → what went wrong. */
  errors: Record<string, string>;
}

function readDump(file: string): { protocol: string; names: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --dump ${file}: ${describeError(error)}`);
  }
  try {
    const dump = parseDump(text);
    return { protocol: dump.protocol, names: dump.plugins.map((plugin) => String(plugin.Name)) };
  } catch (error) {
    throw new UsageError(`--dump ${file} is not a plugin server dump: ${describeError(error)}`);
  }
}

async function probe(client: KongPluginClient, names: string[] | undefined, io: CliIo, report: ProbeReport) {
  let plugins = names;
  if (client.protocol === 'MsgPack:1') {
    progress(io, 'plugin.GetStatus');
    try {
      report.status = await client.getStatus();
      const listed = report.status.Plugins;
      plugins ??= listed !== null && typeof listed === 'object' ? Object.keys(listed) : [];
    } catch (error) {
      report.errors['plugin.GetStatus'] = describeError(error);
    }
  } else {
    progress(io, 'cmd_get_plugin_names');
    try {
      report.pluginNames = await client.getPluginNames();
      plugins ??= report.pluginNames;
    } catch (error) {
      report.errors.cmd_get_plugin_names = describeError(error);
    }
  }
  const infoCall = client.protocol === 'MsgPack:1' ? 'plugin.GetPluginInfo' : 'cmd_get_plugin_info';
  for (const name of plugins ?? []) {
    progress(io, `${infoCall} ${name}`);
    try {
      report.plugins.push(await client.getPluginInfo(name));
    } catch (error) {
      report.errors[`${infoCall} ${JSON.stringify(name)}`] = describeError(error);
    }
  }
}

/** Whether an error says the server speaks another protocol, or is not there at all. */
function fatal(report: ProbeReport): string | undefined {
  for (const message of Object.values(report.errors)) {
    if (
      /KONG_RPC_(CONNECT|PROTOCOL_MISMATCH|FRAME_TOO_LARGE)|MSGPACK_RPC_(TIMEOUT|CLOSED|PROTOCOL)/.test(
        message,
      )
    ) {
      return message;
    }
  }
  return undefined;
}

/** The `kong-probe` command. */
export const kongProbeCommand: Command = {
  name: 'kong-probe',
  summary: 'print what a running Kong plugin server answers (MsgPack:1 or ProtoBuf:1)',
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs({
      args,
      allowPositionals: true,
      options: {
        plugin: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        protocol: { type: 'string' },
        dump: { type: 'string' },
      },
    });
    if (positionals.length !== 1) {
      throw new UsageError(`expected one socket path, got ${positionals.length} arguments`);
    }
    const socketPath = positionals[0] as string;
    const timeout = parsePositive(values.timeout, '--timeout', 5_000);
    if (values.protocol !== undefined && !KONG_PROTOCOLS.includes(values.protocol as KongProtocol)) {
      throw new UsageError(
        `--protocol takes ${KONG_PROTOCOLS.join(' or ')} (got ${JSON.stringify(values.protocol)})`,
      );
    }
    const dump = values.dump === undefined ? undefined : readDump(values.dump);
    let protocol: KongProtocol;
    let protocolSource: string;
    if (values.protocol !== undefined) {
      protocol = values.protocol as KongProtocol;
      protocolSource = '--protocol';
    } else if (dump !== undefined) {
      if (!KONG_PROTOCOLS.includes(dump.protocol as KongProtocol)) {
        throw new CommandError(
          `the dump names protocol ${JSON.stringify(dump.protocol)}, which Kong does not speak`,
        );
      }
      protocol = dump.protocol as KongProtocol;
      protocolSource = `the dump (${values.dump})`;
    } else {
      progress(io, `detecting the protocol of ${socketPath}`);
      try {
        const detected = await detectKongProtocol(
          socketPath,
          Math.min(300, timeout),
          Math.min(1000, timeout),
        );
        protocol = detected.protocol;
        protocolSource = `detected: ${detected.reason}`;
      } catch (error) {
        throw new CommandError(`cannot connect to ${socketPath}: ${describeError(error)}`);
      }
    }
    const names = values.plugin !== undefined ? [values.plugin] : dump?.names;
    const client = new KongPluginClient({
      socketPath,
      protocol,
      timeout,
      connectTimeout: timeout,
      poolSize: 1,
    });
    const report: ProbeReport = { protocol, protocolSource, plugins: [], errors: {} };
    try {
      progress(io, `connecting to ${socketPath} (${protocol})`);
      await probe(client, names, io, report);
    } finally {
      await client.close();
    }
    const failure = fatal(report);
    if (values.json === true) {
      io.stdout.write(`${JSON.stringify(report)}\n`);
      return failure === undefined &&
        (report.plugins.length > 0 || report.status !== undefined || names === undefined)
        ? 0
        : 1;
    }
    if (failure !== undefined) throw new CommandError(failure);
    const pid = report.status?.Pid;
    io.stdout.write(
      `server ${socketPath}: ${protocol} (${protocolSource})` +
        `${pid === undefined ? '' : `, pid ${String(pid)}`}, ${report.plugins.length} plugin info(s)\n`,
    );
    for (const [call, message] of Object.entries(report.errors)) io.stdout.write(`${call}: ${message}\n`);
    if (report.plugins.length > 0) {
      const rows = report.plugins.map((info) => [
        info.name,
        info.version,
        String(info.priority),
        info.phases.join(','),
        report.status === undefined ? '-' : instanceCount(report.status, info.name),
      ]);
      io.stdout.write(`${table([['plugin', 'version', 'priority', 'phases', 'instances'], ...rows])}\n`);
      for (const info of report.plugins)
        io.stdout.write(`schema ${info.name}: ${JSON.stringify(info.schema)}\n`);
    }
    // Exit 1 when the server gave nothing usable for an explicitly requested plugin.
    if (values.plugin !== undefined && report.plugins.length === 0) return 1;
    return 0;
  },
};
