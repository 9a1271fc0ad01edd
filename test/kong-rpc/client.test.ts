import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { KongPluginClient } from '../../src/kong-rpc/client.js';
import {
  KongConnectError,
  KongPdkError,
  KongProtocolError,
  KongRpcUsageError,
} from '../../src/kong-rpc/errors.js';
import type { KongPdk } from '../../src/kong-rpc/pdk.js';
import { KongPluginServer } from '../../src/kong-rpc/server.js';
import { EncodeError } from '../../src/msgpack-rpc/errors.js';
import { KONG_PEER_OPTIONS } from '../../src/msgpack-rpc/options.js';
import { createMemoryDuplexPair } from '../../src/msgpack-rpc/pair.js';
import { RpcPeer } from '../../src/msgpack-rpc/peer.js';

type Handler = (method: string, param: unknown) => unknown;

interface FakeServer {
  path: string;
  /** Every byte received, per connection. */
  received: Buffer[][];
  requests: [string, unknown][];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempSocket(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-kong-client-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'fake.socket');
}

/** A scripted plugin server: an RpcPeer per connection, bytes recorded, optional raw bytes on accept. */
async function fakeServer(
  path: string,
  handler: Handler,
  onAccept?: (socket: Socket) => void,
): Promise<FakeServer> {
  const received: Buffer[][] = [];
  const requests: [string, unknown][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const chunks: Buffer[] = [];
    received.push(chunks);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    onAccept?.(socket);
    const peer = new RpcPeer(socket, { ...KONG_PEER_OPTIONS });
    peer.handleUnknown((method, params) => {
      requests.push([method, params[0]]);
      return handler(method, params[0]);
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const fake: FakeServer = {
    path,
    received,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  cleanups.push(() => fake.close());
  return fake;
}

function client(path: string, options = {}): KongPluginClient {
  const created = new KongPluginClient({ socketPath: path, timeout: 5_000, ...options });
  cleanups.push(() => created.close());
  return created;
}

const hexOf = (chunks: Buffer[]) => Buffer.concat(chunks).toString('hex');
const hexText = (text: string) => Buffer.from(text).toString('hex');

describe('KongPluginClient event loop (spec §4)', () => {
  it('sends Kong’s Step method and encoding for each result, and no Step after kong.response.exit', async () => {
    const script = [
      { Method: 'kong.request.get_body', Args: null },
      { Method: 'kong.request.get_query' },
      { Method: 'kong.request.get_raw_body', Args: [] },
      { Method: 'kong.client.get_consumer', Args: [] },
      { Method: 'kong.response.exit', Args: [403, 'nope'] },
    ];
    let next = 0;
    const fake = await fakeServer(tempSocket(), (method) => {
      if (method === 'plugin.GetStatus') return { Pid: 1, Plugins: {} };
      return { EventId: 5, Data: script[next++] };
    });
    const calls: [string, unknown[]][] = [];
    const kong = client(fake.path);
    const outcome = await kong.handleEvent(3, 'access', (method, args) => {
      calls.push([method, args]);
      if (method === 'kong.request.get_query') return {};
      if (method === 'kong.request.get_raw_body') return 'hi';
      if (method === 'kong.client.get_consumer') return { id: 'c' };
      return undefined;
    });
    expect(outcome).toEqual({ pdkCalls: 5, terminal: { method: 'kong.response.exit', args: [403, 'nope'] } });
    // nil and absent Args are no arguments.
    expect(calls.map(([, args]) => args)).toEqual([[], [], [], [], [403, 'nope']]);
    expect(fake.requests.map(([method]) => method)).toEqual([
      'plugin.HandleEvent',
      'plugin.Step',
      'plugin.StepMultiMap',
      'plugin.Step',
      'plugin.StepConsumer',
    ]);
    const bytes = hexOf(fake.received.flat().length ? fake.received.flat() : []);
    // HandleEvent as Kong sends it (same key order as our insertion order).
    expect(
      bytes.startsWith(
        `940001b2${hexText('plugin.HandleEvent')}9182aa${hexText('InstanceId')}03a9${hexText('EventName')}a6${hexText('access')}`,
      ),
    ).toBe(true);
    expect(bytes).toContain(`ab${hexText('plugin.Step')}9181a7${hexText('EventId')}05`); // nil result: no Data key
    expect(bytes).toContain(`a4${hexText('Data')}80`); // empty multimap: explicit empty map
    expect(bytes).toContain(`a4${hexText('Data')}c4026869`); // raw body: bin
    await kong.getStatus();
    expect(fake.requests.at(-1)?.[0]).toBe('plugin.GetStatus');
  });

  it('sends StartInstance config as JSON text and CloseInstance with a bare id', async () => {
    const fake = await fakeServer(tempSocket(), (method, param) => {
      if (method === 'plugin.StartInstance') {
        const { Name, Config } = param as { Name: string; Config: string };
        return { Name, Id: 7, Config: JSON.parse(Config), StartTime: 1700000000.5 };
      }
      return { Name: 'p', Id: param, Config: {} };
    });
    const kong = client(fake.path);
    expect(await kong.startInstance('p', { a: [1, 2], path: '/x' })).toEqual({
      name: 'p',
      id: 7,
      config: { a: [1, 2], path: '/x' },
      startTime: 1700000000.5,
    });
    // As lua-cjson writes it: forward slashes escaped.
    expect(fake.requests[0]).toEqual([
      'plugin.StartInstance',
      { Name: 'p', Config: String.raw`{"a":[1,2],"path":"\/x"}` },
    ]);
    expect(await kong.closeInstance(7)).toMatchObject({ id: 7, startTime: undefined });
    expect(hexOf(fake.received.flat())).toContain(`b4${hexText('plugin.CloseInstance')}9107`);
  });

  it('rejects unusable results with KongProtocolError and a throwing PDK with KongPdkError', async () => {
    let answer: unknown = { EventId: 1, Data: 42 };
    const fake = await fakeServer(tempSocket(), () => answer);
    const kong = client(fake.path);
    await expect(kong.handleEvent(1, 'access', () => undefined)).rejects.toBeInstanceOf(KongProtocolError);
    answer = 'not a map';
    await expect(kong.handleEvent(1, 'access', () => undefined)).rejects.toBeInstanceOf(KongProtocolError);
    answer = { EventId: 1, Data: { Method: 'kong.request.get_header', Args: ['x'] } };
    const cause = new Error('pdk down');
    const failure = kong.handleEvent(1, 'access', () => {
      throw cause;
    });
    await expect(failure).rejects.toBeInstanceOf(KongPdkError);
    await expect(failure).rejects.toMatchObject({ method: 'kong.request.get_header', cause });
  });

  it('rejects a PDK result that cannot be encoded with EncodeError and keeps the connection', async () => {
    const fake = await fakeServer(tempSocket(), () => ({
      EventId: 1,
      Data: { Method: 'kong.request.get_header', Args: [] },
    }));
    const kong = client(fake.path);
    await expect(kong.handleEvent(1, 'access', () => new Map([['a', 1]]))).rejects.toBeInstanceOf(
      EncodeError,
    );
    expect(kong.connections).toBe(1);
    expect(fake.received).toHaveLength(1);
  });

  it('closes idle connections after idleTimeout, and keeps at most poolSize idle', async () => {
    const fake = await fakeServer(tempSocket(), () => ({ Pid: 1, Plugins: {} }));
    const kong = client(fake.path, { idleTimeout: 50, poolSize: 2 });
    await Promise.all(Array.from({ length: 4 }, () => kong.getStatus()));
    expect(kong.connections).toBe(2);
    await expect.poll(() => kong.connections, { timeout: 5_000 }).toBe(0);
    await kong.getStatus();
    expect(kong.connections).toBe(1);
  });

  it('keeps one request in flight per connection: with one connection, calls queue', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const fake = await fakeServer(tempSocket(), async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return { Pid: 1, Plugins: {} };
    });
    const kong = client(fake.path, { maxConnections: 1 });
    await Promise.all(Array.from({ length: 10 }, () => kong.getStatus()));
    expect(maxInFlight).toBe(1);
    expect(kong.connections).toBe(1);
    expect(fake.received).toHaveLength(1);
  });
});

describe('KongPluginClient serverPid handling (spec §6.3)', () => {
  it('reads a Go-style signed pid before the response and reports it once', async () => {
    const path = tempSocket();
    const fake = await fakeServer(
      path,
      () => ({ Pid: 1234, Plugins: {} }),
      // [2, "serverPid", 1234] with a bare, signed pid, as Kong/go-pluginserver sent it.
      (socket) => socket.write(Buffer.from(`9302a9${hexText('serverPid')}d104d2`, 'hex')),
    );
    const kong = client(path);
    const pids: unknown[] = [];
    const resets: unknown[] = [];
    kong.on('serverPid', ({ pid, previousPid }) => pids.push([pid, previousPid]));
    kong.on('instancesReset', ({ plugin, reason }) => resets.push([plugin, reason]));
    await Promise.all([kong.getStatus(), kong.getStatus()]);
    await kong.getStatus();
    expect(kong.serverPidSeen).toBe(1234);
    expect(fake.received.length).toBe(2);
    expect(pids).toEqual([[1234, undefined]]);
    expect(resets).toEqual([]);
  });

  it('resets the instance cache when one client sees the pid change', async () => {
    const path = tempSocket();
    let pid = 100;
    let nextId = 1;
    const fake = await fakeServer(
      path,
      (method) => {
        if (method === 'plugin.StartInstance') return { Name: 'p', Id: nextId++, Config: {}, StartTime: 1 };
        return { EventId: 0, Data: 'ret' };
      },
      (socket) =>
        socket.write(Buffer.from(`9302a9${hexText('serverPid')}${pid.toString(16).padStart(2, '0')}`, 'hex')),
    );
    const kong = client(path, { poolSize: 0 });
    const resets: unknown[] = [];
    kong.on('instancesReset', ({ plugin, reason }) => resets.push([plugin, reason]));
    await kong.runEvent('p', {}, 'access', () => undefined);
    pid = 101;
    await kong.runEvent('p', {}, 'access', () => undefined);
    await kong.runEvent('p', {}, 'access', () => undefined);
    expect(resets).toEqual([[undefined, 'server-pid']]);
    // One StartInstance before the change, one after it.
    expect(fake.requests.filter(([method]) => method === 'plugin.StartInstance')).toHaveLength(2);
  });
});

describe('KongPluginClient strictness (spec M3, §11 Kong side)', () => {
  /** A raw server that answers the first request on each connection with fixed bytes. */
  async function rawServer(path: string, reply: Buffer): Promise<{ connections: () => number }> {
    let connections = 0;
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      connections++;
      sockets.add(socket);
      socket.once('data', () => socket.write(reply));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    );
    return { connections: () => connections };
  }

  it('drops the connection on a response with another msgid', async () => {
    const path = tempSocket();
    const raw = await rawServer(path, Buffer.from('9401ccc8c0c0', 'hex')); // [1, 200, nil, nil]
    const kong = client(path);
    await expect(kong.getStatus()).rejects.toMatchObject({ code: 'MSGPACK_RPC_CLOSED' });
    await expect(kong.getStatus()).rejects.toMatchObject({ code: 'MSGPACK_RPC_CLOSED' });
    expect(raw.connections()).toBe(2);
  });

  it('drops the connection when the server sends a request instead of a response', async () => {
    const path = tempSocket();
    await rawServer(path, Buffer.from(`9400${'05'}a1${hexText('m')}90`, 'hex')); // [0, 5, "m", []]
    const kong = client(path);
    const failure = kong.getStatus();
    await expect(failure).rejects.toMatchObject({
      code: 'MSGPACK_RPC_CLOSED',
      cause: expect.any(KongProtocolError),
    });
    expect(kong.connections).toBe(0);
  });
});

describe('KongPluginClient options', () => {
  it.each([
    [{ socketPath: '' }],
    [{ socketPath: '/s', timeout: 0 }],
    [{ socketPath: '/s', retries: -1 }],
    [{ socketPath: '/s', poolSize: 1.5 }],
    [{ socketPath: '/s', idleTimeout: Number.NaN }],
  ])('rejects %j with KongRpcUsageError', (options) => {
    expect(() => new KongPluginClient(options)).toThrow(KongRpcUsageError);
  });
});

describe('KongPluginClient over an injected connection (in-memory duplex)', () => {
  it('runs calls and an event against a KongPluginServer with no socket, one connect per pooled connection', async () => {
    const server = new KongPluginServer();
    server.addPlugin({
      name: 'memo',
      version: '1.0.0',
      create: () => ({
        async access(kong: KongPdk) {
          await kong.response.setHeader('x-memo', 'yes');
        },
      }),
    });
    cleanups.push(() => server.close());
    let connects = 0;
    const client = new KongPluginClient({
      socketPath: 'memory',
      connect: async () => {
        connects++;
        const [kongEnd, serverEnd] = createMemoryDuplexPair();
        server.serve(serverEnd);
        return kongEnd;
      },
    });
    cleanups.push(() => client.close());
    expect(await client.getStatus()).toMatchObject({ Pid: process.pid });
    const calls: [string, unknown[]][] = [];
    const outcome = await client.runEvent('memo', {}, 'access', (method, args) => {
      calls.push([method, args]);
      return null;
    });
    expect(outcome.pdkCalls).toBe(1);
    expect(calls).toEqual([['kong.response.set_header', ['x-memo', 'yes']]]);
    // Sequential calls reuse the one pooled connection.
    expect(connects).toBe(1);
    expect(client.connections).toBe(1);
  });
});

describe('KongPluginClient connect option', () => {
  it('opens each pooled connection with connect(), never touching socketPath', async () => {
    const opened: RpcPeer[] = [];
    const connect = async () => {
      const [kongSide, serverSide] = createMemoryDuplexPair();
      const peer = new RpcPeer(serverSide, { ...KONG_PEER_OPTIONS });
      peer.handle('plugin.GetStatus', () => ({ Plugins: {} }));
      opened.push(peer);
      return kongSide;
    };
    const client = new KongPluginClient({ socketPath: '/nonexistent/memory.socket', connect });
    cleanups.push(() => client.close());
    await Promise.all([client.getStatus(), client.getStatus()]);
    expect(opened).toHaveLength(2);
    // Both went back to the pool: the next call reuses one.
    await client.getStatus();
    expect(opened).toHaveLength(2);
    expect(client.connections).toBe(2);
    await client.close();
    expect(client.connections).toBe(0);
  });

  it('reports a rejected connect() as KongConnectError with the cause', async () => {
    const refused = new Error('no route');
    const client = new KongPluginClient({ socketPath: 'memory', connect: () => Promise.reject(refused) });
    cleanups.push(() => client.close());
    const error = await client.getStatus().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KongConnectError);
    expect(error).toMatchObject({ code: 'KONG_RPC_CONNECT', socketPath: 'memory', cause: refused });
  });

  it('refuses a connect that is not a function', () => {
    expect(
      () => new KongPluginClient({ socketPath: 'memory', connect: 'x' as unknown as () => Promise<Duplex> }),
    ).toThrow(KongRpcUsageError);
  });
});

/** The observable shape of an event's failure: class, code, message and the fields callers read. */
async function failureOf(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  const error = await promise.then(
    () => expect.unreachable('the event should fail'),
    (caught: unknown) => caught as Error & Record<string, unknown>,
  );
  return {
    class: error.constructor.name,
    name: error.name,
    code: error.code,
    message: error.message,
    method: error.method,
    msgid: error.msgid,
    timeout: error.timeout,
    sent: error.sent,
    cause: error.cause,
  };
}

describe('KongPluginClient event deadline and cancellation', () => {
  const never = () => new Promise<never>(() => {});

  /** A server that answers HandleEvent with one PDK call, and never answers `hang` methods. */
  async function server(hang: string[]): Promise<FakeServer> {
    return fakeServer(tempSocket(), (method) => {
      if (hang.includes(method)) return never();
      if (method === 'plugin.HandleEvent') {
        return { EventId: 1, Data: { Method: 'kong.request.get_header', Args: ['host'] } };
      }
      return { EventId: 1, Data: 'ret' };
    });
  }

  it('reports a request that outlives the deadline as RpcTimeoutError with the event timeout, and drops its connection', async () => {
    const kong = client((await server(['plugin.HandleEvent'])).path);
    expect(await failureOf(kong.handleEvent(1, 'access', () => 'h', { timeout: 120 }))).toEqual({
      class: 'RpcTimeoutError',
      name: 'RpcTimeoutError',
      code: 'MSGPACK_RPC_TIMEOUT',
      message: 'request plugin.HandleEvent (msgid 1) timed out after 120 ms',
      method: 'plugin.HandleEvent',
      msgid: 1,
      timeout: 120,
      sent: undefined,
      cause: undefined,
    });
    await expect.poll(() => kong.connections, { timeout: 5_000 }).toBe(0);
  });

  it('bounds the whole event: a Step sent late in it times out at the event deadline', async () => {
    const kong = client((await server(['plugin.Step'])).path);
    const started = performance.now();
    const failure = await failureOf(
      kong.handleEvent(1, 'access', () => new Promise((resolve) => setTimeout(resolve, 60, 'h')), {
        timeout: 150,
      }),
    );
    // The Step had about 90 ms left, but the error reports the event's deadline, as before.
    expect(failure).toMatchObject({
      class: 'RpcTimeoutError',
      method: 'plugin.Step',
      msgid: 2,
      timeout: 150,
      message: 'request plugin.Step (msgid 2) timed out after 150 ms',
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(149);
    await expect.poll(() => kong.connections, { timeout: 5_000 }).toBe(0);
  });

  it('times out a PDK call that never answers with the PDK method and no msgid', async () => {
    const kong = client((await server([])).path);
    expect(await failureOf(kong.handleEvent(1, 'access', never, { timeout: 100 }))).toMatchObject({
      class: 'RpcTimeoutError',
      method: 'kong.request.get_header',
      msgid: undefined,
      timeout: 100,
    });
  });

  it('times out an event still waiting for a pooled connection', async () => {
    const kong = client((await server(['plugin.HandleEvent'])).path, { maxConnections: 1 });
    const holder = kong.handleEvent(1, 'access', () => 'h', { timeout: 1_000 });
    const holderFailure = failureOf(holder);
    expect(await failureOf(kong.handleEvent(2, 'access', () => 'h', { timeout: 80 }))).toMatchObject({
      class: 'RpcTimeoutError',
      message: 'request plugin.HandleEvent (msgid undefined) timed out after 80 ms',
      msgid: undefined,
      timeout: 80,
    });
    expect(await holderFailure).toMatchObject({ class: 'RpcTimeoutError', timeout: 1_000 });
  });

  it('cancels a request in flight with RequestAbortedError (sent, cause = reason) and drops its connection', async () => {
    const kong = client((await server(['plugin.HandleEvent'])).path);
    const controller = new AbortController();
    const reason = new Error('client went away');
    const event = kong.handleEvent(1, 'access', () => 'h', { signal: controller.signal });
    await expect.poll(() => kong.connections, { timeout: 5_000 }).toBe(1);
    setTimeout(() => controller.abort(reason), 20);
    expect(await failureOf(event)).toEqual({
      class: 'RequestAbortedError',
      name: 'AbortError',
      code: 'MSGPACK_RPC_ABORTED',
      message: 'request plugin.HandleEvent was aborted',
      method: 'plugin.HandleEvent',
      msgid: 1,
      timeout: undefined,
      sent: true,
      cause: reason,
    });
    await expect.poll(() => kong.connections, { timeout: 5_000 }).toBe(0);
  });

  it('cancels at once with an aborted signal, and during a PDK call with the PDK method', async () => {
    const kong = client((await server([])).path);
    const reason = new Error('gone');
    expect(
      await failureOf(kong.handleEvent(1, 'access', () => 'h', { signal: AbortSignal.abort(reason) })),
    ).toEqual({
      class: 'RequestAbortedError',
      name: 'AbortError',
      code: 'MSGPACK_RPC_ABORTED',
      message: 'request plugin.HandleEvent was aborted',
      method: 'plugin.HandleEvent',
      msgid: undefined,
      timeout: undefined,
      sent: false,
      cause: reason,
    });
    const controller = new AbortController();
    const pdk = () => {
      setImmediate(() => controller.abort(reason));
      return never();
    };
    expect(await failureOf(kong.handleEvent(1, 'access', pdk, { signal: controller.signal }))).toMatchObject({
      class: 'RequestAbortedError',
      method: 'kong.request.get_header',
      msgid: undefined,
      sent: false,
      cause: reason,
    });
  });
});

describe('KongPluginClient event deadline passed during a synchronous PDK call', () => {
  it('still sends the Step and fails it with its msgid, as the deadline timer did', async () => {
    const fake = await fakeServer(tempSocket(), (method) => {
      if (method === 'plugin.HandleEvent') {
        return { EventId: 1, Data: { Method: 'kong.request.get_header', Args: ['host'] } };
      }
      return { EventId: 1, Data: 'ret' };
    });
    const kong = client(fake.path);
    const busy = () => {
      const until = performance.now() + 80;
      while (performance.now() < until) {
        // A synchronous PDK implementation that outruns the whole event's deadline.
      }
      return 'h';
    };
    expect(await failureOf(kong.handleEvent(1, 'access', busy, { timeout: 40 }))).toMatchObject({
      class: 'RpcTimeoutError',
      message: 'request plugin.Step (msgid 2) timed out after 40 ms',
      method: 'plugin.Step',
      msgid: 2,
      timeout: 40,
    });
  });
});
