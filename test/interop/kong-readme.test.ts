/**
 * Runs the README's Kong examples (the fenced `ts` blocks of the kong-rpc section) as programs: the gateway
 * example against kong-pdk's real JS plugin server, the plugin-server example as Kong would start it. README
 * drift fails here.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { KongPluginClient } from '../../src/kong-rpc/index.js';
import { checkPeer } from '../helpers/peers.js';
import { capture } from '../kong-rpc/protobuf/captures.js';
import { type Replay, startReplay } from '../kong-rpc/protobuf/replay-server.js';
import { tempDir } from './kong-helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'node_modules/.bin/kong-js-pluginserver');
const available = checkPeer(
  'kong-pdk (npm dev dependency, node_modules/.bin/kong-js-pluginserver)',
  existsSync(bin),
);

/** The fenced ts blocks between the kong-rpc marker and the next `###` heading. */
function kongExamples(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- kong-rpc section -->');
  const end = readme.indexOf('\n### ', start);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string);
}

function program(dir: string, name: string, code: string, replacements: [string, string][] = []): string {
  let source = code
    .replaceAll("'pluginwire/kong-rpc'", `'${pathToFileURL(join(root, 'src/kong-rpc/index.ts')).href}'`)
    .replaceAll("'pluginwire/kong-conf'", `'${pathToFileURL(join(root, 'src/kong-conf/index.ts')).href}'`);
  for (const [from, to] of replacements) {
    expect(source).toContain(from);
    source = source.replaceAll(from, to);
  }
  const file = join(dir, `${name}.mts`);
  writeFileSync(file, source);
  return file;
}

function run(file: string, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', file, ...args],
      { timeout: 30_000, cwd: root },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return exited;
}

describe.skipIf(!available)('README: Kong’s plugin-server protocol examples', () => {
  const dir = tempDir('pw-kong-readme-');
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of children) await stop(child);
    dir.dispose();
  });

  it('has the three examples', () => {
    expect(kongExamples()).toHaveLength(3);
  });

  it('runs a Kong JS plugin from a gateway (against kong-js-pluginserver)', async () => {
    const [gateway] = kongExamples();
    const server = spawn(
      bin,
      ['-p', dir.path, '--sock-name', 'js.sock', '-d', join(root, 'test/fixtures/kong-pdk/plugins')],
      {
        stdio: 'ignore',
      },
    );
    children.push(server);
    const socketPath = join(dir.path, 'js.sock');
    const probe = new KongPluginClient({ socketPath, connectRetry: 20_000 });
    await probe.getStatus();
    await probe.close();
    const file = program(dir.path, 'gateway', gateway as string, [
      ['/usr/local/kong/js_pluginserver.sock', socketPath],
    ]);
    const { code, stdout, stderr } = await run(file);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('continue to upstream');
    expect(stdout).toContain("'x-gatekeeper-host': 'example.com'");
    expect(stdout).toContain("'x-gatekeeper-greeting': 'hello'");
  });

  it('writes a plugin server in TypeScript (dump, then served to the Kong side)', async () => {
    const [, , pluginServer] = kongExamples();
    const file = program(dir.path, 'hello', pluginServer as string);
    const dump = await run(file, ['-dump']);
    expect(dump.code).toBe(0);
    expect(JSON.parse(dump.stdout)).toEqual({
      Protocol: 'MsgPack:1',
      Plugins: [
        {
          Name: 'hello',
          Version: '1.0.0',
          Phases: ['access'],
          Priority: 10,
          Schema: {
            name: 'hello',
            fields: [{ config: { type: 'record', fields: [{ greeting: { type: 'string' } }] } }],
          },
        },
      ],
    });

    const server = spawn(process.execPath, ['--import', 'tsx', file, '-kong-prefix', dir.path], {
      stdio: 'ignore',
      cwd: root,
    });
    children.push(server);
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    const client = new KongPluginClient({ socketPath: join(dir.path, 'hello.socket'), connectRetry: 20_000 });
    try {
      const headers: Record<string, unknown> = {};
      const pdk = (host: string) => (method: string, args: unknown[]) => {
        if (method === 'kong.request.get_header') return host;
        if (method === 'kong.response.set_header') headers[String(args[0])] = args[1];
        return undefined;
      };
      expect((await client.runEvent('hello', {}, 'access', pdk('example.com'))).terminal).toBeUndefined();
      expect(headers).toEqual({ 'x-hello': 'hello example.com' });
      expect(
        (await client.runEvent('hello', { greeting: 'hi' }, 'access', pdk('blocked.example'))).terminal,
      ).toEqual({
        method: 'kong.response.exit',
        args: [403, 'go away'],
      });
    } finally {
      await client.close();
    }
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(join(dir.path, 'hello.socket'))).toBe(false);
  });
});

describe('README: a gateway running a ProtoBuf:1 (go-pdk >= 0.7) plugin server', () => {
  const dir = tempDir('pw-kong-readme-pb-');
  const replays: Replay[] = [];
  afterAll(async () => {
    for (const replay of replays) await replay.close();
    dir.dispose();
  });

  it('reads the protocol from the dump and runs the event over ProtoBuf:1 (against the go-pdk v0.11 recording)', async () => {
    const [, goGateway] = kongExamples();
    // The plugin server is the recorded go-pdk v0.11 conversation (pb-01), its query command prints the
    // recorded dump.
    const recording = capture('pb-01');
    const replay = await startReplay(recording);
    replays.push(replay);
    const dumpFile = join(dir.path, 'dump.json');
    writeFileSync(dumpFile, recording.dump_stdout);
    const queryCmd = join(dir.path, 'my-go-plugin');
    writeFileSync(queryCmd, `#!/bin/sh\ncat '${dumpFile}'\n`);
    chmodSync(queryCmd, 0o755);
    const file = program(dir.path, 'go-gateway', goGateway as string, [
      ['/usr/local/bin/my-go-plugin', queryCmd],
      ['/usr/local/kong/my-go-plugin.socket', replay.socketPath],
    ]);
    const { code, stdout, stderr } = await run(file);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('ProtoBuf:1 33 continue to upstream');
    // The Kong side sent ProtoBuf:1 only: every frame decoded as the recorded Kong frame's type.
    expect(replay.unexpected).toEqual([]);
    expect(replay.received.length).toBe(35);
  });
});
