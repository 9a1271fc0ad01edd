/**
 * go-plugin: the TypeScript KV plugin (servePlugin) against the equivalent Go plugin, both under the same Go host
 * (test/fixtures/go kvhost on Debian's go-plugin 1.0.1). Per plugin: spawn → handshake, spawn → first successful
 * call (both measured inside the Go host around `client.Client()` and the first `Put`), and KV calls per second
 * (sequential Put+Get round trips on one connection). The TS plugin runs twice: through `node --import tsx` (as
 * in development) and as one bundled `.mjs` file under plain `node` (as deployed).
 *
 *   npm run bench -- goplugin
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goFixturesBuilt, KV_PROTO_DIR, KVHOST, KVPLUGIN, kvhostLine } from '../test/fixtures/go/fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const SESSIONS = 5; // start-up sessions per plugin and mode (median reported)
const CALLS = 1500; // Put+Get pairs of the one throughput session per plugin and mode

if (!goFixturesBuilt()) {
  process.stderr.write(
    'goplugin bench: Go fixtures missing; run `npm run peers:install` (test/fixtures/go/build.sh)\n',
  );
  process.exit(1);
}

interface Sample {
  handshakeMs: number;
  firstCallMs: number;
  callsPerSec: number;
  /** CPU µs per call over the timed calls: the Go host (getrusage) and the plugin (/proc, 10 ms ticks). */
  hostCpuUsPerCall: number;
  pluginCpuUsPerCall: number;
}

function session(argv: string[], automtls: boolean, calls = 0): Sample {
  const result = spawnSync(KVHOST, argv, {
    // TS_KV_PROTO_DIR: the bundled fixture cannot find kv.proto relative to itself.
    env: {
      ...process.env,
      TS_KV_PROTO_DIR: KV_PROTO_DIR,
      KV_LOG: 'error',
      KV_BENCH_CALLS: String(calls),
      KV_AUTOMTLS: automtls ? '1' : '0',
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const outcome = kvhostLine(result.stdout ?? '', 'RESULT');
  if (result.status !== 0 || outcome?.ok !== true) {
    throw new Error(`kvhost ${argv.join(' ')} failed: ${result.stdout}\n${result.stderr}`);
  }
  return {
    handshakeMs: outcome.handshakeMs as number,
    firstCallMs: outcome.firstCallMs as number,
    callsPerSec: outcome.callsPerSec as number,
    hostCpuUsPerCall: outcome.hostCpuUsPerCall as number,
    pluginCpuUsPerCall: outcome.pluginCpuUsPerCall as number,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

function measure(name: string, argv: string[], automtls: boolean) {
  // The throughput session also warms the page cache and tsx's transpile cache for the start-up sessions.
  const throughput = session(argv, automtls, CALLS);
  const samples = Array.from({ length: SESSIONS }, () => session(argv, automtls));
  const summary = {
    name,
    automtls,
    handshakeMs: median(samples.map((s) => s.handshakeMs)),
    firstCallMs: median(samples.map((s) => s.firstCallMs)),
    callsPerSec: throughput.callsPerSec,
    hostCpuUsPerCall: throughput.hostCpuUsPerCall,
    pluginCpuUsPerCall: throughput.pluginCpuUsPerCall,
  };
  process.stdout.write(
    `${name.padEnd(22)} mtls=${automtls ? 'on ' : 'off'}  handshake ${summary.handshakeMs.toFixed(1).padStart(7)} ms` +
      `  first call ${summary.firstCallMs.toFixed(1).padStart(7)} ms  ${Math.round(summary.callsPerSec)
        .toString()
        .padStart(
          6,
        )} calls/s  CPU/call host ${summary.hostCpuUsPerCall.toFixed(0)} µs + plugin ${summary.pluginCpuUsPerCall.toFixed(0)} µs\n`,
  );
  return summary;
}

// Bundle the TS fixture into one ES module so the deployed shape (plain node, no transpiler) is measured too.
const tmp = mkdtempSync(join(here, '.tmp-goplugin-'));
const bundled = join(tmp, 'ts-kv-plugin.mjs');
try {
  const { buildSync } = await import('esbuild');
  buildSync({
    entryPoints: [join(root, 'test/fixtures/goplugin/ts-kv-plugin.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundled,
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'error',
  });

  process.stdout.write(
    `load average ${loadavg()
      .map((n) => n.toFixed(1))
      .join(' ')}\n`,
  );
  const results = [];
  for (const automtls of [false, true]) {
    const go = measure('go kvplugin', [KVPLUGIN], automtls);
    const tsx = measure(
      'ts plugin (tsx)',
      [process.execPath, '--import', 'tsx', join(root, 'test/fixtures/goplugin/ts-kv-plugin.ts')],
      automtls,
    );
    const js = measure('ts plugin (bundled js)', [process.execPath, bundled], automtls);
    const ratios = {
      handshakeTsxOverGo: tsx.handshakeMs / go.handshakeMs,
      handshakeJsOverGo: js.handshakeMs / go.handshakeMs,
      firstCallJsOverGo: js.firstCallMs / go.firstCallMs,
      callsPerSecJsOverGo: js.callsPerSec / go.callsPerSec,
      callsPerSecTsxOverGo: tsx.callsPerSec / go.callsPerSec,
    };
    process.stdout.write(
      `  ratios (ts / go): handshake ${ratios.handshakeJsOverGo.toFixed(1)}x (tsx ${ratios.handshakeTsxOverGo.toFixed(1)}x),` +
        ` first call ${ratios.firstCallJsOverGo.toFixed(1)}x, calls/s ${ratios.callsPerSecJsOverGo.toFixed(2)}x\n`,
    );
    results.push({ automtls, go, tsx, js, ratios });
  }
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(
    join(here, 'results', 'goplugin.json'),
    `${JSON.stringify(
      {
        scenario: 'goplugin',
        host: 'go-plugin 1.0.1 kvhost',
        sessions: SESSIONS,
        callPairs: CALLS,
        node: process.version,
        // Start-up times scale with machine load; record it so figures from different runs can be compared.
        loadAverage: loadavg(),
        results,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
