/**
 * Plugin-side version negotiation (`hashicorp/go-plugin: server.go`, `protocolVersion`).
 */

import { parseGoInt } from './goint.js';
import { InvalidPluginOptionsError } from './host/errors.js';

/** Outcome of {@link negotiateProtocolVersion}. */
export interface ProtocolNegotiation {
  /** The version the plugin serves and prints in field 2 of its handshake. */
  version: number;
  /** Whether `version` is one the host offered (`false`: fell back to the lowest plugin version). */
  matched: boolean;
  /** The host's versions that parsed, in the order sent. */
  hostVersions: number[];
  /**
   * Entries of the variable that are not Go `Atoi` integers; a Go plugin reports each on stderr as
   * `server sent invalid plugin version "<s>"` and skips it.
   */
  invalid: string[];
}

/**
 * Picks the application protocol version exactly as a Go plugin does: split `PLUGIN_PROTOCOL_VERSIONS` on `,`,
 * parse each entry with Go's `Atoi` rules without trimming (invalid entries are collected in `invalid` and
 * skipped), then return the highest plugin version the host offered, or, when none matches (or the variable is
 * unset), the plugin's **lowest** version. The plugin still starts with that version and the host reports the
 * mismatch.
 *
 * @param envValue - the value of `PLUGIN_PROTOCOL_VERSIONS` (`undefined` or `''` when unset).
 * @param serverVersions - the plugin's versions (any order, at least one).
 * @returns the chosen version and diagnostics.
 * @throws `InvalidPluginOptionsError` when `serverVersions` is empty or holds a non-integer.
 * @example
 * ```ts
 * negotiateProtocolVersion('3,1', [2, 3]).version; // 3
 * negotiateProtocolVersion(undefined, [2, 3]).version; // 2
 * ```
 */
export function negotiateProtocolVersion(
  envValue: string | undefined,
  serverVersions: readonly number[],
): ProtocolNegotiation {
  if (serverVersions.length === 0 || !serverVersions.every((v) => Number.isSafeInteger(v))) {
    throw new InvalidPluginOptionsError(
      `a plugin needs at least one integer protocol version, got [${serverVersions.join(', ')}]`,
    );
  }
  const hostVersions: number[] = [];
  const invalid: string[] = [];
  if (envValue !== undefined && envValue !== '') {
    for (const entry of envValue.split(',')) {
      const parsed = parseGoInt(entry);
      if (parsed === undefined) invalid.push(entry);
      else hostVersions.push(Number(parsed));
    }
  }
  const descending = [...serverVersions].sort((a, b) => b - a);
  const match = descending.find((version) => hostVersions.includes(version));
  if (match !== undefined) return { version: match, matched: true, hostVersions, invalid };
  return { version: descending[descending.length - 1] as number, matched: false, hostVersions, invalid };
}
