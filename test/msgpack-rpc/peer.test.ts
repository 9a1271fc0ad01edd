import { Duplex, PassThrough, Writable } from 'node:stream';
import { decodeMulti } from '@msgpack/msgpack';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  ConnectionClosedError,
  EncodeError,
  HandlerError,
  QueueFullError,
  RemoteError,
  RequestAbortedError,
  RpcTimeoutError,
  RpcUsageError,
} from '../../src/msgpack-rpc/errors.js';
import type { RpcPeerOptions } from '../../src/msgpack-rpc/options.js';
import { createPeerPair } from '../../src/msgpack-rpc/pair.js';
import { type AnySchema, RpcPeer, type RpcSchema } from '../../src/msgpack-rpc/peer.js';
import type { TraceEvent } from '../../src/msgpack-rpc/trace.js';
import { hex, type RawHarness, rawHarness, toHex, waitFor } from './helpers.js';

const cleanups: (() => void)[] = [];
function harness(options: RpcPeerOptions = {}): RawHarness {
  const created = rawHarness(options);
  cleanups.push(() => created.peer.destroy());
  return created;
}
function pair(options: RpcPeerOptions = {}, optionsB?: RpcPeerOptions) {
  const created = createPeerPair(options, optionsB ?? options);
  cleanups.push(() => {
    created.a.destroy();
    created.b.destroy();
  });
  return created;
}
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function settle<T>(promise: Promise<T>): Promise<unknown> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => error,
  );
}

describe('RpcPeer requests and responses', () => {
  it('T33: the first request uses msgid 1 by default and 0 with msgidBase 0', async () => {
    const one = harness();
    void settle(one.peer.request('ping', []));
    await waitFor(() => one.chunks.length > 0);
    expect(toHex(one.received())).toBe('94 00 01 a4 70 69 6e 67 90');
    const zero = harness({ msgidBase: 0 });
    void settle(zero.peer.request('ping', []));
    await waitFor(() => zero.chunks.length > 0);
    expect(toHex(zero.received())).toBe('94 00 00 a4 70 69 6e 67 90');
  });

  it('T46: out-of-order responses in one chunk settle their own calls', async () => {
    const h = harness();
    const calls = [h.peer.request('a', []), h.peer.request('b', []), h.peer.request('c', [])];
    await waitFor(() => h.messages().length === 3);
    h.send('94 01 03 c0 a1 63 94 01 01 c0 a1 61 94 01 02 c0 a1 62');
    expect(await Promise.all(calls)).toEqual(['a', 'b', 'c']);
  });

  it('T48: a second response for the same id is unknown-msgid', async () => {
    const h = harness();
    const call = h.peer.request('a', []);
    await waitFor(() => h.chunks.length > 0);
    h.send('94 01 01 c0 01 94 01 01 c0 02');
    await expect(call).resolves.toBe(1);
    await waitFor(() => h.errors.length === 1);
    expect(h.errors[0]).toMatchObject({ reason: 'unknown-msgid', msgid: 1 });
  });

  it('answers the requests of one chunk in one write, made before the pass returns', async () => {
    const readable = new PassThrough();
    const writes: Buffer[] = [];
    const writable = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        writes.push(chunk);
        callback();
      },
    });
    const peer = new RpcPeer({ readable, writable });
    cleanups.push(() => peer.destroy());
    peer.handle('echo', ([value]) => value);
    // Registered after the peer's own listener: it runs right after the peer's data pass, before any microtask.
    const seen = new Promise<number>((resolve) => readable.once('data', () => resolve(writes.length)));
    // Three requests in one chunk: 94 00 <id> a4 "echo" 91 <value>.
    readable.write(
      hex('94 00 01 a4 65 63 68 6f 91 01 94 00 02 a4 65 63 68 6f 91 02 94 00 03 a4 65 63 68 6f 91 03'),
    );
    expect(await seen).toBe(1);
    expect(toHex(writes[0]!)).toBe('94 01 01 c0 01 94 01 02 c0 02 94 01 03 c0 03');
  });

  it('settles a call whose transport answers synchronously inside write()', async () => {
    // An in-memory transport that pushes the response before write() returns, in both write modes.
    for (const options of [{}, { maxOutgoingInFlight: 1 }]) {
      const transport: Duplex = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          for (const message of decodeMulti(chunk)) {
            const [, msgid, , params] = message as [number, number, string, unknown[]];
            transport.push(Buffer.from([0x94, 0x01, msgid, 0xc0, params[0] as number]));
          }
          callback();
        },
      });
      const peer = new RpcPeer(transport, options);
      cleanups.push(() => peer.destroy());
      // Until the stream has flowed once, push() defers 'data' to a later tick; from then on it is synchronous.
      await expect(peer.request('echo', [5], { timeout: 1000 })).resolves.toBe(5);
      const calls = [
        peer.request('echo', [7], { timeout: 1000 }),
        peer.request('echo', [9], { timeout: 1000 }),
      ];
      await expect(Promise.all(calls)).resolves.toEqual([7, 9]);
    }
  });

  it('T54: both sides call each other on one connection, both with msgid 1', async () => {
    const { a, b } = pair();
    a.handle('mul', ([x, y]) => (x as number) * (y as number));
    b.handle('add', ([x, y]) => (x as number) + (y as number));
    const [sum, product] = await Promise.all([a.request('add', [2, 3]), b.request('mul', [2, 3])]);
    expect([sum, product]).toEqual([5, 6]);
  });

  it('T55: a notification before a response runs before the caller continues', async () => {
    const h = harness();
    const order: string[] = [];
    h.peer.handleNotification('serverPid', () => {
      order.push('notification');
    });
    const call = h.peer.request('x', []).then(() => order.push('response'));
    await waitFor(() => h.chunks.length > 0);
    h.send('93 02 a9 73 65 72 76 65 72 50 69 64 91 cd 04 d2 94 01 01 c0 c0');
    await call;
    expect(order).toEqual(['notification', 'response']);
  });

  it('T56: an unknown method gets a byte-exact error; an unknown notification is traced', async () => {
    const h = harness();
    h.send('94 00 01 ae 6d 65 74 68 6f 64 2e 6d 69 73 73 69 6e 67 90 93 02 a3 6c 6f 67 91 a2 68 69');
    await waitFor(
      () => h.chunks.length > 0 && h.events.some((event) => event.type === 'unhandled-notification'),
    );
    expect(toHex(h.received())).toBe(
      '94 01 01 d9 20 6d 65 74 68 6f 64 20 6e 6f 74 20 66 6f 75 6e 64 3a 20 6d 65 74 68 6f 64 2e 6d 69 73 73 69 6e 67 c0',
    );
    expect(h.events.find((event) => event.type === 'unhandled-notification')).toMatchObject({
      method: 'log',
    });
  });

  it('T57: replies echo non-consecutive, out-of-order msgids numerically', async () => {
    const h = harness();
    h.peer.handle('m', ([value]) => value);
    h.send('94 00 07 a1 6d 91 07 94 00 0c a1 6d 91 0c 94 00 09 a1 6d 91 09');
    await waitFor(() => h.messages().length === 3);
    expect(h.messages()).toEqual([
      [1, 7, null, 7],
      [1, 12, null, 12],
      [1, 9, null, 9],
    ]);
  });

  it('T43/T44: thrown values become string error slots, never nil', async () => {
    const h = harness();
    h.peer.handle('instance', () => {
      throw new Error('no plugin instance #3');
    });
    h.send('94 00 07 a8 69 6e 73 74 61 6e 63 65 90');
    await waitFor(() => h.chunks.length > 0);
    expect(toHex(h.received())).toBe(
      '94 01 07 b5 6e 6f 20 70 6c 75 67 69 6e 20 69 6e 73 74 61 6e 63 65 20 23 33 c0',
    );
    for (const [errors, expected] of [
      ['string', ['unknown error', 'unknown error', '{"code":1}']],
      ['raw', ['unknown error', 'unknown error', { code: 1 }]],
    ] as const) {
      const peer = harness({ errors });
      const thrown = [undefined, null, { code: 1 }];
      peer.peer.handle('t', async ([index]) => {
        throw thrown[index as number];
      });
      peer.send('94 00 01 a1 74 91 00 94 00 02 a1 74 91 01 94 00 03 a1 74 91 02');
      await waitFor(() => peer.messages().length === 3);
      expect((peer.messages() as unknown[][]).map((message) => message[2])).toEqual(expected);
    }
    const raw = harness({ errors: 'raw' });
    raw.peer.handle('t', () => {
      throw { code: 1 };
    });
    raw.send('94 00 01 a1 74 90');
    await waitFor(() => raw.chunks.length > 0);
    expect(toHex(raw.received())).toBe('94 01 01 81 a4 63 6f 64 65 01 c0');
  });

  it('T67: error slots become RemoteError with the raw value as data', async () => {
    const h = harness();
    const calls = [h.peer.request('a', []), h.peer.request('b', []), h.peer.request('c', [])];
    await waitFor(() => h.messages().length === 3);
    h.send('94 01 01 a3 62 61 64 01 94 01 02 92 00 a3 62 61 64 c0 94 01 03 c0 c0');
    const [first, second, third] = await Promise.all(calls.map(settle));
    expect(first).toBeInstanceOf(RemoteError);
    expect(first).toMatchObject({
      message: 'bad',
      data: 'bad',
      method: 'a',
      msgid: 1,
      code: 'MSGPACK_RPC_REMOTE',
    });
    expect(second).toMatchObject({ message: 'bad', data: [0, 'bad'] });
    expect(third).toBe('resolved');
  });

  it('a handler result that cannot be encoded becomes an error response and goes to onError', async () => {
    const h = harness();
    h.peer.handle('m', () => new Map());
    h.send('94 00 01 a1 6d 90');
    await waitFor(() => h.messages().length === 1);
    const [response] = h.messages() as unknown[][];
    expect(response![2]).toMatch(/^result could not be encoded/);
    expect(h.errors[0]).toBeInstanceOf(EncodeError);
  });

  it('T39/T41: an unencodable request rejects, writes nothing, and the peer still works', async () => {
    const h = harness();
    await expect(h.peer.request('m', [new Map([['a', 1]])])).rejects.toMatchObject({
      reason: 'unsupported-type',
    });
    await expect(h.peer.request('m', [2n ** 63n])).rejects.toMatchObject({ reason: 'bigint-disabled' });
    expect(() => h.peer.notify('m', [new Set()])).toThrow(EncodeError);
    const call = h.peer.request('m', []);
    await waitFor(() => h.chunks.length > 0);
    expect(toHex(h.received())).toBe('94 00 01 a1 6d 90');
    h.send('94 01 01 c0 c0');
    await expect(call).resolves.toBeNull();
    const big = harness({ encodeBigInt: true });
    void settle(big.peer.request('m', [2n ** 63n, -1n, 5_000_000_000]));
    await waitFor(() => big.chunks.length > 0);
    expect(toHex(big.received())).toBe(
      '94 00 01 a1 6d 93 cf 80 00 00 00 00 00 00 00 d3 ff ff ff ff ff ff ff ff cf 00 00 00 01 2a 05 f2 00',
    );
  });

  it('T45: a request over maxOutgoingFrameBytes rejects and nothing is written', async () => {
    const h = harness({ maxOutgoingFrameBytes: 32 });
    await expect(h.peer.request('m', ['x'.repeat(32)])).rejects.toMatchObject({ reason: 'frame-too-large' });
    expect(h.errors).toEqual([]);
  });
});

describe('RpcPeer timeouts, cancellation and close', () => {
  it('T49: a timeout rejects; the late response is traced, not an error', async () => {
    const h = harness();
    const call = h.peer.request('slow', [], { timeout: 50 });
    const error = await settle(call);
    expect(error).toBeInstanceOf(RpcTimeoutError);
    expect(error).toMatchObject({ msgid: 1, timeout: 50, method: 'slow', code: 'MSGPACK_RPC_TIMEOUT' });
    h.send('94 01 01 c0 c0');
    await waitFor(() => h.events.some((event) => event.type === 'late-response'));
    expect(h.errors).toEqual([]);
    expect(h.peer.isClosed).toBe(false);
  });

  it('T49: after 1,024 newer abandonments the late response is unknown-msgid', async () => {
    const h = harness();
    const calls: Promise<unknown>[] = [];
    for (let index = 0; index < 1025; index++) {
      const controller = new AbortController();
      calls.push(settle(h.peer.request('x', [], { signal: controller.signal })));
      await waitFor(() => h.chunks.length === index + 1);
      controller.abort();
    }
    await Promise.all(calls);
    h.send('94 01 01 c0 c0');
    await waitFor(() => h.errors.length === 1);
    expect(h.errors[0]).toMatchObject({ reason: 'unknown-msgid', msgid: 1 });
  });

  it('T50: abort before the call, while queued (one-in-flight), and after the write', async () => {
    const h = harness({ maxOutgoingInFlight: 1, closeOnAbandon: false });
    const aborted = AbortSignal.abort('gone');
    const before = await settle(h.peer.request('a', [], { signal: aborted }));
    expect(before).toBeInstanceOf(RequestAbortedError);
    expect(before).toMatchObject({
      sent: false,
      cause: 'gone',
      name: 'AbortError',
      code: 'MSGPACK_RPC_ABORTED',
    });
    expect(h.chunks).toHaveLength(0);

    const first = h.peer.request('first', []);
    const controller = new AbortController();
    const queued = settle(h.peer.request('queued', [], { signal: controller.signal }));
    controller.abort();
    expect(await queued).toMatchObject({ sent: false });
    await waitFor(() => h.chunks.length === 1);
    expect(h.messages()).toEqual([[0, 1, 'first', []]]);

    const afterWrite = new AbortController();
    h.send('94 01 01 c0 c0');
    await first;
    const written = settle(h.peer.request('written', [], { signal: afterWrite.signal }));
    await waitFor(() => h.chunks.length === 2);
    afterWrite.abort();
    expect(await written).toMatchObject({ sent: true });
  });

  it('T51: remote reset and remote end reject every pending call once, with no timers left', async () => {
    for (const how of ['destroy', 'end'] as const) {
      const h = harness({ requestTimeout: 60_000 });
      let closes = 0;
      h.peer.on('close', () => closes++);
      const calls = [1, 2, 3].map(() => settle(h.peer.request('x', [])));
      await waitFor(() => h.chunks.length > 0);
      if (how === 'destroy') h.remote.destroy();
      else h.remote.end();
      const errors = (await Promise.all(calls)) as ConnectionClosedError[];
      for (const error of errors) {
        expect(error).toBeInstanceOf(ConnectionClosedError);
        expect(error.initiator).toBe('remote');
        if (how === 'destroy') expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
        else expect(error.cause).toBeUndefined();
      }
      await waitFor(() => closes === 1);
      expect(h.peer.pendingCount).toBe(0);
    }
  });

  it('T52: a request after close rejects at once with nothing written and no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      const h = harness();
      await h.peer.close();
      const error = await settle(h.peer.request('x', []));
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(() => h.peer.notify('x', [])).toThrow(ConnectionClosedError);
      expect(h.chunks).toHaveLength(0);
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });

  it('close() rejects pending calls as local, lets running handlers answer, and ends the stream', async () => {
    const { a, b } = pair();
    let release: (() => void) | undefined;
    b.handle('slow', () => new Promise((resolve) => (release = () => resolve('late but sent'))));
    a.handle('never', () => new Promise(() => {}));
    const slow = a.request('slow', []);
    await waitFor(() => release !== undefined);
    const pendingOnB = settle(b.request('never', []));
    const closing = b.close();
    expect(await pendingOnB).toMatchObject({ initiator: 'local' });
    release!();
    await expect(slow).resolves.toBe('late but sent');
    await closing;
    await waitFor(() => a.isClosed);
  });

  it('T60: one-in-flight writes each message alone, the next only after the response', async () => {
    const h = harness({ maxOutgoingInFlight: 1 });
    const calls = [h.peer.request('a', []), h.peer.request('b', []), h.peer.request('c', [])];
    await waitFor(() => h.chunks.length === 1);
    expect(h.messages()).toEqual([[0, 1, 'a', []]]);
    h.send('94 01 01 c0 c0');
    await waitFor(() => h.chunks.length === 2);
    expect(toHex(h.chunks[1]!)).toBe('94 00 02 a1 62 90');
    h.send('94 01 02 c0 c0');
    await waitFor(() => h.chunks.length === 3);
    h.send('94 01 03 c0 c0');
    await Promise.all(calls);
    expect(h.chunks.map((chunk) => chunk.length)).toEqual([6, 6, 6]);
  });

  it('T61: one-in-flight closes when a written call times out; with closeOnAbandon false the next is written', async () => {
    const h = harness({ maxOutgoingInFlight: 1 });
    const first = settle(h.peer.request('a', [], { timeout: 30 }));
    const second = settle(h.peer.request('b', []));
    expect(await first).toBeInstanceOf(RpcTimeoutError);
    const error = (await second) as ConnectionClosedError;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.cause).toBeInstanceOf(RpcTimeoutError);
    expect(h.chunks).toHaveLength(1);

    const lenient = harness({ maxOutgoingInFlight: 1, closeOnAbandon: false });
    const timedOut = settle(lenient.peer.request('a', [], { timeout: 30 }));
    const next = lenient.peer.request('b', []);
    expect(await timedOut).toBeInstanceOf(RpcTimeoutError);
    await waitFor(() => lenient.chunks.length === 2);
    lenient.send('94 01 02 c0 2a');
    await expect(next).resolves.toBe(42);
  });

  it('a call that times out while queued leaves a one-in-flight connection open', async () => {
    const h = harness({ maxOutgoingInFlight: 1 });
    const first = h.peer.request('a', []);
    const queued = settle(h.peer.request('b', [], { timeout: 20 }));
    expect(await queued).toBeInstanceOf(RpcTimeoutError);
    expect(h.peer.isClosed).toBe(false);
    h.send('94 01 01 c0 c0');
    await expect(first).resolves.toBeNull();
  });

  it('T63: a stream error rejects pending calls with it as cause', async () => {
    const h = harness();
    const call = settle(h.peer.request('x', []));
    await waitFor(() => h.chunks.length > 0);
    const epipe: NodeJS.ErrnoException = new Error('write EPIPE');
    epipe.code = 'EPIPE';
    (h.peer as unknown as { writable: Duplex }).writable.destroy(epipe);
    const error = (await call) as ConnectionClosedError;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.cause).toBe(epipe);
  });

  it('T64: a handler still running when the remote closes sees its signal abort; its result is dropped', async () => {
    const h = harness();
    let signal: AbortSignal | undefined;
    let release: (() => void) | undefined;
    h.peer.handle('m', (_params, context) => {
      signal = context.signal;
      return new Promise((resolve) => (release = () => resolve('x')));
    });
    h.send('94 00 01 a1 6d 90');
    await waitFor(() => release !== undefined);
    h.remote.end();
    await waitFor(() => signal?.aborted === true);
    release!();
    await waitFor(() => h.events.some((event) => event.type === 'response-dropped'));
    expect(h.messages()).toEqual([]);
  });
});

describe('RpcPeer concurrency, backpressure and tracing', () => {
  it('T58: at most maxConcurrentHandlers run; the rest start in arrival order', async () => {
    const h = harness({ maxConcurrentHandlers: 2 });
    const started: number[] = [];
    const releases: (() => void)[] = [];
    let running = 0;
    let peak = 0;
    h.peer.handle('m', ([id]) => {
      started.push(id as number);
      running++;
      peak = Math.max(peak, running);
      return new Promise((resolve) =>
        releases.push(() => {
          running--;
          resolve(id);
        }),
      );
    });
    h.send(Array.from({ length: 5 }, (_, index) => `94 00 0${index + 1} a1 6d 91 0${index + 1}`).join(' '));
    await waitFor(() => started.length === 2);
    while (releases.length > 0 || started.length < 5) {
      await waitFor(() => releases.length > 0);
      releases.shift()!();
    }
    await waitFor(() => h.messages().length === 5);
    expect(peak).toBe(2);
    expect(started).toEqual([1, 2, 3, 4, 5]);
  });

  it('T59: a full request queue pauses reading and resumes later; all are answered', async () => {
    const h = harness({ maxConcurrentHandlers: 1, maxQueuedRequests: 2 });
    const releases: (() => void)[] = [];
    h.peer.handle('m', ([id]) => new Promise((resolve) => releases.push(() => resolve(id))));
    h.send(
      Array.from(
        { length: 10 },
        (_, index) => `94 00 ${(index + 1).toString(16).padStart(2, '0')} a1 6d 91 01`,
      ).join(' '),
    );
    let answered = 0;
    while (answered < 10) {
      await waitFor(() => releases.length > 0);
      releases.shift()!();
      answered++;
    }
    await waitFor(() => h.messages().length === 10);
    const states = h.events.filter((event) => event.type === 'backpressure').map((event) => event.state);
    expect(states).toContain('paused');
    expect(states).toContain('resumed');
  });

  it('T62: write() false queues up to maxQueuedBytes, refuses beyond, and flushes in order on drain', async () => {
    const writes: Buffer[] = [];
    let release: (() => void) | undefined;
    const writable = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        writes.push(chunk);
        // The first write never completes until the test says so; after that the sink keeps up.
        if (release === undefined) release = callback;
        else callback();
      },
    });
    const readable = new PassThrough();
    const events: TraceEvent[] = [];
    const peer = new RpcPeer(
      { readable, writable },
      { maxQueuedBytes: 1024, trace: (event) => events.push(event) },
    );
    cleanups.push(() => peer.destroy());
    void settle(peer.request('first', []));
    await waitFor(() => writes.length === 1 && events.some((event) => event.type === 'backpressure'));
    const results: Promise<unknown>[] = [];
    for (let index = 0; index < 100; index++)
      results.push(settle(peer.request('m', [index, 'x'.repeat(20)])));
    const early = await Promise.all(
      results.map((result) =>
        Promise.race([result, new Promise((resolve) => setImmediate(() => resolve('pending')))]),
      ),
    );
    const refused = early.filter((result) => result instanceof QueueFullError) as QueueFullError[];
    const queued = early.filter((result) => result === 'pending').length;
    expect(refused.length).toBeGreaterThan(0);
    expect(queued).toBeGreaterThan(0);
    expect(queued + refused.length).toBe(100);
    expect(refused[0]).toMatchObject({ limit: 1024, code: 'MSGPACK_RPC_QUEUE_FULL' });
    expect(writes).toHaveLength(1);
    release!();
    await waitFor(() => events.some((event) => event.type === 'backpressure' && event.state === 'drained'));
    const written = decodeMulti(Buffer.concat(writes.slice(1)));
    const ids = [...written].map((message) => ((message as unknown[])[3] as number[])[0]);
    expect(ids).toEqual(Array.from({ length: queued }, (_, index) => index));
  });

  it('T66: the trace hook sees send and receive; a throwing hook does not affect the call', async () => {
    const h = harness();
    const call = h.peer.request('ping', []);
    await waitFor(() => h.chunks.length > 0);
    h.send('94 01 01 c0 c0');
    await call;
    const send = h.events.find((event) => event.type === 'send');
    const receive = h.events.find((event) => event.type === 'receive');
    expect(send).toMatchObject({ kind: 'request', msgid: 1, bytes: 9, method: 'ping' });
    expect(receive).toMatchObject({ kind: 'response', msgid: 1, method: 'ping' });
    expect((receive as { durationMs: number }).durationMs).toBeGreaterThanOrEqual(0);

    const broken = new RpcPeer(new PassThrough(), {
      trace: () => {
        throw new Error('hook');
      },
    });
    cleanups.push(() => broken.destroy());
    const errors: Error[] = [];
    broken.on('error', (error) => errors.push(error));
    const echoed = settle(broken.request('m', []));
    // A PassThrough echoes our own request back: it is a request we have no handler for; answer goes back too.
    await waitFor(() => errors.length > 0);
    expect(errors[0]).toBeInstanceOf(HandlerError);
    await settle(echoed);
  });

  it('notification handler failures go to onError as HandlerError', async () => {
    const { a, b } = pair();
    const errors: Error[] = [];
    b.on('error', (error) => errors.push(error));
    b.handleNotification('sync', () => {
      throw new Error('sync fail');
    });
    b.handleNotification('async', async () => {
      throw new Error('async fail');
    });
    a.notify('sync', []);
    a.notify('async', []);
    await waitFor(() => errors.length === 2);
    expect(errors.every((error) => error instanceof HandlerError)).toBe(true);
    expect(errors.map((error) => (error as HandlerError).method).sort()).toEqual(['async', 'sync']);
  });

  it('fallback handlers take unknown methods; disposables remove handlers', async () => {
    const { a, b } = pair();
    const seen: string[] = [];
    b.handleUnknown((method) => `fallback:${method}`);
    b.handleUnknownNotification((method) => {
      seen.push(method);
    });
    const registration = b.handle('known', () => 'known');
    expect(await a.request('known', [])).toBe('known');
    registration();
    expect(await a.request('known', [])).toBe('fallback:known');
    a.notify('whatever', []);
    await waitFor(() => seen.length === 1);
    expect(seen).toEqual(['whatever']);
  });

  it('validates options at construction', () => {
    const stream = new PassThrough();
    expect(() => new RpcPeer(stream, { maxConcurrentHandlers: 0 })).toThrow(RpcUsageError);
    expect(() => new RpcPeer(stream, { requestTimeout: -1 })).toThrow(RpcUsageError);
    expect(() => new RpcPeer(stream, { maxOutgoingInFlight: 1.5 })).toThrow(RpcUsageError);
    expect(() => new RpcPeer(stream, { msgidBase: 2 as 0 })).toThrow(RpcUsageError);
    expect(() => new RpcPeer({} as Duplex)).toThrow(RpcUsageError);
    stream.destroy();
  });

  it('T68: typed schemas reject wrong params and unknown methods at compile time', () => {
    interface Server extends RpcSchema {
      requests: { 'plugin.CloseInstance': (id: number) => boolean };
      notifications: { serverPid: (pid: number) => void };
    }
    const peer = new RpcPeer<AnySchema, Server>(new PassThrough());
    cleanups.push(() => peer.destroy());
    const typed = peer.request('plugin.CloseInstance', [1]);
    typed.catch(() => undefined);
    expectTypeOf(typed).toEqualTypeOf<Promise<boolean>>();
    const check = () => {
      // @ts-expect-error: params must be [number]
      void peer.request('plugin.CloseInstance', ['x']);
      // @ts-expect-error: unknown method
      void peer.request('plugin.Nope', []);
      // @ts-expect-error: notification params must be [number]
      peer.notify('serverPid', ['x']);
    };
    expect(typeof check).toBe('function');
    void hex;
  });
});
