import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { SAFE_MSGPACK_PROBE, SAFE_MSGPACK_PROBE_LENGTH } from '../../src/cli/kong-detect.js';
import { FrameReader } from '../../src/kong-rpc/protobuf/framing.js';

describe('kong-probe protocol detection', () => {
  it('sends a msgpack-RPC request that every msgpack decoder reads as [0, 0, "plugin.GetStatus", [nil]]', () => {
    expect(decode(SAFE_MSGPACK_PROBE)).toEqual([0, 0, 'plugin.GetStatus', [null]]);
  });

  it('whose first four bytes a ProtoBuf:1 server reads as a 51 KiB frame, not Kong’s 2.9 GB', () => {
    expect(SAFE_MSGPACK_PROBE_LENGTH).toBe(52_372);
    // Within pluginwire's own default cap too: its server would wait for the rest, not fail or allocate more.
    const reader = new FrameReader();
    reader.push(SAFE_MSGPACK_PROBE);
    expect(reader.read()).toBeUndefined();
    // Kong's own first request, for comparison.
    expect(Buffer.from('940001b4', 'hex').readUInt32LE(0)).toBeGreaterThan(2.9e9);
  });
});
