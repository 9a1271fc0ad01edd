/**
 * go-plugin's internal service definitions (Health, GRPCController, GRPCStdio, GRPCBroker), shared by the plugin
 * runtime (servers) and the host runtime (clients). They are compiled from `protos/*.proto` at build time
 * (`protos.generated.ts`), so nothing parses `.proto` text at run time and no asset has to sit next to a bundle.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { serviceDefinition } from './proto-wire.js';
import { MESSAGES, SERVICES } from './protos.generated.js';

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

let cached: InternalServices | undefined;

/** Returns (built once) the internal service definitions. */
export function internalServices(): InternalServices {
  cached ??= {
    health: serviceDefinition(MESSAGES, 'grpc.health.v1.Health', SERVICES['grpc.health.v1.Health']!),
    controller: serviceDefinition(MESSAGES, 'plugin.GRPCController', SERVICES['plugin.GRPCController']!),
    stdio: serviceDefinition(MESSAGES, 'plugin.GRPCStdio', SERVICES['plugin.GRPCStdio']!),
    broker: serviceDefinition(MESSAGES, 'plugin.GRPCBroker', SERVICES['plugin.GRPCBroker']!),
  };
  return cached;
}
