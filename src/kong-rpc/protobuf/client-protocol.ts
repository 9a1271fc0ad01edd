/**
 * The Kong side of ProtoBuf:1 (kong-rpc spec §13), as `Kong/kong: kong/runloop/plugin_servers/rpc/pb_rpc.lua`
 * (`Rpc:call`, `call_pdk`, `handle_event`) does it: one `RpcCall` frame per call on a pooled connection; for
 * `cmd_handle_event` the PDK loop, in which the plugin sends a method-name frame and an argument frame and Kong
 * answers with one result frame, until an empty method-name frame; then one `RpcReturn` frame whose sequence must
 * echo the call's. A connection goes back to the pool only after a normal `RpcReturn`.
 */
import type { KongEventOutcome, KongPdkHandler, KongRemotePluginInfo } from '../client.js';
import { type CallOptions, KongConnections, type KongPoolOptions } from '../connections.js';
import { EventDeadline, isPromiseLike, runPdk } from '../deadline.js';
import {
  KongClosedWithoutReplyError,
  KongPdkError,
  KongProtocolError,
  KongSequenceError,
  NoPluginInstanceError,
} from '../errors.js';
import type { KongPhase } from '../plugins.js';
import type { KongClientProtocol } from '../protocol.js';
import type { KongInstanceStatus } from '../results.js';
import { isPdkFailure, type PdkFailure } from '../steps.js';
import { ProtobufConnection } from './connection.js';
import { encodeFrame } from './framing.js';
import { pdkArgumentsFromFrame, pdkMethod, pdkResultFrame, TableShapeError } from './kong-pdk.js';
import { messageType } from './schema.js';
import { type LuaTable, messageToTable, tableToMessage } from './values.js';

/** The commands of `RpcCall` (its `call` oneof). */
type Command =
  | 'cmd_get_plugin_names'
  | 'cmd_get_plugin_info'
  | 'cmd_start_instance'
  | 'cmd_get_instance_status'
  | 'cmd_close_instance'
  | 'cmd_handle_event';

/** The PDK call that ends the nginx request; Kong writes no result frame for it (the coroutine yields). */
const EXIT_METHOD = 'kong.response.exit';

/** The event part of a `cmd_handle_event` call. */
interface EventLoop {
  pdk: KongPdkHandler;
  deadline: EventDeadline;
  pdkCalls: number;
  terminal: KongEventOutcome['terminal'];
}

/** @internal */
export class ProtobufClientProtocol implements KongClientProtocol {
  readonly name = 'ProtoBuf:1';
  private readonly pool: KongConnections<ProtobufConnection>;
  private readonly timeout: number;
  /** Kong's `self.msg_id`: one counter per client, incremented for every call, failed ones included. */
  private counter = 0;

  constructor(pool: KongPoolOptions, maxFrameBytes: number, timeout: number) {
    this.timeout = timeout;
    // Kong calls `setkeepalive` as soon as the reply frame is read, before decoding it and asserting its
    // sequence (pb_rpc.lua `Rpc:call`): the stream is still frame-aligned, so the connection is pooled.
    this.pool = new KongConnections(
      pool,
      (stream) => new ProtobufConnection(stream, maxFrameBytes),
      (error) => replyErrors.has(error as Error),
    );
  }

  get connections(): number {
    return this.pool.size;
  }

  async getPluginInfo(name: string, options: CallOptions): Promise<KongRemotePluginInfo> {
    const reply = await this.callOnce('cmd_get_plugin_info', { name }, options);
    const info = reply.plugin_info as LuaTable | undefined;
    if (info === undefined)
      throw new KongProtocolError('cmd_get_plugin_info', 'RpcReturn has no plugin_info');
    let schema: unknown = info.schema;
    if (typeof schema === 'string') {
      try {
        schema = JSON.parse(schema);
      } catch {
        // Kept as text.
      }
    }
    return {
      name: String(info.name ?? ''),
      version: String(info.version ?? ''),
      phases: Array.isArray(info.phases) ? info.phases.map(String) : [],
      priority: Number(info.priority ?? 0),
      schema,
    };
  }

  getStatus(): Promise<Record<string, unknown>> {
    return Promise.reject(
      new KongProtocolError(
        'plugin.GetStatus',
        'ProtoBuf:1 has no server status command (use instanceStatus, or the dump for plugin info)',
      ),
    );
  }

  async getPluginNames(options: CallOptions): Promise<string[]> {
    const reply = await this.callOnce('cmd_get_plugin_names', {}, options);
    const names = (reply.plugin_names as LuaTable | undefined)?.names;
    if (reply.plugin_names === undefined)
      throw new KongProtocolError('cmd_get_plugin_names', 'RpcReturn has no plugin_names');
    return Array.isArray(names) ? names.map(String) : [];
  }

  async startInstance(name: string, configText: string, options: CallOptions): Promise<KongInstanceStatus> {
    const reply = await this.callOnce(
      'cmd_start_instance',
      { name, config: Buffer.from(configText, 'utf8') },
      options,
    );
    // Kong indexes `status.instance_status.instance_id`: a reply without it is a Lua error there.
    return instanceStatusOf(reply, 'cmd_start_instance');
  }

  async instanceStatus(id: number, options: CallOptions): Promise<KongInstanceStatus> {
    const reply = await this.callInstance('cmd_get_instance_status', id, options);
    return instanceStatusOf(reply, 'cmd_get_instance_status');
  }

  async closeInstance(id: number, options: CallOptions): Promise<KongInstanceStatus> {
    const reply = await this.callInstance('cmd_close_instance', id, options);
    return instanceStatusOf(reply, 'cmd_close_instance');
  }

  async handleEvent(
    instanceId: number,
    phase: KongPhase,
    pdk: KongPdkHandler,
    deadline: EventDeadline,
  ): Promise<KongEventOutcome> {
    const loop: EventLoop = { pdk, deadline, pdkCalls: 0, terminal: undefined };
    try {
      await this.call(
        'cmd_handle_event',
        { instance_id: instanceId, event_name: phase },
        deadline.options().signal,
        loop,
      );
    } catch (error) {
      throw noInstance(error, instanceId);
    }
    return { pdkCalls: loop.pdkCalls, terminal: loop.terminal };
  }

  close(): void {
    this.pool.close();
  }

  private async callInstance(command: Command, id: number, options: CallOptions): Promise<LuaTable> {
    try {
      return await this.callOnce(command, { instance_id: id }, options);
    } catch (error) {
      throw noInstance(error, id);
    }
  }

  /** One call without a PDK loop, bounded by the call's timeout (or the client's). */
  private async callOnce(command: Command, payload: LuaTable, options: CallOptions): Promise<LuaTable> {
    const deadline = new EventDeadline(options.timeout ?? this.timeout, options.signal);
    try {
      return (await this.call(command, payload, deadline.options().signal, undefined)) as LuaTable;
    } catch (error) {
      throw deadline.translate(error);
    } finally {
      deadline.dispose();
    }
  }

  /**
   * `Rpc:call`: the sequence is taken before connecting (Kong increments `msg_id`, then sends `msg_id + 1`,
   * so the first call carries 2), the call is written, the PDK loop runs for events, and the reply's sequence
   * must match. Resolves with the decoded `RpcReturn`, or `undefined` when the event ended with
   * `kong.response.exit`.
   */
  private call(
    command: Command,
    payload: LuaTable,
    signal: AbortSignal | undefined,
    loop: EventLoop | undefined,
  ): Promise<LuaTable | undefined> {
    this.counter++;
    const sequence = this.counter + 1;
    return this.pool.use(command, signal, async (connection) => {
      connection.begin();
      try {
        const RpcCall = messageType('kong_plugin_protocol.RpcCall');
        const call = tableToMessage(RpcCall, { sequence, [command]: payload });
        connection.write(encodeFrame(RpcCall.encode(call).finish()));
        if (loop !== undefined) {
          const ended = await this.pdkLoop(connection, loop, signal);
          if (ended) return undefined;
        }
        return readReturn(await connection.readFrame(command, signal), command, sequence);
      } finally {
        connection.end();
      }
    });
  }

  /**
   * The PDK loop of one event. Returns `true` when the event ended with `kong.response.exit`: Kong's exit
   * yields the plugin's coroutine and the request ends, so no result frame is written and the connection is
   * dropped (nginx closes it when the request ends), as in the recordings (pb-02).
   */
  private async pdkLoop(
    connection: ProtobufConnection,
    loop: EventLoop,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    for (;;) {
      const nameFrame = await connection.readFrame('cmd_handle_event', signal);
      if (nameFrame.length === 0) return false;
      const argumentFrame = await connection.readFrame('cmd_handle_event', signal);
      const name = nameFrame.toString('utf8');
      const method = pdkMethod(name);
      if (method === undefined) {
        // call_pdk's `method %q not found`: the call fails and the connection is not kept.
        throw new KongProtocolError('cmd_handle_event', `method ${JSON.stringify(name)} not found`);
      }
      let args: unknown[];
      try {
        args = pdkArgumentsFromFrame(method, argumentFrame);
      } catch (error) {
        throw new KongProtocolError(
          'cmd_handle_event',
          `the argument of ${name} is not a valid ${method.inputType.slice(1)}: ${(error as Error).message}`,
        );
      }
      loop.pdkCalls++;
      let result = runPdk(loop.pdk, name, args);
      if (isPromiseLike(result)) result = await loop.deadline.race(Promise.resolve(result), name);
      if (name === EXIT_METHOD) {
        loop.terminal = { method: name, args };
        connection.destroy();
        return true;
      }
      const value = isPdkFailure(result) ? undefined : serializeResult(name, result);
      const error = isPdkFailure(result) ? (result as PdkFailure).message : undefined;
      let frame: Uint8Array;
      try {
        frame = pdkResultFrame(method, { value, error });
      } catch (cause) {
        if (cause instanceof TableShapeError) throw new KongPdkError(name, { cause });
        throw cause;
      }
      connection.write(encodeFrame(frame));
    }
  }
}

/**
 * Kong's `kong.log.serialize` override (`Kong/kong: kong/runloop/plugin_servers/plugin.lua`) returns the
 * lua-cjson text of the log table, for both protocols: a table result is sent as JSON text.
 */
function serializeResult(method: string, result: unknown): unknown {
  if (method === 'kong.log.serialize' && typeof result === 'object' && result !== null) {
    return JSON.stringify(result);
  }
  return result;
}

/** Errors about a reply frame that was read whole: they leave the connection reusable. */
const replyErrors = new WeakSet<Error>();

function readReturn(payload: Buffer, command: Command, sequence: number): LuaTable {
  try {
    return decodeReturn(payload, command, sequence);
  } catch (error) {
    replyErrors.add(error as Error);
    throw error;
  }
}

function decodeReturn(payload: Buffer, command: Command, sequence: number): LuaTable {
  if (payload.length === 0) {
    // go-pdk answers get_plugin_names/get_plugin_info with an empty frame; Kong's sequence assert fails on it.
    throw new KongProtocolError(
      command,
      'the plugin server answered with an empty frame instead of an RpcReturn',
    );
  }
  const RpcReturn = messageType('kong_plugin_protocol.RpcReturn');
  let reply: LuaTable;
  try {
    reply = messageToTable(RpcReturn, RpcReturn.decode(payload));
  } catch (error) {
    throw new KongProtocolError(command, `the reply is not an RpcReturn: ${(error as Error).message}`);
  }
  const received = typeof reply.sequence === 'number' ? reply.sequence : 0;
  if (received !== sequence) throw new KongSequenceError(sequence, received);
  return reply;
}

function instanceStatusOf(reply: LuaTable | undefined, command: Command): KongInstanceStatus {
  const status = reply?.instance_status as LuaTable | undefined;
  if (status === undefined) throw new KongProtocolError(command, 'RpcReturn has no instance_status');
  return {
    name: String(status.name ?? ''),
    // proto3 leaves a zero id out.
    id: typeof status.instance_id === 'number' ? status.instance_id : 0,
    config: status.config === undefined ? undefined : plainValue(status.config),
    startTime: typeof status.started_at === 'number' ? status.started_at : undefined,
  };
}

/** A `google.protobuf.Value` table as a plain JSON value. */
function plainValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const v = value as LuaTable;
  if (v.list_value !== undefined) {
    const values = (v.list_value as LuaTable).values;
    return Array.isArray(values) ? values.map(plainValue) : [];
  }
  if (v.struct_value !== undefined) {
    const fields = ((v.struct_value as LuaTable).fields ?? {}) as LuaTable;
    return Object.fromEntries(Object.entries(fields).map(([key, entry]) => [key, plainValue(entry)]));
  }
  if (v.null_value !== undefined) return null;
  return v.bool_value ?? v.string_value ?? v.number_value ?? null;
}

/**
 * ProtoBuf servers report an unknown instance by closing the connection (go-pdk: `no plugin instance <id>` on
 * stderr only), and Kong restarts the instance on any error containing `closed` (pb_rpc.lua `handle_event`).
 */
function noInstance(error: unknown, instanceId: number): unknown {
  if (error instanceof KongClosedWithoutReplyError) {
    return new NoPluginInstanceError(instanceId, `no plugin instance #${instanceId}: ${error.message}`, {
      cause: error,
    });
  }
  return error;
}
