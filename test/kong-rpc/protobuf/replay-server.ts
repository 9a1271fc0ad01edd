/**
 * A scripted ProtoBuf:1 plugin server for the Kong-side tests: it replays the plugin frames of a go-pdk
 * recording (test/fixtures/kong-captures/kong-protobuf) over a real Unix socket, and keeps every frame the Kong
 * side sends for the test to compare with the recorded Kong frames. It is replay, not an implementation: it
 * writes the recorded bytes in the recorded order, closes where go-pdk closed, and "crashes" where it crashed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameReader } from '../../../src/kong-rpc/protobuf/framing.js';
import type { Capture, CapturedFrame } from './captures.js';

/** What the Kong side sent in place of one recorded Kong frame. */
export interface ReceivedFrame {
  /** The recorded frame it answers. */
  recorded: CapturedFrame;
  /** The payload the Kong side sent. */
  payload: Buffer;
  /** The connection (1, 2, … in accept order). */
  conn: number;
}

/** A running replay. */
export interface Replay {
  socketPath: string;
  /** Kong frames received, in order. */
  received: ReceivedFrame[];
  /** Recorded Kong frames that never came because the Kong side moved on to the next call (with the reason). */
  skipped: CapturedFrame[];
  /** Frames that matched no recorded Kong frame. */
  unexpected: Buffer[];
  /** Connections accepted. */
  readonly connections: number;
  close(): Promise<void>;
}

interface Step {
  seq: number;
  frames: CapturedFrame[];
  closeAfter: boolean;
}

/**
 * Starts a replay of `capture`'s steps.
 *
 * @param crashAfterSeq - after the step with this sequence the server stops listening (pb-05's crash).
 */
export async function startReplay(capture: Capture, crashAfterSeq?: number): Promise<Replay> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-pb-replay-'));
  const socketPath = join(dir, 'plugin.sock');
  const steps: Step[] = capture.steps.map((step) => ({
    seq: step.seq,
    frames: capture.frames.filter((frame) => frame.call_seq === step.seq),
    closeAfter: step.outcome.startsWith('plugin closed'),
  }));
  let stepIndex = 0;
  let position = 0;
  let stepConn = 0;
  const received: ReceivedFrame[] = [];
  const skipped: CapturedFrame[] = [];
  const unexpected: Buffer[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;

  const server: Server = createServer((socket) => {
    const conn = ++accepted;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new FrameReader();
    socket.on('data', (chunk) => {
      reader.push(chunk);
      for (let payload = reader.read(); payload !== undefined; payload = reader.read()) {
        onFrame(socket, conn, payload);
      }
    });
  });

  function onFrame(socket: Socket, conn: number, payload: Buffer): void {
    // A frame on another connection while a step still expects Kong frames: the Kong side dropped the step's
    // connection and moved on (it never answers kong.response.exit); the rest of that step never comes.
    if (position > 0 && conn !== stepConn) {
      for (const frame of steps[stepIndex]!.frames.slice(position))
        if (frame.dir === 'kong->plugin') skipped.push(frame);
      stepIndex++;
      position = 0;
    }
    const step = steps[stepIndex];
    const frame = step?.frames[position];
    if (step === undefined || frame === undefined || frame.dir !== 'kong->plugin') {
      unexpected.push(payload);
      return;
    }
    if (position === 0) stepConn = conn;
    received.push({ recorded: frame, payload, conn });
    position++;
    // The plugin's frames up to the next Kong frame.
    while (position < step.frames.length && step.frames[position]!.dir === 'plugin->kong') {
      socket.write(Buffer.from(step.frames[position]!.hex, 'hex'));
      position++;
    }
    if (position >= step.frames.length) {
      stepIndex++;
      position = 0;
      if (step.closeAfter) socket.destroy();
      if (crashAfterSeq === step.seq) {
        for (const open of sockets) open.destroy();
        server.close();
      }
    }
  }

  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    received,
    skipped,
    unexpected,
    get connections() {
      return accepted;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
