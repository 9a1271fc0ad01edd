/** Test harness: a KongPluginServer on a temp Unix socket and raw Kong-profile RpcPeer connections to it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KongPluginServer, type KongPluginServerOptions } from '../../src/kong-rpc/server.js';
import { KONG_PEER_OPTIONS } from '../../src/msgpack-rpc/options.js';
import { RpcPeer } from '../../src/msgpack-rpc/peer.js';

export interface Harness {
  dir: string;
  server: KongPluginServer;
  socketPath: string;
  /** A raw Kong-profile peer connected to the server; notifications are recorded. */
  connect(): Promise<{ peer: RpcPeer; socket: Socket; notifications: unknown[][] }>;
  dispose(): Promise<void>;
}

export async function startHarness(
  setup: (server: KongPluginServer) => void,
  options: KongPluginServerOptions = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-kong-unit-'));
  const server = new KongPluginServer({ prefix: dir, ...options });
  setup(server);
  const socketPath = await server.listen();
  const peers: RpcPeer[] = [];
  return {
    dir,
    server,
    socketPath,
    async connect() {
      const socket = createConnection(socketPath);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const notifications: unknown[][] = [];
      const peer = new RpcPeer(socket, { ...KONG_PEER_OPTIONS, requestTimeout: 5_000 });
      peer.handleUnknownNotification((method, params) => {
        notifications.push([method, ...params]);
      });
      peers.push(peer);
      return { peer, socket, notifications };
    },
    async dispose() {
      for (const peer of peers) peer.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
