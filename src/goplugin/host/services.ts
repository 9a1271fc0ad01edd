/**
 * Client constructors for go-plugin's internal services (Health, GRPCController, GRPCStdio, GRPCBroker), made from
 * the service definitions compiled from go-plugin's `.proto` files (`../protos.ts`, shared with the plugin side).
 */
import {
  type Client,
  makeClientConstructor,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { internalServices as internalServiceDefinitions } from '../protos.js';

/** The four internal client constructors. */
export interface InternalClients {
  Health: ServiceClientConstructor;
  GRPCController: ServiceClientConstructor;
  GRPCStdio: ServiceClientConstructor;
  GRPCBroker: ServiceClientConstructor;
}

let cached: InternalClients | undefined;

/** Returns (made once) the internal service client constructors. */
export function internalServices(): InternalClients {
  if (cached !== undefined) return cached;
  const definitions = internalServiceDefinitions();
  cached = {
    Health: makeClientConstructor(definitions.health, 'grpc.health.v1.Health'),
    GRPCController: makeClientConstructor(definitions.controller, 'plugin.GRPCController'),
    GRPCStdio: makeClientConstructor(definitions.stdio, 'plugin.GRPCStdio'),
    GRPCBroker: makeClientConstructor(definitions.broker, 'plugin.GRPCBroker'),
  };
  return cached;
}

type Callback = (error: ServiceError | null) => void;

/**
 * The methods of the internal clients, as `makeClientConstructor` creates them (each client has only its own
 * service's method; the union type keeps the call sites simple).
 */
export type DynamicClient = Client & {
  StartStream(): unknown;
  StreamStdio(request: object): unknown;
  Check(request: { service: string }, options: { deadline: number }, callback: Callback): void;
  Shutdown(request: object, options: { deadline: number }, callback: Callback): void;
};
