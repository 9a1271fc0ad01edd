/**
 * Kong's own encoder (lua-MessagePack under LuaJIT, configured and patched like mp_rpc.lua) drives
 * KongPluginServer: StartInstance, HandleEvent and every Step kind (kong-rpc spec §14.2; msgpack-rpc spec T71).
 * The mini-Kong asserts what Kong asserts on the replies; this file asserts the bytes in both directions.
 */

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KongEventClosedError, KongPluginServer, KongStepError } from '../../src/kong-rpc/index.js';
import { EMPTY_MAP, MessageCodec } from '../../src/msgpack-rpc/index.js';
import { flatRecordingLogger } from '../helpers/logger.js';
import { checkPeer, commandSucceeds } from '../helpers/peers.js';
import {
  everyStepPlugin,
  FORTY_BYTES,
  hex,
  hexText,
  type MiniKongLine,
  type Observed,
  parseMiniKong,
  tempDir,
} from './kong-helpers.js';

const script = fileURLToPath(new URL('../fixtures/lua-kong/mini-kong.lua', import.meta.url));
const available = checkPeer(
  'luajit with lua-messagepack and lua-socket (Debian: luajit lua-messagepack lua-socket)',
  commandSucceeds('luajit', ['-e', "require 'MessagePack'; require 'socket.unix'"]),
);

// 46 bytes of JSON: Kong sends it as str16 (da 00 2e), never str8.
const CONFIG = '{"greeting":"hello from lua","route_id":"r-1"}';

function runMiniKong(socket: string, phases: string, mode?: string): Promise<MiniKongLine[]> {
  const args = [script, socket, 'every-step', phases, CONFIG, ...(mode ? [mode] : [])];
  return new Promise((resolve, reject) => {
    execFile('luajit', args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`mini-kong failed: ${error.message}\n${stderr}\n${stdout}`));
      else resolve(parseMiniKong(stdout));
    });
  });
}

/** The frame Kong sent right after the line `pdk <method>` (the Step carrying that PDK result). */
function stepAfter(lines: MiniKongLine[], pdkMethod: string): Extract<MiniKongLine, { kind: 'sent' }> {
  const index = lines.findIndex((line) => line.kind === 'text' && line.text === `pdk ${pdkMethod}`);
  const next = lines.slice(index + 1).find((line) => line.kind === 'sent');
  if (index < 0 || next === undefined || next.kind !== 'sent')
    throw new Error(`no Step after pdk ${pdkMethod}`);
  return next;
}

function texts(lines: MiniKongLine[]): string[] {
  return lines.flatMap((line) => (line.kind === 'text' ? [line.text] : []));
}

describe.skipIf(!available)('KongPluginServer driven by Kong’s encoder (luajit mini-Kong)', () => {
  const dir = tempDir('pw-kong-lua-');
  const observed: Observed = {};
  const logs: string[] = [];
  let server: KongPluginServer;
  let socket: string;
  let lines: MiniKongLine[];

  beforeAll(async () => {
    server = new KongPluginServer({
      prefix: dir.path,
      logger: flatRecordingLogger((entry) => logs.push(entry.message)),
    });
    server.addPlugin(everyStepPlugin(observed));
    socket = await server.listen();
    lines = await runMiniKong(socket, 'access,response,log');
  });

  afterAll(async () => {
    await server?.close();
    dir.dispose();
  });

  it('serves on <prefix>/<name>.socket and completes the whole script', () => {
    expect(socket).toBe(join(dir.path, 'every-step.socket'));
    expect(texts(lines).at(-1)).toBe('done');
    expect(texts(lines)).toContain('ret access');
    expect(texts(lines)).toContain('terminal kong.response.exit 403');
    expect(texts(lines)).toContain('ret log');
  });

  it('receives Kong’s StartInstance: str16 config text, parsed into the instance', () => {
    const start = lines[0];
    expect(start?.kind).toBe('sent');
    expect(hex((start as { bytes: Uint8Array }).bytes)).toContain(`da 00 2e ${hexText(CONFIG)}`);
    expect(observed.config).toEqual({ greeting: 'hello from lua', route_id: 'r-1' });
  });

  it('sends serverPid, bare, before the first response on each connection', () => {
    const pids = texts(lines).filter((text) => text.startsWith('notification '));
    expect(pids).toEqual([`notification serverPid ${process.pid}`, `notification serverPid ${process.pid}`]);
    const frame = lines.find((line) => line.kind === 'received' && (line.message as unknown[])[0] === 2);
    expect(frame?.kind === 'received' && (frame.message as unknown[])[2]).toBe(process.pid);
  });

  it('accepts a Step without Data for a nil result (81 a7 "EventId" …) and gives the plugin undefined', () => {
    const step = stepAfter(lines, 'kong.request.get_body');
    const [, , method, params] = step.message as [number, number, string, [Record<string, unknown>]];
    expect(method).toBe('plugin.Step');
    expect(Object.keys(params[0])).toEqual(['EventId']);
    expect(hex(step.bytes)).toContain(`91 81 a7 ${hexText('EventId')}`);
    expect(observed.body).toBeUndefined();
    expect(observed.unknown).toBeUndefined();
  });

  it('accepts every typed Step method with its Kong encoding', () => {
    const expectStep = (pdk: string, stepMethod: string, dataHex: string) => {
      const step = stepAfter(lines, pdk);
      expect((step.message as unknown[])[2]).toBe(stepMethod);
      expect(hex(step.bytes)).toContain(`a4 ${hexText('Data')} ${dataHex}`);
    };
    expectStep('kong.request.get_header', 'plugin.Step', `ab ${hexText('example.com')}`);
    expectStep('kong.request.get_path', 'plugin.Step', 'da 00 28');
    expectStep('kong.request.get_query', 'plugin.StepMultiMap', '80');
    expectStep('kong.request.get_raw_body', 'plugin.Step', 'c4 03 ff 00 cf');
    expectStep('kong.request.get_headers', 'plugin.StepMultiMap', '83');
    expectStep('kong.client.get_credential', 'plugin.StepCredential', '82');
    expectStep('kong.client.get_consumer', 'plugin.StepConsumer', '82');
    expectStep('kong.router.get_route', 'plugin.StepRoute', '82');
    expectStep('kong.router.get_service', 'plugin.StepService', '82');
    expectStep('kong.node.get_memory_stats', 'plugin.StepMemoryStats', '81');
    expectStep('kong.fixture.step_plugin', 'plugin.StepPlugin', '82');
    expectStep('kong.log.serialize', 'plugin.Step', `b8 ${hexText('{"request":{"uri":"\\/"}}')}`);
  });

  it('gives the plugin what Kong meant by each encoding', () => {
    expect(observed.host).toBe('example.com');
    expect(observed.path).toBe('/a/path/that/is/exactly/forty/bytes/long');
    expect(observed.headers).toEqual({ host: ['example.com'], accept: ['*/*', 'text/html'], 'x-flag': [] });
    expect(observed.query).toEqual({});
    expect(observed.rawBody).toBeInstanceOf(Uint8Array);
    expect([...(observed.rawBody as Uint8Array)]).toEqual([0xff, 0x00, 0xcf]);
    expect(observed.credential).toEqual({ id: 'cred-1', consumer_id: 'c-1' });
    expect(observed.consumer).toEqual({ id: 'c-1', username: 'alice' });
    expect(observed.route).toEqual({ id: 'r-1', paths: ['/'] });
    expect(observed.service).toEqual({ id: 's-1', port: 8080 });
    expect(observed.memory).toEqual({
      lua_shared_dicts: { kong: { allocated_slabs: 12288, capacity: 5242880 } },
    });
    expect(observed.stepPlugin).toEqual({ _method: 'plugin.StepPlugin', value: 1 });
    expect(observed.responseHeaders).toEqual({ 'x-greeting': ['hello from lua'], 'x-long': [FORTY_BYTES] });
    expect(observed.serialized).toBe('{"request":{"uri":"\\/"}}');
  });

  it('sends PDK calls in Kong-compatible encoding: str16 for 32–255 bytes, [] for no arguments', () => {
    const setLong = lines.find(
      (line) => line.kind === 'received' && JSON.stringify(line.message).includes('"x-long"'),
    );
    expect(setLong?.kind).toBe('received');
    expect(hex((setLong as { bytes: Uint8Array }).bytes)).toContain(`a6 ${hexText('x-long')} da 00 28`);
    const noArgs = lines.find(
      (line) => line.kind === 'received' && JSON.stringify(line.message).includes('kong.request.get_path'),
    );
    expect(hex((noArgs as { bytes: Uint8Array }).bytes)).toContain(`a4 ${hexText('Args')} 90`);
  });

  it('ends the event on kong.response.exit without a Step, and fails later calls at once', async () => {
    const exitIndex = texts(lines).indexOf('terminal kong.response.exit 403');
    expect(exitIndex).toBeGreaterThan(0);
    await expect.poll(() => observed.afterExit, { timeout: 5_000 }).toBeInstanceOf(KongEventClosedError);
    expect(server.activeEvents).toBe(0);
  });

  it('agrees byte for byte with the TS Kong-compatible encoder on every frame Kong sent', () => {
    const codec = new MessageCodec({ encoding: 'kong' });
    // A decoded `80` is {}; the TS encoder needs the explicit marker for it (a plain {} goes out as 90, like
    // any empty Lua table). Key order survives decoding, so everything else re-encodes as it came.
    const restore = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(restore);
      if (value instanceof Uint8Array || typeof value !== 'object' || value === null) return value;
      const entries = Object.entries(value);
      if (entries.length === 0) return EMPTY_MAP;
      return Object.fromEntries(entries.map(([key, entry]) => [key, restore(entry)]));
    };
    const sent = lines.filter((line) => line.kind === 'sent');
    expect(sent.length).toBeGreaterThan(20);
    for (const frame of sent) expect(hex(codec.encode(restore(frame.message)))).toBe(hex(frame.bytes));
  });

  it('answers with Kong’s error strings', () => {
    const errors = texts(lines).filter((text) => text.startsWith('error '));
    const id = /instance (\d+)/.exec(texts(lines).find((text) => text.startsWith('instance ')) ?? '')?.[1];
    expect(errors).toEqual([
      `error plugin.HandleEvent no plugin instance #${id}`,
      'error plugin.Bogus method Bogus not implemented',
      'error kong.Bogus RPC for kong is not supported',
    ]);
  });

  it('fails the plugin’s PDK call with KongStepError when Kong 2.x sends plugin.StepError', async () => {
    const legacy = await runMiniKong(socket, 'access', 'kong2');
    expect(texts(legacy).at(-1)).toBe('done');
    const step = stepAfter(legacy, 'kong.request.get_body');
    expect((step.message as unknown[])[2]).toBe('plugin.StepError');
    expect(observed.body).toBeInstanceOf(KongStepError);
    expect((observed.body as KongStepError).detail).toBe('boom');
    expect(logs).not.toContain('plugin every-step failed in phase access');
  });
});
