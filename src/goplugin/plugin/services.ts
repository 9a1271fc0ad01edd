import {
  type Server,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import type { BrokerStream, GRPCBroker } from '../broker.js';
import { internalServices } from '../protos.js';
import type { StdioCapture } from './stdio.js';

// grpc.health.v1.HealthCheckResponse.ServingStatus
const SERVING = 1;
const SERVICE_UNKNOWN = 3;

/** Handle on the internal services' long-lived calls. */
export interface InternalServicesHandle {
  /** Ends open `Health/Watch` streams (so a graceful server stop need not wait for them). */
  endWatches(): void;
}

/**
 * Registers the four services every go-plugin host may call (`hashicorp/go-plugin: grpc_server.go`): Health
 * (`plugin` and `""` are SERVING, other names NOT_FOUND), GRPCController (`Shutdown` answers, then calls
 * `onShutdown`), GRPCStdio and GRPCBroker.
 */
export function registerInternalServices(
  server: Server,
  parts: { stdio: StdioCapture; broker: GRPCBroker; onShutdown: () => void },
): InternalServicesHandle {
  const internal = internalServices();
  const watches = new Set<ServerWritableStream<unknown, unknown>>();
  const known = (name: string) => name === '' || name === 'plugin';
  server.addService(internal.health, {
    Check: (call: ServerUnaryCall<{ service: string }, unknown>, callback: sendUnaryData<unknown>) => {
      if (known(call.request.service)) callback(null, { status: SERVING });
      else
        callback({
          code: status.NOT_FOUND,
          details: `unknown service ${JSON.stringify(call.request.service)}`,
        });
    },
    Watch: (call: ServerWritableStream<{ service: string }, unknown>) => {
      call.write({ status: known(call.request.service) ? SERVING : SERVICE_UNKNOWN });
      watches.add(call);
      call.on('cancelled', () => watches.delete(call));
    },
  });
  server.addService(internal.controller, {
    Shutdown: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      // Reply first, then stop (a Go plugin's hard Stop often makes the host see UNAVAILABLE; hosts ignore it).
      callback(null, {});
      setImmediate(parts.onShutdown);
    },
  });
  server.addService(internal.stdio, { StreamStdio: parts.stdio.streamStdio });
  server.addService(internal.broker, { StartStream: (call: BrokerStream) => parts.broker.attach(call) });
  return {
    endWatches: () => {
      for (const watch of watches) watch.end();
      watches.clear();
    },
  };
}
