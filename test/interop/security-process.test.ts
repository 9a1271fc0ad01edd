/**
 * SECURITY.md, processes: AutoMTLS is never silently dropped when the host asks for it; the magic cookie is a
 * UX check anybody can pass; `start_cmd` goes through a shell (Kong's design) while the supervisor's argv form
 * does not. Real processes.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAGIC_COOKIE_MESSAGE } from '../../src/goplugin/env.js';
import { PluginStartError, startPlugin } from '../../src/goplugin/index.js';
import { PluginServerSupervisor } from '../../src/socket/index.js';

const TS_KV_PLUGIN = join(import.meta.dirname, '..', 'fixtures', 'goplugin', 'ts-kv-plugin.ts');
const COOKIE = { magicCookieKey: 'BASIC_PLUGIN', magicCookieValue: 'hello' } as const;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-secp-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the TS KV plugin directly (no host) and returns its first stdout line and exit code. */
async function runPluginDirectly(
  env: NodeJS.ProcessEnv,
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', TS_KV_PLUGIN], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    // Served: the handshake line is out; end the plugin.
    if (stdout.includes('\n')) child.kill('SIGKILL');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { stdout, stderr, code };
}

describe('AutoMTLS', () => {
  it('a host that asks for AutoMTLS refuses a plugin that answers in plaintext (no silent downgrade)', async () => {
    // A plugin that receives the host certificate and ignores it, answering a plaintext handshake.
    const script = [
      "if (!(process.env.PLUGIN_CLIENT_CERT ?? '').startsWith('-----BEGIN CERTIFICATE-----')) process.exit(3);",
      "process.stdout.write('1|1|unix|/nonexistent/plugin1|grpc|\\n');",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const error = await startPlugin({
      ...COOKIE,
      command: process.execPath,
      args: ['-e', script],
      autoMTLS: true,
      startTimeout: 20_000,
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(PluginStartError);
    expect(error).toMatchObject({
      code: 'GOPLUGIN_HANDSHAKE_REJECTED',
      cause: { code: 'GOPLUGIN_CERT_MISSING' },
    });
  });
});

describe('the magic cookie', () => {
  it('is a UX check: anyone who sets the variable by hand runs the plugin, no host needed', async () => {
    const base = { PATH: process.env.PATH, PLUGIN_PROTOCOL_VERSIONS: '1', PLUGIN_UNIX_SOCKET_DIR: tempDir() };
    const refused = await runPluginDirectly(base);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(MAGIC_COOKIE_MESSAGE.split('\n')[0]);
    const served = await runPluginDirectly({ ...base, BASIC_PLUGIN: 'hello' });
    expect(served.stdout).toMatch(/^1\|1\|unix\|\S+\|grpc\|/);
  });
});

describe('start_cmd and the argv form', () => {
  async function runOnce(definition: { startCmd?: string; argv?: string[] }, dir: string): Promise<void> {
    const supervisor = new PluginServerSupervisor(
      { name: 'sec', socket: join(dir, 's.sock'), ...definition },
      { awaitReady: false, restartOnCleanExit: false, stopTimeout: 2_000 },
    );
    cleanups.push(() => supervisor.stop({ timeout: 1_000 }));
    const stopped = once(supervisor, 'stopped');
    await supervisor.start();
    await stopped;
  }

  it('start_cmd is shell syntax (Kong runs /bin/sh -c "exec <start_cmd>"): $(…) in it runs', async () => {
    const dir = tempDir();
    await runOnce({ startCmd: `touch ${dir}/$(echo expanded)` }, dir);
    expect(existsSync(join(dir, 'expanded'))).toBe(true);
  });

  it('the argv form passes the same text as one literal argument: nothing is expanded', async () => {
    const dir = tempDir();
    await runOnce({ argv: ['touch', `${dir}/$(echo expanded)`] }, dir);
    expect(readdirSync(dir)).toContain('$(echo expanded)');
    expect(existsSync(join(dir, 'expanded'))).toBe(false);
  });
});
