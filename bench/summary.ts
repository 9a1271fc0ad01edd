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
  /** What it is compared with, measured in the same run, with its value. */
  baseline: string;
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
      figure: `TS host Put+Get ${fmt(num(d.tsHostCallsPerSec))} calls/s`,
      baseline: `Go host ${fmt(num(d.goHostCallsPerSec))} calls/s`,
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
          baseline: `Go plugin ${fmt(num(go.callsPerSec))} calls/s`,
          ratio: num(ratios.callsPerSecJsOverGo),
          ...judged(num(ratios.callsPerSecJsOverGo), {}),
        },
      ];
    }),
  socket: (d) => {
    const r = obj(d.results);
    const ratios = obj(d.ratios);
    const row = (figure: string, baseline: string, ratio: number) => ({
      figure,
      baseline,
      ratio,
      ...judged(ratio, {}),
    });
    return [
      row(
        `UnixSocketPool round trip, kept-open connection ${fmt(num(r.poolKeepaliveUs))} µs`,
        `raw net ${fmt(num(r.rawKeepaliveUs))} µs`,
        num(ratios.poolKeepaliveVsRaw),
      ),
      row(
        `UnixSocketPool round trip, connection per exchange ${fmt(num(r.poolPerExchangeUs))} µs`,
        `raw net ${fmt(num(r.rawConnectPerExchangeUs))} µs`,
        num(ratios.poolPerExchangeVsRaw),
      ),
      row(
        `connectUnix + close ${fmt(num(r.connectUnixUs))} µs`,
        `net.createConnection + close ${fmt(num(r.netConnectUs))} µs`,
        num(ratios.connectUnixVsNetConnect),
      ),
    ];
  },
  'kong-conf': (d) => [
    ...(d.scenarios as unknown[]).map((entry) => {
      const s = obj(entry);
      return {
        figure: `parse ${fmt(num(s.lines), 0)} lines: ${fmt(num(s.nsPerLine), 0)} ns/line`,
        baseline: `text.split('\\n') ${fmt(num(s.splitMs), 3)} ms`,
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
    return [
      {
        figure: 'one PDK call (KongPluginClient ↔ KongPluginServer)',
        baseline: `RpcPeer round trip (${fmt(num(s.rpcRoundTripsPerSecond))}/s)`,
        ratio: num(cost.pluginwire),
        ...judged(num(cost.pluginwire), { atMost: num(s.target) }),
      },
      {
        figure: `events/s with 10 PDK calls: ${fmt(num(events.pluginwire))}`,
        baseline: `kong-pdk server ${fmt(num(events.kongPdk))}`,
        ratio: num(events.pluginwire) / num(events.kongPdk),
        ...judged(num(events.pluginwire) / num(events.kongPdk), {}),
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
      return [
        {
          figure: `RpcPeer ${row.pattern}: ${fmt(module)} rt/s`,
          baseline: `raw echo ${fmt(num(obj(row.raw).median))} rt/s`,
          ratio: num(row.moduleToRaw),
          ...judged(num(row.moduleToRaw), { atLeast: num(row.targetToRaw) }),
        },
        {
          figure: `RpcPeer ${row.pattern}: ${fmt(module)} rt/s`,
          baseline: `neovim Transport ${fmt(num(obj(row.neovim).median))} rt/s`,
          ratio: num(row.moduleToNeovim),
          ...judged(num(row.moduleToNeovim), { atLeast: num(row.targetToNeovim) }),
        },
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
    ['scenario', 'figure', 'baseline (same run)', 'ratio', 'target', 'verdict'],
    ...rows.map((r) => [
      r.scenario,
      r.figure,
      r.baseline,
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
