/**
 * SECURITY.md, size caps: every msgpack-RPC cap is on by default with the documented value, and a hostile header
 * is refused from the header alone. The exact framer behaviour per cap is in test/msgpack-rpc/framer.test.ts;
 * here: the defaults, and that the peers and the Kong server apply them without any option.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_LINE_BYTES } from '../../src/goplugin/handshake.js';
import { KongPluginServer } from '../../src/kong-rpc/index.js';
import {
  DEFAULT_MAX_CONTAINER_LENGTH,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_FRAME_BYTES,
} from '../../src/msgpack-rpc/framer.js';
import {
  FrameDecoder,
  FrameTooLargeError,
  KONG_PEER_OPTIONS,
  MessageCodec,
  ProtocolError,
  RpcPeer,
} from '../../src/msgpack-rpc/index.js';
import { DEFAULT_MAX_QUEUED_BYTES } from '../../src/msgpack-rpc/options.js';
import { createMemoryDuplexPair } from '../../src/msgpack-rpc/pair.js';

const MiB = 1024 * 1024;

function header(...bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

function firstError(bytes: Uint8Array): unknown {
  const framer = new FrameDecoder();
  framer.push(bytes);
  try {
    framer.next();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('default caps', () => {
  it('have the documented values', () => {
    expect(DEFAULT_MAX_FRAME_BYTES).toBe(16 * MiB);
    expect(DEFAULT_MAX_CONTAINER_LENGTH).toBe(1_048_576);
    expect(DEFAULT_MAX_DEPTH).toBe(100);
    expect(DEFAULT_MAX_QUEUED_BYTES).toBe(32 * MiB);
    expect(KONG_PEER_OPTIONS.maxFrameBytes).toBe(128 * MiB);
    expect(DEFAULT_MAX_LINE_BYTES).toBe(65_536);
    expect(new MessageCodec().limits).toEqual({
      maxFrameBytes: 16 * MiB,
      maxStrLength: 16 * MiB,
      maxBinLength: 16 * MiB,
      maxExtLength: 16 * MiB,
      maxArrayLength: 1_048_576,
      maxMapLength: 1_048_576,
      maxDepth: 100,
    });
  });

  it.each([
    ['a str32 over the frame cap', header(0xdb, 0x01, 0x00, 0x00, 0x00)],
    ['a bin32 over the frame cap', header(0xc6, 0x01, 0x00, 0x00, 0x00)],
    ['an ext32 over the frame cap', header(0xc9, 0x01, 0x00, 0x00, 0x00, 0x01)],
    ['an array32 of 2^20 + 1 items', header(0xdd, 0x00, 0x10, 0x00, 0x01)],
    ['a map32 of 2^20 + 1 entries', header(0xdf, 0x00, 0x10, 0x00, 0x01)],
  ])('a default FrameDecoder refuses %s from its header alone', (_name, bytes) => {
    const error = firstError(bytes);
    expect(error).toBeInstanceOf(FrameTooLargeError);
  });

  it('a default FrameDecoder refuses nesting deeper than 100 before the 101st level is complete', () => {
    expect(firstError(new Uint8Array(101).fill(0x91))).toBeInstanceOf(ProtocolError);
    const framer = new FrameDecoder();
    framer.push(Uint8Array.from([...new Uint8Array(100).fill(0x91), 0xc0]));
    expect(framer.next()?.bytes.length).toBe(101);
  });

  it('a default RpcPeer closes on a length bomb without waiting for its payload', async () => {
    const [local, remote] = createMemoryDuplexPair();
    const peer = new RpcPeer(local);
    const closed = new Promise<unknown>((resolve) => peer.on('close', (error) => resolve(error.cause)));
    remote.on('error', () => {});
    remote.write(header(0x94, 0x00, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff));
    expect(await closed).toBeInstanceOf(FrameTooLargeError);
    remote.destroy();
  });

  it('a default KongPluginServer drops a connection that declares a message over 128 MiB', async () => {
    const server = new KongPluginServer({ name: 'caps', serverPid: false });
    const [kong, serverSide] = createMemoryDuplexPair();
    kong.on('error', () => {});
    kong.resume();
    server.serve(serverSide);
    // A request whose param is a bin32 of 128 MiB + 1 byte.
    kong.write(header(0x94, 0x00, 0x01, 0xa1, 0x78, 0x91, 0xc6, 0x08, 0x00, 0x00, 0x01));
    // The server answers the request's msgid with the error, then ends the stream (no resync in msgpack).
    await once(kong, 'end');
    kong.destroy();
    await server.close();
  });
});
