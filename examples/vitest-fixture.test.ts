/**
 * Testing a Kong plugin server in vitest with pluginwire as the fixture: pluginwire starts the server the way
 * Kong does (PluginServerSupervisor: `/bin/sh -c "exec <start_cmd>"`, ready when its socket accepts) and plays
 * Kong against it (KongPluginClient: StartInstance, HandleEvent, one Step per PDK call), while the test
 * supplies the PDK answers and asserts on the calls the plugin made.
 *
 * The server under test here is examples/gateway/ts-pluginserver.ts (plugin `stamp`); point `START_CMD` at
 * your own binary (a go-pdk server, `kong-js-pluginserver -d <dir>`, …) to test yours. Copy this file into
 * your project's test directory; in this repository test/interop/examples.test.ts runs it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KongPdkHandler, KongPluginClient } from '../src/kong-rpc/index.js';
import { PluginServerSupervisor } from '../src/socket/index.js';

const SERVER = fileURLToPath(new URL('gateway/ts-pluginserver.ts', import.meta.url));

/** A recording PDK: answers from `answers`, remembers every call, keeps the headers the plugin sets. */
function recordingPdk(answers: Record<string, unknown>) {
  const calls: string[] = [];
  const headers: Record<string, unknown> = {};
  const pdk: KongPdkHandler = (method, args) => {
    calls.push(method);
    if (method === 'kong.response.set_header') headers[String(args[0])] = args[1];
    return answers[method];
  };
  return { pdk, calls, headers };
}

describe('the stamp plugin server, with pluginwire playing Kong', () => {
  const prefix = mkdtempSync(join(tmpdir(), 'stamp-test-'));
  const socket = join(prefix, 'ts.socket');
  const supervisor = new PluginServerSupervisor(
    { name: 'ts', socket, startCmd: `${process.execPath} --import tsx ${SERVER} -kong-prefix ${prefix}` },
    { readyTimeout: 60_000 },
  );
  const kong = new KongPluginClient({ socketPath: socket, timeout: 20_000 });

  beforeAll(() => supervisor.start(), 90_000);
  afterAll(async () => {
    await kong.close();
    await supervisor.stop();
    rmSync(prefix, { recursive: true, force: true });
  });

  it('reports its plugin as Kong’s query would see it', async () => {
    const info = await kong.getPluginInfo('stamp');
    expect(info).toMatchObject({ name: 'stamp', version: '0.1.0', priority: 10 });
    expect(info.phases.sort()).toEqual(['access', 'log']);
  });

  it('stamps the response with the configured tag and the method', async () => {
    const { pdk, calls, headers } = recordingPdk({
      'kong.request.get_header': 'example.com',
      'kong.request.get_method': 'POST',
    });
    const outcome = await kong.runEvent('stamp', { tag: 'v1' }, 'access', pdk);
    expect(outcome.terminal).toBeUndefined();
    expect(headers).toEqual({ 'x-stamp': 'v1 POST' });
    expect(calls).toEqual(['kong.request.get_header', 'kong.request.get_method', 'kong.response.set_header']);
  });

  it('ends the request with a 403 for a blocked host', async () => {
    const { pdk } = recordingPdk({ 'kong.request.get_header': 'blocked.example' });
    const outcome = await kong.runEvent('stamp', { tag: 'v1' }, 'access', pdk);
    expect(outcome.terminal).toEqual({
      method: 'kong.response.exit',
      args: [403, 'blocked by stamp\n', { 'x-stamp': 'blocked' }],
    });
  });

  it('logs the status in the log phase', async () => {
    const { pdk, calls } = recordingPdk({ 'kong.response.get_status': 204 });
    await kong.runEvent('stamp', { tag: 'v1' }, 'log', pdk);
    expect(calls).toEqual(['kong.response.get_status', 'kong.log.info']);
  });
});
