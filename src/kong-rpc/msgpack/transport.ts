/**
 * Where the Kong layer meets `RpcPeer`: one peer per connection, in the Kong profile, with a codec shared by
 * every connection of the process (the codec is stateless between frames and re-entrant).
 */
import type { Duplex } from 'node:stream';
import { KONG_PEER_OPTIONS, MessageCodec, RpcPeer, type RpcPeerOptions } from '../../msgpack-rpc/index.js';
import { KongProtocolError } from '../errors.js';

const codecs = new Map<number, MessageCodec>();
const DEFAULT_MAX_FRAME_BYTES = KONG_PEER_OPTIONS.maxFrameBytes ?? 128 * 1024 * 1024;

/** One codec per message cap, shared by every connection that uses it. */
function kongCodec(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): MessageCodec {
  let codec = codecs.get(maxFrameBytes);
  if (codec === undefined) {
    codec = new MessageCodec({ ...KONG_PEER_OPTIONS, maxFrameBytes });
    codecs.set(maxFrameBytes, codec);
  }
  return codec;
}

/**
 * Kong's profile without the peer-wide request timeout: the Kong side gives each call its own bound (the
 * event deadline's signal, or `timeout`), so no second timer runs per request.
 */
function profile(maxFrameBytes: number | undefined): RpcPeerOptions {
  const { requestTimeout: _perCall, ...rest } = KONG_PEER_OPTIONS;
  return { ...rest, codec: kongCodec(maxFrameBytes) };
}

/**
 * `[2, "serverPid", <pid>]` with the pid **bare**, not in an array: Kong's handler takes the value itself
 * (`Kong/kong: kong/runloop/plugin_servers/plugin.lua`, `rpc_notifications.serverPid`) and would compare an
 * array with the cached pid, i.e. see a restart on every connection. The Go servers sent it the same way.
 */
export function serverPidNotification(pid: number): Uint8Array {
  return kongCodec().encode([2, 'serverPid', pid]);
}

/** The plugin-server side of one connection. */
export interface KongServerConnection {
  /** Graceful close: responses in progress are flushed. */
  close(): void;
  /** Immediate close. */
  destroy(): void;
}

/**
 * Serves Kong's requests on one connection; every request goes to `dispatch` with its single param (spec M9:
 * a missing element is nil), and a throw or rejection is answered with its message as the error string.
 */
export function serveKongConnection(
  stream: Duplex,
  dispatch: (method: string, param: unknown) => unknown,
  hooks: { onError: (error: Error) => void; maxFrameBytes: number | undefined },
): KongServerConnection {
  const peer = new RpcPeer(stream, profile(hooks.maxFrameBytes));
  peer.handleUnknown((method, params) => dispatch(method, params[0]));
  peer.on('error', hooks.onError);
  return {
    close: () => {
      peer.close().catch(() => {});
    },
    destroy: () => peer.destroy(),
  };
}

/** The Kong side of one pooled connection. */
export interface KongClientConnection {
  /** One request with one param, as Kong sends it. */
  request(
    method: string,
    param: unknown,
    options: { timeout?: number; signal?: AbortSignal },
  ): Promise<unknown>;
  /** Whether the connection is gone. */
  readonly closed: boolean;
  /** Closes it now; a call in progress rejects with `ConnectionClosedError`. */
  destroy(): void;
  /** Called once when the connection closes, for whatever reason. */
  onClose(listener: () => void): void;
}

/** Wraps a connected socket for the Kong side: one request in flight, `serverPid` notifications reported. */
export function openKongClientConnection(
  socket: Duplex,
  hooks: {
    onServerPid: (pid: number) => void;
    maxFrameBytes: number | undefined;
  },
): KongClientConnection {
  const peer = new RpcPeer(socket, profile(hooks.maxFrameBytes));
  // Kong reads notifications while it waits for a response and knows only `serverPid`; the profile's
  // nonArrayParams 'wrap' turns the bare pid into [pid]. Other labels are ignored, as Kong ignores them.
  peer.handleNotification('serverPid', (params) => {
    const pid = params[0];
    if (typeof pid === 'number' && Number.isInteger(pid)) hooks.onServerPid(pid);
  });
  peer.handleUnknownNotification(() => {});
  // A plugin server never sends requests; Kong would fail its assertion `RPC response expected` and drop the
  // connection. Answering (even with an error) would put bytes on a connection Kong has stopped reading.
  peer.handleUnknown((method) => {
    peer.destroy(
      new KongProtocolError(method, 'the plugin server sent a request; only responses are expected'),
    );
    return undefined;
  });
  const connection: KongClientConnection = {
    request: (method, param, options) => peer.request(method, [param], options),
    get closed() {
      return peer.isClosed;
    },
    destroy: () => peer.destroy(),
    onClose: (listener) => {
      void peer.closed.then(() => listener());
    },
  };
  return connection;
}
