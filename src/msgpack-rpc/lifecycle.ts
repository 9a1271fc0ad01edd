import type { Readable, Writable } from 'node:stream';
import { type CloseInitiator, ConnectionClosedError } from './errors.js';
import type { PeerHooks } from './hooks.js';
import type { OutgoingWriter } from './outgoing.js';

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;

/** How a close proceeds: `graceful` (local `close()`), `flush` (end after what is queued), `destroy` (now). */
export type CloseMode = 'graceful' | 'flush' | 'destroy';

/** @internal */
export interface LifecycleHost {
  readonly readable: Readable;
  readonly writable: Writable;
  readonly isDuplex: boolean;
  readonly writer: OutgoingWriter;
  readonly hooks: PeerHooks;
  readonly closeTimeout: number;
  /** Stop reading: nothing more from the peer is dispatched. */
  readonly stopReading: () => void;
  /** Reject every pending and queued outgoing call, and drop incoming requests still waiting for a slot. */
  readonly dropWork: (error: ConnectionClosedError) => void;
  /** Incoming request handlers still running. */
  readonly runningHandlers: () => number;
}

/**
 * A peer's close sequence (spec §6.4): stop reading; reject pending and queued calls with
 * `ConnectionClosedError`; abort the handlers' signal (after a graceful close, once they finished or
 * `closeTimeout` passed); fire `onClose` once; end the stream after flushing, destroying it if that does not
 * finish within `closeTimeout`. Every timer is cleared on every path.
 *
 * @internal
 */
export class ConnectionLifecycle {
  private state = OPEN;
  private closeError: ConnectionClosedError | undefined;
  private lifetime: AbortController | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private gracefulWait = false;
  private closedPromise: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;

  constructor(private readonly host: LifecycleHost) {}

  /** Whether new work is accepted. */
  get isOpen(): boolean {
    return this.state === OPEN;
  }

  /** Whether the stream is gone for good. */
  get isClosed(): boolean {
    return this.state === CLOSED;
  }

  /** Whether a finished handler's response is still sent: open, or draining during a graceful close. */
  get answering(): boolean {
    return this.state === OPEN || (this.state === CLOSING && this.gracefulWait);
  }

  /** The signal every handler context exposes; aborts when the connection closes. */
  readonly signal = (): AbortSignal => {
    if (!this.lifetime) {
      this.lifetime = new AbortController();
      if (this.state === CLOSED || (this.state === CLOSING && !this.gracefulWait))
        this.lifetime.abort(this.closeError);
    }
    return this.lifetime.signal;
  };

  /** The error for a call made after the close (it names the same initiator and cause). */
  errorForNewWork(): ConnectionClosedError {
    const previous = this.closeError;
    return new ConnectionClosedError(
      previous?.initiator ?? 'local',
      previous && 'cause' in previous ? { cause: previous.cause } : undefined,
      'msgpack-RPC connection is closed',
    );
  }

  /** Starts closing; a harder mode overrides a softer one already in progress. */
  shutdown(initiator: CloseInitiator, cause: unknown, mode: CloseMode): void {
    if (this.state === CLOSED) return;
    if (this.state === CLOSING) {
      if (mode === 'destroy') this.destroyStream();
      else if (mode === 'flush' && this.gracefulWait) this.finishGraceful();
      return;
    }
    const host = this.host;
    this.state = CLOSING;
    host.stopReading();
    const closeError = new ConnectionClosedError(initiator, cause === undefined ? undefined : { cause });
    this.closeError = closeError;
    // Unsent requests and notifications go first, so that settling a written call cannot let a gated one out.
    // Queued notifications have no promise to reject: their loss goes to onError (spec §6.6).
    for (const item of host.writer.dropUnsent()) {
      if (item.kind === 'notification') host.hooks.reportError(closeError);
    }
    host.dropWork(closeError);

    if (mode === 'destroy') {
      this.abortHandlers();
      this.destroyStream();
      return;
    }
    if (mode === 'graceful' && host.runningHandlers() > 0) {
      this.gracefulWait = true;
      this.closeTimer = setTimeout(() => this.finishGraceful(), host.closeTimeout);
      this.closeTimer.unref?.();
      return;
    }
    this.abortHandlers();
    this.endStream();
  }

  /** A handler finished: a graceful close may have been waiting for the last one. */
  handlerFinished(): void {
    if (this.state === CLOSING && this.gracefulWait && this.host.runningHandlers() === 0)
      this.finishGraceful();
  }

  /** The stream emitted `'close'`. */
  streamClosed(): void {
    if (this.state === CLOSING) this.finishClose();
  }

  /** Resolves once the stream is closed. Never rejects. */
  whenClosed(): Promise<void> {
    if (this.state === CLOSED) return Promise.resolve();
    this.closedPromise ??= new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
    });
    return this.closedPromise;
  }

  private finishGraceful(): void {
    if (!this.gracefulWait) return;
    this.gracefulWait = false;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.abortHandlers();
    this.endStream();
  }

  private abortHandlers(): void {
    this.lifetime?.abort(this.closeError);
    if (this.closeError) this.host.hooks.closed(this.closeError);
  }

  private endStream(): void {
    const host = this.host;
    host.writer.flushNow();
    const writable = host.writable;
    if (writable.destroyed) {
      this.finishClose();
      return;
    }
    if (!writable.writableEnded) writable.end();
    if (writable.writableFinished) {
      this.destroyStream();
      return;
    }
    writable.once('finish', () => this.destroyStream());
    this.closeTimer = setTimeout(() => this.destroyStream(), host.closeTimeout);
    this.closeTimer.unref?.();
  }

  private destroyStream(): void {
    const host = this.host;
    host.writer.stop();
    if (this.gracefulWait) {
      this.gracefulWait = false;
      this.abortHandlers();
    }
    // Everything written has reached the system (or never will); the read side is not trusted any more.
    if (!host.writable.destroyed) host.writable.destroy();
    if (!host.isDuplex && !host.readable.destroyed) host.readable.destroy();
    this.finishClose();
  }

  private finishClose(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.gracefulWait = false;
    this.host.writer.stop();
    this.abortHandlers();
    this.resolveClosed?.();
  }
}
