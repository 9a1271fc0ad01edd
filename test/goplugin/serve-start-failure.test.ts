import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHandshake } from '../../src/goplugin/index.js';

// The plugin bundled into one file in an empty directory, as a user ships it: no protos/ or any other file
// next to it, and no source maps, so a stack trace would show up as such.
let dir: string;
let bundle: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-start-failure-'));
  bundle = join(dir, 'plugin.mjs');
  buildSync({
    entryPoints: [join(import.meta.dirname, '../fixtures/goplugin/start-failure-plugin.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bundle as a go-plugin host does; resolves on exit, or after the first stdout line (then kills it). */
function run(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle], {
      env: { PATH: process.env.PATH ?? '', BASIC_PLUGIN: 'hello', PLUGIN_PROTOCOL_VERSIONS: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the plugin neither exited nor printed a line in 20 s: ${stderr}`));
    }, 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\n')) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The one stderr line, parsed as hclog JSON. */
function onlyLogLine(stderr: string): Record<string, unknown> {
  const lines = stderr.split('\n').filter((line) => line !== '');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack frame
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('servePlugin start failures in a bundled plugin: one hclog line, exit 1, no stack trace', () => {
  it('a register function that throws', async () => {
    const result = await run({ PW_FAIL: 'register' });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const entry = onlyLogLine(result.stderr);
    expect(entry).toMatchObject({
      '@level': 'error',
      '@message': 'plugin failed to start: the KV store is unreachable',
      error: 'Error',
    });
    expect(entry['@timestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('a configuration without protocol versions', async () => {
    const result = await run({ PW_FAIL: 'config' });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(onlyLogLine(result.stderr)).toMatchObject({
      '@level': 'error',
      code: 'GOPLUGIN_INVALID_OPTIONS',
    });
  });

  it('a socket directory that does not exist (bind failure)', async () => {
    const result = await run({ PLUGIN_UNIX_SOCKET_DIR: join(dir, 'missing') });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(onlyLogLine(result.stderr)).toMatchObject({
      '@level': 'error',
      '@message': `plugin failed to start: couldn't bind a plugin Unix socket: ${JSON.stringify(join(dir, 'missing'))} does not exist (PLUGIN_UNIX_SOCKET_DIR or TMPDIR)`,
      code: 'GOPLUGIN_BIND_FAILED',
    });
  });

  it('without failure, the lone bundle (no protos/ next to it) serves and prints its handshake', async () => {
    expect(readdirSync(dir)).toEqual(['plugin.mjs']);
    const result = await run({ PLUGIN_UNIX_SOCKET_DIR: dir });
    const handshake = parseHandshake(result.stdout.split('\n')[0]!);
    expect(handshake).toMatchObject({ core: 1, appVersion: 1, network: 'unix', protocol: 'grpc' });
    expect(result.stderr).not.toMatch(/"@level":"error"/);
  });
});
