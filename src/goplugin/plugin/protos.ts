import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GrpcObject, ServiceDefinition } from '@grpc/grpc-js';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { GoPluginError } from '../errors.js';

/** File names of the internal go-plugin protos shipped with the package. */
export const INTERNAL_PROTO_FILES = [
  'health.proto',
  'grpc_controller.proto',
  'grpc_stdio.proto',
  'grpc_broker.proto',
] as const;

let cachedDir: string | undefined;

/**
 * The directory holding the internal go-plugin `.proto` files. The running file may be `src/goplugin/…/*.ts`
 * (tests), `dist/goplugin/index.js|cjs`, or a shared chunk `dist/chunk-*.js` (tsup code splitting), so look for
 * `protos/` and `goplugin/protos/` in this file's directory and up to three parents.
 *
 * @returns the absolute directory.
 * @throws {@link GoPluginError} `GOPLUGIN_PROTOS_NOT_FOUND` when the package is incomplete.
 */
export function internalProtoDir(): string {
  if (cachedDir !== undefined) return cachedDir;
  const here = dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (let level = 0; level <= 3; level++) {
    for (const candidate of [join(dir, 'protos'), join(dir, 'goplugin', 'protos')]) {
      if (existsSync(join(candidate, 'grpc_controller.proto'))) {
        cachedDir = candidate;
        return candidate;
      }
    }
    dir = dirname(dir);
  }
  throw new GoPluginError(
    'GOPLUGIN_PROTOS_NOT_FOUND',
    `cannot find the go-plugin .proto files near ${here}; the package installation is incomplete`,
  );
}

/** Service definitions of the four internal services. */
export interface InternalServices {
  /** grpc.health.v1.Health */
  health: ServiceDefinition;
  /** plugin.GRPCController */
  controller: ServiceDefinition;
  /** plugin.GRPCStdio */
  stdio: ServiceDefinition;
  /** plugin.GRPCBroker */
  broker: ServiceDefinition;
}

let cachedServices: InternalServices | undefined;

/** Loads (once) the internal service definitions with proto-loader. */
export function internalServices(): InternalServices {
  if (cachedServices !== undefined) return cachedServices;
  const dir = internalProtoDir();
  const definition = loadSync(
    INTERNAL_PROTO_FILES.map((file) => join(dir, file)),
    { keepCase: true, longs: Number, enums: Number, defaults: true, oneofs: true, includeDirs: [dir] },
  );
  const root = loadPackageDefinition(definition);
  const service = (path: string): ServiceDefinition => {
    let node: unknown = root;
    for (const part of path.split('.')) node = (node as GrpcObject)[part];
    return (node as { service: ServiceDefinition }).service;
  };
  cachedServices = {
    health: service('grpc.health.v1.Health'),
    controller: service('plugin.GRPCController'),
    stdio: service('plugin.GRPCStdio'),
    broker: service('plugin.GRPCBroker'),
  };
  return cachedServices;
}
