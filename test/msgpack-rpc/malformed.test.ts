import { ExtensionCodec } from '@msgpack/msgpack';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError, type ProtocolError, RpcUsageError } from '../../src/msgpack-rpc/errors.js';
import { KONG_PEER_OPTIONS, type RpcPeerOptions } from '../../src/msgpack-rpc/options.js';
import { RpcPeer } from '../../src/msgpack-rpc/peer.js';
import { hex, type RawHarness, rawHarness, reasons, toHex, waitFor } from './helpers.js';

const harnesses: RawHarness[] = [];
function harness(options: RpcPeerOptions = {}): RawHarness {
  const created = rawHarness(options);
  harnesses.push(created);
  return created;
}

afterEach(() => {
  for (const created of harnesses.splice(0)) created.peer.destroy();
});

const PING = '94 00 01 a4 70 69 6e 67 90';

function withPing(options: RpcPeerOptions = {}): RawHarness {
  const created = harness(options);
  created.peer.handle('ping', () => 'pong');
  return created;
}

describe('RpcPeer with malformed input', () => {
  it('T2: two requests in one chunk are both answered', async () => {
    const h = withPing();
    h.send(`${PING} 94 00 02 a4 70 69 6e 67 90`);
    await waitFor(() => h.messages().length === 2);
    expect(h.messages()).toEqual([
      [1, 1, null, 'pong'],
      [1, 2, null, 'pong'],
    ]);
  });

  it('answers a request delivered byte by byte', async () => {
    const h = withPing();
    for (const byte of hex(PING)) h.send(new Uint8Array([byte]));
    await waitFor(() => h.messages().length === 1);
    expect(h.messages()).toEqual([[1, 1, null, 'pong']]);
  });

  it('T7: EOF inside a frame is fatal truncated; pending calls reject with it as cause', async () => {
    const h = harness();
    const call = h.peer.request('x', []);
    await waitFor(() => h.chunks.length === 1);
    h.send('94 00 01 a4 70 69');
    h.remote.end();
    const error = await call.then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(((error as ConnectionClosedError).cause as ProtocolError).reason).toBe('truncated');
    expect(reasons(h.errors)).toEqual(['truncated']);
  });

  it('T8: a leading 0xc1 closes the connection and the request after it is not processed', async () => {
    const h = withPing();
    h.send(`c1 ${PING}`);
    await waitFor(() => h.remoteEnded());
    expect(h.received().length).toBe(0);
    expect(h.errors[0]).toMatchObject({ reason: 'invalid-byte', offset: 0, fatal: true });
    expect(h.peer.isClosed).toBe(true);
  });

  it('T9/T32a: a fatal error inside a request answers that msgid, then ends; no resync', async () => {
    const h = withPing();
    h.send('94 00 05 a1 6d 91 c1 94 00 06 a4 70 69 6e 67 90');
    await waitFor(() => h.remoteEnded());
    const messages = h.messages() as unknown[][];
    expect(messages).toHaveLength(1);
    expect(messages[0]![0]).toBe(1);
    expect(messages[0]![1]).toBe(5);
    expect(messages[0]![2]).toMatch(/^invalid request: invalid-byte/);
    expect(messages[0]![3]).toBeNull();
  });

  it('T10: a depth bomb closes the connection without decoding', async () => {
    const h = withPing();
    const bomb = new Uint8Array(3000);
    for (let index = 0; index < 3000; index += 3) bomb.set([0xdc, 0xff, 0xff], index);
    h.send(bomb);
    await waitFor(() => h.remoteEnded());
    expect(h.errors[0]).toMatchObject({ reason: 'depth-exceeded', offset: 300 });
  });

  it('T14: frame-too-large is detected from the header, answered, then the stream ends', async () => {
    const h = withPing({ maxFrameBytes: 64 });
    const bytes = new Uint8Array([...hex('94 00 01 a1 6d 91 d9 3c'), ...new Uint8Array(60).fill(0x78)]);
    for (const byte of bytes.subarray(0, 8)) h.send(new Uint8Array([byte]));
    await waitFor(() => h.remoteEnded());
    expect(h.errors[0]).toMatchObject({ reason: 'frame-too-large', code: 'MSGPACK_RPC_FRAME_TOO_LARGE' });
    const messages = h.messages() as unknown[][];
    expect(messages).toHaveLength(1);
    expect(messages[0]!.slice(0, 2)).toEqual([1, 1]);
    expect(messages[0]![2]).toMatch(/^invalid request: frame-too-large/);
  });

  it('T16: a non-array is reported without a reply, and the next request is answered', async () => {
    const h = withPing();
    h.send(`a3 61 62 63 ${PING}`);
    await waitFor(() => h.messages().length === 1);
    expect(reasons(h.errors)).toEqual(['not-an-array']);
    expect(h.messages()).toEqual([[1, 1, null, 'pong']]);
    expect(h.events.some((event) => event.type === 'protocol-error')).toBe(true);
  });

  it.each([
    ['T17 bad-length', '95 00 01 a1 6d 90 c0', 'bad-length'],
    ['T23 bad-method (int)', '94 00 01 01 90', 'bad-method'],
    ['T23 bad-method (bin)', '94 00 01 c4 01 6d 90', 'bad-method'],
    ['T24 bad-params', '94 00 01 a1 6d c0', 'bad-params'],
    ['T26 nil map key', '94 00 01 a1 6d 91 81 c0 c0', 'decode-failed'],
    ['T27 __proto__ key', '94 00 01 a1 6d 91 81 a9 5f 5f 70 72 6f 74 6f 5f 5f 01', 'decode-failed'],
  ])('%s: reported, answered with an error for msgid 1, connection kept', async (_name, bytes, reason) => {
    const h = withPing();
    h.send(`${bytes} ${PING.replace('94 00 01', '94 00 02')}`);
    await waitFor(() => h.messages().length === 2);
    expect(reasons(h.errors)).toEqual([reason]);
    const [error, pong] = h.messages() as unknown[][];
    expect(error!.slice(0, 2)).toEqual([1, 1]);
    expect(error![2]).toMatch(new RegExp(`^invalid request: ${reason}`));
    expect(error![3]).toBeNull();
    expect(pong).toEqual([1, 2, null, 'pong']);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it.each([
    ['T18 short notification', '92 02 a1 6d', 'bad-length'],
    ['T18 empty array', '90', 'bad-type'],
    ['T19 type 7', '94 07 01 a1 6d 90', 'bad-type'],
    ['T19 string type', '94 a1 30 01 a1 6d 90', 'bad-type'],
    ['T20 msgid -1', '94 00 ff a1 6d 90', 'bad-msgid'],
    ['T20 msgid 2^32', '94 00 cf 00 00 00 01 00 00 00 00 a1 6d 90', 'bad-msgid'],
  ])('%s: reported, never answered (no invented msgid)', async (_name, bytes, reason) => {
    const h = withPing();
    h.send(`${bytes} ${PING}`);
    await waitFor(() => h.messages().length === 1);
    expect(reasons(h.errors)).toEqual([reason]);
    expect(h.messages()).toEqual([[1, 1, null, 'pong']]);
  });

  it('T21: answers msgid 4294967295 in its uint32 form', async () => {
    const h = withPing();
    h.send('94 00 ce ff ff ff ff a4 70 69 6e 67 90');
    await waitFor(() => h.received().length > 0);
    expect(toHex(h.received())).toMatch(/^94 01 ce ff ff ff ff/);
  });

  it('T22: responses with signed and uint64 msgid forms settle their calls under every int64 policy', async () => {
    for (const int64 of ['auto', 'bigint', 'lossy', 'reject'] as const) {
      const h = harness({ int64, initialMsgid: 1234 });
      const first = h.peer.request('a', []);
      const again = harness({ int64, initialMsgid: 5 });
      const second = again.peer.request('b', []);
      await waitFor(() => h.chunks.length > 0 && again.chunks.length > 0);
      h.send('94 01 d1 04 d2 c0 c0');
      again.send('94 01 cf 00 00 00 00 00 00 00 05 c0 c0');
      await expect(first).resolves.toBeNull();
      await expect(second).resolves.toBeNull();
    }
  });

  it('T24/T25: the Kong profile wraps non-array params (the Go serverPid notification)', async () => {
    const h = harness({ ...KONG_PEER_OPTIONS });
    const seen: unknown[] = [];
    h.peer.handleNotification('serverPid', (params, context) => {
      seen.push(params, context.paramsWrapped);
    });
    h.send('93 02 a9 73 65 72 76 65 72 50 69 64 d1 04 d2');
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual([[1234], true]);
    const plain = harness();
    plain.send('93 02 a9 73 65 72 76 65 72 50 69 64 d1 04 d2');
    await waitFor(() => plain.errors.length === 1);
    expect(reasons(plain.errors)).toEqual(['bad-params']);
  });

  it('T28: an undecodable response rejects its pending call at once', async () => {
    const h = harness({ initialMsgid: 3 });
    const call = h.peer.request('x', []);
    await waitFor(() => h.chunks.length > 0);
    h.send('94 01 03 c0 81 c0 01');
    await expect(call).rejects.toMatchObject({ reason: 'decode-failed', msgid: 3 });
    expect(h.peer.isClosed).toBe(false);
  });

  it('T29: an extension decoder throwing RangeError fails only its call; the next frame still resolves', async () => {
    const extensionCodec = new ExtensionCodec();
    extensionCodec.register({
      type: 5,
      encode: () => null,
      decode: () => {
        throw new RangeError('bad ext');
      },
    });
    const h = harness({ extensionCodec });
    const first = h.peer.request('a', []);
    const second = h.peer.request('b', []);
    await waitFor(() => h.chunks.length > 0);
    h.send('94 01 01 c0 d4 05 00 94 01 02 c0 c0');
    const error = await first.then(
      () => undefined,
      (failure: unknown) => failure as ProtocolError,
    );
    expect(error?.reason).toBe('decode-failed');
    expect(error?.cause).toBeInstanceOf(RangeError);
    await expect(second).resolves.toBeNull();
  });

  it('T30: a bin result is a private plain Uint8Array under every split', async () => {
    const bytes = hex('94 01 01 c0 c4 03 01 02 03');
    for (let cut = 0; cut < bytes.length; cut++) {
      const h = harness();
      const call = h.peer.request('x', []);
      await waitFor(() => h.chunks.length > 0);
      const chunks =
        cut === 0
          ? [Buffer.from(bytes)]
          : [Buffer.from(bytes.subarray(0, cut)), Buffer.from(bytes.subarray(cut))];
      for (const chunk of chunks) h.send(chunk);
      const result = (await call) as Uint8Array;
      for (const chunk of chunks) chunk.fill(0);
      expect(result.constructor).toBe(Uint8Array);
      expect([...result]).toEqual([1, 2, 3]);
    }
  });

  it('T31: int64 reject fails the call with unsafe-integer', async () => {
    const h = harness({ int64: 'reject' });
    const call = h.peer.request('x', []);
    await waitFor(() => h.chunks.length > 0);
    h.send('94 01 01 c0 cf 00 20 00 00 00 00 00 01');
    await expect(call).rejects.toMatchObject({ reason: 'unsafe-integer' });
  });

  it('T32: an object-mode stream is refused; a string chunk is fatal invalid-chunk', async () => {
    const { Duplex, PassThrough } = await import('node:stream');
    expect(
      () =>
        new RpcPeer(
          new Duplex({
            objectMode: true,
            read() {},
            write(_c, _e, cb) {
              cb();
            },
          }),
        ),
    ).toThrow(RpcUsageError);
    const stream = new PassThrough();
    const peer = new RpcPeer(stream);
    const errors: Error[] = [];
    peer.on('error', (error) => errors.push(error));
    stream.setEncoding('utf8');
    stream.write('abc');
    await waitFor(() => errors.length === 1);
    expect(reasons(errors)).toEqual(['invalid-chunk']);
    expect(peer.isClosed).toBe(true);
  });

  it('T32b: the Kong profile rejects an ext in a response and closes; the default decodes a Date', async () => {
    const h = harness({ ...KONG_PEER_OPTIONS });
    const call = h.peer.request('x', []);
    await waitFor(() => h.chunks.length > 0);
    h.send('94 01 01 c0 d6 ff 00 00 00 00');
    await expect(call).rejects.toMatchObject({ reason: 'unexpected-ext' });
    await waitFor(() => h.peer.isClosed);
    const plain = harness();
    const dated = plain.peer.request('x', []);
    await waitFor(() => plain.chunks.length > 0);
    plain.send('94 01 01 c0 d6 ff 00 00 00 00');
    await expect(dated).resolves.toEqual(new Date(0));
  });

  it('T47: an unknown msgid is reported and not answered; under policy close, pending calls reject', async () => {
    const h = withPing();
    const pending = h.peer.request('x', []);
    await waitFor(() => h.chunks.length > 0);
    h.send('94 01 cc c8 c0 c0');
    await waitFor(() => h.errors.length === 1);
    expect(reasons(h.errors)).toEqual(['unknown-msgid']);
    expect(h.messages()).toHaveLength(1);
    expect(h.peer.pendingCount).toBe(1);
    h.send('94 01 01 c0 2a');
    await expect(pending).resolves.toBe(42);

    const strict = harness({ protocolErrorPolicy: 'close' });
    const doomed = strict.peer.request('x', []);
    await waitFor(() => strict.chunks.length > 0);
    strict.send('94 01 cc c8 c0 c0');
    const error = (await doomed.then(
      () => undefined,
      (failure: unknown) => failure,
    )) as ConnectionClosedError;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect((error.cause as ProtocolError).reason).toBe('unknown-msgid');
  });

  it('a policy function decides per error', async () => {
    const h = withPing({
      protocolErrorPolicy: (error) => (error.reason === 'bad-type' ? 'close' : 'continue'),
    });
    h.send(`a3 61 62 63 ${PING}`);
    await waitFor(() => h.messages().length === 1);
    expect(h.peer.isClosed).toBe(false);
    h.send('90');
    await waitFor(() => h.peer.isClosed);
  });

  it('T65: a duplicate request id while the first is running is reported and not dispatched', async () => {
    const h = harness();
    let release: (() => void) | undefined;
    let calls = 0;
    h.peer.handle('m', () => {
      calls++;
      return new Promise<string>((resolve) => {
        release = () => resolve('done');
      });
    });
    h.send('94 00 05 a1 6d 90 94 00 05 a1 6d 90');
    await waitFor(() => h.errors.length === 1);
    expect(reasons(h.errors)).toEqual(['duplicate-request-id']);
    release!();
    await waitFor(() => h.messages().length === 1);
    expect(calls).toBe(1);
    expect(h.messages()).toEqual([[1, 5, null, 'done']]);
  });
});
