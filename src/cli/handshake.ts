/** `pluginwire handshake <line>`: explains a go-plugin handshake line field by field, or says what is wrong. */
import { HandshakeError, type ParseHandshakeOptions, parseHandshake } from '../goplugin/index.js';
import { type CliIo, type Command, CommandError, parseCommandArgs, UsageError } from './io.js';

const HELP = `Usage: pluginwire handshake <line> [--versions 1,2] [--protocols grpc] [--auto-mtls] [--json]

Explains a hashicorp/go-plugin handshake line (the plugin's first stdout line,
CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT|MULTIPLEX) field by field, checked with the
rules of the Go host, or says exactly which check fails and why.

Options:
  --versions LIST   app protocol versions the host accepts (default: the line's own)
  --protocols LIST  protocols the host allows (default: grpc)
  --auto-mtls       the host runs AutoMTLS (a certificate field is then required)
  --json            print the parsed handshake as JSON
  -h, --help        this text

Exit status: 0 accepted, 1 rejected (the reason is printed), 2 usage error.
`;

/** Parses `1,2` into versions; a usage error names the bad item. */
export function parseVersionList(text: string, option: string): number[] {
  const versions = text.split(',').map((item) => item.trim());
  if (versions.some((item) => !/^\d+$/.test(item))) {
    throw new UsageError(`${option} takes comma-separated integers, e.g. 1,2 (got ${JSON.stringify(text)})`);
  }
  return versions.map(Number);
}

/** The rows explaining each field of an accepted handshake. */
export function fieldRows(line: string, handshake: ReturnType<typeof parseHandshake>): string[][] {
  const rows: string[][] = [
    ['1', 'core protocol version', String(handshake.core), 'always 1 (go-plugin CoreProtocolVersion)'],
    ['2', 'app protocol version', String(handshake.appVersion), 'negotiated plugin API version'],
    ['3', 'network', handshake.network, handshake.network === 'unix' ? 'Unix domain socket' : 'TCP'],
    ['4', 'address', handshake.address, 'where the host dials the plugin'],
    ['5', 'protocol', handshake.protocol, handshake.fieldCount < 5 ? 'absent: netrpc assumed' : ''],
  ];
  if (handshake.serverCertDer !== undefined) {
    rows.push(['6', 'server certificate', `${handshake.serverCertDer.length} bytes DER`, 'AutoMTLS: pinned']);
  } else if (handshake.fieldCount >= 6) {
    rows.push(['6', 'server certificate', '(none)', 'plain connection']);
  }
  if (handshake.multiplex !== undefined) {
    rows.push(['7', 'multiplex', String(handshake.multiplex), 'gRPC broker multiplexing']);
  }
  rows.push(['', 'fields', String(handshake.fieldCount), `${Buffer.byteLength(line)} bytes`]);
  return rows;
}

/** Renders rows as aligned columns. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .map((line) => line.trimEnd())
    .join('\n');
}

/** The `handshake` command. */
export const handshakeCommand: Command = {
  name: 'handshake',
  summary: 'explain a go-plugin handshake line field by field',
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs({
      args,
      allowPositionals: true,
      options: {
        versions: { type: 'string' },
        protocols: { type: 'string' },
        'auto-mtls': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
    if (positionals.length !== 1) {
      throw new UsageError(
        `expected exactly one handshake line (quote it), got ${positionals.length} arguments`,
      );
    }
    const line = positionals[0] as string;
    const options: ParseHandshakeOptions = {
      autoMTLS: values['auto-mtls'] === true,
      protocols: values.protocols === undefined ? ['grpc'] : values.protocols.split(',').map((p) => p.trim()),
    };
    if (values.versions !== undefined) {
      options.versions = parseVersionList(values.versions, '--versions');
    } else {
      // Without --versions, accept the line's own app version: the explanation is about the line, and the
      // host's version list is what the user did not tell us.
      const own = line.split('|')[1]?.trim();
      if (own !== undefined && /^\d+$/.test(own)) options.versions = [Number(own)];
    }
    let handshake: ReturnType<typeof parseHandshake>;
    try {
      handshake = parseHandshake(line, options);
    } catch (error) {
      if (error instanceof HandshakeError) {
        throw new CommandError(`rejected: ${error.code}: ${error.message}`);
      }
      throw error;
    }
    if (values.json === true) {
      const { serverCertDer, ...rest } = handshake;
      io.stdout.write(`${JSON.stringify({ ...rest, serverCertBytes: serverCertDer?.length })}\n`);
      return 0;
    }
    io.stdout.write(`${table([['field', 'meaning', 'value', 'note'], ...fieldRows(line, handshake)])}\n`);
    io.stdout.write(
      values.versions === undefined ? 'accepted (app version not checked: pass --versions)\n' : 'accepted\n',
    );
    return 0;
  },
};
