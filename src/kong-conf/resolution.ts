/** The state one resolution shares between its steps and checks. Private to the module. */
import { type Diagnostic, type DiagnosticSource, diagnostic } from './diagnostics.js';
import type { KongProperties, ValueSource } from './env.js';
import { asciiLower } from './lua.js';
import { asString } from './typing.js';
import type { KongProfile, KongVersion } from './versions.js';

export class Resolution {
  readonly warnings: Diagnostic[] = [];

  constructor(
    readonly props: KongProperties,
    readonly profile: KongProfile,
    readonly version: KongVersion,
  ) {}

  add(code: string, severity: Diagnostic['severity'], message: string, key?: string): void {
    const found = key === undefined ? undefined : this.props.lookup(key);
    const source: DiagnosticSource = found && found.source !== 'default' ? found.source : 'resolver';
    this.warnings.push(diagnostic(code, severity, source, message, { line: found?.line, key }));
  }

  /** A dynamic string property (`""` is unset) with its source. */
  property(key: string): { value: string; source: ValueSource } | undefined {
    const found = this.props.lookup(key);
    const value = asString(found?.value);
    return found && value !== undefined ? { value, source: found.source } : undefined;
  }

  /** Whether a key was set by a layer above the defaults. */
  isSet(key: string): boolean {
    const found = this.props.lookup(key);
    return found !== undefined && found.source !== 'default';
  }
}

export interface ServerContext {
  prefix: string;
  exists: (path: string) => boolean;
  binDir: string;
}

/** Step 1–2 of §6.1 for the profile: the name and the property prefix. */
export function nameAndPrefix(profile: KongProfile, raw: string): { name: string; prefix: string } {
  // 2.3.x does not lower-case (spec §6.2); every version replaces only `-` in the property prefix.
  const name = profile === '2.3' ? raw : asciiLower(raw);
  return { name, prefix: `pluginserver_${name.replaceAll('-', '_')}` };
}
