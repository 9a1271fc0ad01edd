/**
 * One summary table over every scenario's bench/results/<scenario>.json: scenario, figure, baseline, ratio,
 * target, verdict. Each scenario writes its own JSON shape, so each has a small adapter here; a file without
 * an adapter (a new scenario) or one whose fields moved gets a row saying so rather than a made-up figure.
 *
 *   node --import tsx bench/summary.ts   # also run by bench/run.ts after the scenarios
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One row of the summary. */
export interface SummaryRow {
  scenario: string;
  /** What was measured, with its value and unit. */
  figure: string;
  /** CPU time per operation of the figure (user + system, every process involved), or '-'. */
  cpu?: string;
  /** What it is compared with, measured in the same run, with its value. */
  baseline: string;
  /** CPU time per operation of the baseline, or '-'. */
  baselineCpu?: string;
  /** figure / baseline (for rates: ours / theirs, higher is better unless the target says ≤). */
  ratio: number | undefined;
  /** The target the spec sets for the ratio, or '-' when it sets none. */
  target: string;
  /**
   * `pass`, `MISS`, `-` (no target), `unreadable` (the JSON does not have the expected fields), or `failed`
   * (the scenario exited non-zero in this run; any figures shown for it come from an earlier run).
   */
  verdict: 'pass' | 'MISS' | '-' | 'unreadable' | 'failed';
}

type Json = Record<string, unknown>;
const num = (value: unknown): number => {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`not a number: ${String(value)}`);
  return value;
};
const obj = (value: unknown): Json => {
  if (value === null || typeof value !== 'object') throw new Error(`not an object: ${String(value)}`);
  return value as Json;
};
const fmt = (value: number, digits = 1): string =>
  value >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toFixed(digits);
/** CPU µs per operation as a cell: total, and the share of each process when there are two. */
const cpuCell = (total: number, unit: string, parts?: [number, number]): string =>
  `${fmt(total)} µs/${unit}${parts === undefined ? '' : ` (${fmt(parts[0])}+${fmt(parts[1])})`}`;
interface RpcCpu {
  clientUsPerRt: number;
  serverUsPerRt: number;
  totalUsPerRt: number;
}
const rpcCpu = (value: unknown): string => {
  const cpu = obj(value) as unknown as RpcCpu;
  return cpuCell(num(cpu.totalUsPerRt), 'rt', [num(cpu.clientUsPerRt), num(cpu.serverUsPerRt)]);
};

function judged(
  ratio: number,
  target: { atMost?: number; atLeast?: number },
): Pick<SummaryRow, 'target' | 'verdict'> {
  if (target.atMost !== undefined)
    return { target: `≤ ${target.atMost}`, verdict: ratio <= target.atMost ? 'pass' : 'MISS' };
  if (target.atLeast !== undefined)
    return { target: `≥ ${target.atLeast}`, verdict: ratio >= target.atLeast ? 'pass' : 'MISS' };
  return { target: '-', verdict: '-' };
}

/** The adapters, by scenario name (the JSON file's base name). */
const ADAPTERS: Record<string, (data: Json) => Omit<SummaryRow, 'scenario'>[]> = {
  'goplugin-host': (d) => [
    {
      figure: `TS host startPlugin → first Put ${fmt(num(d.tsHostFirstCallMs))} ms`,
      baseline: `Go host ${fmt(num(d.goHostFirstCallMs))} ms`,
      ratio: num(d.firstCallRatioTsOverGo),
      ...judged(num(d.firstCallRatioTsOverGo), { atMost: 1.2 }),
    },
    {
      figure: `the same less Node's own spawn() ${fmt(num(d.nodeSpawnBlockingMs))} ms`,
      baseline: `Go host ${fmt(num(d.goHostFirstCallMs))} ms`,
      ratio: num(d.firstCallRatioWithoutNodeSpawn),
      ...judged(num(d.firstCallRatioWithoutNodeSpawn), {}),
    },
    {
      figure: `bare grpc-js host (the ceiling) → first Put ${fmt(num(d.bareHostFirstCallMs))} ms`,
      baseline: `Go host ${fmt(num(d.goHostFirstCallMs))} ms`,
      ratio: num(d.bareHostRatioOverGo),
      ...judged(num(d.bareHostRatioOverGo), {}),
    },
    {
      figure: "the ceiling less Node's own spawn()",
      baseline: `Go host ${fmt(num(d.goHostFirstCallMs))} ms`,
      ratio: num(d.bareHostRatioWithoutNodeSpawn),
      ...judged(num(d.bareHostRatioWithoutNodeSpawn), {}),
    },
    {
      figure: `TS host startPlugin → first Put ${fmt(num(d.tsHostFirstCallMs))} ms`,
      baseline: `bare grpc-js host ${fmt(num(d.bareHostFirstCallMs))} ms`,
      ratio: num(d.tsHostRatioOverBare),
      ...judged(num(d.tsHostRatioOverBare), {}),
    },
    {
      figure: `TS host Put+Get ${fmt(num(d.tsHostCallsPerSec))} calls/s`,
      cpu: cpuCell(num(obj(d.cpuUsPerCall).tsHost) + num(obj(d.cpuUsPerCall).tsHostPlugin), 'call', [
        num(obj(d.cpuUsPerCall).tsHost),
        num(obj(d.cpuUsPerCall).tsHostPlugin),
      ]),
      baseline: `Go host ${fmt(num(d.goHostCallsPerSec))} calls/s`,
      baselineCpu: cpuCell(num(obj(d.cpuUsPerCall).goHost) + num(obj(d.cpuUsPerCall).goHostPlugin), 'call', [
        num(obj(d.cpuUsPerCall).goHost),
        num(obj(d.cpuUsPerCall).goHostPlugin),
      ]),
      ratio: num(d.callsRatioTsOverGo),
      ...judged(num(d.callsRatioTsOverGo), {}),
    },
  ],
  goplugin: (d) =>
    (d.results as unknown[]).flatMap((entry) => {
      const r = obj(entry);
      const mtls = r.automtls ? 'mTLS' : 'plain';
      const js = obj(r.js);
      const go = obj(r.go);
      const ratios = obj(r.ratios);
      return [
        {
          figure: `TS plugin (bundled) handshake ${fmt(num(js.handshakeMs))} ms, ${mtls}`,
          baseline: `Go plugin ${fmt(num(go.handshakeMs))} ms`,
          ratio: num(ratios.handshakeJsOverGo),
          ...judged(num(ratios.handshakeJsOverGo), {}),
        },
        {
          figure: `TS plugin (bundled) ${fmt(num(js.callsPerSec))} calls/s, ${mtls}`,
          cpu: cpuCell(num(js.hostCpuUsPerCall) + num(js.pluginCpuUsPerCall), 'call', [
            num(js.hostCpuUsPerCall),
            num(js.pluginCpuUsPerCall),
          ]),
          baseline: `Go plugin ${fmt(num(go.callsPerSec))} calls/s`,
          baselineCpu: cpuCell(num(go.hostCpuUsPerCall) + num(go.pluginCpuUsPerCall), 'call', [
            num(go.hostCpuUsPerCall),
            num(go.pluginCpuUsPerCall),
          ]),
          ratio: num(ratios.callsPerSecJsOverGo),
          ...judged(num(ratios.callsPerSecJsOverGo), {}),
        },
      ];
    }),
  socket: (d) => {
    const r = obj(d.results);
    const ratios = obj(d.ratios);
    const cpu = obj(d.cpuUsPerOp);
    // One process runs both ends: its CPU per operation covers client and server.
    const row = (figure: string, key: string, baseline: string, baselineKey: string, ratio: number) => ({
      figure,
      cpu: `${fmt(num(cpu[key]))} µs/op`,
      baseline,
      baselineCpu: `${fmt(num(cpu[baselineKey]))} µs/op`,
      ratio,
      ...judged(ratio, {}),
    });
    return [
      row(
        `UnixSocketPool round trip, kept-open connection ${fmt(num(r.poolKeepaliveUs))} µs`,
        'poolKeepaliveUs',
        `raw net ${fmt(num(r.rawKeepaliveUs))} µs`,
        'rawKeepaliveUs',
        num(ratios.poolKeepaliveVsRaw),
      ),
      row(
        `UnixSocketPool round trip, connection per exchange ${fmt(num(r.poolPerExchangeUs))} µs`,
        'poolPerExchangeUs',
        `raw net ${fmt(num(r.rawConnectPerExchangeUs))} µs`,
        'rawConnectPerExchangeUs',
        num(ratios.poolPerExchangeVsRaw),
      ),
      row(
        `connectUnix + close ${fmt(num(r.connectUnixUs))} µs`,
        'connectUnixUs',
        `net.createConnection + close ${fmt(num(r.netConnectUs))} µs`,
        'netConnectUs',
        num(ratios.connectUnixVsNetConnect),
      ),
    ];
  },
  'kong-conf': (d) => [
    ...(d.scenarios as unknown[]).map((entry) => {
      const s = obj(entry);
      return {
        figure: `parse ${fmt(num(s.lines), 0)} lines: ${fmt(num(s.nsPerLine), 0)} ns/line`,
        cpu: `${fmt(num(s.cpuNsPerLine), 0)} ns/line`,
        baseline: `text.split('\\n') ${fmt(num(s.splitMs), 3)} ms`,
        baselineCpu: `${fmt(num(s.splitCpuMs), 3)} ms`,
        ratio: num(s.ratioToSplit),
        ...judged(num(s.ratioToSplit), {}),
      };
    }),
    {
      figure: 'time per line, 100k-line file',
      baseline: 'time per line, 2k-line file',
      ratio: num(d.perLineScaling),
      ...judged(num(d.perLineScaling), {}),
    },
  ],
  'kong-event': (d) => {
    const s = obj(d.summary);
    const cost = obj(s.pdkCallCostVsRpcRoundTrip);
    const events = obj(obj(s.eventsPerSecond)['10 PDK calls']);
    const cpu = obj(s.cpu);
    const rpc = obj(cpu.rpcRoundTrip);
    const cpuEvents = obj(cpu.events);
    const side = (value: unknown, unit: string) => {
      const c = obj(value);
      return cpuCell(num(c.total), unit, [num(c.client), num(c.server)]);
    };
    const serverOnly = (value: unknown) => `${fmt(num(obj(value).server))} µs/event (server)`;
    const pdkCpuRatio = num(obj(cpu.pdkCallVsRpcRoundTrip).pluginwire);
    return [
      {
        figure: 'one PDK call (KongPluginClient ↔ KongPluginServer)',
        baseline: `RpcPeer round trip (${fmt(num(s.rpcRoundTripsPerSecond))}/s)`,
        baselineCpu: side(rpc, 'rt'),
        ratio: num(cost.pluginwire),
        ...judged(num(cost.pluginwire), { atMost: num(s.target) }),
      },
      {
        figure: 'one PDK call: CPU, both sides',
        cpu: `${fmt(pdkCpuRatio * num(rpc.total))} µs/call`,
        baseline: 'RpcPeer round trip: CPU, both sides',
        baselineCpu: side(rpc, 'rt'),
        ratio: pdkCpuRatio,
        ...judged(pdkCpuRatio, { atMost: 1.2 }),
      },
      {
        figure: 'one PDK call: CPU, both sides',
        cpu: `${fmt(pdkCpuRatio * num(rpc.total))} µs/call`,
        baseline: 'codec-only round trip (the ceiling): CPU',
        baselineCpu: side(cpu.codecOnlyRoundTrip, 'rt'),
        ratio: num(cpu.pdkCallVsCodecOnlyRoundTrip),
        ...judged(num(cpu.pdkCallVsCodecOnlyRoundTrip), {}),
      },
      {
        figure: `events/s with 10 PDK calls: ${fmt(num(events.pluginwire))}`,
        cpu: side(obj(cpuEvents['10 PDK calls']).pluginwire, 'event'),
        baseline: `kong-pdk server ${fmt(num(events.kongPdk))}`,
        baselineCpu: side(obj(cpuEvents['10 PDK calls']).kongPdk, 'event'),
        ratio: num(events.pluginwire) / num(events.kongPdk),
        ...judged(num(events.pluginwire) / num(events.kongPdk), {}),
      },
      ...Object.entries(cpuEvents).flatMap(([label, value]) => {
        const entry = obj(value);
        const ceiling = obj(obj(cpu.serverVsCeiling)[label]);
        const calls = Number.parseInt(label, 10) + 1;
        return [
          {
            figure: `KongPluginServer CPU per event, ${label}`,
            cpu: serverOnly(entry.pluginwire),
            baseline: 'kong-pdk server CPU per event',
            baselineCpu: serverOnly(entry.kongPdk),
            ratio: num(entry.serverRatio),
            ...judged(num(entry.serverRatio), { atMost: 0.8 }),
          },
          {
            figure: `KongPluginServer CPU per event, ${label}`,
            cpu: serverOnly(entry.pluginwire),
            baseline: `ceiling: ${calls} codec-only round trips (server)`,
            baselineCpu: `${fmt(calls * num(obj(cpu.codecOnlyRoundTrip).server))} µs/event (server)`,
            ratio: num(ceiling.pluginwire),
            ...judged(num(ceiling.pluginwire), {}),
          },
        ];
      }),
    ];
  },
  'goplugin-startup': (d) => {
    const stages = obj(d.stagesMs);
    const cpu = obj(d.cpu);
    const share = num(d.shareLessOwnProtoMs);
    const target = num(d.targetShareMs);
    return [
      {
        figure: `TS plugin spawn → handshake line ${fmt(num(d.pluginMs))} ms`,
        cpu: `${fmt(num(cpu.pluginAtLineMs))} ms CPU`,
        baseline: `floor (node + grpc-js + proto-loader) ${fmt(num(d.floorMs))} ms`,
        baselineCpu: `${fmt(num(cpu.floorAtLineMs))} ms CPU`,
        ratio: num(d.pluginMs) / num(d.floorMs),
        ...judged(num(d.pluginMs) / num(d.floorMs), {}),
      },
      {
        figure: `pluginwire's share ${fmt(share)} ms (import ${fmt(num(stages.pluginwireImport))}, serve ${fmt(num(stages.serve))}; own kv.proto ${fmt(num(stages.kvProto))} not counted)`,
        cpu: `${fmt(num(cpu.shareMs) - num(cpu.kvProtoMs))} ms CPU`,
        baseline: `budget ${fmt(target)} ms`,
        ratio: share / target,
        ...judged(share / target, { atMost: 1 }),
      },
    ];
  },
  'kong-event-protobuf': (d) => {
    const s = obj(d.summary);
    const events = obj(obj(s.eventsPerSecond)['10 PDK calls']);
    return [
      {
        figure: 'one ProtoBuf:1 PDK call (KongPluginClient ↔ KongPluginServer)',
        baseline: 'one MsgPack:1 PDK call, same run',
        ratio: num(s.protobufCallVsMsgpackCall),
        ...judged(num(s.protobufCallVsMsgpackCall), { atMost: num(s.target) }),
      },
      {
        figure: `ProtoBuf:1 events/s with 10 PDK calls: ${fmt(num(events.protobuf))}`,
        baseline: `MsgPack:1 ${fmt(num(events.msgpack))}`,
        ratio: num(events.protobuf) / num(events.msgpack),
        ...judged(num(events.protobuf) / num(events.msgpack), {}),
      },
      {
        figure: 'one ProtoBuf:1 PDK call, CPU time of both processes',
        baseline: 'one MsgPack:1 PDK call, CPU time',
        ratio: num(obj(s.cpuRatios).protobufCallVsMsgpackCall),
        ...judged(num(obj(s.cpuRatios).protobufCallVsMsgpackCall), {}),
      },
    ];
  },
  rpc: (d) => [
    ...(d.roundTrips as unknown[]).flatMap((entry) => {
      const row = obj(entry);
      const module = num(obj(row.module).median);
      const cpu = obj(row.cpu);
      const cpuTo = obj(row.cpuModuleTo);
      const moduleCpu = obj(cpu.module);
      return [
        {
          figure: `RpcPeer ${row.pattern}: ${fmt(module)} rt/s`,
          cpu: rpcCpu(moduleCpu),
          baseline: `raw echo ${fmt(num(obj(row.raw).median))} rt/s`,
          baselineCpu: rpcCpu(cpu.raw),
          ratio: num(row.moduleToRaw),
          ...judged(num(row.moduleToRaw), { atLeast: num(row.targetToRaw) }),
        },
        {
          figure: `RpcPeer ${row.pattern}: ${fmt(module)} rt/s`,
          cpu: rpcCpu(moduleCpu),
          baseline: `neovim Transport ${fmt(num(obj(row.neovim).median))} rt/s`,
          baselineCpu: rpcCpu(cpu.neovim),
          ratio: num(row.moduleToNeovim),
          ...judged(num(row.moduleToNeovim), { atLeast: num(row.targetToNeovim) }),
        },
        ...(
          [
            ['raw', 'raw echo', {}],
            ['codec-only', 'codec-only (the ceiling)', { atMost: 1.15 }],
            ['neovim', 'neovim Transport', { atMost: 0.8 }],
          ] as const
        ).map(([kind, name, target]) => ({
          figure: `RpcPeer ${row.pattern}: CPU per round trip`,
          cpu: rpcCpu(moduleCpu),
          baseline: `${name} CPU per round trip`,
          baselineCpu: rpcCpu(cpu[kind]),
          ratio: num(cpuTo[kind]),
          ...judged(num(cpuTo[kind]), target),
        })),
      ];
    }),
    ...(d.framer as unknown[]).map((entry) => {
      const row = obj(entry);
      return {
        figure: `framer+decode, ${row.name}: ${fmt(num(row.framerAndDecodeMBps), 0)} MB/s`,
        baseline: `decode() in one piece ${fmt(num(row.decodeInOnePieceMBps), 0)} MB/s`,
        ratio: num(row.ratioToDecode),
        ...judged(num(row.ratioToDecode), { atLeast: 0.8 }),
      };
    }),
  ],
};

/** The rows of one results file. */
export function summarize(scenario: string, data: unknown): SummaryRow[] {
  const adapter = ADAPTERS[scenario];
  const unreadable = (why: string): SummaryRow[] => [
    { scenario, figure: why, baseline: '-', ratio: undefined, target: '-', verdict: 'unreadable' },
  ];
  if (adapter === undefined)
    return unreadable(`no adapter in bench/summary.ts; see bench/results/${scenario}.json`);
  try {
    return adapter(obj(data)).map((row) => ({ scenario, ...row }));
  } catch (error) {
    return unreadable(`results/${scenario}.json has an unexpected shape (${(error as Error).message})`);
  }
}

/** Renders rows as an aligned text table. */
export function formatTable(rows: readonly SummaryRow[]): string {
  const cells = [
    ['scenario', 'figure', 'CPU', 'baseline (same run)', 'CPU', 'ratio', 'target', 'verdict'],
    ...rows.map((r) => [
      r.scenario,
      r.figure,
      r.cpu ?? '-',
      r.baseline,
      r.baselineCpu ?? '-',
      r.ratio === undefined ? '-' : r.ratio.toFixed(2),
      r.target,
      r.verdict,
    ]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * Reads bench/results/*.json (except summary.json), prints the table, writes summary.json.
 *
 * @param resultsDir - bench/results.
 * @param run - the scenarios this run started and those that exited non-zero (from bench/run.ts).
 */
export function writeSummary(
  resultsDir: string,
  run: { scenarios: readonly string[]; failed: ReadonlySet<string> } = { scenarios: [], failed: new Set() },
): SummaryRow[] {
  const files = readdirSync(resultsDir)
    .filter((file) => file.endsWith('.json') && file !== 'summary.json')
    .sort();
  const failedRows = [...run.failed].sort().map(
    (scenario): SummaryRow => ({
      scenario,
      figure: files.includes(`${scenario}.json`)
        ? 'exited non-zero in this run: its rows below are from an earlier run'
        : 'exited non-zero in this run and wrote no results',
      baseline: '-',
      ratio: undefined,
      target: '-',
      verdict: 'failed',
    }),
  );
  const rows = failedRows.concat(
    files.flatMap((file) => {
      const scenario = basename(file, '.json');
      try {
        return summarize(scenario, JSON.parse(readFileSync(join(resultsDir, file), 'utf8')));
      } catch (error) {
        return summarize(scenario, { unreadable: (error as Error).message });
      }
    }),
  );
  process.stdout.write(`\n== summary (bench/results/summary.json)\n${formatTable(rows)}\n`);
  const machine = {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    loadAverage: loadavg(),
    node: process.version,
  };
  writeFileSync(
    join(resultsDir, 'summary.json'),
    `${JSON.stringify({ date: new Date().toISOString(), machine, scenarios: run.scenarios, rows }, null, 2)}\n`,
  );
  return rows;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeSummary(join(dirname(fileURLToPath(import.meta.url)), 'results'));
}
