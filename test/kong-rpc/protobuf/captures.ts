/**
 * The ProtoBuf:1 recordings of real go-pdk conversations (test/fixtures/kong-captures/kong-protobuf, README
 * there), loaded for the replay tests.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One recorded frame. */
export interface CapturedFrame {
  i: number;
  conn: number;
  call_seq: number;
  dir: 'kong->plugin' | 'plugin->kong';
  len: number;
  hex: string;
  note: string;
  varies_between_runs?: boolean;
}

/** One PDK call the recording Kong served. */
export interface CapturedPdkAnswer {
  event_seq: number;
  method: string;
  argument: string;
  answer: unknown;
  answer_type: string;
  result_hex: string | null;
  rule: string;
}

/** One RpcCall of the recording. */
export interface CapturedStep {
  label: string;
  seq: number;
  conn: number;
  pdk_calls: number;
  reply: unknown;
  outcome: string;
}

/** A recording. */
export interface Capture {
  file: string;
  scenario: string;
  dump: { Protocol: string; Plugins: { Name: string; Phases: string[] }[] };
  dump_stdout: string;
  pdk_methods_called: string[];
  pdk_answers: CapturedPdkAnswer[];
  steps: CapturedStep[];
  frames: CapturedFrame[];
  conn_events: { after_frame: number; conn: number; event: string }[];
  server_end: unknown;
}

const dir = fileURLToPath(new URL('../../fixtures/kong-captures/kong-protobuf/', import.meta.url));

/** Every ProtoBuf:1 recording, in file order. */
export const PROTOBUF_CAPTURES: Capture[] = readdirSync(dir)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((file) => ({ file, ...(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Omit<Capture, 'file'>) }));

/** A recording by file name prefix, e.g. `pb-01`. */
export function capture(prefix: string): Capture {
  const found = PROTOBUF_CAPTURES.find((c) => c.file.startsWith(prefix));
  if (found === undefined) throw new Error(`no capture ${prefix}`);
  return found;
}

/** The payload of a recorded frame (its hex without the 4-byte length). */
export function payloadOf(frame: CapturedFrame): Buffer {
  return Buffer.from(frame.hex, 'hex').subarray(4);
}
