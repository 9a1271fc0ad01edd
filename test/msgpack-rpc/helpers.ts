import type { Duplex } from 'node:stream';
import { decodeMulti } from '@msgpack/msgpack';
import type { RpcPeerOptions } from '../../src/msgpack-rpc/options.js';
import { createMemoryDuplexPair } from '../../src/msgpack-rpc/pair.js';
import { RpcPeer } from '../../src/msgpack-rpc/peer.js';
import type { TraceEvent } from '../../src/msgpack-rpc/trace.js';

/** Bytes from spaced hex, e.g. `hex('94 00 01')`. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/[\s|]+/g, '');
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

/** Spaced hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
}

/** Waits until `predicate()` is true, polling on every macrotask turn; fails after `timeout` ms. */
export async function waitFor(predicate: () => boolean, timeout = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A peer on one end of a memory pair; the test drives the other end with raw bytes. */
export interface RawHarness {
  peer: RpcPeer;
  remote: Duplex;
  /** Every byte the peer wrote, concatenated. */
  received(): Uint8Array;
  /** The peer's output decoded as msgpack values. */
  messages(): unknown[];
  /** The chunks as the peer's write() calls produced them (one entry per 'data' event on the remote end). */
  chunks: Uint8Array[];
  errors: Error[];
  events: TraceEvent[];
  remoteEnded(): boolean;
  send(bytes: Uint8Array | string): void;
}

export function rawHarness(options: RpcPeerOptions = {}): RawHarness {
  const [local, remote] = createMemoryDuplexPair();
  const events: TraceEvent[] = [];
  const peer = new RpcPeer(local, { ...options, trace: (event) => events.push(event) });
  const errors: Error[] = [];
  peer.on('error', (error) => errors.push(error));
  const chunks: Uint8Array[] = [];
  let ended = false;
  remote.on('data', (chunk: Uint8Array) => chunks.push(chunk));
  remote.on('end', () => {
    ended = true;
  });
  remote.on('error', () => {});
  const received = () => new Uint8Array(Buffer.concat(chunks));
  return {
    peer,
    remote,
    chunks,
    errors,
    events,
    received,
    messages: () => [...decodeMulti(received())],
    remoteEnded: () => ended,
    send: (bytes) => {
      remote.write(typeof bytes === 'string' ? hex(bytes) : bytes);
    },
  };
}

/** The reasons of the ProtocolErrors a harness collected. */
export function reasons(errors: Error[]): string[] {
  return errors.map((error) => (error as { reason?: string }).reason ?? error.name);
}
