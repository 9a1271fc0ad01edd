/**
 * Reattach configurations: what a host needs to connect to a plugin that is already running, and Terraform's
 * `TF_REATTACH_PROVIDERS` JSON form of it (`hashicorp/terraform: internal/getproviders/reattach/reattach.go`).
 */
import { isIP } from 'node:net';
import { InvalidReattachConfigError } from './errors.js';

/** Where and how to reach a running plugin (go-plugin's `ReattachConfig`). */
export interface ReattachConfig {
  /** Always `grpc`; `netrpc` is Go-only and rejected. */
  protocol: 'grpc';
  /** The application protocol version the plugin serves. */
  protocolVersion: number;
  /** The plugin's listener. */
  addr: {
    /** `unix` or `tcp`. */
    network: 'unix' | 'tcp';
    /** Socket path or `host:port`. */
    address: string;
  };
  /** The plugin's process id, when known; polled for liveness (signal 0). */
  pid?: number;
  /** Go's `Test` flag: the plugin runs in test/debug mode. A reattached plugin is never killed either way. */
  test?: boolean;
}

/** One value of Terraform's `TF_REATTACH_PROVIDERS` object, spelled as Terraform spells it. */
export interface TerraformReattachConfig {
  /** `grpc`. */
  Protocol: string;
  /** e.g. `6`. */
  ProtocolVersion: number;
  /** Process id. */
  Pid?: number;
  /** Test/debug mode. */
  Test?: boolean;
  /** The plugin's listener. */
  Addr: {
    /** `unix` or `tcp`. */
    Network: string;
    /** Socket path or `host:port`. */
    String: string;
  };
}

function invalid(message: string): InvalidReattachConfigError {
  return new InvalidReattachConfigError(message);
}

function checkTcpAddress(address: string, where: string): void {
  const match = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(address);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  const hostOk = host !== undefined && (host === 'localhost' || isIP(host) !== 0);
  if (match === null || !hostOk || port > 65535) {
    throw invalid(`invalid tcp address ${JSON.stringify(address)} for ${where}: want <ip>:<port>`);
  }
}

/**
 * Validates a reattach configuration in either spelling and returns it in the camelCase form.
 *
 * @param config - a {@link ReattachConfig} or one {@link TerraformReattachConfig} value.
 * @param where - names the configuration in error messages (Terraform: the provider address).
 * @returns the normalised configuration.
 * @throws {@link ReattachError} `GOPLUGIN_INVALID_REATTACH_CONFIG` for a protocol other than `grpc`, an unknown
 *   network (Terraform's `Unknown address type "<n>" for "<provider>"`), an empty unix path, a bad tcp address, or a
 *   version or pid that is not a positive integer.
 */
export function normalizeReattachConfig(config: unknown, where = 'reattach config'): ReattachConfig {
  if (typeof config !== 'object' || config === null) throw invalid(`${where} must be an object`);
  const source = config as Record<string, unknown>;
  const terraform = 'Addr' in source || 'Protocol' in source;
  const addr = (terraform ? source.Addr : source.addr) as Record<string, unknown> | undefined;
  const protocol = terraform ? source.Protocol : source.protocol;
  const protocolVersion = terraform ? source.ProtocolVersion : source.protocolVersion;
  const pid = terraform ? source.Pid : source.pid;
  const test = terraform ? source.Test : source.test;
  // go-plugin treats an empty protocol as netrpc (`client.go`, reattach), which this host cannot speak.
  if (protocol !== 'grpc') {
    throw invalid(
      `unsupported plugin protocol ${JSON.stringify(protocol ?? '')} in ${where}; only grpc is supported`,
    );
  }
  if (!Number.isSafeInteger(protocolVersion) || (protocolVersion as number) < 1) {
    throw invalid(
      `protocol version of ${where} must be a positive integer, got ${JSON.stringify(protocolVersion)}`,
    );
  }
  if (typeof addr !== 'object' || addr === null) throw invalid(`${where} has no address`);
  const network = terraform ? addr.Network : addr.network;
  const address = terraform ? addr.String : addr.address;
  if (network !== 'unix' && network !== 'tcp') {
    throw invalid(`Unknown address type ${JSON.stringify(String(network))} for ${JSON.stringify(where)}`);
  }
  if (typeof address !== 'string' || address === '')
    throw invalid(`${where} has an empty ${network} address`);
  if (network === 'tcp') checkTcpAddress(address, where);
  if (pid !== undefined && pid !== 0 && (!Number.isSafeInteger(pid) || (pid as number) < 0)) {
    throw invalid(`pid of ${where} must be a positive integer, got ${JSON.stringify(pid)}`);
  }
  if (test !== undefined && typeof test !== 'boolean')
    throw invalid(`test flag of ${where} must be a boolean`);
  return {
    protocol: 'grpc',
    protocolVersion: protocolVersion as number,
    addr: { network, address },
    // Terraform writes Pid 0 when it does not know the process.
    ...(typeof pid === 'number' && pid > 0 && { pid }),
    ...(test !== undefined && { test: test as boolean }),
  };
}

/**
 * Sets an own property whatever the key: `out[key] = value` with the key `__proto__` would replace the object's
 * prototype instead, losing that provider (JSON.parse keeps `"__proto__"` as an ordinary key).
 */
function setOwn<T>(out: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Parses Terraform's `TF_REATTACH_PROVIDERS`: a JSON object keyed by provider address, each value
 * `{"Protocol":"grpc","ProtocolVersion":6,"Pid":123,"Test":true,"Addr":{"Network":"unix","String":"/tmp/plugin1"}}`.
 *
 * @param text - the variable's value.
 * @returns provider address → normalised configuration.
 * @throws {@link ReattachError} `GOPLUGIN_INVALID_REATTACH_CONFIG` for invalid JSON, a non-object, or any invalid
 *   entry (the same checks as `reattachPlugin`'s).
 * @example
 * ```ts
 * const providers = parseReattachProviders(process.env.TF_REATTACH_PROVIDERS ?? '{}');
 * const client = await reattachPlugin(providers['registry.terraform.io/hashicorp/null']!, options);
 * ```
 */
export function parseReattachProviders(text: string): Record<string, ReattachConfig> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidReattachConfigError('TF_REATTACH_PROVIDERS is not valid JSON', {
      cause: error,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('TF_REATTACH_PROVIDERS must be a JSON object keyed by provider address');
  }
  const out: Record<string, ReattachConfig> = {};
  for (const [provider, entry] of Object.entries(value)) {
    if (provider === '') throw invalid('TF_REATTACH_PROVIDERS has an empty provider address');
    if (typeof entry !== 'object' || entry === null || !('Addr' in entry)) {
      throw invalid(`TF_REATTACH_PROVIDERS entry for ${JSON.stringify(provider)} is not a reattach config`);
    }
    setOwn(out, provider, normalizeReattachConfig(entry, provider));
  }
  return out;
}

/**
 * Formats configurations as Terraform's `TF_REATTACH_PROVIDERS` JSON (the inverse of
 * {@link parseReattachProviders}).
 *
 * @param providers - provider address → configuration.
 * @returns the JSON text.
 */
export function formatReattachProviders(providers: Readonly<Record<string, ReattachConfig>>): string {
  const out: Record<string, TerraformReattachConfig> = {};
  for (const [provider, config] of Object.entries(providers)) {
    setOwn(out, provider, {
      Protocol: config.protocol,
      ProtocolVersion: config.protocolVersion,
      Pid: config.pid ?? 0,
      Test: config.test ?? false,
      Addr: { Network: config.addr.network, String: config.addr.address },
    });
  }
  return JSON.stringify(out);
}
