/**
 * The one-line stdout handshake of hashicorp/go-plugin: `CORE|APP|NETWORK|ADDRESS|PROTOCOL|SERVER_CERT[|MUX]`.
 *
 * The parser reproduces the checks of the current Go host (`hashicorp/go-plugin: client.go`, `Start`) step by
 * step, so a line this module accepts is a line a Go host accepts, and a line it rejects fails in Go too.
 */
import { X509Certificate } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { type HandshakeErrorCode, handshakeError } from './errors.js';
import { parseGoInt } from './goint.js';

/** The go-plugin core protocol version; the first handshake field must be this. */
export const CORE_PROTOCOL_VERSION = 1;

/** Go's `bufio.MaxScanTokenSize`: the first stdout line, with its `\n`, must fit in this many bytes. */
export const DEFAULT_MAX_LINE_BYTES = 65_536;

/** Network of the plugin's listener. */
export type HandshakeNetwork = 'unix' | 'tcp';

/** Options of {@link parseHandshake}. */
export interface ParseHandshakeOptions {
  /** The host's application protocol versions; field 2 must be one of them. Default `[1]`. */
  versions?: readonly number[];
  /** Protocols the host accepts (field 5, `netrpc` when absent). Default `['grpc']`. */
  protocols?: readonly string[];
  /** Whether the host runs AutoMTLS, i.e. expects a certificate in field 6. Default `false`. */
  autoMTLS?: boolean;
  /** Whether the host asked for gRPC broker multiplexing (field 7). Default `false`; exists for tests. */
  requireMultiplex?: boolean;
  /**
   * `'current'` (default): split on every `|`, as go-plugin v1.6+ does. `'splitN6'`: split into at most six
   * fields, as go-plugin ≤ v1.5 (and Debian's 1.0.1) did, so a 7th field is glued onto the 6th.
   */
  compat?: 'current' | 'splitN6';
  /** Line limit in bytes, the line's `\n` included (Go's scanner buffer). Default 65536. */
  maxLineBytes?: number;
}

/** A handshake line the host accepted. */
export interface Handshake {
  /** Core protocol version, always 1. */
  core: 1;
  /** The application protocol version the plugin picked. */
  appVersion: number;
  /** `unix` or `tcp`. */
  network: HandshakeNetwork;
  /** Socket path (`unix`) or `host:port` (`tcp`), exactly as written. */
  address: string;
  /** Field 5, or `netrpc` when the line has only four fields. */
  protocol: string;
  /** The plugin's DER certificate from field 6 (AutoMTLS only). */
  serverCertDer?: Buffer;
  /** {@link serverCertDer} as a PEM `CERTIFICATE` block. */
  serverCertPem?: string;
  /** Field 7 as a boolean; only present when `requireMultiplex` was set. */
  multiplex?: boolean;
  /** How many `|`-separated fields the line had (after the compat split). */
  fieldCount: number;
  /** The first line as read (before trimming, without its line terminator). */
  raw: string;
}

/** Input of {@link formatHandshake}. */
export interface HandshakeFields {
  /** The negotiated application protocol version. */
  appVersion: number;
  /** `unix` or `tcp`. */
  network: HandshakeNetwork;
  /** Socket path or `host:port`; must not contain `|`, `\r` or `\n`. */
  address: string;
  /** Field 5. Default `grpc`. */
  protocol?: string;
  /** The plugin's AutoMTLS DER certificate; only allowed when `env.PLUGIN_CLIENT_CERT` is non-empty. */
  serverCertDer?: Uint8Array;
  /** The environment the host gave the plugin. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

// Go's unicode.IsSpace: ASCII \t \n \v \f \r and space, U+0085, U+00A0, and the Zs/Zl/Zp characters. Unlike
// JavaScript's trim() it does NOT include U+FEFF, and it does include U+0085 (`strings.TrimSpace`).
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const LEADING_SPACE = new RegExp(`^${GO_SPACE}+`);
const TRAILING_SPACE = new RegExp(`${GO_SPACE}+$`);

/** `strings.TrimSpace` from Go: trims Go's whitespace set, which differs from `String.prototype.trim`. */
export function goTrimSpace(text: string): string {
  return text.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '');
}

/**
 * Parses the first stdout line of a go-plugin plugin the way the current Go host does, and checks it against the
 * host's settings.
 *
 * Only the first line counts: if `line` contains `\n`, everything after the first `\n` is ignored (Go reads one
 * line and never skips banners or blank lines). A trailing `\r` is dropped, the whole line is trimmed with Go's
 * whitespace rules (a BOM is not whitespace), and the fields are not trimmed.
 *
 * Compatibility with old hosts: go-plugin ≤ v1.5 (and Debian's 1.0.1) split the line into at most six fields, so a
 * 7th field glues onto the certificate; `compat: 'splitN6'` reproduces that. All versions ignore a 6th field of 50
 * characters or fewer, and all versions crash when a certificate reaches a host without AutoMTLS, which this
 * parser reports as `GOPLUGIN_CERT_WITHOUT_AUTO_MTLS` instead.
 *
 * @param line - the first stdout line (or the whole stdout; only the first line is used).
 * @param options - the host's versions, protocols, AutoMTLS and multiplexing settings.
 * @returns the accepted handshake.
 * @throws the `HandshakeError` subclass of of the first failing check (`GOPLUGIN_TOO_FEW_FIELDS`,
 *   `GOPLUGIN_CORE_VERSION_SYNTAX`, … see {@link HandshakeErrorCode}).
 * @example
 * ```ts
 * const hs = parseHandshake('1|1|unix|/tmp/plugin123|grpc|');
 * // { core: 1, appVersion: 1, network: 'unix', address: '/tmp/plugin123', protocol: 'grpc', fieldCount: 6, … }
 * ```
 */
export function parseHandshake(line: string, options: ParseHandshakeOptions = {}): Handshake {
  const versions = options.versions ?? [1];
  const protocols = options.protocols ?? ['grpc'];
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;

  const newline = line.indexOf('\n');
  let raw = newline === -1 ? line : line.slice(0, newline);
  if (Buffer.byteLength(raw) >= maxLineBytes) {
    throw handshakeError(
      'GOPLUGIN_LINE_TOO_LONG',
      `the plugin's first stdout line is longer than ${maxLineBytes - 1} bytes`,
      { line: raw.slice(0, 200) },
    );
  }
  // bufio.ScanLines drops one \r before the \n (and at the end of an unterminated last line).
  if (raw.endsWith('\r')) raw = raw.slice(0, -1);
  const fail = (code: HandshakeErrorCode, message: string, cause?: unknown) =>
    handshakeError(code, message, cause === undefined ? { line: raw } : { line: raw, cause });

  const trimmed = goTrimSpace(raw);
  const parts = options.compat === 'splitN6' ? splitN(trimmed, '|', 6) : trimmed.split('|');
  if (parts.length < 4) {
    throw fail('GOPLUGIN_TOO_FEW_FIELDS', `unrecognized remote plugin message: ${quote(raw)}`);
  }
  const [coreField, appField, network, address] = parts as [string, string, string, string];

  const core = parseGoInt(coreField);
  if (core === undefined) {
    throw fail('GOPLUGIN_CORE_VERSION_SYNTAX', `error parsing core protocol version: ${quote(coreField)}`);
  }
  if (core !== BigInt(CORE_PROTOCOL_VERSION)) {
    throw fail(
      'GOPLUGIN_CORE_VERSION_MISMATCH',
      `incompatible core API version with plugin. Plugin version: ${coreField}, Core version: ${CORE_PROTOCOL_VERSION}`,
    );
  }

  const app = parseGoInt(appField);
  if (app === undefined) {
    throw fail('GOPLUGIN_APP_VERSION_SYNTAX', `error parsing protocol version ${quote(appField)}`);
  }
  const appVersion = versions.find((version) => BigInt(version) === app);
  if (appVersion === undefined) {
    throw fail(
      'GOPLUGIN_APP_VERSION_UNSUPPORTED',
      `incompatible API version with plugin. Plugin version: ${app}, Client versions: [${versions.join(' ')}]`,
    );
  }

  if (network !== 'unix' && network !== 'tcp') {
    // Go's text names the address, not the network (`Unknown address type: <ADDRESS>`); ours names both.
    throw fail(
      'GOPLUGIN_UNKNOWN_NETWORK',
      `unknown address type ${quote(network)} (address ${quote(address)})`,
    );
  }
  const addressProblem = network === 'tcp' ? checkTcpAddress(address) : address === '' ? 'empty path' : '';
  if (addressProblem !== '') {
    throw fail('GOPLUGIN_INVALID_ADDRESS', `invalid ${network} address ${quote(address)}: ${addressProblem}`);
  }

  const protocol = parts.length >= 5 ? (parts[4] as string) : 'netrpc';
  if (!protocols.includes(protocol)) {
    throw fail(
      'GOPLUGIN_UNSUPPORTED_PROTOCOL',
      `unsupported plugin protocol ${quote(protocol)}. Supported: [${protocols.join(' ')}]`,
    );
  }

  const result: Handshake = {
    core: 1,
    appVersion,
    network,
    address,
    protocol,
    fieldCount: parts.length,
    raw,
  };

  // Go: "Only considered if longer than 50 characters, to rule out unrelated data older implementations put
  // there" (client.go). Shorter 6th fields are ignored whatever they contain.
  const certField = parts[5];
  if (certField !== undefined && certField.length > 50) {
    const der = decodeRawStdBase64(certField);
    if (der === undefined) {
      throw fail(
        'GOPLUGIN_CERT_DECODE',
        'error parsing server cert: field 6 is not unpadded standard base64',
      );
    }
    const parsed = parseDerCertificate(der);
    if (parsed instanceof Error) {
      throw fail('GOPLUGIN_CERT_PARSE', `error parsing server cert: ${parsed.message}`, parsed);
    }
    if (options.autoMTLS !== true) {
      // A Go host without AutoMTLS dereferences a nil TLS config here and panics.
      throw fail(
        'GOPLUGIN_CERT_WITHOUT_AUTO_MTLS',
        'the plugin sent a server certificate but the host did not enable AutoMTLS',
      );
    }
    result.serverCertDer = der;
    result.serverCertPem = derToPem(der);
  } else if (options.autoMTLS === true) {
    throw fail('GOPLUGIN_CERT_MISSING', 'plugin does not support AutoMTLS: field 6 carries no certificate');
  }

  if (options.requireMultiplex === true && protocol === 'grpc') {
    const muxField = parts[6];
    if (muxField === undefined) {
      throw fail('GOPLUGIN_MULTIPLEX_UNSUPPORTED', 'the plugin does not support gRPC broker multiplexing');
    }
    const multiplex = parseGoBool(muxField);
    if (multiplex === undefined) {
      throw fail(
        'GOPLUGIN_MULTIPLEX_PARSE',
        `error parsing ${quote(muxField)} as a boolean for gRPC broker multiplexing support`,
      );
    }
    if (!multiplex) {
      throw fail('GOPLUGIN_MULTIPLEX_UNSUPPORTED', 'the plugin does not support gRPC broker multiplexing');
    }
    result.multiplex = true;
  }
  return result;
}

/**
 * Formats the handshake line a plugin prints: always six fields (`1|<app>|<net>|<addr>|grpc|<cert>`), the 6th
 * empty unless AutoMTLS is active, plus a 7th field `false` only when the host set `PLUGIN_MULTIPLEX_GRPC` (this
 * module has no yamux). The result ends in exactly one `\n`.
 *
 * @param fields - version, network, address, optional certificate, and the environment to consult.
 * @returns the line including its `\n`.
 * @throws a `HandshakeError` `GOPLUGIN_CERT_NOT_REQUESTED` when a certificate is given but
 *   `PLUGIN_CLIENT_CERT` is empty (it would crash a Go host), `GOPLUGIN_UNREPRESENTABLE_ADDRESS` when the address
 *   contains `|`, `\r` or `\n`, `GOPLUGIN_APP_VERSION_SYNTAX` when `appVersion` is not a non-negative integer.
 * @example
 * ```ts
 * formatHandshake({ appVersion: 1, network: 'unix', address: '/tmp/plugin42', env: {} });
 * // '1|1|unix|/tmp/plugin42|grpc|\n'
 * ```
 */
export function formatHandshake(fields: HandshakeFields): string {
  const env = fields.env ?? process.env;
  if (!Number.isSafeInteger(fields.appVersion) || fields.appVersion < 0) {
    throw handshakeError(
      'GOPLUGIN_APP_VERSION_SYNTAX',
      `appVersion must be a non-negative integer, got ${String(fields.appVersion)}`,
    );
  }
  if (/[|\r\n]/.test(fields.address)) {
    throw handshakeError(
      'GOPLUGIN_UNREPRESENTABLE_ADDRESS',
      `address ${quote(fields.address)} contains "|", "\\r" or "\\n" and cannot be written in a handshake`,
    );
  }
  let cert = '';
  if (fields.serverCertDer !== undefined) {
    if (!env.PLUGIN_CLIENT_CERT) {
      throw handshakeError(
        'GOPLUGIN_CERT_NOT_REQUESTED',
        'a server certificate may only be sent when the host set PLUGIN_CLIENT_CERT (AutoMTLS)',
      );
    }
    cert = Buffer.from(fields.serverCertDer).toString('base64').replace(/=+$/, '');
  }
  let line = `${CORE_PROTOCOL_VERSION}|${fields.appVersion}|${fields.network}|${fields.address}|${fields.protocol ?? 'grpc'}|${cert}`;
  // The Go server appends the 7th field whenever the variable is non-empty, whatever its value (server.go).
  if (env.PLUGIN_MULTIPLEX_GRPC) line += '|false';
  return `${line}\n`;
}

/**
 * Converts DER certificate bytes to a PEM `CERTIFICATE` block (64-character base64 lines).
 *
 * @param der - the DER bytes.
 * @returns the PEM text, ending in `\n`.
 */
export function derToPem(der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function splitN(text: string, separator: string, limit: number): string[] {
  const parts = text.split(separator);
  if (parts.length <= limit) return parts;
  return [...parts.slice(0, limit - 1), parts.slice(limit - 1).join(separator)];
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

/** Go's `strconv.ParseBool`. */
function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/**
 * What `net.ResolveTCPAddr` would reject, as a reason, or `''` when the address is usable. Go also resolves host
 * and service names; we accept IP literals and `localhost` (and an empty host, which Go treats as the local
 * system), and reject other names and an empty port (which would only fail at dial time in Go).
 */
function checkTcpAddress(address: string): string {
  const colon = address.lastIndexOf(':');
  if (colon === -1) return 'missing port';
  let host = address.slice(0, colon);
  const port = address.slice(colon + 1);
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return 'missing "]" in address';
    host = host.slice(1, -1);
    if (!isIPv6(host)) return 'not an IPv6 address';
  } else if (host.includes(':')) {
    return 'too many colons in address';
  } else if (host !== '' && host.toLowerCase() !== 'localhost' && !isIPv4(host)) {
    return 'host must be an IP address or localhost';
  }
  if (!/^[+]?[0-9]+$/.test(port)) return 'port must be a decimal number';
  if (Number(port) > 65_535) return 'port out of range';
  return '';
}

/**
 * Decodes Go's `base64.RawStdEncoding`: standard alphabet, no padding. Go's decoder skips `\r` and `\n`, so do we;
 * everything else outside the alphabet (including `=` and the URL-safe `-`/`_`) is an error, and so is a length
 * ≡ 1 (mod 4). `Buffer.from(…, 'base64')` alone would accept all of those.
 */
function decodeRawStdBase64(text: string): Buffer | undefined {
  const data = text.replace(/[\r\n]/g, '');
  if (!/^[A-Za-z0-9+/]*$/.test(data) || data.length % 4 === 1) return undefined;
  return Buffer.from(data, 'base64');
}

/** Parses one DER certificate, like Go's `x509.ParseCertificate` (which also rejects trailing bytes). */
function parseDerCertificate(der: Buffer): X509Certificate | Error {
  const length = derElementLength(der);
  if (length === undefined) return new Error('x509: malformed certificate');
  if (length !== der.length) return new Error('x509: trailing data');
  try {
    return new X509Certificate(der);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Total length of the outer DER SEQUENCE (tag 0x30) at the start of `der`, or undefined when malformed. */
function derElementLength(der: Buffer): number | undefined {
  if (der.length < 2 || der[0] !== 0x30) return undefined;
  const first = der[1] as number;
  if (first < 0x80) return 2 + first;
  const count = first & 0x7f;
  if (count === 0 || count > 4 || der.length < 2 + count) return undefined;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + (der[2 + i] as number);
  return 2 + count + length;
}
