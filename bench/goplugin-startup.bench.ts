/**
 * go-plugin start-up of a TypeScript plugin: spawn → handshake line, against the floor measured in the same run.
 *
 *   npm run bench -- goplugin-startup
 *
 * - **plugin**: go-plugin's KV example as `examples/gateway/kv-plugin.ts` writes it (`servePlugin`, kv.proto
 *   loaded with proto-loader), as plain JavaScript importing `pluginwire/goplugin` in its published shape: the
 *   module bundled by esbuild as tsup builds dist/ (ESM, code splitting: the host side, loaded on first use, in its
 *   own chunk), `@grpc/grpc-js` and `@grpc/proto-loader` left to node_modules.
 * - **floor**: `node` importing `@grpc/grpc-js` and `@grpc/proto-loader` and printing one line: what any
 *   grpc-js plugin pays before it can do anything.
 *
 * Both run SESSIONS times, alternating, from this process (`spawn()` until the first stdout line; the same cost of
 * Node's own spawn on both sides). pluginwire's share is the median plugin time less the median floor. The
 * plugin also reports, in-process, how long each stage took (`PW_STARTUP_MARKS=1`): importing pluginwire, loading
 * its own kv.proto, and `servePlugin` up to the handshake; medians are printed and written to
 * bench/results/goplugin-startup.json. Target: pluginwire's share ≤ 10 ms (the plugin's own kv.proto excluded,
 * since that is the user's code: it is reported beside it).
 *
 * `STARTUP_BENCH_SRC=<dir>` bundles another checkout's `src/` instead (A/B against an older revision, e.g. from
 * `git archive <rev> src | tar -x -C <dir>`); a `goplugin/protos` folder there is copied next to the bundle, where
 * revisions before the compiled definitions looked for it. Its results go to `results/ab/goplugin-startup.<dir>.json`.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const SESSIONS = Number(process.env.STARTUP_BENCH_SESSIONS ?? 15);
const TARGET_MS = 10;
const SRC = process.env.STARTUP_BENCH_SRC ?? join(root, 'src');

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

// Inside the repository, so that the bare imports resolve to its node_modules like an installed package's do.
const dir = mkdtempSync(join(here, '.tmp-startup-'));

// Marks: wall ms of each stage, and the process's CPU ms (user + system, all threads, Node's own start-up
// included) when the line is printed: CPU time moves far less with the machine's load than wall time.
const CPU_MS = 'const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };';
const FLOOR = `${CPU_MS}
const t0 = performance.now();
await import('@grpc/grpc-js');
await import('@grpc/proto-loader');
process.stdout.write('1|1|unix|/tmp/floor|grpc|\\n');
const cpu = cpuMs();
if (process.env.PW_STARTUP_MARKS) process.stderr.write(JSON.stringify({ grpcImportMs: performance.now() - t0, cpuAtLineMs: cpu }) + '\\n');
`;

// examples/gateway/kv-plugin.ts in JavaScript, with optional stage marks on stderr (after the handshake).
const PLUGIN = `${CPU_MS}
const marks = { start: performance.now() };
const { loadPackageDefinition, status } = await import('@grpc/grpc-js');
const { loadSync } = await import('@grpc/proto-loader');
marks.grpc = performance.now();
const cpuBefore = cpuMs();
const { servePlugin } = await import('./goplugin.mjs');
marks.pluginwire = performance.now();
const cpuImported = cpuMs();
const proto = loadPackageDefinition(loadSync(new URL('kv.proto', import.meta.url).pathname)).proto;
marks.kvProto = performance.now();
const cpuProto = cpuMs();
const store = new Map();
const plugin = await servePlugin({
  magicCookieKey: 'BASIC_PLUGIN',
  magicCookieValue: 'hello',
  captureStdio: false,
  versions: {
    1: (server) => {
      server.addService(proto.KV.service, {
        Put(call, callback) {
          store.set(call.request.key, call.request.value);
          callback(null, {});
        },
        Get(call, callback) {
          const value = store.get(call.request.key);
          if (value) callback(null, { value });
          else callback({ code: status.NOT_FOUND, details: 'key ' + JSON.stringify(call.request.key) + ' not found' });
        },
      });
    },
  },
});
marks.served = performance.now();
const cpuServed = cpuMs();
if (process.env.PW_STARTUP_MARKS) {
  process.stderr.write(JSON.stringify({
    grpcImportMs: marks.grpc - marks.start,
    pluginwireImportMs: marks.pluginwire - marks.grpc,
    kvProtoMs: marks.kvProto - marks.pluginwire,
    serveMs: marks.served - marks.kvProto,
    cpuPluginwireImportMs: cpuImported - cpuBefore,
    cpuKvProtoMs: cpuProto - cpuImported,
    cpuServeMs: cpuServed - cpuProto,
    cpuAtLineMs: cpuServed,
  }) + '\\n');
}
`;

interface Session {
  handshakeMs: number;
  marks: Record<string, number> | undefined;
}

/** Spawns `node file`; resolves with ms until its first stdout line, then stops it. */
function session(file: string, marks: boolean): Promise<Session> {
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      BASIC_PLUGIN: 'hello',
      PLUGIN_PROTOCOL_VERSIONS: '1',
      PLUGIN_UNIX_SOCKET_DIR: dir,
      ...(marks ? { PW_STARTUP_MARKS: '1' } : {}),
    };
    delete (env as Record<string, string | undefined>).NODE_OPTIONS;
    const started = performance.now();
    const child = spawn(process.execPath, [file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let handshakeMs = Number.NaN;
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (Number.isNaN(handshakeMs) && stdout.includes('\n')) {
        handshakeMs = performance.now() - started;
        // Marks come right after the handshake; wait for them before stopping the plugin.
        if (!marks) child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (marks && stderr.includes('Ms":')) child.kill('SIGTERM');
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      if (Number.isNaN(handshakeMs)) {
        reject(new Error(`${file} printed no line: ${stderr}`));
        return;
      }
      const line = stderr.split('\n').find((entry) => entry.includes('Ms":'));
      resolve({
        handshakeMs,
        marks: line === undefined ? undefined : (JSON.parse(line) as Record<string, number>),
      });
    });
  });
}

try {
  buildSync({
    entryPoints: [join(SRC, 'goplugin/index.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // As tsup builds dist/: code loaded only by dynamic import (the host side) goes to its own chunk.
    splitting: true,
    outdir: dir,
    entryNames: 'goplugin',
    outExtension: { '.js': '.mjs' },
    logLevel: 'error',
  });
  copyFileSync(join(root, 'examples/gateway/kv.proto'), join(dir, 'kv.proto'));
  if (process.env.STARTUP_BENCH_SRC !== undefined && existsSync(join(SRC, 'goplugin/protos'))) {
    cpSync(join(SRC, 'goplugin/protos'), join(dir, 'protos'), { recursive: true });
  }
  const floorFile = join(dir, 'floor.mjs');
  const pluginFile = join(dir, 'kv-plugin.mjs');
  writeFileSync(floorFile, FLOOR);
  writeFileSync(pluginFile, PLUGIN);
  const loadBefore = loadavg();

  // Warm the page cache (and check both work) before timing.
  await session(floorFile, false);
  await session(pluginFile, true);
  const floor: number[] = [];
  const plugin: number[] = [];
  for (let index = 0; index < SESSIONS; index++) {
    floor.push((await session(floorFile, false)).handshakeMs);
    plugin.push((await session(pluginFile, false)).handshakeMs);
  }
  // The marks come from separate sessions (alternating again), so writing them never delays a timed handshake.
  const stages: Record<string, number>[] = [];
  const floorStages: Record<string, number>[] = [];
  for (let index = 0; index < SESSIONS; index++) {
    const floorMarks = (await session(floorFile, true)).marks;
    if (floorMarks !== undefined) floorStages.push(floorMarks);
    const { marks } = await session(pluginFile, true);
    if (marks !== undefined) stages.push(marks);
  }
  const stage = (name: string) => median(stages.map((entry) => entry[name]!));
  const floorCpu = median(floorStages.map((entry) => entry.cpuAtLineMs!));
  const figures = {
    scenario: 'goplugin-startup',
    date: new Date().toISOString(),
    node: process.version,
    cpuModel: cpus()[0]?.model,
    cores: cpus().length,
    loadavgBefore: loadBefore,
    loadavgAfter: loadavg(),
    sessions: SESSIONS,
    floorMs: median(floor),
    pluginMs: median(plugin),
    floorRuns: floor,
    pluginRuns: plugin,
    shareMs: median(plugin) - median(floor),
    stagesMs: {
      grpcImport: stage('grpcImportMs'),
      pluginwireImport: stage('pluginwireImportMs'),
      kvProto: stage('kvProtoMs'),
      serve: stage('serveMs'),
    },
    // CPU ms of the whole process when it printed its line (medians), and of each stage of the plugin.
    cpu: {
      floorAtLineMs: floorCpu,
      pluginAtLineMs: stage('cpuAtLineMs'),
      shareMs: stage('cpuAtLineMs') - floorCpu,
      pluginwireImportMs: stage('cpuPluginwireImportMs'),
      kvProtoMs: stage('cpuKvProtoMs'),
      serveMs: stage('cpuServeMs'),
    },
    targetShareMs: TARGET_MS,
  };
  const shareLessProto = figures.shareMs - figures.stagesMs.kvProto;
  const withProto = { ...figures, shareLessOwnProtoMs: shareLessProto, pass: shareLessProto <= TARGET_MS };
  const ms = (value: number) => `${value.toFixed(1).padStart(7)} ms`;
  process.stdout.write(
    [
      `spawn -> handshake line, medians of ${SESSIONS} alternating sessions (load ${loadavg()[0]!.toFixed(1)})`,
      `  floor: node + @grpc/grpc-js + @grpc/proto-loader, one line ${ms(figures.floorMs)}`,
      `  TS KV plugin (servePlugin)                            ${ms(figures.pluginMs)}`,
      `  pluginwire's share (plugin - floor)                   ${ms(figures.shareMs)}`,
      `    of which the plugin's own kv.proto (user code)      ${ms(figures.stagesMs.kvProto)}`,
      `    share less kv.proto (target <= ${TARGET_MS} ms)              ${ms(shareLessProto)}  ${withProto.pass ? 'pass' : 'MISS'}`,
      `  stages in the plugin (medians): import grpc ${figures.stagesMs.grpcImport.toFixed(1)} ms, import pluginwire/goplugin ${figures.stagesMs.pluginwireImport.toFixed(1)} ms, kv.proto ${figures.stagesMs.kvProto.toFixed(1)} ms, servePlugin -> handshake ${figures.stagesMs.serve.toFixed(1)} ms`,
      `  CPU at the line: floor ${figures.cpu.floorAtLineMs.toFixed(1)} ms, plugin ${figures.cpu.pluginAtLineMs.toFixed(1)} ms, share ${figures.cpu.shareMs.toFixed(1)} ms (less kv.proto ${(figures.cpu.shareMs - figures.cpu.kvProtoMs).toFixed(1)} ms); stages: import ${figures.cpu.pluginwireImportMs.toFixed(1)}, kv.proto ${figures.cpu.kvProtoMs.toFixed(1)}, serve ${figures.cpu.serveMs.toFixed(1)} ms`,
      '',
    ].join('\n'),
  );
  mkdirSync(join(here, 'results'), { recursive: true });
  // An A/B run goes to results/ab/, out of the summary's way.
  const out =
    process.env.STARTUP_BENCH_SRC === undefined
      ? join(here, 'results', 'goplugin-startup.json')
      : join(here, 'results', 'ab', `goplugin-startup.${basename(dirname(SRC))}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ ...withProto, src: SRC }, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
