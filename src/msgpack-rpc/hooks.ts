import { type ConnectionClosedError, HandlerError, ProtocolError } from './errors.js';
import type { Frame } from './framer.js';
import type { Message } from './message.js';
import type { MessageKind, TraceEvent, TraceHook } from './trace.js';

/** Where a peer's `'error'` and `'close'` events go (the peer's EventEmitter). */
export interface PeerEventSink {
  error(error: Error): void;
  close(error: ConnectionClosedError): void;
}

/**
 * A peer's user hooks: the trace hook and the `'error'`/`'close'` event listeners. Every hook is sandboxed: what it
 * throws goes to `'error'` (without recursion), never to the caller. No trace event object is built without a hook.
 *
 * @internal
 */
export class PeerHooks {
  /** Whether a trace hook is set (check before building an event). */
  readonly tracing: boolean;
  private reporting = false;
  private closedWith: ConnectionClosedError | undefined;

  constructor(
    private readonly traceHook: TraceHook | undefined,
    private readonly traceFrames: boolean,
    private readonly sink: PeerEventSink,
  ) {
    this.tracing = traceHook !== undefined;
  }

  /** Fires the close trace event and the `'close'` event, once. */
  closed(error: ConnectionClosedError): void {
    if (this.closedWith) return;
    this.closedWith = error;
    if (this.tracing) this.emit({ type: 'close', time: performance.now(), error });
    this.run('close', () => this.sink.close(error));
  }

  /** Sends an error to the trace hook (protocol errors) and to the `'error'` event. */
  reportError(error: Error): void {
    if (this.tracing && error instanceof ProtocolError) {
      this.emit({ type: 'protocol-error', time: performance.now(), error });
    }
    if (this.reporting) return;
    this.reporting = true;
    try {
      try {
        this.sink.error(error);
      } catch {
        // An 'error' listener that throws has nowhere else to report to; contained.
      }
    } finally {
      this.reporting = false;
    }
  }

  /** Runs a user hook; what it throws becomes a `HandlerError` for the `'error'` event. */
  run(name: string, body: () => void): void {
    try {
      body();
    } catch (error) {
      this.reportError(new HandlerError(name, error));
    }
  }

  emit(event: TraceEvent): void {
    const hook = this.traceHook;
    if (!hook) return;
    try {
      hook(event);
    } catch (error) {
      this.reportError(new HandlerError('trace', error));
    }
  }

  send(
    kind: MessageKind,
    msgid: number | undefined,
    method: string | undefined,
    bytes: Uint8Array,
    message: unknown,
  ): void {
    this.emit({
      type: 'send',
      time: performance.now(),
      kind,
      ...(msgid !== undefined ? { msgid } : {}),
      ...(method !== undefined ? { method } : {}),
      bytes: bytes.length,
      message,
      ...(this.traceFrames ? { frame: bytes.slice() } : {}),
    });
  }

  receive(
    message: Message,
    frame: Frame,
    value: unknown,
    call: { method: string; writtenAt: number } | undefined,
  ): void {
    const time = performance.now();
    const method = message.kind === 'response' ? call?.method : message.method;
    this.emit({
      type: 'receive',
      time,
      kind: message.kind,
      ...(message.kind !== 'notification' ? { msgid: message.msgid } : {}),
      ...(method !== undefined ? { method } : {}),
      bytes: frame.bytes.length,
      message: value,
      ...(call !== undefined ? { durationMs: time - call.writtenAt } : {}),
      ...(this.traceFrames ? { frame: frame.bytes.slice() } : {}),
    });
  }
}
