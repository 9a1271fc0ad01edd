/**
 * The plugin-server side of one ProtoBuf:1 connection (kong-rpc spec §13): Kong writes one `RpcCall` frame at a
 * time and waits; for `cmd_handle_event` the plugin then drives a PDK loop on the same connection (a method-name
 * frame, an argument frame, one result frame from Kong, …; an empty name frame ends it) before the `RpcReturn`.
 *
 * Matched on `Kong/go-pdk: server/pbserver.go` (servePb, handlePbCmd, handlePbEvent) and `bridge/bridge.go`
 * (Ask), and on what `Kong/kong: kong/runloop/plugin_servers/rpc/pb_rpc.lua` does with each answer. Errors are
 * signalled as go-pdk signals them, by closing the connection without a reply, except where that would make Kong
 * retry forever (see {@link failureFrame}); nothing a plugin or a peer does ends the process.
 */
import type { Duplex } from 'node:stream';
import { KongEventClosedError, KongPdkArgumentError } from '../errors.js';
import { safeText } from '../event.js';
import { type InstanceRegistry, status } from '../instances.js';
import { createPdk, type KongPdk } from '../pdk.js';
import { isKongPhase, type RegisteredPlugin } from '../plugins.js';
import type { KongServerLogEntry } from '../server.js';
import { EMPTY_FRAME, encodeFrame, FRAME_HEADER_BYTES, FrameReader } from './framing.js';
import { pluginSideMethodFor } from './plugin-side.js';
import { messageType, type protobuf } from './schema.js';

/** What a ProtoBuf:1 connection needs from its {@link KongPluginServer}. */
export interface ProtobufServerHost {
  /** The plugins served, by name. */
  readonly plugins: ReadonlyMap<string, RegisteredPlugin>;
  /** The server's instances. */
  readonly instances: InstanceRegistry;
  /** How long an event may wait for Kong before its connection is dropped. */
  readonly eventTimeout: number;
  /** The largest frame accepted from Kong; `undefined` for the default. */
  readonly maxFrameBytes: number | undefined;
  /** The server's log hook. */
  log(entry: KongServerLogEntry): void;
  /** An event started (for `activeEvents` and `close()`). */
  eventOpened(event: ProtobufServerEvent): void;
  /** An event is over. */
  eventClosed(event: ProtobufServerEvent): void;
}

/** The plugin-server side of one connection, as the server tracks it. */
export interface ProtobufServerConnection {
  /** Graceful close: what is written is flushed, then the connection ends. */
  close(): void;
  /** Immediate close. */
  destroy(): void;
}

/** The end of a connection: why it closed (for the events on it). */
class ConnectionGone extends Error {}

/** @internal One event on a ProtoBuf:1 connection; the server aborts it on close. */
export interface ProtobufServerEvent {
  /** Ends the event from outside: pending and later PDK calls reject. */
  abort(reason: string): void;
}

/** `kong.response.exit`: Kong ends the request and answers nothing (the access phase yields inside exit). */
const EXIT_METHOD = 'kong.response.exit';
/** Longest failure text sent to Kong in a method-name frame (it lands in Kong's error log). */
const MAX_FAILURE_TEXT = 2048;

let rpcCall: protobuf.Type | undefined;
let rpcReturn: protobuf.Type | undefined;

function rpcCallType(): protobuf.Type {
  rpcCall ??= messageType('kong_plugin_protocol.RpcCall');
  return rpcCall;
}

function rpcReturnType(): protobuf.Type {
  rpcReturn ??= messageType('kong_plugin_protocol.RpcReturn');
  return rpcReturn;
}

type Plain = Record<string, unknown>;

/**
 * Kong resets the instance and retries the whole event, with no limit, when an error contains `closed` or
 * `no plugin instance` (pb_rpc.lua, `Rpc:handle_event`), so a plugin's own text must contain neither.
 */
function kongSafe(text: string): string {
  return safeText(text).replace(/closed/gi, (word) => `${word.slice(0, 4)}-${word.slice(4)}`);
}

/**
 * The method-name frame that reports a failed handler to Kong. `RpcReturn` has no error field and closing the
 * connection makes Kong retry the event forever (its error then contains `closed`), so the failure is sent as a
 * PDK method Kong does not have: Kong's `call_pdk` answers `method "<text>" not found`, and `handle_event` logs
 * `pluginserver error: …` with the text and answers 500 (Kong ≥ 3.8; older ones skip the plugin, as for any
 * plugin-server error). The name cannot collide with a PDK function: it has spaces.
 */
export function failureFrame(plugin: string, phase: string, error: unknown): Buffer {
  const detail = error instanceof Error ? error.message : String(error);
  let text = kongSafe(`pluginwire: plugin ${plugin} failed in phase ${phase}: ${detail}`);
  if (text.length > MAX_FAILURE_TEXT) text = `${text.slice(0, MAX_FAILURE_TEXT - 1)}…`;
  return encodeFrame(Buffer.from(text, 'utf8'));
}

/**
 * Whether the first four bytes of a connection are a msgpack-RPC request or notification rather than a frame
 * length: `[type, msgid, method, params]` starts with fixarray 0x94 (0x93 for a notification), the type 0–2,
 * then a msgid (fixint or 0xcc–0xcf) followed, for a fixint msgid, by a method-name string header. The framer
 * catches the long lengths these give; this also catches msgids ≥ 256, whose "length" may fit under the cap.
 */
export function startsLikeMsgPack(header: Uint8Array): boolean {
  const [first, type, third, fourth] = header as unknown as number[];
  if ((first !== 0x94 && first !== 0x93) || type === undefined || type > 2) return false;
  if (third === undefined || fourth === undefined) return false;
  if (third >= 0xcc && third <= 0xcf) return true;
  return third < 0x80 && ((fourth >= 0xa0 && fourth <= 0xbf) || fourth === 0xd9);
}

/**
 * Serves Kong's ProtoBuf:1 calls on one connection.
 *
 * @param stream - the accepted connection (or an in-memory duplex in tests).
 * @param host - the server's plugins, instances, limits and hooks.
 */
export function serveProtobufConnection(stream: Duplex, host: ProtobufServerHost): ProtobufServerConnection {
  const connection = new Connection(stream, host);
  return connection;
}

interface FrameWaiter {
  resolve(frame: Buffer): void;
  reject(error: Error): void;
}

class Connection implements ProtobufServerConnection {
  private readonly stream: Duplex;
  private readonly host: ProtobufServerHost;
  private readonly reader: FrameReader;
  private waiter: FrameWaiter | undefined;
  private gone: ConnectionGone | undefined;
  /** The first bytes of the connection, until four are in (to recognise msgpack). */
  private head: Buffer | undefined = Buffer.alloc(0);
  /** Whether a frame from Kong is expected now; bytes at other times break the protocol. */
  private expecting = true;
  /** The event running on this connection, if any (ProtoBuf:1 runs one event per connection at a time). */
  private event: Event | undefined;

  constructor(stream: Duplex, host: ProtobufServerHost) {
    this.stream = stream;
    this.host = host;
    this.reader = new FrameReader(host.maxFrameBytes);
    stream.on('data', (chunk: Buffer) => this.received(chunk));
    stream.on('error', (error) => this.end(error, 'debug'));
    stream.on('close', () => this.end(undefined, 'debug'));
    stream.on('end', () => this.end(undefined, 'debug'));
    this.run().catch((error: unknown) => this.end(error, 'warn'));
  }

  close(): void {
    this.stream.end();
  }

  destroy(): void {
    this.stream.destroy();
  }

  // ---- frames ------------------------------------------------------------------------------------------------

  private received(chunk: Buffer): void {
    if (this.gone !== undefined) return;
    if (this.head !== undefined) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, FRAME_HEADER_BYTES - this.head.length)]);
      if (this.head.length >= FRAME_HEADER_BYTES) {
        const msgpack = startsLikeMsgPack(this.head);
        this.head = undefined;
        if (msgpack) {
          this.fail(
            'a client sent MsgPack:1 (msgpack-RPC) to this ProtoBuf:1 server; closing the connection ' +
              '(the server and Kong must agree on the protocol printed by -dump)',
          );
          return;
        }
      }
    }
    this.reader.push(chunk);
    if (!this.expecting && this.reader.bufferedBytes > 0) {
      this.fail('Kong sent a frame while the plugin was not waiting for one');
      return;
    }
    this.deliver();
  }

  private deliver(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    let frame: Buffer | undefined;
    try {
      frame = this.reader.read();
    } catch (error) {
      // A length over the cap (or a msgpack header the framer recognised): refused before any allocation.
      this.fail((error as Error).message);
      return;
    }
    if (frame === undefined) return;
    this.waiter = undefined;
    this.expecting = false;
    waiter.resolve(frame);
  }

  /** The next frame from Kong. Rejects with {@link ConnectionGone} when the connection ends first. */
  private nextFrame(): Promise<Buffer> {
    if (this.gone !== undefined) return Promise.reject(this.gone);
    this.expecting = true;
    return new Promise<Buffer>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.deliver();
    });
  }

  private write(frame: Buffer): void {
    if (this.gone === undefined) this.stream.write(frame);
  }

  /** Logs and closes the connection without a reply (how go-pdk reports errors). */
  private fail(reason: string, fields: Partial<KongServerLogEntry> = {}): void {
    this.host.log({
      level: 'warn',
      message: `ProtoBuf:1 connection closed without a reply: ${reason}`,
      ...fields,
    });
    this.end(undefined, 'debug');
    this.stream.end();
    // A peer that never reads must not keep the socket: destroy once what was written is flushed.
    this.stream.once('finish', () => this.stream.destroy());
  }

  private end(error: unknown, level: 'debug' | 'warn'): void {
    if (this.gone !== undefined) return;
    this.gone = new ConnectionGone(error instanceof Error ? error.message : 'connection closed');
    if (error !== undefined) this.host.log({ level, message: 'ProtoBuf:1 connection error', error });
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.gone);
    // A handler that is not waiting for Kong (busy, or hung) learns it at its next PDK call; the event is over now,
    // so it no longer counts as active.
    this.event?.close('connection closed by Kong');
  }

  // ---- commands ----------------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    for (;;) {
      let frame: Buffer;
      try {
        frame = await this.nextFrame();
      } catch {
        return;
      }
      let call: Plain;
      try {
        call = rpcCallType().decode(frame) as unknown as Plain;
      } catch (error) {
        this.fail(`not an RpcCall (${(error as Error).message})`);
        return;
      }
      const keep = await this.command(call);
      if (!keep) return;
    }
  }

  /** Runs one RpcCall. Resolves with whether the connection stays usable. */
  private async command(call: Plain): Promise<boolean> {
    const sequence = call.sequence ?? 0;
    const reply = (result?: Plain) =>
      this.write(
        encodeFrame(
          rpcReturnType()
            .encode({ sequence, ...result })
            .finish(),
        ),
      );
    const host = this.host;
    try {
      switch (call.call) {
        case 'cmd_get_plugin_names':
          // go-pdk answers a zero-length frame here, which Kong's sequence assert would reject (captures pb-04,
          // rule 8); a real RpcReturn is what the schema defines.
          reply({ plugin_names: { names: [...host.plugins.keys()] } });
          return true;
        case 'cmd_get_plugin_info': {
          const name = (call.cmd_get_plugin_info as Plain).name as string;
          const plugin = host.plugins.get(name);
          if (plugin === undefined) return this.refuse(`plugin ${name} not found`);
          const info = plugin.info;
          const time = Math.floor(plugin.addedAt);
          reply({
            plugin_info: {
              name: info.Name,
              updated_at: time,
              loaded_at: time,
              phases: info.Phases,
              version: info.Version,
              priority: info.Priority,
              schema: JSON.stringify(info.Schema),
            },
          });
          return true;
        }
        case 'cmd_start_instance': {
          const start = call.cmd_start_instance as Plain;
          const name = start.name as string;
          const plugin = host.plugins.get(name);
          // go-pdk serves one plugin and starts whatever name it is given (rule 9); this server may hold several,
          // so an unknown name is refused like any other start error.
          if (plugin === undefined) return this.refuse(`plugin ${name} not found`);
          const configText = Buffer.from(start.config as Uint8Array).toString('utf8');
          const started = (await host.instances.start(plugin, configText, true)) as Plain;
          reply({ instance_status: statusMessage(started) });
          return true;
        }
        case 'cmd_get_instance_status': {
          const id = (call.cmd_get_instance_status as Plain).instance_id;
          reply({ instance_status: statusMessage(status(host.instances.get(id)) as Plain) });
          return true;
        }
        case 'cmd_close_instance': {
          const id = (call.cmd_close_instance as Plain).instance_id;
          const closing = statusMessage(status(host.instances.get(id)) as Plain);
          host.instances.close(id);
          reply({ instance_status: closing });
          return true;
        }
        case 'cmd_handle_event':
          return await this.handleEvent(call.cmd_handle_event as Plain, sequence);
        default:
          return this.refuse('RpcCall without a command');
      }
    } catch (error) {
      // Unknown instance (`no plugin instance #<id>`), bad config JSON, a throwing create(): go-pdk closes the
      // connection without a reply; for an unknown instance Kong then restarts it and retries (spec §13.4).
      return this.refuse(error instanceof Error ? error.message : String(error));
    }
  }

  private refuse(reason: string): false {
    this.fail(reason);
    return false;
  }

  // ---- events ------------------------------------------------------------------------------------------------

  private async handleEvent(command: Plain, sequence: unknown): Promise<boolean> {
    const instance = this.host.instances.get(command.instance_id);
    const phase = command.event_name;
    const plugin = instance.plugin.info.Name;
    const handler = isKongPhase(phase) ? instance.object[phase] : undefined;
    if (typeof handler !== 'function') {
      // go-pdk: "undefined method <phase>", connection closed (captures pb-04).
      return this.refuse(`plugin ${plugin} has no ${JSON.stringify(phase)} phase`);
    }
    const event = new Event(this, plugin, phase as string, Number(sequence), (ended) =>
      this.host.eventClosed(ended),
    );
    this.event = event;
    this.host.eventOpened(event);
    let failure: { error: unknown } | undefined;
    try {
      await handler.call(instance.object, event.pdk);
    } catch (error) {
      failure = { error };
    }
    // Calls the handler fired without awaiting still go out, in order, before the event ends.
    await event.drain(failure !== undefined);
    this.event = undefined;
    if (event.exited) return this.afterExit(sequence);
    if (this.gone !== undefined) return false;
    if (failure !== undefined) {
      this.host.log({
        level: 'error',
        message: `plugin ${plugin} failed in phase ${phase}`,
        plugin,
        phase: phase as string,
        error: failure.error,
      });
      event.close('failed');
      // An empty argument frame follows: Kong reads both frames before it looks the method up.
      this.write(Buffer.concat([failureFrame(plugin, phase as string, failure.error), EMPTY_FRAME]));
      this.stream.end();
      return false;
    }
    event.close('finished');
    this.write(endOfEvent(sequence));
    return true;
  }

  /**
   * After `kong.response.exit`. In the access phase Kong never answers it (exit yields and the request ends, then
   * nginx closes the connection); where exit returns, Kong writes an empty result. go-pdk closes the connection
   * in both cases (captures pb-02, rule 5), but after an answer Kong is reading the next method name, so a
   * close makes it restart the instance and retry the event: here an answer is followed by the end of the PDK
   * loop and the RpcReturn, as for an event that ended normally.
   */
  private async afterExit(sequence: unknown): Promise<boolean> {
    const timer = setTimeout(() => {
      this.host.log({ level: 'debug', message: 'no answer to kong.response.exit; connection dropped' });
      this.stream.destroy();
    }, this.host.eventTimeout);
    timer.unref();
    try {
      await this.nextFrame();
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
    this.write(endOfEvent(sequence));
    return true;
  }

  /** One PDK call: name and argument frames, then exactly one result frame (go-pdk `bridge.Ask`). */
  exchange(name: string, argument: Uint8Array): Promise<Buffer> {
    this.write(callFrames(name, argument));
    return this.nextFrame();
  }

  /** Sends a terminal call; no result is read, but Kong may answer it (an empty frame) at any time now. */
  sendTerminal(name: string, argument: Uint8Array): void {
    this.write(callFrames(name, argument));
    this.expecting = true;
  }
}

/**
 * A PDK call's method-name frame and argument frame in one buffer: one write, so Kong (which reads both before it
 * acts) wakes up once. go-pdk writes them separately; the bytes on the stream are the same.
 */
function callFrames(name: string, argument: Uint8Array): Buffer {
  const nameLength = Buffer.byteLength(name, 'utf8');
  const out = Buffer.allocUnsafe(8 + nameLength + argument.length);
  out.writeUInt32LE(nameLength, 0);
  out.write(name, 4, 'utf8');
  out.writeUInt32LE(argument.length, 4 + nameLength);
  out.set(argument, 8 + nameLength);
  return out;
}

/** The end of the PDK loop (an empty method-name frame) and the RpcReturn, in one write. */
function endOfEvent(sequence: unknown): Buffer {
  const reply = rpcReturnType().encode({ sequence }).finish();
  const out = Buffer.allocUnsafe(8 + reply.length);
  out.writeUInt32LE(0, 0);
  out.writeUInt32LE(reply.length, 4);
  out.set(reply, 8);
  return out;
}

/**
 * `{Name, Id, StartTime}` as an InstanceStatus message. Kong reads `instance_id` only; go-pdk sends no config
 * (captures rule 9), nor does this. The name is the plugin's, where go-pdk answers `"---"` to
 * get_instance_status and close_instance.
 */
function statusMessage(instance: Plain): Plain {
  return {
    name: instance.Name as string,
    instance_id: instance.Id as number,
    started_at: Math.floor(instance.StartTime as number),
  };
}

interface Queued {
  name: string;
  args: readonly unknown[];
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** The PDK calls of one event, sent one at a time in call order. */
class Event implements ProtobufServerEvent {
  readonly pdk: KongPdk;
  exited = false;
  private readonly connection: Connection;
  private readonly plugin: string;
  private readonly phase: string;
  private readonly id: number;
  private readonly queue: Queued[] = [];
  private running: Promise<void> | undefined;
  private closedReason: string | undefined;

  private readonly onClose: (event: Event) => void;

  constructor(
    connection: Connection,
    plugin: string,
    phase: string,
    id: number,
    onClose: (event: Event) => void,
  ) {
    this.onClose = onClose;
    this.connection = connection;
    this.plugin = plugin;
    this.phase = phase;
    this.id = id;
    this.pdk = createPdk((method, args) => this.call(method, args));
  }

  abort(reason: string): void {
    this.close(reason);
  }

  /** Ends the event: queued and later calls reject. */
  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    for (const entry of this.queue.splice(0)) {
      entry.reject(new KongEventClosedError(this.id, entry.name, reason));
    }
    this.onClose(this);
  }

  /** Waits until every queued call went out; with `failed`, queued calls are dropped instead. */
  async drain(failed: boolean): Promise<void> {
    if (failed) this.close('failed');
    while (this.running !== undefined) await this.running;
  }

  private call(name: string, args: readonly unknown[]): Promise<unknown> {
    const result =
      this.closedReason !== undefined
        ? Promise.reject(new KongEventClosedError(this.id, name, this.closedReason))
        : new Promise<unknown>((resolve, reject) => {
            this.queue.push({ name, args, resolve, reject });
            this.running ??= this.pump();
          });
    // Plugins fire calls without awaiting them (`kong.log.info(…)`); a rejection after the event ended must not
    // be unhandled. Awaiting callers still see it.
    result.catch(() => {});
    return result;
  }

  private async pump(): Promise<void> {
    try {
      for (let entry = this.queue.shift(); entry !== undefined; entry = this.queue.shift()) {
        await this.send(entry);
      }
    } finally {
      this.running = undefined;
    }
  }

  private async send(entry: Queued): Promise<void> {
    const codec = pluginSideMethodFor(entry.name);
    if (codec === undefined) {
      entry.reject(
        new KongPdkArgumentError(entry.name, 'not an rpc of service Kong, so ProtoBuf:1 cannot carry it'),
      );
      return;
    }
    let argument: Uint8Array;
    try {
      argument = codec.encodeArguments(entry.args);
    } catch (error) {
      entry.reject(error);
      return;
    }
    if (entry.name === EXIT_METHOD) {
      // Terminal (go-pdk response.Exit): the event is over once it is sent; the call resolves at once, as on
      // MsgPack:1, and later calls reject.
      this.connection.sendTerminal(entry.name, argument);
      this.exited = true;
      entry.resolve(undefined);
      this.close(`ended by ${EXIT_METHOD}`);
      return;
    }
    let frame: Buffer;
    try {
      frame = await this.connection.exchange(entry.name, argument);
    } catch {
      const reason = 'connection closed by Kong';
      entry.reject(new KongEventClosedError(this.id, entry.name, reason));
      this.close(reason);
      return;
    }
    try {
      entry.resolve(await codec.decodeResult(frame));
    } catch (error) {
      entry.reject(error);
    }
  }

  /** For log lines. */
  toString(): string {
    return `${this.plugin}/${this.phase}#${this.id}`;
  }
}
