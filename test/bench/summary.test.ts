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
      cpuUsPerOp: {
        rawKeepaliveUs: 9,
        poolKeepaliveUs: 12,
        rawConnectPerExchangeUs: 50,
        poolPerExchangeUs: 55,
        netConnectUs: 30,
        connectUnixUs: 33,
      },
      ratios: { poolKeepaliveVsRaw: 1.25, poolPerExchangeVsRaw: 1.1, connectUnixVsNetConnect: 1.1 },
    });
    expect(rows.map((row) => [row.ratio, row.verdict])).toEqual([
      [1.25, '-'],
      [1.1, '-'],
      [1.1, '-'],
    ]);
    expect(rows[0]?.figure).toContain('25.0 µs');
    expect([rows[0]?.cpu, rows[0]?.baselineCpu]).toEqual(['12.0 µs/op', '9.0 µs/op']);
    expect(summarize('socket', { results: {} })[0]?.verdict).toBe('unreadable');
  });

  it('judges kong-event against its own targets, in time and CPU, with the ceiling beside them', () => {
    const side = (client: number, server: number) => ({ client, server, total: client + server });
    const event = summarize('kong-event', {
      summary: {
        rpcRoundTripsPerSecond: 10_000,
        eventsPerSecond: { '10 PDK calls': { pluginwire: 1000, kongPdk: 800 } },
        pdkCallCostVsRpcRoundTrip: { pluginwire: 1.3, kongPdk: 1.1 },
        target: 1.2,
        cpu: {
          rpcRoundTrip: side(12, 12),
          codecOnlyRoundTrip: side(10, 10),
          pdkCallVsCodecOnlyRoundTrip: 1.5,
          serverVsCeiling: {
            '0 PDK calls': { pluginwire: 1.8, kongPdk: 1.9 },
            '10 PDK calls': { pluginwire: 1.5, kongPdk: 1.7 },
          },
          events: {
            '0 PDK calls': { pluginwire: side(24, 18), kongPdk: side(24, 20), serverRatio: 0.9 },
            '10 PDK calls': { pluginwire: side(190, 170), kongPdk: side(200, 190), serverRatio: 0.89 },
          },
          pdkCallVsRpcRoundTrip: { pluginwire: 1.1, kongPdk: 1.4 },
        },
      },
    });
    expect(event[0]).toMatchObject({ scenario: 'kong-event', ratio: 1.3, target: '≤ 1.2', verdict: 'MISS' });
    expect(event[1]).toMatchObject({
      ratio: 1.1,
      target: '≤ 1.2',
      verdict: 'pass',
      cpu: '26.4 µs/call',
      baselineCpu: '24.0 µs/rt (12.0+12.0)',
    });
    expect(event[2]).toMatchObject({ ratio: 1.5, verdict: '-', baselineCpu: '20.0 µs/rt (10.0+10.0)' });
    expect(event[3]).toMatchObject({ ratio: 1.25, verdict: '-', cpu: '360.0 µs/event (190.0+170.0)' });
    expect(event.slice(4).map((row) => [row.figure, row.ratio, row.verdict])).toEqual([
      ['KongPluginServer CPU per event, 0 PDK calls', 0.9, 'MISS'],
      ['KongPluginServer CPU per event, 0 PDK calls', 1.8, '-'],
      ['KongPluginServer CPU per event, 10 PDK calls', 0.89, 'MISS'],
      ['KongPluginServer CPU per event, 10 PDK calls', 1.5, '-'],
    ]);
    expect(event.at(-1)?.baselineCpu).toBe('110.0 µs/event (server)');
    expect(summarize('kong-event', { summary: {} })[0]?.verdict).toBe('unreadable');
  });

  it('judges rpc rates against raw and neovim, and its CPU against codec-only and neovim', () => {
    const cpu = (client: number, server: number) => ({
      clientUsPerRt: client,
      serverUsPerRt: server,
      totalUsPerRt: client + server,
    });
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
          cpu: { raw: cpu(6, 6), module: cpu(14, 15), neovim: cpu(27, 27), 'codec-only': cpu(9, 9) },
          cpuModuleTo: { raw: 2.4, 'codec-only': 1.6, neovim: 0.54 },
        },
      ],
      framer: [{ name: 'small', framerAndDecodeMBps: 70, decodeInOnePieceMBps: 100, ratioToDecode: 0.7 }],
    });
    expect(rpc.map((row) => [row.ratio, row.target, row.verdict])).toEqual([
      [0.95, '≥ 0.9', 'pass'],
      [1.9, '≥ 1.5', 'pass'],
      [2.4, '-', '-'],
      [1.6, '≤ 1.15', 'MISS'],
      [0.54, '≤ 0.8', 'pass'],
      [0.7, '≥ 0.8', 'MISS'],
    ]);
    expect(rpc[3]).toMatchObject({ cpu: '29.0 µs/rt (14.0+15.0)', baselineCpu: '18.0 µs/rt (9.0+9.0)' });
  });

  it('judges go-plugin start-up against the 10 ms budget, its own kv.proto not counted', () => {
    const rows = summarize('goplugin-startup', {
      floorMs: 190,
      pluginMs: 210,
      shareLessOwnProtoMs: 8,
      targetShareMs: 10,
      stagesMs: { pluginwireImport: 3, kvProto: 12, serve: 5 },
      cpu: { floorAtLineMs: 170, pluginAtLineMs: 190, shareMs: 20, kvProtoMs: 11 },
    });
    expect(rows.map((row) => [row.ratio, row.target, row.verdict])).toEqual([
      [210 / 190, '-', '-'],
      [0.8, '≤ 1', 'pass'],
    ]);
    expect(rows[1]?.cpu).toBe('9.0 ms CPU');
  });

  it('puts the go-plugin host next to the Go host and the bare grpc-js host (the ceiling)', () => {
    const rows = summarize('goplugin-host', {
      goHostFirstCallMs: 8,
      tsHostFirstCallMs: 12,
      firstCallRatioTsOverGo: 1.5,
      nodeSpawnBlockingMs: 2,
      firstCallRatioWithoutNodeSpawn: 1.25,
      bareHostFirstCallMs: 10,
      bareHostRatioOverGo: 1.25,
      bareHostRatioWithoutNodeSpawn: 1,
      tsHostRatioOverBare: 1.2,
      goHostCallsPerSec: 10_000,
      tsHostCallsPerSec: 2000,
      callsRatioTsOverGo: 0.2,
      cpuUsPerCall: { goHost: 30, goHostPlugin: 30, tsHost: 250, tsHostPlugin: 100 },
    });
    expect(rows.map((row) => [row.ratio, row.target, row.verdict])).toEqual([
      [1.5, '≤ 1.2', 'MISS'],
      [1.25, '-', '-'],
      [1.25, '-', '-'],
      [1, '-', '-'],
      [1.2, '-', '-'],
      [0.2, '-', '-'],
    ]);
    expect(rows[2]?.figure).toBe('bare grpc-js host (the ceiling) → first Put 10.0 ms');
    expect(rows[4]?.baseline).toBe('bare grpc-js host 10.0 ms');
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
        scenarios: [
          {
            lines: 2000,
            nsPerLine: 70,
            cpuNsPerLine: 72,
            splitMs: 0.04,
            splitCpuMs: 0.04,
            ratioToSplit: 3.3,
          },
        ],
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
      /^scenario\s+figure\s+CPU\s+baseline \(same run\)\s+CPU\s+ratio\s+target\s+verdict$/,
    );
  });
});
