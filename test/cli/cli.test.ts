/**
 * The built `pluginwire` binary (dist/cli.js): help, usage errors, and the commands that need no peer
 * (kong-conf, handshake, decode). Peers: test/interop/cli-*.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HexReader, toJson } from '../../src/cli/decode.js';
import { formatHandshake } from '../../src/goplugin/index.js';
import { generateAutoMTLSCertificate } from '../../src/goplugin/mtls.js';
import { ensureCliBuilt, runCli } from '../helpers/cli.js';

const COMMANDS = ['kong-conf', 'kong-probe', 'goplugin-probe', 'handshake', 'decode'];
let dir: string;

beforeAll(async () => {
  await ensureCliBuilt();
  dir = mkdtempSync(join(tmpdir(), 'pw-cli-'));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pluginwire', () => {
  it('lists every command under --help and exits 0', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    for (const name of COMMANDS) expect(run.stdout).toContain(`  ${name}`);
  });

  it('exits 2 with the overview on stderr without a command, and names an unknown command', async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: pluginwire <command>');
    const unknown = await runCli(['kong-cnf']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "kong-cnf"');
  });

  it.each(COMMANDS)('%s --help prints its usage and exits 0', async (name) => {
    const run = await runCli([name, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Usage: pluginwire ${name}`));
    expect(run.stderr).toBe('');
  });

  it('exits 2 and names the option for an unknown option', async () => {
    const run = await runCli(['kong-conf', 'x.conf', '--colour']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Unknown option '--colour'");
    expect(run.stderr).toContain('Usage: pluginwire kong-conf');
  });
});

describe('pluginwire kong-conf', () => {
  const conf = [
    'prefix = /usr/local/kong',
    'pluginserver_names = js, go-hello',
    'pluginserver_js_start_cmd = /opt/kong-js-pluginserver -d /opt/js-plugins',
    'pluginserver_js_query_cmd = /opt/kong-js-pluginserver -d /opt/js-plugins --dump-all-plugins',
    'pluginserver_go-hello_query_cmd = /opt/go-hello -dump',
    'pluginserver_go_helo_socket = /tmp/typo.sock',
  ].join('\n');

  it('prints the resolved servers and each warning with its line', async () => {
    const file = join(dir, 'kong.conf');
    writeFileSync(file, conf);
    const run = await runCli(['kong-conf', file, '--kong-version', '3.9', '--no-env']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('2 plugin server(s) under Kong 3.9 rules');
    expect(run.stdout).toMatch(
      /js\s+\/usr\/local\/kong\/js\.socket\s+\/opt\/kong-js-pluginserver -d \/opt\/js-plugins/,
    );
    expect(run.stdout).toMatch(
      /go-hello\s+\/usr\/local\/kong\/go-hello\.socket\s+\(external\)\s+\/opt\/go-hello -dump/,
    );
    expect(run.stdout).toContain(`${file}:6 warning pluginserver-unlisted:`);
  });

  it('prints JSON with --json, and the environment overlay applies unless --no-env', async () => {
    const file = join(dir, 'kong-json.conf');
    writeFileSync(file, conf);
    const env = { KONG_PLUGINSERVER_JS_SOCKET: '/run/js.sock' };
    const run = await runCli(['kong-conf', file, '--json'], { env });
    expect(run.code).toBe(0);
    const parsed = JSON.parse(run.stdout) as {
      servers: { name: string; socket: string }[];
      warnings: unknown[];
    };
    expect(parsed.servers.map((s) => [s.name, s.socket])).toEqual([
      ['js', '/run/js.sock'],
      ['go-hello', '/usr/local/kong/go-hello.socket'],
    ]);
    expect(parsed.warnings).toContainEqual(
      expect.objectContaining({ code: 'pluginserver-unlisted', line: 6 }),
    );
    const noEnv = JSON.parse((await runCli(['kong-conf', file, '--json', '--no-env'], { env })).stdout);
    expect(noEnv.servers[0].socket).toBe('/usr/local/kong/js.socket');
  });

  it('exits 1 with Kong’s reason where Kong 3.9 refuses to start', async () => {
    const file = join(dir, 'no-query.conf');
    writeFileSync(file, 'pluginserver_names = lonely\npluginserver_lonely_start_cmd = /opt/lonely\n');
    const run = await runCli(['kong-conf', file, '--kong-version', '3.9', '--no-env']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Kong 3.9 would refuse to start: KONG_CONF_QUERY_COMMAND_UNDEFINED');
    expect(run.stderr).toContain('query_command undefined for pluginserver lonely');
  });

  it('exits 1 for a missing file and 2 for an unsupported version or a missing argument', async () => {
    const missing = await runCli(['kong-conf', join(dir, 'nope.conf')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read');
    const file = join(dir, 'v.conf');
    writeFileSync(file, conf);
    const version = await runCli(['kong-conf', file, '--kong-version', '1.0']);
    expect(version.code).toBe(2);
    expect(version.stderr).toContain('unsupported kongVersion "1.0"');
    expect((await runCli(['kong-conf'])).code).toBe(2);
  });
});

describe('pluginwire handshake', () => {
  it('explains each field of an accepted line', async () => {
    const run = await runCli(['handshake', '1|3|unix|/tmp/plugin42|grpc|', '--versions', '2,3']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/1\s+core protocol version\s+1/);
    expect(run.stdout).toMatch(/2\s+app protocol version\s+3/);
    expect(run.stdout).toMatch(/4\s+address\s+\/tmp\/plugin42/);
    expect(run.stdout).toMatch(/6\s+server certificate\s+\(none\)/);
    expect(run.stdout).toMatch(/accepted\n$/);
  });

  it('decodes the AutoMTLS certificate field when --auto-mtls is given', async () => {
    const { certDer } = generateAutoMTLSCertificate();
    const line = formatHandshake({
      appVersion: 1,
      network: 'tcp',
      address: '127.0.0.1:10000',
      serverCertDer: certDer,
      env: { PLUGIN_CLIENT_CERT: 'x' },
    }).trimEnd();
    const run = await runCli(['handshake', line, '--auto-mtls', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      network: 'tcp',
      address: '127.0.0.1:10000',
      serverCertBytes: certDer.length,
    });
    const without = await runCli(['handshake', line]);
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('GOPLUGIN_CERT_WITHOUT_AUTO_MTLS');
  });

  it('says exactly which check a bad line fails', async () => {
    const stray = await runCli(['handshake', 'Starting plugin...']);
    expect(stray.code).toBe(1);
    expect(stray.stderr).toContain('rejected: GOPLUGIN_TOO_FEW_FIELDS');
    const version = await runCli(['handshake', '1|5|unix|/tmp/p|grpc|', '--versions', '1,2']);
    expect(version.code).toBe(1);
    expect(version.stderr).toContain('GOPLUGIN_APP_VERSION_UNSUPPORTED');
    const netrpc = await runCli(['handshake', '1|1|unix|/tmp/p|netrpc|']);
    expect(netrpc.code).toBe(1);
    expect(netrpc.stderr).toContain('GOPLUGIN_UNSUPPORTED_PROTOCOL');
  });

  it('exits 2 for a bad --versions list or a missing line', async () => {
    const bad = await runCli(['handshake', '1|1|unix|/tmp/p|grpc|', '--versions', 'one']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--versions takes comma-separated integers');
    expect((await runCli(['handshake'])).code).toBe(2);
  });
});

describe('pluginwire decode', () => {
  const messages: unknown[] = [
    [0, 1, 'plugin.StartInstance', [{ Name: 'hello', Config: '{}' }]],
    [1, 1, null, { Id: 7, Name: 'hello', bytes: new Uint8Array([0, 255]) }],
    [2, 'serverPid', 4242],
    [1, 2, 'no plugin instance 3', null],
  ];
  const stream = Buffer.concat(messages.map((m) => encode(m)));

  it('prints one JSON line per message, with offsets, from raw bytes', async () => {
    const run = await runCli(['decode'], { input: stream });
    expect(run.code).toBe(0);
    const lines = run.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      {
        offset: 0,
        kind: 'request',
        msgid: 1,
        method: 'plugin.StartInstance',
        params: [{ Name: 'hello', Config: '{}' }],
      },
      {
        offset: encode(messages[0]).length,
        kind: 'response',
        msgid: 1,
        error: null,
        result: { Id: 7, Name: 'hello', bytes: { $bin: '00ff' } },
      },
      expect.objectContaining({ kind: 'notification', method: 'serverPid', params: [4242] }),
      expect.objectContaining({ kind: 'response', msgid: 2, error: 'no plugin instance 3', result: null }),
    ]);
  });

  it('reads hex text with --hex, the same as the bytes', async () => {
    const text = stream.toString('hex').replace(/(.{16})/g, '$1 \n');
    const hex = await runCli(['decode', '--hex'], { input: text });
    const raw = await runCli(['decode'], { input: stream });
    expect(hex.code).toBe(0);
    expect(hex.stdout).toBe(raw.stdout);
  });

  it('reports values that are not messages, goes on, and exits 1', async () => {
    const input = Buffer.concat([encode({ not: 'a message' }), encode([2, 'log', ['after']])]);
    const run = await runCli(['decode'], { input });
    expect(run.code).toBe(1);
    const [first, second] = run.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(first).toMatchObject({ offset: 0, invalid: 'not-an-array', value: { not: 'a message' } });
    expect(second).toMatchObject({ kind: 'notification', method: 'log', params: ['after'] });
    expect(run.stderr).toContain('1 value(s) were not valid msgpack-RPC messages');
  });

  it('stops at bytes that are not msgpack and at a truncated message, with the offset', async () => {
    const garbage = await runCli(['decode'], {
      input: Buffer.concat([encode([2, 'a', []]), Buffer.from([0xc1])]),
    });
    expect(garbage.code).toBe(1);
    expect(garbage.stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(garbage.stderr).toContain('is not msgpack at offset');
    const truncated = await runCli(['decode'], { input: stream.subarray(0, 10) });
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toContain('ends inside a message at offset 0');
    const odd = await runCli(['decode', '--hex'], { input: '9' });
    expect(odd.code).toBe(1);
    expect(odd.stderr).toContain('odd number of digits');
  });

  it('HexReader yields the same bytes however the text is chunked and spaced', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.nat(400), { maxLength: 6 }),
        (bytes, cuts) => {
          const text = Buffer.from(bytes).toString('hex').replace(/(..)/g, '$1 ');
          const points = [...new Set(cuts.map((c) => Math.min(c, text.length)))].sort((a, b) => a - b);
          const reader = new HexReader();
          const parts: Uint8Array[] = [];
          let last = 0;
          for (const point of [...points, text.length]) {
            parts.push(reader.push(text.slice(last, point)));
            last = point;
          }
          reader.end();
          expect(Buffer.concat(parts)).toEqual(Buffer.from(bytes));
        },
      ),
      { seed: 10, numRuns: 200 },
    );
  });

  it('toJson makes bigints, bytes and timestamps visible', () => {
    expect(toJson({ a: 2n ** 64n, b: new Uint8Array([1]), c: new Date(0) })).toBe(
      '{"a":{"$int":"18446744073709551616"},"b":{"$bin":"01"},"c":{"$timestamp":"1970-01-01T00:00:00.000Z"}}',
    );
  });
});
