import { type Env, type KongProperties, layerProperties, type Overrides } from './env.js';
import type { ParsedConf } from './parse.js';
import { DEFAULT_KONG_VERSION, type KongVersion, kongProfile } from './versions.js';

/** Options of {@link kongProperties}. */
export interface PropertiesOptions {
  /** The Kong version (selects the defaults, e.g. the legacy Go keys on 2.x); default `'3.9'`. */
  kongVersion?: KongVersion;
  /** The environment; default: the one attached by `loadKongConf`, else none. */
  env?: Env;
  /** Programmatic overrides (Kong's `custom_conf`). */
  overrides?: Overrides;
}

/**
 * The merged view Kong builds from its defaults, the file, the environment and the overrides (spec §4), before
 * typing: `lookup(key)` tells the effective value and its layer. Combine with {@link asBoolean},
 * {@link asArray} and friends to get Kong's typed value. Only the defaults of the properties this module types
 * are built in (`prefix`, `plugins`, `pluginserver_names`, `log_level`, `database`, `pg_ssl`, `pg_password`,
 * and on 2.x `go_plugins_dir`, `go_pluginserver_exe`).
 *
 * @param conf - the parsed file, or `undefined` to run on defaults as Kong does without a file.
 * @param options - version, environment, overrides.
 * @throws {@link KongConfVersionError} for an unsupported `kongVersion`.
 * @example
 * ```ts
 * const props = kongProperties(parseKongConf('pg_ssl = on\n'), { env: { KONG_PG_SSL: 'off' } });
 * asBoolean(props.get('pg_ssl')); // false: the environment wins
 * ```
 */
export function kongProperties(
  conf: ParsedConf | undefined,
  options: PropertiesOptions = {},
): KongProperties {
  const profile = kongProfile(options.kongVersion ?? DEFAULT_KONG_VERSION);
  return layerProperties(conf, options.env ?? conf?.env ?? {}, options.overrides ?? {}, profile);
}
