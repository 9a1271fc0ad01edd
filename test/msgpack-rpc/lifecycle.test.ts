import { afterEach, describe, expect, it } from 'vitest';
import { MessageCodec } from '../../src/msgpack-rpc/codec.js';
import { ConnectionClosedError, RemoteError } from '../../src/msgpack-rpc/errors.js';
import { KONG_PEER_OPTIONS, type RpcPeerOptions } from '../../src/msgpack-rpc/options.js';
import { createMemoryDuplexPair, createPeerPair } from '../../src/msgpack-rpc/pair.js';
import type { TraceEvent } from '../../src/msgpack-rpc/trace.js';
import { type RawHarness, rawHarness, toHex, waitFor } from './helpers.js';

const cleanups: (() => void)[] = [];
function harness(options: RpcPeerOptions = {}): RawHarness {
  const created = rawHarness(options);
  cleanups.push(() => created.peer.destroy());
  return created;
}
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('RpcPeer lifecycle details', () => {
  it('destroy(cause) rejects pending calls as local with that cause, and fires onClose once', async () => {
    const h = harness();
    const closes: ConnectionClosedError[] = [];
    h.peer.on('close', (error) => closes.push(error));
    const call = h.peer.request('x', []).catch((error: unknown) => error);
    const cause = new Error('shutting down');
    h.peer.destroy(cause);
    const error = (await call) as ConnectionClosedError;
    expect(error).toMatchObject({ initiator: 'local', cause, code: 'MSGPACK_RPC_CLOSED' });
    expect(closes).toHaveLength(1);
    expect(closes[0]!.cause).toBe(cause);
    // A caller arriving after the close still gets the close error, from the `closed` promise.
    expect(await h.peer.closed).toBe(closes[0]);
    expect(h.peer.isClosed).toBe(true);
  });

  it('a graceful close gives up on a handler that never finishes after closeTimeout', async () => {
    const h = harness({ closeTimeout: 50 });
    let signal: AbortSignal | undefined;
    h.peer.handle('hang', (_params, context) => {
      signal = context.signal;
      return new Promise(() => {});
    });
    h.send('94 00 01 a4 68 61 6e 67 90');
    await waitFor(() => signal !== undefined);
    expect(signal!.aborted).toBe(false);
    await h.peer.close();
    expect(signal!.aborted).toBe(true);
    await waitFor(() => h.remoteEnded());
    expect(h.received().length).toBe(0);
  });

  it('wraps msgids at 2^32 on a live peer and skips ids still pending', async () => {
    const h = harness({ initialMsgid: 4294967295 });
    const first = h.peer.request('a', []);
    const second = h.peer.request('b', []);
    await waitFor(() => h.messages().length === 2);
    expect((h.messages() as unknown[][]).map((message) => message[1])).toEqual([4294967295, 1]);
    h.send('94 01 ce ff ff ff ff c0 c0 94 01 01 c0 c0');
    await Promise.all([first, second]);
  });

  it('traceFrames attaches a copy of the bytes to send and receive events', async () => {
    const events: TraceEvent[] = [];
    const { a, b } = createPeerPair({ trace: (event) => events.push(event), traceFrames: true }, {});
    cleanups.push(() => {
      a.destroy();
      b.destroy();
    });
    b.handle('m', () => 1);
    await a.request('m', []);
    const send = events.find((event) => event.type === 'send') as { frame: Uint8Array };
    const receive = events.find((event) => event.type === 'receive') as { frame: Uint8Array };
    expect(toHex(send.frame)).toBe('94 00 01 a1 6d 90');
    expect(toHex(receive.frame)).toBe('94 01 01 c0 01');
  });

  it('peers can share one codec', async () => {
    const codec = new MessageCodec({ encoding: 'kong' });
    const { a, b } = createPeerPair({ codec }, { codec });
    cleanups.push(() => {
      a.destroy();
      b.destroy();
    });
    expect(a.codec).toBe(b.codec);
    b.handle('empty', () => ({}));
    // Kong encoding sends an empty object as 90, which decodes as an empty array.
    expect(await a.request('empty', [])).toEqual([]);
  });

  it('a Kong-profile peer writes one message per write() and reads the wire from a standard peer', async () => {
    const [kongSide, serverSide] = createMemoryDuplexPair();
    const writes: Buffer[] = [];
    const original = kongSide.write.bind(kongSide);
    kongSide.write = ((chunk: Buffer, ...rest: never[]) => {
      writes.push(Buffer.from(chunk));
      return original(chunk, ...rest);
    }) as typeof kongSide.write;
    const { RpcPeer } = await import('../../src/msgpack-rpc/peer.js');
    const kong = new RpcPeer(kongSide, { ...KONG_PEER_OPTIONS });
    const server = new RpcPeer(serverSide);
    cleanups.push(() => {
      kong.destroy();
      server.destroy();
    });
    server.handle('plugin.GetStatus', () => ({ Name: 'x', Data: undefined }));
    server.handle('plugin.Fail', () => {
      throw new Error('no plugin instance 3');
    });
    const results = await Promise.all([
      kong.request('plugin.GetStatus', [{}]),
      kong.request('plugin.GetStatus', [{}]),
      kong.request('plugin.Fail', []).catch((error: unknown) => error),
    ]);
    expect(results[0]).toEqual({ Name: 'x', Data: null });
    expect(results[2]).toBeInstanceOf(RemoteError);
    expect((results[2] as RemoteError).data).toBe('no plugin instance 3');
    expect(writes.map((chunk) => chunk[0])).toEqual([0x94, 0x94, 0x94]);
    // The Kong encoding of `[{}]` is `91 90`.
    expect(toHex(writes[0]!).endsWith('91 90')).toBe(true);
  });

  it('the memory duplex pair applies backpressure', async () => {
    const [left, right] = createMemoryDuplexPair({ highWaterMark: 16 });
    left.on('error', () => {});
    right.on('error', () => {});
    cleanups.push(() => {
      left.destroy();
      right.destroy();
    });
    expect(left.write(Buffer.alloc(64))).toBe(false);
    const drained = new Promise((resolve) => left.once('drain', resolve));
    right.resume();
    await drained;
  });
});

describe('RpcPeer notifications lost to a close', () => {
  it('reports a notification still queued at close to onError', async () => {
    const h = harness({ maxOutgoingInFlight: 1 });
    void h.peer.request('first', []).catch(() => undefined);
    h.peer.notify('queued', []);
    h.peer.destroy();
    await waitFor(() => h.errors.length === 1);
    expect(h.errors[0]).toBeInstanceOf(ConnectionClosedError);
  });
});

describe('RpcPeer construction options', () => {
  it('registers handlers passed at construction; the first message already reaches them', async () => {
    const seen: unknown[] = [];
    const { a, b } = createPeerPair(
      {},
      {
        handlers: { double: ([value]) => (value as number) * 2 },
        notificationHandlers: {
          hello: ([name]) => {
            seen.push(name);
          },
        },
      },
    );
    cleanups.push(() => {
      a.destroy();
      b.destroy();
    });
    a.notify('hello', ['kong']);
    expect(await a.request('double', [21])).toBe(42);
    expect(seen).toEqual(['kong']);
  });
});

describe('RpcPeer cancellation before the turn flush', () => {
  it('a pipelined call aborted in the same turn is never written', async () => {
    const h = harness();
    const controller = new AbortController();
    const aborted = h.peer
      .request('gone', [], { signal: controller.signal })
      .catch((error: unknown) => error);
    const kept = h.peer.request('kept', []);
    controller.abort();
    expect(await aborted).toMatchObject({ sent: false, name: 'AbortError' });
    await waitFor(() => h.messages().length === 1);
    expect(h.messages()).toEqual([[0, 2, 'kept', []]]);
    h.send('94 01 02 c0 c0');
    await expect(kept).resolves.toBeNull();
  });
});
