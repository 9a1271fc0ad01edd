/**
 * The host side's entry points, as `pluginwire/goplugin` exports them: they load the host runtime (`start.ts`,
 * `client.ts` and the rest of `host/`) on first use, so a plugin, which imports the same module only to call
 * `servePlugin`, does not parse and evaluate the host side at every start (about 2.5 ms of its start-up).
 */
import type { PluginClient } from './client.js';
import type { ReattachPluginOptions, StartPluginOptions } from './options.js';
import type { ReattachConfig, TerraformReattachConfig } from './reattach.js';

// Kept after the first load: a dynamic import of a loaded module still goes through the module loader (and any
// loader hooks, such as a TypeScript runner's) on every call.
let runtime: Promise<typeof import('./start.js')> | undefined;
const hostRuntime = () => (runtime ??= import('./start.js'));

/**
 * Launches a go-plugin plugin and connects to it, as a Go host's `client.Client()` does.
 *
 * Sets the environment a Go host sets (cookie, `PLUGIN_PROTOCOL_VERSIONS`, ports, `PLUGIN_UNIX_SOCKET_DIR` of a
 * fresh private directory, `PLUGIN_CLIENT_CERT` with AutoMTLS), reads only the first stdout line as the handshake
 * (with the current Go host's rules) and drains stdout after it, parses stderr into `logger`, connects a grpc-js
 * channel over unix or tcp, and opens the broker and `GRPCStdio` streams.
 *
 * @param options - see {@link StartPluginOptions}; `command`, `magicCookieKey`, `magicCookieValue` are required.
 * @returns the connected client; call `kill()` (or {@link cleanupPlugins}) when done.
 * @throws {@link InvalidPluginOptionsError} for bad options (including `netrpc` in `allowedProtocols`).
 * @throws {@link SpawnFailedError} when the command cannot start.
 * @throws {@link PluginStartError} for a timeout, an early exit, or a rejected handshake line; it carries the
 *   stderr tail and exit status; for a rejected line, `cause` is the `HandshakeError` subclass that says why.
 * @throws {@link PluginConnectError} when the gRPC connection does not become ready.
 * @throws {@link PluginAbortedError} when `signal` aborts the start.
 * @example
 * ```ts
 * const client = await startPlugin({
 *   command: './kvplugin',
 *   magicCookieKey: 'BASIC_PLUGIN',
 *   magicCookieValue: 'hello',
 *   autoMTLS: true,
 *   logger: { info: console.error, warn: console.error, error: console.error },
 * });
 * ```
 */
export async function startPlugin(options: StartPluginOptions): Promise<PluginClient> {
  return (await hostRuntime()).startPlugin(options);
}

/**
 * Connects to a plugin that is already running, from a reattach configuration: {@link ReattachConfig}, or one
 * value of Terraform's `TF_REATTACH_PROVIDERS` (see {@link parseReattachProviders}). The process is never
 * killed by this client: `kill()` only closes the connection.
 *
 * @param config - where the plugin listens; reattach is insecure (no AutoMTLS).
 * @param options - logger, stdio sinks, `connectTimeout` (default 10000 ms), `watchPid` (default `true`).
 * @returns the connected client.
 * @throws {@link ReattachError} `GOPLUGIN_INVALID_REATTACH_CONFIG` for a bad config, `GOPLUGIN_REATTACH_NOT_FOUND`
 *   when its pid does not exist; {@link PluginConnectError} when the address does not answer.
 * @example
 * ```ts
 * const first = await startPlugin(options);
 * const second = await reattachPlugin(first.reattachConfig());
 * ```
 */
export async function reattachPlugin(
  config: ReattachConfig | TerraformReattachConfig,
  options: ReattachPluginOptions = {},
): Promise<PluginClient> {
  return (await hostRuntime()).reattachPlugin(config, options);
}
