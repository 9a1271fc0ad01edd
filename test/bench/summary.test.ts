/** bench/summary.ts: each scenario's JSON shape becomes summary rows with the right verdicts. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatTable, summarize, writeSummary } from '../../bench/summary.js';

describe('bench summary', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
    vi.restoreAllMocks();
  });

  it('reads the socket scenario: pool and connect figures as ratios to raw net, without a target', () => {
    const rows = summarize('socket', {
      results: {
        rawKeepaliveUs: 20,
        poolKeepaliveUs: 25,
        rawConnectPerExchangeUs: 100,
        poolPerExchangeUs: 110,
        netConnectUs: 70,
        connectUnixUs: 77,
      },
      ratios: { poolKeepaliveVsRaw: 1.25, poolPerExchangeVsRaw: 1.1, connectUnixVsNetConnect: 1.1 },
    });
    expect(rows.map((row) => [row.ratio, row.verdict])).toEqual([
      [1.25, '-'],
      [1.1, '-'],
      [1.1, '-'],
    ]);
    expect(rows[0]?.figure).toContain('25.0 µs');
    expect(summarize('socket', { results: {} })[0]?.verdict).toBe('unreadable');
  });

  it('judges kong-event against its own target and rpc against raw and neovim', () => {
    const event = summarize('kong-event', {
      summary: {
        rpcRoundTripsPerSecond: 10_000,
        eventsPerSecond: { '10 PDK calls': { pluginwire: 1000, kongPdk: 800 } },
        pdkCallCostVsRpcRoundTrip: { pluginwire: 1.3, kongPdk: 1.1 },
        target: 1.2,
      },
    });
    expect(event[0]).toMatchObject({ scenario: 'kong-event', ratio: 1.3, target: '≤ 1.2', verdict: 'MISS' });
    expect(event[1]).toMatchObject({ ratio: 1.25, verdict: '-' });
    const rpc = summarize('rpc', {
      roundTrips: [
        {
          pattern: '1-in-flight',
          raw: { median: 100 },
          module: { median: 95 },
          neovim: { median: 50 },
          moduleToRaw: 0.95,
          moduleToNeovim: 1.9,
          targetToRaw: 0.9,
          targetToNeovim: 1.5,
        },
      ],
      framer: [{ name: 'small', framerAndDecodeMBps: 70, decodeInOnePieceMBps: 100, ratioToDecode: 0.7 }],
    });
    expect(rpc.map((row) => [row.target, row.verdict])).toEqual([
      ['≥ 0.9', 'pass'],
      ['≥ 1.5', 'pass'],
      ['≥ 0.8', 'MISS'],
    ]);
  });

  it('says so instead of inventing figures for an unknown scenario or a changed shape', () => {
    expect(summarize('new-thing', {})[0]).toMatchObject({ verdict: 'unreadable', ratio: undefined });
    const moved = summarize('goplugin-host', { tsHostFirstCallMs: 'fast' });
    expect(moved[0]?.verdict).toBe('unreadable');
    expect(moved[0]?.figure).toContain('unexpected shape');
  });

  it('writes summary.json over every results file and marks failed scenarios', () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-bench-summary-'));
    writeFileSync(
      join(dir, 'kong-conf.json'),
      JSON.stringify({
        scenarios: [{ lines: 2000, nsPerLine: 70, splitMs: 0.04, ratioToSplit: 3.3 }],
        perLineScaling: 1.1,
      }),
    );
    writeFileSync(join(dir, 'broken.json'), '{ not json');
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const rows = writeSummary(dir, { scenarios: ['kong-conf', 'rpc'], failed: new Set(['rpc']) });
    expect(rows.map((row) => [row.scenario, row.verdict])).toEqual([
      ['rpc', 'failed'],
      ['broken', 'unreadable'],
      ['kong-conf', '-'],
      ['kong-conf', '-'],
    ]);
    const written = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(written.rows).toHaveLength(4);
    expect(written.machine.cores).toBeGreaterThan(0);
    expect(formatTable(rows).split('\n')[0]).toMatch(
      /^scenario\s+figure\s+baseline \(same run\)\s+ratio\s+target\s+verdict$/,
    );
  });
});
