/**
 * Tells which wire protocol a running Kong plugin server speaks without sending either protocol in a way that
 * can hurt the other: a go-pdk ProtoBuf:1 server reads the first four bytes of whatever arrives as a frame
 * length and allocates it (Kong's msgpack request `94 00 01 b0` is 2.9 GB), and kong-js-pluginserver exits on
 * ProtoBuf:1 bytes.
 *
 * 1. Connect and listen. Servers that greet (the Go msgpack servers and pluginwire's KongPluginServer send
 *    `[2, "serverPid", pid]` at once) speak MsgPack:1; ProtoBuf:1 servers never write first.
 * 2. Otherwise send one msgpack-RPC request, `[0, 0, "plugin.GetStatus", [nil]]`, with its type written as
 *    `cc 00` (uint8 0, valid msgpack that every msgpack decoder accepts): its first four bytes `94 cc 00 00`
 *    read as a ProtoBuf:1 length are 52,372 bytes, so a ProtoBuf:1 server buffers at most 51 KiB and waits. A
 *    msgpack answer (`94 01 …`, even an error) means MsgPack:1; silence or a close means ProtoBuf:1.
 */
import { createConnection, type Socket } from 'node:net';

/** What detection found, and why. */
export interface DetectedProtocol {
  protocol: 'MsgPack:1' | 'ProtoBuf:1';
  reason: string;
}

/** The probe request; its first four bytes are a 52,372-byte ProtoBuf:1 length. */
export const SAFE_MSGPACK_PROBE: Buffer = Buffer.concat([
  Buffer.from([0x94, 0xcc, 0x00, 0x00, 0xb0]),
  Buffer.from('plugin.GetStatus'),
  Buffer.from([0x91, 0xc0]),
]);

/** The length a ProtoBuf:1 server reads from the probe. */
export const SAFE_MSGPACK_PROBE_LENGTH: number = SAFE_MSGPACK_PROBE.readUInt32LE(0);

function isMsgPackArray(byte: number | undefined): boolean {
  return byte === 0x93 || byte === 0x94;
}

/**
 * Detects the protocol of the server on `socketPath`.
 *
 * @param greeting - how long to listen before sending anything, in ms.
 * @param answer - how long to wait for an answer to the probe, in ms.
 * @throws the socket error when the server cannot be reached.
 */
export async function detectKongProtocol(
  socketPath: string,
  greeting = 300,
  answer = 1000,
): Promise<DetectedProtocol> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = createConnection(socketPath);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
  try {
    const first = await firstBytes(socket, greeting, undefined);
    if (first !== undefined && first.length > 0) {
      if (isMsgPackArray(first[0])) {
        return { protocol: 'MsgPack:1', reason: 'it sent a msgpack-RPC notification on connect (serverPid)' };
      }
      return {
        protocol: 'ProtoBuf:1',
        reason: `it wrote first (${first.subarray(0, 4).toString('hex')}), not msgpack`,
      };
    }
    const reply = await firstBytes(socket, answer, SAFE_MSGPACK_PROBE);
    if (reply !== undefined && reply.length > 0 && isMsgPackArray(reply[0])) {
      return { protocol: 'MsgPack:1', reason: 'it answered a msgpack-RPC request' };
    }
    return {
      protocol: 'ProtoBuf:1',
      reason:
        reply === undefined
          ? `it did not answer a msgpack-RPC request within ${answer} ms (a ProtoBuf:1 server waits for a ${SAFE_MSGPACK_PROBE_LENGTH}-byte frame)`
          : 'it closed the connection on a msgpack-RPC request',
    };
  } finally {
    socket.destroy();
  }
}

/** The first chunk within `wait` ms (after writing `send`); an empty Buffer when the peer closed; `undefined` on silence. */
function firstBytes(socket: Socket, wait: number, send: Buffer | undefined): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const done = (value: Buffer | undefined) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onClose);
      resolve(value);
    };
    const onData = (chunk: Buffer) => done(chunk);
    const onClose = () => done(Buffer.alloc(0));
    const timer = setTimeout(() => done(undefined), wait);
    timer.unref();
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onClose);
    if (send !== undefined) socket.write(send);
  });
}
