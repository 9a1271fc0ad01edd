/**
 * One ProtoBuf:1 connection on the Kong side: writes whole frames, reads frames one at a time, and fails at once
 * (with a typed error) on a closed socket, an over-cap or msgpack "length", or a cancelled call. Kong reads
 * nothing it did not ask for, so frames that arrive early wait here with the socket paused.
 */
import type { Duplex } from 'node:stream';
import { onAbort } from '../../abort.js';
import { RequestAbortedError } from '../../msgpack-rpc/index.js';
import type { PooledConnection } from '../connections.js';
import { KongClosedWithoutReplyError } from '../errors.js';
import { FrameReader } from './framing.js';

interface PendingRead {
  call: string;
  resolve(frame: Buffer): void;
  reject(error: Error): void;
  /** Removes the abort listener. */
  disposeAbort: () => void;
}

/** @internal */
export class ProtobufConnection implements PooledConnection {
  private readonly socket: Duplex;
  private readonly reader: FrameReader;
  private readonly ready: Buffer[] = [];
  private pending: PendingRead | undefined;
  /** Why the connection can no longer be read: a framing error, or `undefined` + `ended` for a plain close. */
  private failure: Error | undefined;
  private ended = false;
  /** Whether a call is using the connection (between {@link ProtobufConnection.begin} and `end`). */
  private busy = false;
  private readonly closeListeners: (() => void)[] = [];

  /**
   * @param socket - a connected socket (or any duplex stream).
   * @param maxFrameBytes - the largest frame payload accepted.
   */
  constructor(socket: Duplex, maxFrameBytes: number) {
    this.socket = socket;
    this.reader = new FrameReader(maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', () => {
      // 'close' follows; the read in progress fails there.
    });
    socket.on('close', () => this.onEnd());
  }

  /** Whether the connection can still carry a call. */
  get isOpen(): boolean {
    return !this.closed;
  }

  /** Whether the connection is gone. */
  get closed(): boolean {
    return this.ended || this.failure !== undefined || this.socket.destroyed;
  }

  /** A call starts using the connection. */
  begin(): void {
    this.busy = true;
  }

  /**
   * The call is done with the connection. Bytes left unread mean the server wrote more than the call asked for:
   * the connection's state is unknown and it is closed (the pool then forgets it).
   */
  end(): void {
    this.busy = false;
    if (this.ready.length > 0 || this.reader.bufferedBytes > 0) this.destroy();
  }

  /** Writes one whole frame (or several, concatenated). */
  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /**
   * The next frame's payload.
   *
   * @param call - the call it belongs to, for errors.
   * @param signal - aborts the read (and destroys the connection, whose state is then unknown).
   * @throws {@link KongClosedWithoutReplyError} when the connection closes first; the framing errors of
   *   {@link FrameReader.read}; `RequestAbortedError` when `signal` aborts.
   */
  readFrame(call: string, signal?: AbortSignal): Promise<Buffer> {
    const frame = this.ready.shift();
    if (frame !== undefined) {
      if (this.ready.length === 0 && !this.closed) this.socket.resume();
      return Promise.resolve(frame);
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new KongClosedWithoutReplyError(call, this.reader.midFrame));
    if (signal?.aborted) return Promise.reject(this.abortError(call, signal));
    return new Promise<Buffer>((resolve, reject) => {
      const pending: PendingRead = { call, resolve, reject, disposeAbort: noop };
      this.pending = pending;
      // Not aborted yet (checked above), so the listener is added, not called.
      pending.disposeAbort = onAbort(signal, () => {
        this.pending = undefined;
        reject(this.abortError(call, signal));
        this.destroy();
      });
      this.socket.resume();
    });
  }

  /** Closes the connection now; a read in progress rejects. */
  destroy(): void {
    this.socket.destroy();
    this.onEnd();
  }

  /** Called once when the connection closes. */
  onClose(listener: () => void): void {
    if (this.ended) listener();
    else this.closeListeners.push(listener);
  }

  private onData(chunk: Buffer): void {
    if (this.failure !== undefined) return;
    if (!this.busy) {
      // Bytes on an idle pooled connection: nginx closes a keepalive connection on any read event.
      this.destroy();
      return;
    }
    this.reader.push(chunk);
    try {
      for (let frame = this.reader.read(); frame !== undefined; frame = this.reader.read()) {
        const pending = this.takePending();
        if (pending !== undefined) pending.resolve(frame);
        else this.ready.push(frame);
      }
    } catch (error) {
      this.failure = error as Error;
      this.takePending()?.reject(error as Error);
      this.destroy();
      return;
    }
    // Frames nobody asked for yet: stop reading until they are taken (Kong does not read ahead either).
    if (this.ready.length > 0) this.socket.pause();
  }

  private onEnd(): void {
    if (this.ended) return;
    this.ended = true;
    const pending = this.takePending();
    if (pending !== undefined) {
      pending.reject(this.failure ?? new KongClosedWithoutReplyError(pending.call, this.reader.midFrame));
    }
    if (!this.socket.destroyed) this.socket.destroy();
    for (const listener of this.closeListeners.splice(0)) listener();
  }

  private takePending(): PendingRead | undefined {
    const pending = this.pending;
    if (pending === undefined) return undefined;
    this.pending = undefined;
    pending.disposeAbort();
    return pending;
  }

  private abortError(call: string, signal: AbortSignal | undefined): Error {
    return new RequestAbortedError(call, undefined, false, signal?.reason);
  }
}

function noop(): void {}
