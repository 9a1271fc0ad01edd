/**
 * `pluginwire goplugin-probe --cookie KEY=VALUE -- <cmd> [args]`: launches a go-plugin binary as a Go host
 * would, prints its handshake, health, services and stderr log lines, then kills it.
 */
import {
  type Handshake,
  type LogFields,
  type Logger,
  type LogLevel,
  type PluginClient,
  PluginStartError,
  startPlugin,
} from '../goplugin/index.js';
import { fieldRows, parseVersionList, table } from './handshake.js';
import {
  type CliIo,
  type Command,
  CommandError,
  describeError,
  parseCommandArgs,
  progress,
  UsageError,
} from './io.js';
import { parsePositive } from './kong-probe.js';
import { listServices } from './reflection.js';

const HELP = `Usage: pluginwire goplugin-probe --cookie KEY=VALUE [--versions 1,2] [--auto-mtls]
                                [--timeout MS] [--json] -- <cmd> [args...]

Launches a hashicorp/go-plugin plugin binary the way a Go host does (magic cookie,
protocol versions, optional AutoMTLS; gRPC only), then prints:
  - its handshake line, field by field;
  - its health (grpc.health.v1 Check of service "plugin");
  - the services it exposes, via gRPC server reflection when the plugin registers it;
  - its stderr and host events as parsed log lines;
and kills it cleanly (Shutdown RPC, then SIGKILL of its process group).

Options:
  --cookie KEY=VALUE  the host's magic cookie (required; e.g. BASIC_PLUGIN=hello)
  --versions LIST     app protocol versions the host offers (default 1)
  --auto-mtls         mutual TLS with fresh certificates, as Terraform does
  --timeout MS        start-up and call timeout (default 10000)
  --json              one JSON object instead of text
  -h, --help          this text

Exit status: 0 started and healthy, 1 failed to start or unhealthy, 2 usage error.
`;

function parseCookie(text: string | undefined): [string, string] {
  if (text === undefined) throw new UsageError('--cookie KEY=VALUE is required (the host’s magic cookie)');
  const equals = text.indexOf('=');
  if (equals <= 0) throw new UsageError(`--cookie takes KEY=VALUE (got ${JSON.stringify(text)})`);
  return [text.slice(0, equals), text.slice(equals + 1)];
}

/** One entry the probe's logger received. */
interface ProbeLogEntry {
  level: LogLevel;
  message: string;
  fields: LogFields;
}

function recordingLogger(entries: ProbeLogEntry[]): Required<Logger> {
  const at =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}): void => {
      entries.push({ level, message, fields });
    };
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function logLine(entry: ProbeLogEntry): string {
  const { origin, plugin, timestamp: _timestamp, raw: _raw, ...rest } = entry.fields;
  const fields = Object.entries(rest)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `[${entry.level.toUpperCase()}] ${String(origin)} ${String(plugin)}: ${entry.message}${fields ? ` ${fields}` : ''}`;
}

function handshakeJson(handshake: Handshake | undefined): Record<string, unknown> | undefined {
  if (handshake === undefined) return undefined;
  const { serverCertDer, serverCertPem: _pem, ...rest } = handshake;
  return { ...rest, serverCertBytes: serverCertDer?.length };
}

/** The `goplugin-probe` command. */
export const gopluginProbeCommand: Command = {
  name: 'goplugin-probe',
  summary: 'launch a go-plugin binary: handshake, health, services and logs, then kill it',
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs({
      args,
      allowPositionals: true,
      options: {
        cookie: { type: 'string' },
        versions: { type: 'string' },
        'auto-mtls': { type: 'boolean' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
    const [key, value] = parseCookie(values.cookie);
    const versions = values.versions === undefined ? [1] : parseVersionList(values.versions, '--versions');
    const timeout = parsePositive(values.timeout, '--timeout', 10_000);
    const [command, ...commandArgs] = positionals;
    if (command === undefined) throw new UsageError('the plugin command is missing: put it after --');

    const logs: ProbeLogEntry[] = [];
    const stdio: string[] = [];
    progress(io, `starting ${command}`);
    let client: PluginClient;
    try {
      client = await startPlugin({
        command,
        args: commandArgs,
        magicCookieKey: key,
        magicCookieValue: value,
        versions,
        autoMTLS: values['auto-mtls'] === true,
        startTimeout: timeout,
        logLevel: 'trace',
        logger: recordingLogger(logs),
        stdout: (data) => stdio.push(`stdout: ${data.toString('utf8').trimEnd()}`),
        stderr: (data) => stdio.push(`stderr: ${data.toString('utf8').trimEnd()}`),
      });
    } catch (error) {
      for (const entry of logs) io.stdout.write(`${logLine(entry)}\n`);
      // A PluginStartError's message already carries the exit status and the last stderr lines.
      const kind = error instanceof PluginStartError ? 'failed to start' : 'could not be launched';
      throw new CommandError(`the plugin ${kind}: ${describeError(error)}`);
    }
    let healthy = false;
    let health: string;
    let reflection: Awaited<ReturnType<typeof listServices>>;
    try {
      progress(io, 'checking health');
      try {
        await client.ping({ timeout });
        healthy = true;
        health = 'SERVING (grpc.health.v1 Check "plugin" answered)';
      } catch (error) {
        health = `unhealthy: ${describeError(error)}`;
      }
      progress(io, 'asking for services by reflection');
      reflection = await listServices((ctor) => client.makeClient(ctor as never), timeout);
    } finally {
      progress(io, 'killing the plugin');
      await client.kill();
    }
    const exit = await client.exited;
    const exitText = exit.signal === null ? `exit status ${exit.code}` : `signal ${exit.signal}`;

    if (values.json === true) {
      io.stdout.write(
        `${JSON.stringify({
          pid: client.pid,
          protocolVersion: client.protocolVersion,
          handshake: handshakeJson(client.handshake),
          healthy,
          health,
          reflection,
          logs,
          stdio,
          exit,
        })}\n`,
      );
      return healthy ? 0 : 1;
    }
    const out = (text: string) => io.stdout.write(`${text}\n`);
    out(`plugin ${command} (pid ${client.pid ?? '?'}), protocol version ${client.protocolVersion}`);
    if (client.handshake !== undefined) {
      out(
        `handshake: ${client.handshake.raw.length > 120 ? `${client.handshake.raw.slice(0, 117)}...` : client.handshake.raw}`,
      );
      out(
        table([['field', 'meaning', 'value', 'note'], ...fieldRows(client.handshake.raw, client.handshake)]),
      );
    }
    out(`health: ${health}`);
    if (reflection.available) {
      out(`services (${reflection.api}):`);
      for (const service of reflection.services) out(`  ${service}`);
    } else {
      out(`services: gRPC reflection is unavailable (${reflection.reason})`);
    }
    out(`log (${logs.length} line(s)):`);
    for (const entry of logs) out(`  ${logLine(entry)}`);
    for (const line of stdio) out(`  ${line}`);
    out(`killed: ${exitText}`);
    return healthy ? 0 : 1;
  },
};
