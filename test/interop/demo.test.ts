/**
 * `npm run demo` (examples/gateway/main.ts, run with tsx as the script does): it must print the trace, exit 0,
 * and leave no process, socket or prefix directory behind; `--serve` must keep serving until SIGINT.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPeer } from '../helpers/peers.js';
import { ROOT } from '../helpers/socket.js';

const MAIN = join(ROOT, 'examples/gateway/main.ts');
const present = checkPeer(
  'kong-pdk (npm dev dependency, node_modules/.bin/kong-js-pluginserver)',
  existsSync(join(ROOT, 'node_modules/.bin/kong-js-pluginserver')),
);

function startDemo(args: string[]): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Resolves with the exit status, or kills the demo and rejects after `timeout`. */
function bounded(demo: ReturnType<typeof startDemo>, timeout: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      demo.child.kill('SIGKILL');
      reject(new Error(`the demo did not exit within ${timeout} ms:\n${demo.output()}`));
    }, timeout);
    void demo.exited.then((code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const KV_PLUGIN = join(ROOT, 'examples/gateway/kv-plugin.ts');

/**
 * Processes still running from this demo run: the plugin servers (their command lines hold its prefix) and the
 * go-plugin plugin (this checkout's examples/gateway/kv-plugin.ts; other checkouts' processes do not count).
 */
function leftovers(prefix: string): string[] {
  const table = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' }).split('\n');
  return table.filter(
    (line) => !/^\s*\d+\s+Z/.test(line) && (line.includes(prefix) || line.includes(KV_PLUGIN)),
  );
}

function prefixOf(output: string): string {
  const prefix = output.match(/prefix (\/\S+)\)/)?.[1];
  if (prefix === undefined) throw new Error(`no prefix line in:\n${output}`);
  return prefix;
}

describe.skipIf(!present)('npm run demo', () => {
  it('runs the plugins of all three servers (MsgPack:1 and ProtoBuf:1) for four requests, shows the RPC trace and a KV round trip, exits 0 clean', async () => {
    const demo = startDemo([]);
    const code = await bounded(demo, 120_000);
    const output = demo.output();
    expect(output).not.toContain('demo failed');
    expect(code).toBe(0);
    expect(output).toContain('js serves greeter 1.0.0 (priority 900');
    expect(output).toContain('ts serves stamp 0.1.0 (priority 10');
    expect(output).toContain('pb serves tagger 0.1.0 (priority 50');
    // Each server's protocol, from its dump; the ProtoBuf:1 one is a TypeScript plugin standing in for a Go one.
    expect(output).toMatch(/ {2}ts: pid \d+, ready on its socket, speaks MsgPack:1/);
    expect(output).toMatch(/ {2}js: pid \d+, ready on its socket, speaks MsgPack:1/);
    expect(output).toMatch(/ {2}pb: pid \d+, ready on its socket, speaks ProtoBuf:1/);
    expect(output).toContain('access tagger (pb, ProtoBuf:1)');
    expect(output).toContain('pdk kong.response.set_header("x-tagger","protobuf /hello") = null');
    expect(output).toContain('log [notice] tagger: tagger saw GET /hello -> 403');
    // The tap decodes real msgpack-RPC traffic both ways.
    expect(output).toMatch(/rpc gateway → js: \[0, \d+, plugin\.StartInstance/);
    expect(output).toMatch(
      /rpc js → gateway: \[1, \d+, null, \{"Data":\{"Method":"kong\.request\.get_header"/,
    );
    expect(output).toMatch(/rpc ts → gateway: \[2, serverPid, \[\d+\]\]/);
    expect(output).toContain(
      '→ 200 "{\\"upstream\\":\\"echo\\",\\"method\\":\\"GET\\",\\"path\\":\\"/hello\\"}"; plugin headers {"x-greeting":"hello, newcomer","x-tagger":"protobuf /hello","x-stamp":"pluginwire GET"}',
    );
    expect(output).toContain('→ 401 "a valid x-token is required"');
    expect(output).toContain('→ 403 "blocked by stamp"');
    expect(output).toContain('log [notice] greeter: greeter saw GET /private/report -> 401');
    expect(output).toContain('log [info] stamp: stamp done, status 403');
    expect(output).toContain('KV Put greeting, Get greeting = "hello from the gateway"');
    expect(output).toContain('== done:');
    const prefix = prefixOf(output);
    expect(existsSync(prefix)).toBe(false);
    expect(leftovers(prefix)).toEqual([]);
  });

  it('keeps serving with --serve until SIGINT, then cleans up', async () => {
    const demo = startDemo(['--serve', '--port', '0', '--quiet']);
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no serving line:\n${demo.output()}`)), 120_000);
      const onData = () => {
        const match = demo.output().match(/== serving: .*http:\/\/127\.0\.0\.1:(\d+)\//);
        if (match) {
          clearTimeout(timer);
          demo.child.stdout?.off('data', onData);
          resolve(Number(match[1]));
        }
      };
      demo.child.stdout?.on('data', onData);
      void demo.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`exited before serving:\n${demo.output()}`));
      });
    });
    const response = await new Promise<{ status: number; greeting: unknown }>((resolve, reject) => {
      const req = get(
        { host: '127.0.0.1', port, path: '/hello', headers: { 'x-name': 'curl' }, timeout: 30_000 },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, greeting: res.headers['x-greeting'] }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
    });
    expect(response).toEqual({ status: 200, greeting: 'hello, curl' });
    demo.child.kill('SIGINT');
    expect(await bounded(demo, 60_000)).toBe(0);
    const prefix = prefixOf(demo.output());
    expect(existsSync(prefix)).toBe(false);
    expect(leftovers(prefix)).toEqual([]);
  });
});
