import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePluginServerArgs, runPluginServerCli } from '../../src/kong-rpc/dump.js';
import { KongRpcUsageError } from '../../src/kong-rpc/errors.js';
import { KongPluginServer } from '../../src/kong-rpc/server.js';

describe('parsePluginServerArgs', () => {
  it('accepts Go-style and GNU-style spellings, values after a space or =', () => {
    expect(parsePluginServerArgs(['-dump'])).toMatchObject({ dump: true, kongPrefix: undefined });
    expect(parsePluginServerArgs(['--dump'])).toMatchObject({ dump: true });
    expect(parsePluginServerArgs(['-kong-prefix', '/k'])).toMatchObject({ dump: false, kongPrefix: '/k' });
    expect(parsePluginServerArgs(['--kong-prefix=/k', '-socket=/s.sock'])).toMatchObject({
      kongPrefix: '/k',
      socket: '/s.sock',
    });
    expect(parsePluginServerArgs(['-dump', '-dump-format', 'array'])).toMatchObject({
      dump: true,
      dumpForm: 'array',
    });
    expect(parsePluginServerArgs([])).toEqual({
      dump: false,
      dumpForm: 'object',
      kongPrefix: undefined,
      socket: undefined,
      protocol: undefined,
    });
    expect(parsePluginServerArgs(['-protocol', 'ProtoBuf:1'])).toMatchObject({ protocol: 'ProtoBuf:1' });
    expect(parsePluginServerArgs(['--protocol=MsgPack:1'])).toMatchObject({ protocol: 'MsgPack:1' });
  });

  it.each([
    [['-kong-prefix']],
    [['--bogus']],
    [['plain']],
    [['-dump=yes']],
    [['-dump-format', 'xml']],
    [['-protocol', 'protobuf']],
  ])('rejects %j with KongRpcUsageError', (argv) => {
    expect(() => parsePluginServerArgs(argv)).toThrow(KongRpcUsageError);
  });

  it('parses every spelling of every flag combination to the same result', () => {
    const value = fc.stringMatching(/^[/\w.-]{1,12}$/);
    const spelling = fc.record({ dashes: fc.constantFrom('-', '--'), inline: fc.boolean() });
    fc.assert(
      fc.property(
        fc.record({
          dump: fc.boolean(),
          dumpForm: fc.constantFrom('object' as const, 'array' as const),
          kongPrefix: fc.option(value, { nil: undefined }),
          socket: fc.option(value, { nil: undefined }),
          protocol: fc.constant(undefined),
        }),
        fc.array(spelling, { minLength: 4, maxLength: 4 }),
        (expected, [dumpSpelling, formSpelling, prefixSpelling, socketSpelling]) => {
          const argv: string[] = [];
          const flag = (name: string, text: string, how: { dashes: string; inline: boolean } | undefined) => {
            const dashes = how?.dashes ?? '-';
            if (how?.inline) argv.push(`${dashes}${name}=${text}`);
            else argv.push(`${dashes}${name}`, text);
          };
          if (expected.dump) argv.push(`${dumpSpelling?.dashes ?? '-'}dump`);
          if (expected.dumpForm === 'array') flag('dump-format', 'array', formSpelling);
          if (expected.kongPrefix !== undefined) flag('kong-prefix', expected.kongPrefix, prefixSpelling);
          if (expected.socket !== undefined) flag('socket', expected.socket, socketSpelling);
          expect(parsePluginServerArgs(argv)).toEqual(expected);
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });
});

describe('runPluginServerCli', () => {
  function helloServer(): KongPluginServer {
    return new KongPluginServer().addPlugin({
      name: 'hello',
      version: '1.0.0',
      phases: ['access'],
      create: () => ({}),
    });
  }

  it('writes exactly the dump and a newline in dump mode, and does not listen', async () => {
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    const server = helloServer();
    const result = await runPluginServerCli(server, ['-dump'], { stdout });
    expect(result.mode).toBe('dump');
    expect(Buffer.concat(chunks).toString()).toBe(`${server.dumpInfo()}\n`);
    expect(() => server.socketPath).not.toThrow();
    expect(server.socketPath).toBe('/usr/local/kong/hello.socket');
  });

  it('prints and serves the protocol of -protocol, or of the server option', async () => {
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    await runPluginServerCli(helloServer(), ['-dump', '-protocol', 'ProtoBuf:1'], { stdout });
    expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({ Protocol: 'ProtoBuf:1' });
    const pb = new KongPluginServer({ protocol: 'ProtoBuf:1' }).addPlugin({
      name: 'hello',
      version: '1.0.0',
      phases: ['access'],
      create: () => ({}),
    });
    expect(JSON.parse(pb.dumpInfo())).toMatchObject({ Protocol: 'ProtoBuf:1' });
    expect(() => pb.dumpInfo({ form: 'array' })).toThrow(KongRpcUsageError);
    await expect(runPluginServerCli(pb, ['-dump', '-dump-format', 'array'], { stdout })).rejects.toThrow(
      KongRpcUsageError,
    );
    const dir = mkdtempSync(join(tmpdir(), 'pw-kong-cli-unit-'));
    try {
      const server = helloServer();
      await runPluginServerCli(server, ['-kong-prefix', dir, '-protocol', 'ProtoBuf:1'], {
        handleSignals: false,
      });
      expect(server.protocol).toBe('ProtoBuf:1');
      await server.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('listens on <kong-prefix>/<name>.socket in serve mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-kong-cli-unit-'));
    try {
      const server = helloServer();
      const result = await runPluginServerCli(server, ['--kong-prefix', dir], { handleSignals: false });
      expect(result).toMatchObject({ mode: 'serve', socketPath: join(dir, 'hello.socket') });
      await server.close();
      if (result.mode === 'serve') await expect(result.closed).resolves.toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
