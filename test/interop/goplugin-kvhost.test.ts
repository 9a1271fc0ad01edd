/**
 * A TypeScript plugin (servePlugin) under a real Go host built on Debian's go-plugin 1.0.1 (test/fixtures/go).
 */
import { existsSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { MAGIC_COOKIE_MESSAGE } from '../../src/goplugin/env.js';
import { parseHandshake } from '../../src/goplugin/index.js';
import { goFixturesBuilt, KVHOST, KVPLUGIN, kvhostLine } from '../fixtures/go/fixtures.js';
import { checkPeer } from '../helpers/peers.js';
import { killLeftovers, type RunResult, run, startPlugin, TS_KV_ARGV } from './goplugin-run.js';

const ok = checkPeer('Go fixtures on Debian go-plugin (test/fixtures/go/build.sh)', goFixturesBuilt());

interface Session {
  result: RunResult;
  negotiated: Record<string, unknown>;
  outcome: Record<string, unknown>;
  killMs: number;
}

async function session(env: NodeJS.ProcessEnv, plugin: readonly string[] = TS_KV_ARGV): Promise<Session> {
  const result = await run([KVHOST, ...plugin], { KV_LOG: 'trace', ...env });
  const outcome = kvhostLine(result.stdout, 'RESULT');
  const killed = kvhostLine(result.stdout, 'KILLED');
  if (result.code !== 0 || outcome === undefined || killed === undefined) {
    throw new Error(`kvhost failed (${result.code})\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return {
    result,
    negotiated: kvhostLine(result.stdout, 'NEGOTIATED') ?? {},
    outcome,
    killMs: killed.ms as number,
  };
}

function expectCleanKill(s: Session): void {
  // go-plugin 1.0.1 Kill(): Shutdown RPC, then waits up to 2 s for the exit before SIGKILL + this warning.
  expect(s.result.stderr).not.toContain('plugin failed to exit gracefully');
  expect(s.result.stderr).toContain('[DEBUG] kvhost: plugin exited');
  expect(s.killMs).toBeLessThan(2000);
}

describe.skipIf(!ok)('Go kvhost → TypeScript KV plugin', () => {
  afterEach(killLeftovers);

  for (const automtls of [false, true]) {
    describe(automtls ? 'with AutoMTLS' : 'without AutoMTLS', () => {
      const env = automtls ? { KV_AUTOMTLS: '1' } : {};

      it('serves Put/Get/Ping over a Unix socket, errors carry the plugin text, and exits cleanly', async () => {
        const s = await session(env);
        expect(s.negotiated).toMatchObject({ protocol: 'grpc', version: 1, network: 'unix' });
        expect(s.outcome).toMatchObject({ ok: true, ping: true });
        expect(s.outcome.get).toBe(s.outcome.put);
        expect(s.outcome.missingError).toContain('key "missing" not found');
        expectCleanKill(s);
        // The plugin removed its socket before exiting.
        expect(existsSync(s.negotiated.address as string)).toBe(false);
        if (automtls) {
          expect(s.result.stderr).toContain('[INFO]  kvhost: configuring client automatic mTLS');
          expect(s.result.stderr).toContain('[INFO]  kvhost.node: configuring server automatic mTLS');
        }
      });

      it('works over TCP in the host port range', async () => {
        const s = await session({ ...env, TS_KV_TRANSPORT: 'tcp' });
        expect(s.negotiated.network).toBe('tcp');
        const [host, port] = String(s.negotiated.address).split(':');
        expect(host).toBe('127.0.0.1');
        expect(Number(port)).toBeGreaterThanOrEqual(10_000);
        expect(Number(port)).toBeLessThanOrEqual(25_000);
        expect(s.outcome).toMatchObject({ ok: true, ping: true });
        expectCleanKill(s);
      });

      it('brokers services both ways: the plugin dials a host service, the host dials a plugin service', async () => {
        const s = await session({ ...env, KV_BROKER: '1' });
        expect(s.outcome.callBack).toBe('plugin:host:ping');
        expect(s.outcome.offer).toBe('plugin:pong');
        expectCleanKill(s);
      });
    });
  }

  it('shows the plugin JSON log lines at their levels in the host log', async () => {
    const s = await session({});
    // The host prints key=value fields in Go map order, which varies: check each field on its own.
    const line = (prefix: string) => s.result.stderr.split('\n').find((l) => l.includes(prefix)) ?? '';
    expect(line('[TRACE] kvhost.node: registering services:')).not.toBe('');
    expect(line('[DEBUG] kvhost.node: plugin address:')).toContain('network=unix');
    expect(line('[INFO]  kvhost.node: stored:')).toContain('key=hello');
    expect(line('[INFO]  kvhost.node: stored:')).toMatch(/bytes=\d+/);
    expect(line('[DEBUG] kvhost.node: read:')).toContain('key=hello');
    expect(line('[WARN]  kvhost.node: missing key:')).toContain('key=missing');
    const lines = s.result.stderr;
    // Parsed as JSON, not passed through as text: the raw JSON never appears in the host log.
    expect(lines).not.toContain('"@level"');
  });

  it('negotiates the highest common of two versions on each side', async () => {
    const s = await session({ KV_VERSIONS: '1,2', TS_KV_VERSIONS: '2,3' });
    expect(s.negotiated.version).toBe(2);
    // The version-2 service set answered.
    expect(s.outcome.missingError).toContain('(protocol v2)');
    expectCleanKill(s);
  });

  it('without a common version the plugin offers its lowest and the host rejects it', async () => {
    const result = await run([KVHOST, ...TS_KV_ARGV], { KV_VERSIONS: '1', TS_KV_VERSIONS: '2,3' });
    expect(result.code).toBe(1);
    expect(String(kvhostLine(result.stdout, 'RESULT')?.error)).toMatch(
      /Incompatible API version with plugin/i,
    );
    expect(String(kvhostLine(result.stdout, 'RESULT')?.error)).toContain('Plugin version: 2');
  });

  it('a banner before the handshake breaks the Go host (stray stdout hazard)', async () => {
    const result = await run([KVHOST, ...TS_KV_ARGV], { TS_KV_BANNER: '1' });
    expect(result.code).toBe(1);
    expect(String(kvhostLine(result.stdout, 'RESULT')?.error)).toContain(
      'Unrecognized remote plugin message',
    );
  });

  it('the Go plugin fixture behaves the same under the same host (baseline)', async () => {
    const s = await session({ KV_BROKER: '1' }, [KVPLUGIN]);
    expect(s.outcome).toMatchObject({
      ok: true,
      ping: true,
      callBack: 'plugin:host:ping',
      offer: 'plugin:pong',
    });
    expect(s.outcome.missingError).toContain('key "missing" not found');
    expectCleanKill(s);
  });

  it('the Go plugin run by hand prints six fields with an empty 6th, like the TS plugin', async () => {
    const env = { ...process.env, BASIC_PLUGIN: 'hello', PLUGIN_PROTOCOL_VERSIONS: '1' };
    const go = await startPlugin([KVPLUGIN], env);
    const ts = await startPlugin(TS_KV_ARGV, env);
    for (const plugin of [go, ts]) {
      expect(plugin.line).toMatch(/^1\|1\|unix\|\/\S+\/plugin\d+\|grpc\|$/);
      expect(parseHandshake(plugin.line).fieldCount).toBe(6);
      plugin.child.kill('SIGTERM');
      await plugin.exited();
    }
    // A Go plugin has no SIGTERM handler and leaves its socket behind (go-plugin#119); the TS plugin does not.
    rmSync(parseHandshake(go.line).address, { force: true });
    expect(existsSync(parseHandshake(ts.line).address)).toBe(false);
  });

  it('missing cookie: the TS plugin prints the go-plugin message and exits 1 (same as the Go plugin)', async () => {
    const env = { BASIC_PLUGIN: '' };
    const ts = await run(TS_KV_ARGV, env);
    const go = await run([KVPLUGIN], env);
    for (const result of [ts, go]) {
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(MAGIC_COOKIE_MESSAGE);
      expect(result.stdout).toBe('');
    }
    const trailingSpace = await run(TS_KV_ARGV, { BASIC_PLUGIN: 'hello ' });
    expect([trailingSpace.code, trailingSpace.stderr, trailingSpace.stdout]).toEqual([
      1,
      MAGIC_COOKIE_MESSAGE,
      '',
    ]);
  });
});
