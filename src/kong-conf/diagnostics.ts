/** Where a finding comes from. */
export type DiagnosticSource = 'file' | 'env' | 'override' | 'resolver';

/**
 * One finding about a configuration: something Kong does silently (or crashes on) that a user should know.
 * Diagnostics never change what Kong would do; they explain it.
 *
 * `code` is a stable kebab-case identifier (`duplicate-key`, `pluginserver-unlisted`, …; the spec's §8.4 lists
 * them); branch on it, not on `message`.
 */
export interface Diagnostic {
  /** Stable identifier, e.g. `no-equals` or `pluginserver-unlisted`. */
  code: string;
  /** `error`: Kong sees garbage or fails; `warning`: probably a mistake; `info`: for the curious. */
  severity: 'error' | 'warning' | 'info';
  /** Human-readable explanation. */
  message: string;
  /** 1-based physical line in the file, when the cause is in the file. */
  line?: number;
  /** The (normalized) key concerned, when there is one. */
  key?: string;
  /** Which layer the cause is in. */
  source: DiagnosticSource;
}

/** Builds a diagnostic, leaving out absent optional fields (exactOptionalPropertyTypes). */
export function diagnostic(
  code: string,
  severity: Diagnostic['severity'],
  source: DiagnosticSource,
  message: string,
  where: { line?: number | undefined; key?: string | undefined } = {},
): Diagnostic {
  const result: Diagnostic = { code, severity, message, source };
  if (where.line !== undefined) result.line = where.line;
  if (where.key !== undefined) result.key = where.key;
  return result;
}
