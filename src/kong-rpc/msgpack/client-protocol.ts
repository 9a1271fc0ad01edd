/**
 * The Kong side of MsgPack:1 (kong-rpc spec §2–§6): what Kong's `mp_rpc.lua` does per call and per event, on
 * the pooled msgpack-RPC connections of {@link openKongClientConnection}.
 */
import { EncodeError, RemoteError } from '../../msgpack-rpc/index.js';
import type { KongEventOutcome, KongPdkHandler, KongRemotePluginInfo } from '../client.js';
import { type CallOptions, KongConnections, type KongPoolOptions } from '../connections.js';
import { type EventDeadline, isPromiseLike, runPdk } from '../deadline.js';
import { NoPluginInstanceError } from '../errors.js';
import type { KongPhase } from '../plugins.js';
import type { KongClientProtocol } from '../protocol.js';
import { instanceStatus, type KongInstanceStatus, record, stepData } from '../results.js';
import {
  fixPdkResult,
  isPdkFailure,
  type PdkFailure,
  pdkArguments,
  stepMethodFor,
  TERMINAL_PDK_METHODS,
} from '../steps.js';
import { type KongClientConnection, openKongClientConnection } from './transport.js';

/** An error answer, or a value that could not be encoded (nothing was written): the connection is fine. */
const keepAfter = (error: unknown) => error instanceof RemoteError || error instanceof EncodeError;

/** @internal */
export class MsgPackClientProtocol implements KongClientProtocol {
  readonly name = 'MsgPack:1';
  private readonly pool: KongConnections<KongClientConnection>;

  constructor(
    pool: KongPoolOptions,
    hooks: { maxFrameBytes: number | undefined; onServerPid: (pid: number) => void },
  ) {
    this.pool = new KongConnections(pool, (stream) => openKongClientConnection(stream, hooks), keepAfter);
  }

  get connections(): number {
    return this.pool.size;
  }

  async getPluginInfo(name: string, options: CallOptions): Promise<KongRemotePluginInfo> {
    const info = record(await this.call('plugin.GetPluginInfo', name, options), 'plugin.GetPluginInfo');
    return {
      name: String(info.Name),
      version: String(info.Version),
      phases: Array.isArray(info.Phases) ? info.Phases.map(String) : [],
      priority: Number(info.Priority ?? 0),
      schema: info.Schema,
    };
  }

  async getStatus(options: CallOptions): Promise<Record<string, unknown>> {
    return record(await this.call('plugin.GetStatus', null, options), 'plugin.GetStatus');
  }

  async getPluginNames(options: CallOptions): Promise<string[]> {
    // MsgPack:1 has no names call; plugin.GetStatus lists the plugins (where the server has it).
    const plugins = (await this.getStatus(options)).Plugins;
    return plugins !== null && typeof plugins === 'object' ? Object.keys(plugins) : [];
  }

  async startInstance(name: string, configText: string, options: CallOptions): Promise<KongInstanceStatus> {
    const status = await this.call('plugin.StartInstance', { Name: name, Config: configText }, options);
    return instanceStatus(status, 'plugin.StartInstance');
  }

  async instanceStatus(id: number, options: CallOptions): Promise<KongInstanceStatus> {
    const status = await this.callInstance('plugin.InstanceStatus', id, options);
    return instanceStatus(status, 'plugin.InstanceStatus');
  }

  async closeInstance(id: number, options: CallOptions): Promise<KongInstanceStatus> {
    const status = await this.callInstance('plugin.CloseInstance', id, options);
    return instanceStatus(status, 'plugin.CloseInstance');
  }

  async handleEvent(
    instanceId: number,
    phase: KongPhase,
    pdk: KongPdkHandler,
    deadline: EventDeadline,
  ): Promise<KongEventOutcome> {
    // The event's requests are awaited directly and their errors mapped in `catch` (not with callInstance's
    // `.then`): one promise and one microtask less per HandleEvent and per Step.
    let first: unknown;
    try {
      first = await this.eventCall(
        'plugin.HandleEvent',
        { InstanceId: instanceId, EventName: phase },
        deadline,
      );
    } catch (error) {
      throw instanceError(error, instanceId);
    }
    let step = stepData(first, 'plugin.HandleEvent');
    const eventId = step.EventId;
    let pdkCalls = 0;
    for (;;) {
      const data = step.Data;
      if (data === 'ret') return { pdkCalls, terminal: undefined };
      const method = data.Method;
      const args = pdkArguments(data.Args);
      pdkCalls++;
      let result = runPdk(pdk, method, args);
      // Only an asynchronous PDK answer needs watching for the deadline; most PDK functions answer at once.
      if (isPromiseLike(result)) result = await deadline.race(Promise.resolve(result), method);
      if (TERMINAL_PDK_METHODS.has(method)) return { pdkCalls, terminal: { method, args } };
      let stepMethod: string;
      let value: unknown;
      if (isPdkFailure(result)) {
        stepMethod = 'plugin.StepError';
        value = (result as PdkFailure).message;
      } else {
        value = fixPdkResult(method, result);
        stepMethod = stepMethodFor(method, value);
      }
      // An undefined Data is left out of the map by the Kong encoding, exactly as Kong's nil drops the key.
      let reply: unknown;
      try {
        reply = await this.eventCall(stepMethod, { EventId: eventId, Data: value }, deadline);
      } catch (error) {
        throw instanceError(error, instanceId);
      }
      step = stepData(reply, stepMethod);
    }
  }

  close(): void {
    this.pool.close();
  }

  private call(method: string, param: unknown, options: CallOptions): Promise<unknown> {
    return this.pool.use(method, options.signal, (connection) => connection.request(method, param, options));
  }

  /**
   * One request of an event: bounded by the time left as the request's own timeout (a timeout abandons the
   * request and closes its connection, as the deadline's abort did) and the caller's signal, so the common path
   * builds no signal and adds no abort listener. Only a wait for a connection watches the event's combined signal.
   */
  private eventCall(method: string, param: unknown, deadline: EventDeadline): Promise<unknown> {
    const options = deadline.requestOptions();
    // Past the deadline already (a synchronous PDK answer outran it): the old way, on the combined signal, whose
    // timer fires at the next turn of the event loop, so the request is sent and then fails with its msgid.
    if (options === undefined) return this.call(method, param, deadline.options());
    return this.pool.use(
      method,
      () => deadline.signal,
      (connection) => connection.request(method, param, options),
    );
  }

  private callInstance(
    method: string,
    param: unknown,
    options: CallOptions,
    instanceId?: number,
  ): Promise<unknown> {
    // `.then` rather than an async wrapper: one promise hop less per call.
    return this.call(method, param, options).then(undefined, (error: unknown) => {
      throw instanceError(error, instanceId ?? (typeof param === 'number' ? param : -1));
    });
  }
}

/** A server's "no plugin instance" answer as {@link NoPluginInstanceError}; any other error unchanged. */
function instanceError(error: unknown, instanceId: number): unknown {
  // Kong matches the text case-insensitively (mp_rpc `handle_event`): `No plugin instance 3` from the legacy Go
  // server counts too.
  if (error instanceof RemoteError && /no plugin instance/i.test(error.message)) {
    return new NoPluginInstanceError(instanceId, error.message, { cause: error });
  }
  return error;
}
