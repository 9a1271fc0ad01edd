import { KongConfVersionError } from './errors.js';

/**
 * A Kong version as users write it: `'2.3'`, `'2.8.1'`, `'3.4.2'`, `'3.9'`, `'3.10'` (master), or one of the
 * profile names (`'2.4-2.8'`, `'3.0-3.8'`).
 */
export type KongVersion = string;

/**
 * The groups of Kong versions that read kong.conf and resolve plugin servers alike (spec §8.2):
 * `2.3` (2.3.x), `2.4-2.8`, `3.0-3.8`, `3.9` (3.9.x, the last OSS release line) and `3.10` (master).
 */
export type KongProfile = '2.3' | '2.4-2.8' | '3.0-3.8' | '3.9' | '3.10';

/** The version assumed when none is given. */
export const DEFAULT_KONG_VERSION = '3.9';

const PROFILE_NAMES: readonly KongProfile[] = ['2.3', '2.4-2.8', '3.0-3.8', '3.9', '3.10'];

/**
 * Maps a Kong version to its profile.
 *
 * @param version - a version such as `'3.4.2'`; default {@link DEFAULT_KONG_VERSION}.
 * @returns the profile whose rules that version follows.
 * @throws {@link KongConfVersionError} (`KONG_CONF_UNSUPPORTED_VERSION`) for a version outside 2.3–3.10 or an
 *   unparsable string; there is no silent fallback.
 * @example
 * ```ts
 * kongProfile('2.8.1'); // '2.4-2.8'
 * kongProfile('3.10');  // '3.10'
 * ```
 */
export function kongProfile(version: KongVersion = DEFAULT_KONG_VERSION): KongProfile {
  if ((PROFILE_NAMES as readonly string[]).includes(version) && version.includes('-')) {
    return version as KongProfile;
  }
  const match = /^v?(\d{1,3})\.(\d{1,3})(?:\.(\d{1,4}))?(?:[-+.][0-9A-Za-z.+-]*)?$/.exec(version);
  if (!match) throw new KongConfVersionError(version);
  const major = Number(match[1]);
  const minor = Number(match[2]);
  if (major === 2 && minor === 3) return '2.3';
  if (major === 2 && minor >= 4 && minor <= 8) return '2.4-2.8';
  if (major === 3 && minor <= 8) return '3.0-3.8';
  if (major === 3 && minor === 9) return '3.9';
  if (major === 3 && minor === 10) return '3.10';
  throw new KongConfVersionError(version);
}

/** Whether the profile resolves plugin servers in the conf loader (3.9+) rather than at runtime. */
export function resolvesAtLoad(profile: KongProfile): boolean {
  return profile === '3.9' || profile === '3.10';
}

/** Whether the profile is a 2.x one (legacy Go keys exist). */
export function isTwoX(profile: KongProfile): boolean {
  return profile === '2.3' || profile === '2.4-2.8';
}
