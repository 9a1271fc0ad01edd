/**
 * Runs the built `pluginwire` binary (dist/cli.js) in tests. CI builds it with `npm run build` before
 * `npm test`; locally, when dist/cli.js is missing or older than a source file, {@link ensureCliBuilt} bundles
 * it the way tsup.config.ts's CLI entry does (esbuild, ESM, shebang, dependencies external), written to a
 * temporary file and renamed so parallel test files never see half a binary, and without cleaning dist/.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from './socket.js';

/** The built binary. */
export const CLI = join(ROOT, 'dist', 'cli.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/cli.js when it is missing or stale. */
export async function ensureCliBuilt(): Promise<void> {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestSource(join(ROOT, 'src'))) return;
  const result = await build({
    entryPoints: [join(ROOT, 'src/cli/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    banner: { js: '#!/usr/bin/env node' },
    write: false,
    outfile: CLI,
    logLevel: 'silent',
  });
  // A fresh clone has no dist/ until `npm run build`.
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const temporary = `${CLI}.${process.pid}.tmp`;
  writeFileSync(temporary, result.outputFiles[0]?.contents ?? new Uint8Array());
  chmodSync(temporary, 0o755);
  renameSync(temporary, CLI);
}

/** What a run of the binary produced. */
export interface CliRun {
  /** Exit status (`null` if killed by a signal). */
  code: number | null;
  /** Everything on stdout. */
  stdout: string;
  /** Everything on stderr. */
  stderr: string;
}

/**
 * Runs `dist/cli.js args…` and collects its output; kills it (and fails) after `timeout` ms.
 *
 * @param args - the command line.
 * @param options - stdin bytes, extra environment, working directory, timeout (default 30 s).
 */
export function runCli(
  args: readonly string[],
  options: { input?: string | Uint8Array; env?: Record<string, string>; cwd?: string; timeout?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pluginwire ${args.join(' ')} did not exit within ${options.timeout ?? 30_000} ms`));
    }, options.timeout ?? 30_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
