/**
 * Runs the README's "use a go-plugin plugin from TypeScript" example against the Go KV plugin fixture, so it
 * cannot rot: the example is extracted, its package import pointed at the sources, and run as a program.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { KV_PROTO_DIR, KVPLUGIN } from '../fixtures/go/fixtures.js';
import { checkPeer } from '../helpers/peers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ok = checkPeer('Go KV plugin fixture (test/fixtures/go/build.sh)', existsSync(KVPLUGIN));

/** The ```ts block of the goplugin section that calls startPlugin. */
function readmeExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- goplugin section -->');
  const section = readme.slice(start, readme.indexOf('\n###', start));
  const block = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].find((match) =>
    match[1]?.includes('startPlugin('),
  );
  if (start === -1 || block?.[1] === undefined) throw new Error('README goplugin host example not found');
  return block[1];
}

function runExample(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, KVPLUGIN], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`README example did not finish in 45 s; stderr:\n${stderr}`));
    }, 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!ok)('README goplugin host example', () => {
  // Inside the repository, so the example's bare imports resolve from node_modules.
  const dir = mkdtempSync(join(root, 'test', 'readme-examples', '.tmp-host-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts the Go KV plugin with AutoMTLS, puts, gets, pings and kills it', {
    timeout: 60_000,
  }, async () => {
    const source = readmeExample().replace(
      "'pluginwire/goplugin'",
      JSON.stringify(join(root, 'src/goplugin/index.ts')),
    );
    const file = join(dir, 'use-kv-plugin.ts');
    writeFileSync(file, source);
    copyFileSync(join(KV_PROTO_DIR, 'kv.proto'), join(dir, 'kv.proto'));
    const result = await runExample(file);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('hello = world\n');
    // The Go plugin's hclog JSON lines, parsed into the logger with their levels.
    expect(result.stderr).toContain('[INFO] kvplugin: configuring server automatic mTLS');
    expect(result.stderr).toContain('[DEBUG] kvplugin: plugin address');
    expect(result.stderr).not.toContain('plugin failed to exit gracefully');
  });
});
