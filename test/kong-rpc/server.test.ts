import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KongEventClosedError, KongRpcUsageError, KongStepError } from '../../src/kong-rpc/errors.js';
import type { KongPdk } from '../../src/kong-rpc/pdk.js';
import { KongPluginServer } from '../../src/kong-rpc/server.js';
import { SocketInUseError } from '../../src/socket/index.js';
import { type Harness, startHarness } from './harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.dispose();
  harness = undefined;
});

async function messageOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a rejection');
}

type Step = { EventId: number; Data: 'ret' | { Method: string; Args: unknown[] } };

describe('KongPluginServer methods and error strings (spec §3, §6.1)', () => {
  it('answers every failure with Kong’s exact text', async () => {
    harness = await startHarness((server) =>
      server.addPlugin({ name: 'p', version: '1', phases: ['access'], create: () => ({ access() {} }) }),
    );
    const { peer } = await harness.connect();
    const call = (method: string, param?: unknown) => messageOf(peer.request(method, [param]));
    expect(await call('plugin.Bogus', 1)).toBe('method Bogus not implemented');
    expect(await call('kong.request', 1)).toBe('RPC for kong is not supported');
    expect(await call('plugin.StartInstance', { Name: 'nope', Config: '{}' })).toBe('plugin nope not found');
    expect(await call('plugin.StartInstance', { Name: 'p', Config: '{bad' })).toMatch(
      /^invalid config for plugin p: /,
    );
    expect(await call('plugin.StartInstance', { Name: 'p', Config: '7' })).toBe(
      'invalid config for plugin p: not a JSON object',
    );
    expect(await call('plugin.StartInstance', { Name: 'p' })).toMatch(/^invalid request: /);
    expect(await call('plugin.HandleEvent', { InstanceId: 77, EventName: 'access' })).toBe(
      'no plugin instance #77',
    );
    expect(await call('plugin.InstanceStatus', 77)).toBe('no plugin instance #77');
    expect(await call('plugin.CloseInstance', 77)).toBe('no plugin instance #77');
    expect(await call('plugin.CloseInstance', 'x')).toMatch(/^invalid request: /);
    expect(await call('plugin.Step', { EventId: 99_999_999 })).toBe('event id 99999999 not found');
    expect(await call('plugin.StepMultiMap', {})).toMatch(/^invalid request: /);
    expect(await call('plugin.GetPluginInfo', 'nope')).toBe('plugin nope not found');
  });

  it('never uses the text "no plugin instance" except for unknown instances', async () => {
    harness = await startHarness((server) =>
      server.addPlugin({ name: 'p', version: '1', phases: ['access'], create: () => ({ access() {} }) }),
    );
    const { peer } = await harness.connect();
    const message = await messageOf(
      peer.request('plugin.StartInstance', [{ Name: 'no plugin instance', Config: '{}' }]),
    );
    expect(message).toBe('plugin no plugin-instance not found');
  });

  it('starts, reports and closes instances with fresh ids from a random base', async () => {
    const closed: unknown[] = [];
    harness = await startHarness((server) =>
      server.addPlugin({
        name: 'p',
        version: '2.0',
        priority: 3,
        create: (config: { n: number }) => ({ access() {}, close: () => closed.push(config.n) }),
      }),
    );
    const { peer } = await harness.connect();
    const first = (await peer.request('plugin.StartInstance', [{ Name: 'p', Config: '{"n":1}' }])) as Record<
      string,
      unknown
    >;
    const second = (await peer.request('plugin.StartInstance', [{ Name: 'p', Config: '[]' }])) as Record<
      string,
      unknown
    >;
    expect(first).toMatchObject({ Name: 'p', Config: { n: 1 } });
    // `[]` is lua-cjson's empty config; it comes back as an empty table, which Kong's encoding sends as 90.
    expect(second.Config).toEqual([]);
    const id = first.Id as number;
    expect(Number.isInteger(id) && id >= 1 && id <= 2 ** 31 - 1).toBe(true);
    expect(second.Id).toBe(id === 2 ** 31 - 1 ? 1 : id + 1);
    expect(typeof first.StartTime).toBe('number');
    expect(await peer.request('plugin.InstanceStatus', [id])).toEqual(first);
    const status = (await peer.request('plugin.GetStatus', [])) as {
      Pid: number;
      Plugins: Record<string, { Instances: unknown[] }>;
    };
    expect(status.Pid).toBe(process.pid);
    expect(status.Plugins.p?.Instances).toHaveLength(2);
    expect(await peer.request('plugin.CloseInstance', [id])).toEqual({ Name: 'p', Id: id, Config: { n: 1 } });
    expect(closed).toEqual([1]);
    expect(await peer.request('plugin.GetPluginInfo', ['p'])).toEqual({
      Name: 'p',
      Version: '2.0',
      Phases: ['access'],
      Priority: 3,
      Schema: { name: 'p', fields: [{ config: { type: 'record', fields: [] } }] },
    });
    expect(await peer.request('plugin.SetPluginDir', ['/tmp'])).toBe('ok');
  });

  it('takes instanceIdBase and wraps ids inside 1…2^31−1', async () => {
    harness = await startHarness(
      (server) => server.addPlugin({ name: 'p', version: '1', phases: [], create: () => ({}) }),
      { instanceIdBase: 2 ** 31 - 1 },
    );
    const { peer } = await harness.connect();
    const ids = [];
    for (let index = 0; index < 2; index++) {
      ids.push(
        ((await peer.request('plugin.StartInstance', [{ Name: 'p', Config: '{}' }])) as { Id: number }).Id,
      );
    }
    expect(ids).toEqual([2 ** 31 - 1, 1]);
  });

  it('reports a failing factory as invalid config', async () => {
    harness = await startHarness((server) =>
      server.addPlugin({
        name: 'p',
        version: '1',
        phases: ['access'],
        create: async (config: { ok?: boolean }) => {
          if (!config.ok) throw new Error('ok is required');
          return {};
        },
      }),
    );
    const { peer } = await harness.connect();
    expect(await messageOf(peer.request('plugin.StartInstance', [{ Name: 'p', Config: '{}' }]))).toBe(
      'invalid config for plugin p: ok is required',
    );
  });

  it('refuses a request over maxFrameBytes with an error, then closes the connection', async () => {
    harness = await startHarness(
      (server) => server.addPlugin({ name: 'p', version: '1', phases: [], create: () => ({}) }),
      { maxFrameBytes: 1024 },
    );
    const { peer } = await harness.connect();
    const closed = new Promise((resolve) => peer.on('close', resolve));
    const message = await messageOf(
      peer.request('plugin.StartInstance', [{ Name: 'p', Config: 'x'.repeat(2000) }]),
    );
    expect(message).toMatch(/^invalid request: /);
    await closed;
  });

  it('sends serverPid first on every connection, unless disabled', async () => {
    harness = await startHarness((server) =>
      server.addPlugin({ name: 'p', version: '1', phases: [], create: () => ({}) }),
    );
    const { peer, notifications } = await harness.connect();
    await peer.request('plugin.GetStatus', []);
    expect(notifications).toEqual([['serverPid', process.pid]]);
    await harness.dispose();
    harness = await startHarness(
      (server) => server.addPlugin({ name: 'p', version: '1', phases: [], create: () => ({}) }),
      {
        serverPid: false,
      },
    );
    const quiet = await harness.connect();
    await quiet.peer.request('plugin.GetStatus', []);
    expect(quiet.notifications).toEqual([]);
  });
});

describe('KongPluginServer events (spec §4)', () => {
  async function withPlugin(access: (kong: KongPdk) => unknown, options = {}) {
    harness = await startHarness(
      (server) =>
        server.addPlugin({ name: 'p', version: '1', phases: ['access'], create: () => ({ access }) }),
      options,
    );
    const { peer } = await harness.connect();
    const { Id } = (await peer.request('plugin.StartInstance', [{ Name: 'p', Config: '{}' }])) as {
      Id: number;
    };
    const handle = () =>
      peer.request('plugin.HandleEvent', [{ InstanceId: Id, EventName: 'access' }]) as Promise<Step>;
    const step = (EventId: number, Data?: unknown, method = 'plugin.Step') =>
      peer.request(method, [Data === undefined ? { EventId } : { EventId, Data }]) as Promise<Step>;
    return { peer, handle, step };
  }

  it('keys events by EventId across connections', async () => {
    const seen: unknown[] = [];
    const { handle } = await withPlugin(async (kong) => {
      seen.push(await kong.request.getHeader('host'));
    });
    const first = await handle();
    expect(first.Data).toEqual({ Method: 'kong.request.get_header', Args: ['host'] });
    const other = await harness!.connect();
    expect(await other.peer.request('plugin.Step', [{ EventId: first.EventId, Data: 'h' }])).toEqual({
      EventId: first.EventId,
      Data: 'ret',
    });
    expect(seen).toEqual(['h']);
    expect(harness!.server.activeEvents).toBe(0);
  });

  it('sends concurrent PDK calls of one handler one at a time, in call order', async () => {
    let results: unknown[] = [];
    const { handle, step } = await withPlugin(async (kong) => {
      results = await Promise.all([
        kong.request.getHeader('a'),
        kong.request.getHeader('b'),
        kong.request.getPath(),
      ]);
    });
    const calls: unknown[] = [];
    let current = await handle();
    while (current.Data !== 'ret') {
      calls.push(current.Data);
      current = await step(current.EventId, `r${calls.length}`);
    }
    expect(calls).toEqual([
      { Method: 'kong.request.get_header', Args: ['a'] },
      { Method: 'kong.request.get_header', Args: ['b'] },
      { Method: 'kong.request.get_path', Args: [] },
    ]);
    expect(results).toEqual(['r1', 'r2', 'r3']);
  });

  it('finishes after Kong answers a call the handler did not await', async () => {
    const { handle, step } = await withPlugin((kong) => {
      void kong.log.info('fire and forget');
    });
    const first = await handle();
    expect(first.Data).toEqual({ Method: 'kong.log.info', Args: ['fire and forget'] });
    expect((await step(first.EventId)).Data).toBe('ret');
  });

  it('answers the pending Step with the failure when the handler throws while Kong runs a call', async () => {
    const { handle, step } = await withPlugin((kong) => {
      void kong.log.info('x');
      throw new TypeError('bad state');
    });
    const first = await handle();
    expect(await messageOf(step(first.EventId))).toBe('plugin p failed in phase access: bad state');
    expect(harness!.server.activeEvents).toBe(0);
  });

  it('makes plugin.StepError fail the pending call with KongStepError', async () => {
    let failure: unknown;
    const { handle, step } = await withPlugin(async (kong) => {
      try {
        await kong.request.getBody();
      } catch (error) {
        failure = error;
      }
    });
    const first = await handle();
    expect((await step(first.EventId, 'boom', 'plugin.StepError')).Data).toBe('ret');
    expect(failure).toBeInstanceOf(KongStepError);
    expect((failure as KongStepError).message).toBe('PDK method kong.request.get_body failed: boom');
  });

  it('treats kong.response.error as terminal too and rejects later calls at once', async () => {
    let after: unknown;
    const { handle, step } = await withPlugin(async (kong) => {
      await kong.response.error(500, 'down');
      after = await kong.request.getHeader('x').catch((error: unknown) => error);
    });
    const first = await handle();
    expect(first.Data).toEqual({ Method: 'kong.response.error', Args: [500, 'down'] });
    await expect.poll(() => after).toBeInstanceOf(KongEventClosedError);
    expect(await messageOf(step(first.EventId, 'late'))).toBe(`event id ${first.EventId} not found`);
  });

  it('answers "ret" at once for a phase the instance does not have', async () => {
    harness = await startHarness((server) =>
      server.addPlugin({
        name: 'p',
        version: '1',
        phases: ['access', 'log'],
        create: () => ({ access() {} }),
      }),
    );
    const { peer } = await harness.connect();
    const { Id } = (await peer.request('plugin.StartInstance', [{ Name: 'p', Config: '{}' }])) as {
      Id: number;
    };
    expect(
      (await peer.request('plugin.HandleEvent', [{ InstanceId: Id, EventName: 'log' }])) as Step,
    ).toMatchObject({
      Data: 'ret',
    });
    expect(
      await messageOf(peer.request('plugin.HandleEvent', [{ InstanceId: Id, EventName: 'bogus' }])),
    ).toBe('invalid request: unknown phase "bogus"');
  });

  it('drops an abandoned event after eventTimeout and fails its pending call', async () => {
    let failure: unknown;
    const { handle } = await withPlugin(
      async (kong) => {
        failure = await kong.request.getHeader('host').catch((error: unknown) => error);
      },
      { eventTimeout: 100 },
    );
    await handle();
    expect(harness!.server.activeEvents).toBe(1);
    await expect.poll(() => harness!.server.activeEvents, { timeout: 5_000 }).toBe(0);
    expect(failure).toBeInstanceOf(KongEventClosedError);
  });

  it('fails pending PDK calls when the server closes', async () => {
    let failure: unknown;
    const { handle } = await withPlugin(async (kong) => {
      failure = await kong.request.getHeader('host').catch((error: unknown) => error);
    });
    await handle();
    await harness!.dispose();
    harness = undefined;
    await expect.poll(() => failure).toBeInstanceOf(KongEventClosedError);
  });
});

describe('KongPluginServer definitions, dump and socket handling', () => {
  it('derives phases from the methods of a probe instance, or takes them explicitly', () => {
    const server = new KongPluginServer();
    server.addPlugin({ name: 'a', version: '1', create: () => ({ log() {}, access() {} }) });
    server.addPlugin({ name: 'b', version: '1', phases: ['rewrite'], create: () => ({}) });
    expect(server.pluginInfos().map((info) => info.Phases)).toEqual([['access', 'log'], ['rewrite']]);
    expect(() => server.addPlugin({ name: 'a', version: '1', phases: [], create: () => ({}) })).toThrow(
      KongRpcUsageError,
    );
    expect(() =>
      server.addPlugin({
        name: 'c',
        version: '1',
        create: (config: { x: { y: 1 } }) => ({ access: () => config.x.y }),
      }),
    ).not.toThrow();
    expect(() =>
      server.addPlugin({
        name: 'd',
        version: '1',
        create: (config: { x?: { y: number } }) => {
          if (config.x === undefined) throw new Error('x missing');
          return {};
        },
      }),
    ).toThrow(/list the phases explicitly/);
    expect(() =>
      server.addPlugin({ name: 'Bad name', version: '1', phases: [], create: () => ({}) }),
    ).toThrow(KongRpcUsageError);
    expect(() =>
      server.addPlugin({ name: 'e', version: '1', phases: ['nope' as 'log'], create: () => ({}) }),
    ).toThrow(KongRpcUsageError);
  });

  it('dumps {Protocol, Plugins} or the bare array, with Kong’s schema wrapping', () => {
    const server = new KongPluginServer();
    server.addPlugin({
      name: 'hello',
      version: '1.0.0',
      priority: 5,
      schema: [{ greeting: { type: 'string' } }],
      create: () => ({ access() {} }),
    });
    const info = {
      Name: 'hello',
      Version: '1.0.0',
      Phases: ['access'],
      Priority: 5,
      Schema: {
        name: 'hello',
        fields: [{ config: { type: 'record', fields: [{ greeting: { type: 'string' } }] } }],
      },
    };
    expect(JSON.parse(server.dumpInfo())).toEqual({ Protocol: 'MsgPack:1', Plugins: [info] });
    expect(JSON.parse(server.dumpInfo({ form: 'array' }))).toEqual([info]);
    expect(server.socketPath).toBe('/usr/local/kong/hello.socket');
  });

  it('replaces a stale socket, refuses a live one and a non-socket file, and removes its socket on close', async () => {
    harness = await startHarness((server) =>
      server.addPlugin({ name: 'p', version: '1', phases: [], create: () => ({}) }),
    );
    const path = harness.socketPath;
    const rival = new KongPluginServer({ socketPath: path });
    await expect(rival.listen()).rejects.toBeInstanceOf(SocketInUseError);
    await harness.server.close();
    expect(existsSync(path)).toBe(false);

    // A socket file nobody listens on any more: a server that died without cleaning up.
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(path, resolve));
    (dead as unknown as { _handle: { close(): void } | null })._handle?.close();
    const fresh = new KongPluginServer({ socketPath: path });
    fresh.addPlugin({ name: 'p', version: '1', phases: [], create: () => ({}) });
    await expect(fresh.listen()).resolves.toBe(path);
    await fresh.close();
    dead.close();

    const file = join(harness.dir, 'plain-file');
    writeFileSync(file, 'data');
    await expect(new KongPluginServer({ socketPath: file }).listen()).rejects.toBeInstanceOf(
      KongRpcUsageError,
    );
  });
});

describe('KongPluginServer.listen path checks', () => {
  it('refuses a path longer than sun_path allows before creating anything, and a symlink', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-kong-path-'));
    try {
      const long = join(dir, `${'x'.repeat(120)}.socket`);
      const error = await new KongPluginServer({ socketPath: long })
        .listen()
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(KongRpcUsageError);
      expect(String((error as Error).message)).toMatch(/at most 10[37]/);
      expect(readdirSync(dir)).toEqual([]);
      const link = join(dir, 'link.socket');
      symlinkSync(join(dir, 'target'), link);
      await expect(new KongPluginServer({ socketPath: link }).listen()).rejects.toBeInstanceOf(
        KongRpcUsageError,
      );
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('KongPluginServer and fire-and-forget PDK calls', () => {
  it('does not leave an unhandled rejection when an event ends under a call nobody awaited', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let ended = false;
      harness = await startHarness(
        (server) =>
          server.addPlugin({
            name: 'p',
            version: '1',
            phases: ['access'],
            create: () => ({
              access(kong: KongPdk) {
                void kong.log.info('first');
                void kong.log.info('queued behind the first');
                ended = true;
              },
            }),
          }),
        { eventTimeout: 100 },
      );
      const { peer } = await harness.connect();
      const { Id } = (await peer.request('plugin.StartInstance', [{ Name: 'p', Config: '{}' }])) as {
        Id: number;
      };
      await peer.request('plugin.HandleEvent', [{ InstanceId: Id, EventName: 'access' }]);
      expect(ended).toBe(true);
      // Kong abandons the event; the expiry rejects both calls.
      await expect.poll(() => harness?.server.activeEvents, { timeout: 5_000 }).toBe(0);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('does not leave an unhandled rejection when Kong answers a call nobody awaited with StepError', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let awaited: unknown;
      let late: Promise<unknown> | undefined;
      let lateSent = false;
      harness = await startHarness((server) =>
        server.addPlugin({
          name: 'p',
          version: '1',
          phases: ['access'],
          create: () => ({
            async access(kong: KongPdk) {
              void kong.log.info('not awaited');
              awaited = await kong.request.getHeader('host');
              // After the event: rejects with KongEventClosedError; the caller sees it only if it awaits.
              setImmediate(() => {
                late = kong.log.info('too late');
                lateSent = true;
              });
            },
          }),
        }),
      );
      const { peer } = await harness.connect();
      const { Id } = (await peer.request('plugin.StartInstance', [{ Name: 'p', Config: '{}' }])) as {
        Id: number;
      };
      const first = (await peer.request('plugin.HandleEvent', [{ InstanceId: Id, EventName: 'access' }])) as {
        EventId: number;
      };
      const second = (await peer.request('plugin.StepError', [{ EventId: first.EventId, Data: 'boom' }])) as {
        Data: unknown;
      };
      expect(second.Data).toEqual({ Method: 'kong.request.get_header', Args: ['host'] });
      const last = (await peer.request('plugin.Step', [{ EventId: first.EventId, Data: 'example.com' }])) as {
        Data: unknown;
      };
      expect(last.Data).toBe('ret');
      expect(awaited).toBe('example.com');
      await expect.poll(() => lateSent, { timeout: 5_000 }).toBe(true);
      await expect(late).rejects.toThrow(/too late|closed|finished/);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
