/**
 * A go-plugin plugin in TypeScript: go-plugin's KV example service (kv.proto), served with `servePlugin` for
 * any go-plugin host (the demo gateway hosts it with `startPlugin`; a Go host runs it with
 * `exec.Command("node", "--import", "tsx", "kv-plugin.ts")`). Cookie BASIC_PLUGIN=hello, protocol version 1.
 * Start it with node itself, never through `npm run`, whose banner would reach stdout before the handshake.
 */
import { fileURLToPath } from 'node:url';
import {
  type GrpcObject,
  loadPackageDefinition,
  type ServerUnaryCall,
  type ServiceClientConstructor,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { servePlugin } from '../../src/goplugin/index.js';

const proto = loadPackageDefinition(loadSync(fileURLToPath(new URL('kv.proto', import.meta.url))))
  .proto as GrpcObject;
const store = new Map<string, Buffer>();

await servePlugin({
  magicCookieKey: 'BASIC_PLUGIN',
  magicCookieValue: 'hello',
  versions: {
    1: (server, { logger }) => {
      server.addService((proto.KV as ServiceClientConstructor).service, {
        Put(call: ServerUnaryCall<{ key: string; value: Buffer }, object>, callback: sendUnaryData<object>) {
          store.set(call.request.key, call.request.value);
          logger.info('stored', { key: call.request.key, bytes: call.request.value.length });
          callback(null, {});
        },
        Get(call: ServerUnaryCall<{ key: string }, object>, callback: sendUnaryData<object>) {
          const value = store.get(call.request.key);
          if (value) callback(null, { value });
          else callback({ code: status.NOT_FOUND, details: `key "${call.request.key}" not found` });
        },
      });
    },
  },
});
