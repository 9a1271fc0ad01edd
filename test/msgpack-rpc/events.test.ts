import { describe, expect, it } from 'vitest';
import { ConnectionClosedError, ProtocolError } from '../../src/msgpack-rpc/errors.js';
import { RpcPeer } from '../../src/msgpack-rpc/index.js';
import { createMemoryDuplexPair } from '../../src/msgpack-rpc/pair.js';

/** A peer on one end of an in-memory pair; the test writes raw bytes into the other end. */
function rawPeer(): { peer: RpcPeer; other: ReturnType<typeof createMemoryDuplexPair>[1] } {
  const [mine, other] = createMemoryDuplexPair();
  other.on('error', () => {});
  return { peer: new RpcPeer(mine), other };
}

describe('RpcPeer events', () => {
  it("emits 'error' with the ProtocolError and 'close' with the close error, once each", async () => {
    const { peer, other } = rawPeer();
    const errors: Error[] = [];
    peer.on('error', (error) => errors.push(error));
    // Not `events.once`: it rejects on 'error', which this peer emits first.
    const closing = new Promise<ConnectionClosedError>((resolve) => peer.once('close', resolve));
    other.write(Uint8Array.of(0xc1)); // never valid in msgpack: fatal, the stream cannot be trusted
    const closeError = await closing;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(closeError).toBeInstanceOf(ConnectionClosedError);
    expect(closeError.cause).toBe(errors[0]);
    expect(await peer.closed).toBe(closeError);
    expect(peer.isClosed).toBe(true);
  });

  it("without an 'error' listener a protocol error does not throw; `closed` still settles", async () => {
    const { peer, other } = rawPeer();
    expect(peer.listenerCount('error')).toBe(0);
    other.write(Uint8Array.of(0xc1));
    const closeError = await peer.closed;
    expect(closeError.cause).toBeInstanceOf(ProtocolError);
  });

  it('a listener that throws does not break the peer', async () => {
    const { peer, other } = rawPeer();
    peer.on('close', () => {
      throw new Error('listener');
    });
    other.write(Uint8Array.of(0xc1));
    await expect(peer.closed).resolves.toBeInstanceOf(ConnectionClosedError);
  });
});
