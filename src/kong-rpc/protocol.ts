/**
 * What {@link KongPluginClient} needs of a wire protocol: Kong's calls and its event loop. One implementation
 * per protocol Kong speaks (`msgpack/client-protocol.ts`, `protobuf/client-protocol.ts`); the client itself
 * keeps the API, the options, the instance cache and the events.
 */
import type { KongEventOutcome, KongPdkHandler, KongRemotePluginInfo } from './client.js';
import type { CallOptions } from './connections.js';
import type { EventDeadline } from './deadline.js';
import type { KongPhase } from './plugins.js';
import type { KongInstanceStatus } from './results.js';

/** The wire protocols of Kong's plugin servers, as a dump's `Protocol` names them. */
export type KongProtocol = 'MsgPack:1' | 'ProtoBuf:1';

/** The protocols Kong speaks. */
export const KONG_PROTOCOLS: readonly KongProtocol[] = ['MsgPack:1', 'ProtoBuf:1'];

/** @internal */
export interface KongClientProtocol {
  readonly name: KongProtocol;
  /** Connections open now, idle ones included. */
  readonly connections: number;
  getPluginInfo(name: string, options: CallOptions): Promise<KongRemotePluginInfo>;
  getStatus(options: CallOptions): Promise<Record<string, unknown>>;
  getPluginNames(options: CallOptions): Promise<string[]>;
  /** `configText`: the JSON text Kong sends. */
  startInstance(name: string, configText: string, options: CallOptions): Promise<KongInstanceStatus>;
  instanceStatus(id: number, options: CallOptions): Promise<KongInstanceStatus>;
  closeInstance(id: number, options: CallOptions): Promise<KongInstanceStatus>;
  handleEvent(
    instanceId: number,
    phase: KongPhase,
    pdk: KongPdkHandler,
    deadline: EventDeadline,
  ): Promise<KongEventOutcome>;
  close(): void;
}
