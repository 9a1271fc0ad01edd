/**
 * The command line of a plugin-server executable, with the flags Kong passes (kong-conf spec §9, kong-rpc spec
 * §7–§8): `-dump` prints the query JSON and exits; otherwise the server listens on
 * `<kong-prefix>/<name>.socket`. Both Go-style single-dash and GNU-style double-dash spellings are accepted,
 * with the value as the next argument or after `=`.
 */
import type { Writable } from 'node:stream';
import { KongRpcUsageError } from './errors.js';
import type { KongProtocol } from './protocol.js';
import { checkProtocol, type KongPluginServer } from './server.js';

/** Options of {@link runPluginServerCli}. */
export interface PluginServerCliOptions {
  /** Where the dump goes. Default `process.stdout`. Nothing else is ever written to it. */
  stdout?: Writable;
  /**
   * Close the server on `SIGTERM`/`SIGINT` (Kong stops plugin servers with `SIGTERM`), removing the socket.
   * Default `true`.
   */
  handleSignals?: boolean;
}

/** {@link runPluginServerCli} printed the dump. */
export interface PluginServerCliDump {
  /** Dump mode. */
  mode: 'dump';
  /** The JSON printed (without the newline). */
  json: string;
}

/** {@link runPluginServerCli} is serving. */
export interface PluginServerCliServe {
  /** Serve mode. */
  mode: 'serve';
  /** The socket listened on. */
  socketPath: string;
  /** Resolves when the server has closed (on `SIGTERM`/`SIGINT`, or `server.close()`). */
  closed: Promise<void>;
}

/** What {@link runPluginServerCli} did. */
export type PluginServerCliResult = PluginServerCliDump | PluginServerCliServe;

/** The parsed command line. */
export interface PluginServerCliArgs {
  /** `-dump`: print the plugin info and exit. */
  dump: boolean;
  /** `-dump-format array`: print the bare array instead of `{Protocol, Plugins}`. */
  dumpForm: 'object' | 'array';
  /** `-kong-prefix <dir>`: where the socket goes. */
  kongPrefix: string | undefined;
  /** `-socket <path>`: an explicit socket path. */
  socket: string | undefined;
  /**
   * `-protocol MsgPack:1|ProtoBuf:1`: the protocol to serve and to print in the dump, overriding the server's
   * `protocol` option. Give the same flag to Kong's query and start commands.
   */
  protocol: KongProtocol | undefined;
}

const VALUE_FLAGS = new Set(['kong-prefix', 'socket', 'dump-format', 'protocol']);
const BOOLEAN_FLAGS = new Set(['dump']);

/**
 * Parses a plugin server's command line.
 *
 * @param argv - the arguments after the executable (`process.argv.slice(2)`).
 * @throws {@link KongRpcUsageError} for an unknown flag, a missing value, a bad `-dump-format` or `-protocol`.
 */
export function parsePluginServerArgs(argv: readonly string[]): PluginServerCliArgs {
  const args: PluginServerCliArgs = {
    dump: false,
    dumpForm: 'object',
    kongPrefix: undefined,
    socket: undefined,
    protocol: undefined,
  };
  for (let index = 0; index < argv.length; index++) {
    const raw = argv[index] as string;
    const match = /^--?([a-z][a-z-]*)(?:=(.*))?$/s.exec(raw);
    if (match === null) throw new KongRpcUsageError(`unexpected argument ${JSON.stringify(raw)}`);
    const name = match[1] as string;
    let value = match[2];
    if (BOOLEAN_FLAGS.has(name)) {
      if (value !== undefined && value !== 'true') throw new KongRpcUsageError(`-${name} takes no value`);
      args.dump = true;
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new KongRpcUsageError(`unknown flag ${raw}`);
    if (value === undefined) {
      value = argv[++index];
      if (value === undefined) throw new KongRpcUsageError(`-${name} needs a value`);
    }
    if (name === 'kong-prefix') args.kongPrefix = value;
    else if (name === 'socket') args.socket = value;
    else if (name === 'protocol') args.protocol = checkProtocol(value);
    else if (value === 'array' || value === 'object') args.dumpForm = value;
    else throw new KongRpcUsageError(`-dump-format must be array or object, got ${JSON.stringify(value)}`);
  }
  return args;
}

/**
 * Runs a plugin server as Kong expects an executable to behave. With `-dump` it writes exactly one JSON document
 * and a newline to stdout (`{"Protocol":"MsgPack:1","Plugins":[…]}`, or `"ProtoBuf:1"` for a server built with
 * `protocol: 'ProtoBuf:1'` or run with `-protocol ProtoBuf:1`) and resolves without opening a socket;
 * otherwise it listens on `-socket`, or `<-kong-prefix>/<name>.socket` (default prefix `/usr/local/kong`), speaking
 * that protocol.
 *
 * The server must have been created without `socketPath`/`prefix`; the command line decides them.
 *
 * @param server - the server with its plugins added.
 * @param argv - the arguments after the executable. Default `process.argv.slice(2)`.
 * @param options - stdout and signal handling.
 * @throws {@link KongRpcUsageError} for a bad command line; what {@link KongPluginServer.listen} throws.
 * @example
 * ```ts
 * // my-plugin.ts, started by Kong as `pluginserver_my_plugin_start_cmd = /usr/local/bin/my-plugin`
 * const server = new KongPluginServer();
 * server.addPlugin(myPlugin);
 * await runPluginServerCli(server);
 * ```
 */
export async function runPluginServerCli(
  server: KongPluginServer,
  argv: readonly string[] = process.argv.slice(2),
  options: PluginServerCliOptions = {},
): Promise<PluginServerCliResult> {
  const args = parsePluginServerArgs(argv);
  if (args.dump) {
    const json = server.dumpInfo({ form: args.dumpForm, protocol: args.protocol });
    const stdout = options.stdout ?? process.stdout;
    await new Promise<void>((resolve, reject) => {
      stdout.write(`${json}\n`, (error) => (error ? reject(error) : resolve()));
    });
    return { mode: 'dump', json };
  }
  const socketPath = await server.listen({
    socketPath: args.socket,
    prefix: args.kongPrefix,
    protocol: args.protocol,
  });
  if (options.handleSignals ?? true) {
    const stop = () => {
      server.close().catch(() => {});
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    server.closed.then(() => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    });
  }
  return { mode: 'serve', socketPath, closed: server.closed };
}
