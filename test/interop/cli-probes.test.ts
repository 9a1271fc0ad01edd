/**
 * The built `pluginwire` binary against real peers: `kong-probe` against kong-pdk's kong-js-pluginserver and
 * a KongPluginServer, `goplugin-probe` against the Go KV plugin built on Debian's go-plugin 1.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { KongPluginServer } from '../../src/kong-rpc/index.js';
import { goFixturesBuilt, KVPLUGIN } from '../fixtures/go/fixtures.js';
import { ensureCliBuilt, runCli } from '../helpers/cli.js';
import { checkPeer } from '../helpers/peers.js';
import { capture } from '../kong-rpc/protobuf/captures.js';
import { type ScriptedServer, scriptedServer } from '../kong-rpc/protobuf/scripted-server.js';

const kongJs = fileURLToPath(new URL('../../node_modules/.bin/kong-js-pluginserver', import.meta.url));
const pluginsDir = fileURLToPath(new URL('../fixtures/kong-pdk/plugins', import.meta.url));
const kongJsPresent = checkPeer('kong-pdk (npm dev dependency, kong-js-pluginserver)', existsSync(kongJs));
const goPresent = checkPeer(
  'Go fixtures (test/fixtures/go/build.sh: go + go-plugin 1.0.1)',
  goFixturesBuilt(),
);

/** Waits (bounded) until the child prints `text` on stdout or stderr. */
function waitForOutput(child: ChildProcess, text: string, timeout: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${timeout} ms: ${seen}`)), timeout);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before printing "${text}": ${seen}`));
    });
  });
}

beforeAll(() => ensureCliBuilt(), 120_000);

describe.skipIf(!kongJsPresent)('pluginwire kong-probe against kong-js-pluginserver', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-cli-kong-'));
  let child: ChildProcess;
  let exited: Promise<unknown>;

  beforeAll(async () => {
    child = spawn(kongJs, ['-p', dir, '--sock-name', 'js.sock', '-d', pluginsDir], { stdio: 'pipe' });
    exited = new Promise((resolve) => child.once('exit', resolve));
    await waitForOutput(child, 'server started at', 30_000);
  });
  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the server pid and each plugin’s info', async () => {
    const run = await runCli(['kong-probe', join(dir, 'js.sock')]);
    expect(run.code).toBe(0);
    // kong-js-pluginserver does not greet: the probe's safe msgpack request tells.
    expect(run.stdout).toContain('MsgPack:1 (detected: it answered a msgpack-RPC request)');
    expect(run.stdout).toContain(`pid ${child.pid}, 1 plugin info(s)`);
    expect(run.stdout).toMatch(/gatekeeper\s+1\.2\.0\s+900\s+(log,access|access,log)/);
    expect(run.stdout).toContain('schema gatekeeper: {"name":"gatekeeper"');
  });

  it('prints JSON with --json and exits 1 naming an unknown --plugin', async () => {
    const json = await runCli(['kong-probe', join(dir, 'js.sock'), '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      protocol: string;
      status: { Pid: number };
      plugins: { name: string }[];
    };
    expect(parsed.protocol).toBe('MsgPack:1');
    expect(parsed.status.Pid).toBe(child.pid);
    expect(parsed.plugins.map((p) => p.name)).toEqual(['gatekeeper']);
    const unknown = await runCli(['kong-probe', join(dir, 'js.sock'), '--plugin', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain('plugin.GetPluginInfo "nope": ');
  });
});

describe('pluginwire kong-probe against a KongPluginServer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-cli-kts-'));
  const server = new KongPluginServer();
  server.addPlugin({
    name: 'hello',
    version: '2.0.0',
    priority: 7,
    schema: [{ greeting: { type: 'string' } }],
    create: () => ({ async access() {} }),
  });
  let socketPath: string;

  beforeAll(async () => {
    socketPath = await server.listen({ socketPath: join(dir, 'hello.socket') });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the TypeScript server’s plugin', async () => {
    const run = await runCli(['kong-probe', socketPath, '--plugin', 'hello']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'MsgPack:1 (detected: it sent a msgpack-RPC notification on connect (serverPid))',
    );
    expect(run.stdout).toContain(`pid ${process.pid}`);
    expect(run.stdout).toMatch(/hello\s+2\.0\.0\s+7\s+access/);
  });

  it('exits 1 with the connect error for a socket nobody listens on, 2 for a bad --timeout', async () => {
    const run = await runCli(['kong-probe', join(dir, 'nobody.sock'), '--timeout', '2000']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('cannot connect');
    expect(run.stderr).toContain('ENOENT');
    const known = await runCli(['kong-probe', join(dir, 'nobody.sock'), '--protocol', 'ProtoBuf:1']);
    expect(known.code).toBe(1);
    expect(known.stderr).toContain('KONG_RPC_CONNECT');
    expect((await runCli(['kong-probe', socketPath, '--timeout', 'soon'])).code).toBe(2);
    expect((await runCli(['kong-probe', socketPath, '--protocol', 'Grpc:1'])).code).toBe(2);
  });

  it('with --protocol ProtoBuf:1 against this MsgPack:1 server: exit 1 naming both protocols, at once', async () => {
    const started = performance.now();
    const run = await runCli(['kong-probe', socketPath, '--protocol', 'ProtoBuf:1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('KONG_RPC_PROTOCOL_MISMATCH');
    expect(run.stderr).toContain('MsgPack:1');
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

describe('pluginwire kong-probe against a ProtoBuf:1 server (replaying go-pdk v0.11)', () => {
  // The scripted server answers as go-pdk does: an empty frame to names/info (pb-04), nothing else.
  let server: ScriptedServer;
  const seen: string[] = [];
  const dumpDir = mkdtempSync(join(tmpdir(), 'pw-cli-pb-'));
  const dumpFile = join(dumpDir, 'dump.json');

  beforeAll(async () => {
    server = await scriptedServer(async (conn) => {
      for (;;) {
        const frame = await conn.readFrame();
        seen.push(frame.subarray(0, 4).toString('hex'));
        conn.frame(new Uint8Array(0));
      }
    });
    writeFileSync(dumpFile, capture('pb-01').dump_stdout);
  });
  afterAll(async () => {
    await server.close();
    rmSync(dumpDir, { recursive: true, force: true });
  });

  it('detects ProtoBuf:1 without sending it a frame length it would allocate gigabytes for', async () => {
    seen.length = 0;
    const run = await runCli(['kong-probe', server.socketPath, '--json']);
    const report = JSON.parse(run.stdout) as {
      protocol: string;
      protocolSource: string;
      errors: Record<string, string>;
    };
    expect(report.protocol).toBe('ProtoBuf:1');
    expect(report.protocolSource).toMatch(/did not answer a msgpack-RPC request/);
    // Reported, not fatal: what go-pdk answers.
    expect(report.errors.cmd_get_plugin_names).toContain('empty frame');
    expect(run.code).toBe(0);
  });

  it('takes the protocol and plugin names from --dump and reports each answer', async () => {
    const run = await runCli(['kong-probe', server.socketPath, '--dump', dumpFile]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`ProtoBuf:1 (the dump (${dumpFile}))`);
    expect(run.stdout).toContain('cmd_get_plugin_info "pw-pbcheck": ');
    expect(run.stdout).toContain('empty frame');
  });
});

describe.skipIf(!goPresent)('pluginwire goplugin-probe against the Go KV plugin', () => {
  it('prints handshake fields, health, the reflection verdict and the log, then kills the plugin', async () => {
    const run = await runCli(['goplugin-probe', '--cookie', 'BASIC_PLUGIN=hello', '--', KVPLUGIN], {
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/handshake: 1\|1\|unix\|\/\S+\|grpc\|/);
    expect(run.stdout).toMatch(/3\s+network\s+unix/);
    expect(run.stdout).toMatch(/5\s+protocol\s+grpc/);
    expect(run.stdout).toContain('health: SERVING');
    // Debian's go-plugin 1.0.1 does not register gRPC reflection.
    expect(run.stdout).toContain(
      'services: gRPC reflection is unavailable (grpc.reflection.v1: not registered',
    );
    expect(run.stdout).toMatch(/\[DEBUG\] plugin kvplugin: plugin address address=\/\S+ network=unix/);
    expect(run.stdout).toContain('killed: exit status 0');
  });

  it('shows the AutoMTLS certificate field and negotiates version 2 when the plugin offers it', async () => {
    const run = await runCli(
      [
        'goplugin-probe',
        '--cookie',
        'BASIC_PLUGIN=hello',
        '--auto-mtls',
        '--versions',
        '1,2',
        '--json',
        '--',
        KVPLUGIN,
      ],
      { timeout: 60_000, env: { KV_PLUGIN_VERSIONS: '1,2' } },
    );
    expect(run.code).toBe(0);
    const parsed = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(parsed).toMatchObject({ protocolVersion: 2, healthy: true, reflection: { available: false } });
    expect((parsed.handshake as { serverCertBytes: number }).serverCertBytes).toBeGreaterThan(100);
  });

  it('exits 1 with the plugin’s stderr when the cookie is wrong, 2 without --cookie or command', async () => {
    const run = await runCli(['goplugin-probe', '--cookie', 'BASIC_PLUGIN=nope', '--', KVPLUGIN], {
      timeout: 60_000,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('GOPLUGIN_EXITED_BEFORE_HANDSHAKE');
    expect(run.stderr).toContain('This binary is a plugin');
    const noCookie = await runCli(['goplugin-probe', '--', KVPLUGIN]);
    expect(noCookie.code).toBe(2);
    expect(noCookie.stderr).toContain('--cookie KEY=VALUE is required');
    expect((await runCli(['goplugin-probe', '--cookie', 'A=b'])).code).toBe(2);
  });

  it('lists the services of a plugin that registers gRPC reflection', async () => {
    const plugin = fileURLToPath(new URL('../fixtures/cli/reflecting-plugin.ts', import.meta.url));
    const run = await runCli(
      ['goplugin-probe', '--cookie', 'BASIC_PLUGIN=hello', '--', process.execPath, '--import', 'tsx', plugin],
      { timeout: 60_000 },
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'services (grpc.reflection.v1alpha):\n  grpc.health.v1.Health\n  grpc.reflection.v1alpha.ServerReflection\n  plugin.GRPCBroker\n',
    );
    expect(run.stdout).toContain('killed: exit status 0');
  });

  it('shows progress on stderr when stderr is a terminal, and only then', async () => {
    const run = async (progress: boolean) => {
      let stdout = '';
      let stderr = '';
      const code = await main(['goplugin-probe', '--cookie', 'BASIC_PLUGIN=hello', '--', KVPLUGIN], {
        stdout: { write: (text: string) => (stdout += text) },
        stderr: { write: (text: string) => (stderr += text) },
        stdin: process.stdin,
        progress,
        env: process.env,
      });
      return { code, stdout, stderr };
    };
    const terminal = await run(true);
    expect(terminal.code).toBe(0);
    expect(terminal.stderr).toContain(`… starting ${KVPLUGIN}`);
    expect(terminal.stderr).toContain('… killing the plugin');
    const piped = await run(false);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toContain('health: SERVING');
  });

  it('exits 1 with a clear message for a command that does not exist', async () => {
    const run = await runCli(['goplugin-probe', '--cookie', 'A=b', '--', '/nonexistent/plugin']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('GOPLUGIN_SPAWN_FAILED');
  });
});
