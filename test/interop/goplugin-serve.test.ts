/**
 * The TypeScript plugin runtime as a process, driven directly: a grpc-js client plays the parts of a current
 * go-plugin host that Debian's 1.0.1 cannot (GRPCStdio), plus the environment edge cases of spec §13.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';
// The .proto files, loaded with proto-loader: an independent check of the compiled definitions the runtime uses.
import { GOPLUGIN_PROTO_DIR, GOPLUGIN_PROTO_FILES } from '../../scripts/gen-goplugin-protos.js';
import { buildPluginEnv } from '../../src/goplugin/env.js';
import { parseHandshake } from '../../src/goplugin/index.js';
import { MAX_SOCKET_PATH_BYTES } from '../../src/goplugin/listen.js';
import { generateAutoMTLSCertificate } from '../../src/goplugin/mtls.js';
import { killLeftovers, run, startPlugin, TS_KV_ARGV } from './goplugin-run.js';

const dir = GOPLUGIN_PROTO_DIR;
const root = loadPackageDefinition(
  loadSync(
    GOPLUGIN_PROTO_FILES.map((file) => join(dir, file)),
    { keepCase: true, enums: String, defaults: true, includeDirs: [dir] },
  ),
);
const pkg = (path: string) => {
  let node: unknown = root;
  for (const part of path.split('.')) node = (node as GrpcObject)[part];
  return node as ServiceClientConstructor;
};
const Health = pkg('grpc.health.v1.Health');
const Stdio = pkg('plugin.GRPCStdio');
const Controller = pkg('plugin.GRPCController');

type Unary = (
  request: unknown,
  done: (error: (Error & { code?: number }) | null, reply?: unknown) => void,
) => void;
function call(
  client: InstanceType<ServiceClientConstructor>,
  method: string,
  request: unknown,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    (client[method] as Unary).call(client, request, (error, reply) =>
      error ? reject(error) : resolve(reply),
    );
  });
}

const baseEnv = () => ({
  ...process.env,
  ...buildPluginEnv({ magicCookieKey: 'BASIC_PLUGIN', magicCookieValue: 'hello', versions: [1] }),
});
const temps: string[] = [];

describe('servePlugin as a process', () => {
  afterEach(async () => {
    await killLeftovers();
    for (const temp of temps.splice(0)) rmSync(temp, { recursive: true, force: true });
  });

  it('serves health, streams post-handshake stdout over GRPCStdio, and exits 0 on Shutdown', async () => {
    const plugin = await startPlugin(TS_KV_ARGV, baseEnv());
    expect(plugin.line).toMatch(/^1\|1\|unix\|\/\S+\/plugin\d+\|grpc\|$/);
    const hs = parseHandshake(plugin.line);
    const target = `unix:${hs.address}`;
    const health = new Health(target, credentials.createInsecure());
    expect(await call(health, 'Check', { service: 'plugin' })).toEqual({ status: 'SERVING' });
    expect(await call(health, 'Check', { service: '' })).toEqual({ status: 'SERVING' });
    await expect(call(health, 'Check', { service: 'nope' })).rejects.toMatchObject({ code: 5 });
    health.close();

    // The fixture console.logs a line right after the handshake; it waits for the first stdio stream.
    const stdio = new Stdio(target, credentials.createInsecure());
    const stream = (stdio.StreamStdio as (r: unknown) => NodeJS.ReadableStream & { cancel(): void }).call(
      stdio,
      {},
    );
    const chunk = await new Promise<{ channel: string; data: Buffer }>((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', reject);
    });
    expect(chunk.channel).toBe('STDOUT');
    expect(chunk.data.toString()).toBe(`serving protocol 1 on ${hs.address}\n`);
    expect(plugin.rest()).toBe(''); // nothing after the handshake reached the real stdout
    stream.on('error', () => {}); // the stream ends with the server
    const controller = new Controller(target, credentials.createInsecure());
    const started = performance.now();
    await call(controller, 'Shutdown', {}).catch((error: { code?: number }) => {
      // go-plugin hosts accept UNAVAILABLE too; our runtime answers before stopping, so expect OK.
      throw error;
    });
    const exit = await plugin.exited(5000);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(exit).toEqual({ code: 0, signal: null });
    controller.close();
    stdio.close();
    expect(() => statSync(hs.address)).toThrow();
  });

  for (const transport of ['unix', 'tcp']) {
    it(`AutoMTLS over ${transport}: trusts only the host certificate and presents its own`, async () => {
      const hostCert = generateAutoMTLSCertificate();
      const plugin = await startPlugin(TS_KV_ARGV, {
        ...baseEnv(),
        TS_KV_TRANSPORT: transport,
        PLUGIN_CLIENT_CERT: hostCert.certPem,
      });
      const hs = parseHandshake(plugin.line, { autoMTLS: true });
      expect(plugin.line.split('|')[5]?.length).toBeGreaterThan(50);
      const target = hs.network === 'unix' ? `unix:${hs.address}` : hs.address;
      // The certificate names only DNS:localhost (spec §9.3).
      const options = { 'grpc.ssl_target_name_override': 'localhost' };
      const pem = hs.serverCertPem ?? '';
      const good = new Health(
        target,
        credentials.createSsl(Buffer.from(pem), Buffer.from(hostCert.keyPem), Buffer.from(hostCert.certPem)),
        options,
      );
      expect(await call(good, 'Check', { service: 'plugin' })).toEqual({ status: 'SERVING' });
      good.close();
      const stranger = generateAutoMTLSCertificate({ curve: 'P-256' });
      const bad = new Health(
        target,
        credentials.createSsl(Buffer.from(pem), Buffer.from(stranger.keyPem), Buffer.from(stranger.certPem)),
        options,
      );
      await expect(call(bad, 'Check', { service: 'plugin' })).rejects.toMatchObject({ code: 14 });
      bad.close();
      const anonymous = new Health(target, credentials.createSsl(Buffer.from(pem)), options);
      await expect(call(anonymous, 'Check', { service: 'plugin' })).rejects.toMatchObject({ code: 14 });
      anonymous.close();
      plugin.child.kill('SIGTERM');
      await plugin.exited();
    });
  }

  it('C3 skips invalid host versions with a newline-terminated note', async () => {
    const plugin = await startPlugin(TS_KV_ARGV, { ...baseEnv(), PLUGIN_PROTOCOL_VERSIONS: 'x,1' });
    expect(parseHandshake(plugin.line).appVersion).toBe(1);
    expect(plugin.stderr()).toContain('server sent invalid plugin version "x"\n');
    plugin.child.kill('SIGTERM');
    await plugin.exited();
    expect(() => statSync(parseHandshake(plugin.line).address)).toThrow(); // SIGTERM removes the socket
  });

  it('ignores SIGINT like a Go plugin', async () => {
    const plugin = await startPlugin(TS_KV_ARGV, baseEnv());
    plugin.child.kill('SIGINT');
    const health = new Health(`unix:${parseHandshake(plugin.line).address}`, credentials.createInsecure());
    expect(await call(health, 'Check', { service: 'plugin' })).toEqual({ status: 'SERVING' });
    health.close();
    plugin.child.kill('SIGTERM');
    await plugin.exited();
  });

  it('honours PLUGIN_UNIX_SOCKET_DIR and PLUGIN_UNIX_SOCKET_GROUP (gid, mode 0660)', async () => {
    const socketDir = mkdtempSync(join(tmpdir(), 'pw-'));
    temps.push(socketDir);
    const gid = process.getgid?.() ?? 0;
    const plugin = await startPlugin(TS_KV_ARGV, {
      ...baseEnv(),
      PLUGIN_UNIX_SOCKET_DIR: socketDir,
      PLUGIN_UNIX_SOCKET_GROUP: String(gid),
    });
    const address = parseHandshake(plugin.line).address;
    expect(address.startsWith(`${socketDir}/plugin`)).toBe(true);
    const info = statSync(address);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o660);
    expect(info.gid).toBe(gid);
    plugin.child.kill('SIGTERM');
    await plugin.exited();
  });

  it('TCP scans the port range upwards and binds 127.0.0.1; 0/0 means an ephemeral port', async () => {
    const first = await startPlugin(TS_KV_ARGV, {
      ...baseEnv(),
      TS_KV_TRANSPORT: 'tcp',
      PLUGIN_MIN_PORT: '0',
      PLUGIN_MAX_PORT: '0',
    });
    const taken = Number(parseHandshake(first.line).address.split(':')[1]);
    expect(parseHandshake(first.line).address).toMatch(/^127\.0\.0\.1:\d+$/);
    const second = await startPlugin(TS_KV_ARGV, {
      ...baseEnv(),
      TS_KV_TRANSPORT: 'tcp',
      PLUGIN_MIN_PORT: String(taken),
      PLUGIN_MAX_PORT: String(taken + 1),
    });
    expect(parseHandshake(second.line).address).toBe(`127.0.0.1:${taken + 1}`);
    for (const plugin of [first, second]) plugin.child.kill('SIGTERM');
    await Promise.all([first.exited(), second.exited()]);
  });

  it('T1/T2 a bad port range logs the reason and exits 1 without a handshake', async () => {
    const reversed = await run(TS_KV_ARGV, {
      ...baseEnv(),
      TS_KV_TRANSPORT: 'tcp',
      PLUGIN_MIN_PORT: '20000',
      PLUGIN_MAX_PORT: '10000',
    });
    expect([reversed.code, reversed.stdout]).toEqual([1, '']);
    expect(reversed.stderr).toContain(
      'PLUGIN_MIN_PORT value of 20000 is greater than PLUGIN_MAX_PORT value of 10000',
    );
    const entry = JSON.parse(reversed.stderr.trim().split('\n').at(-1) ?? '{}') as Record<string, string>;
    expect(entry['@level']).toBe('error');
    expect(entry['@timestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const garbage = await run(TS_KV_ARGV, { ...baseEnv(), TS_KV_TRANSPORT: 'tcp', PLUGIN_MIN_PORT: 'abc' });
    expect([garbage.code, garbage.stdout]).toEqual([1, '']);
    expect(garbage.stderr).toContain("couldn't get value from PLUGIN_MIN_PORT");
  });

  it('T5 refuses a socket directory that would exceed the sun_path limit', async () => {
    const base = mkdtempSync(join(tmpdir(), 'pw-'));
    temps.push(base);
    const long = join(base, 'd'.repeat(MAX_SOCKET_PATH_BYTES - base.length - '/plugin0000000000'.length));
    expect(Buffer.byteLength(join(long, 'plugin0000000000'))).toBe(MAX_SOCKET_PATH_BYTES + 1);
    const result = await run(TS_KV_ARGV, { ...baseEnv(), PLUGIN_UNIX_SOCKET_DIR: long });
    expect([result.code, result.stdout]).toEqual([1, '']);
    expect(result.stderr).toContain(`${MAX_SOCKET_PATH_BYTES}-byte sun_path limit`);
  });

  it('stops and removes its socket when the host process goes away (ppid poll)', async () => {
    // A stand-in host that starts the plugin, reports its handshake, and exits without killing it.
    const host = [
      "const { spawn } = require('node:child_process');",
      `const child = spawn(process.execPath, ${JSON.stringify(TS_KV_ARGV.slice(1))}, { stdio: ['ignore', 'pipe', 'ignore'] });`,
      "child.stdout.once('data', (d) => { process.stdout.write(JSON.stringify({ pid: child.pid, line: String(d).split('\\n')[0] }) + '\\n'); process.exit(0); });",
    ].join('\n');
    const result = await run([process.execPath, '-e', host], baseEnv());
    const { pid, line } = JSON.parse(result.stdout) as { pid: number; line: string };
    const address = parseHandshake(line).address;
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      // No event to subscribe to for a process that is not our child: poll, bounded.
      const deadline = performance.now() + 10_000;
      while (alive() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(alive()).toBe(false);
      expect(() => statSync(address)).toThrow();
    } finally {
      if (alive()) process.kill(pid, 'SIGKILL');
    }
  });

  it('exits 1 when PLUGIN_CLIENT_CERT is not a certificate', async () => {
    const result = await run(TS_KV_ARGV, { ...baseEnv(), PLUGIN_CLIENT_CERT: 'not a pem' });
    expect([result.code, result.stdout]).toEqual([1, '']);
    expect(result.stderr).toContain('client cert provided but failed to parse');
  });
});
