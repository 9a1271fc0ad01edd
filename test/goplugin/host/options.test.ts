import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HandshakeTooFewFieldsError, handshakeError } from '../../../src/goplugin/errors.js';
import {
  InvalidPluginOptionsError,
  PluginHandshakeRejectedError,
  PluginStartError,
} from '../../../src/goplugin/host/errors.js';
import {
  levelledLogger,
  pluginEnvironment,
  resolveStartOptions,
  type StartPluginOptions,
} from '../../../src/goplugin/host/options.js';
import {
  createSocketDir,
  removeSocketDir,
  unlinkStaleSocket,
} from '../../../src/goplugin/host/socket-dir.js';
import { recordingLogger } from '../../helpers/logger.js';

const base: StartPluginOptions = {
  command: '/bin/plugin',
  magicCookieKey: 'BASIC_PLUGIN',
  magicCookieValue: 'hello',
};

describe('startPlugin options', () => {
  it('applies Go NewClient defaults', () => {
    expect(resolveStartOptions(base)).toMatchObject({
      versions: [1],
      startTimeout: 60_000,
      shutdownTimeout: 2000,
      killTimeout: 2000,
      processGroup: true,
      maxMessageBytes: 2_147_483_647,
    });
  });

  it.each([
    ['netrpc (Go-only)', { allowedProtocols: ['grpc', 'netrpc'] }, /netrpc is Go-only/],
    ['an empty command', { command: '' }, /command/],
    ['an empty cookie value', { magicCookieValue: '' }, /magicCookie/],
    ['no versions', { versions: [] }, /versions/],
    ['a fractional version', { versions: [1.5] }, /versions/],
    ['minPort above maxPort', { minPort: 20_000, maxPort: 10_000 }, /minPort/],
    ['a negative timeout', { startTimeout: -1 }, /startTimeout/],
  ])('rejects %s', (_name, patch, message) => {
    expect(() => resolveStartOptions({ ...base, ...patch })).toThrow(InvalidPluginOptionsError);
    expect(() => resolveStartOptions({ ...base, ...patch })).toThrow(message);
  });
});

describe('the plugin environment', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it('layers host env, user env and protocol variables, later layers winning', () => {
    process.env.PW_TEST_INHERITED = 'host';
    process.env.BASIC_PLUGIN = 'stale';
    const env = pluginEnvironment(
      { ...base, env: { PW_TEST_USER: 'user', PLUGIN_MIN_PORT: '1' } },
      [5, 6],
      {},
    );
    expect(env).toMatchObject({
      PW_TEST_INHERITED: 'host',
      PW_TEST_USER: 'user',
      BASIC_PLUGIN: 'hello',
      PLUGIN_PROTOCOL_VERSIONS: '6,5',
      PLUGIN_MIN_PORT: '10000',
      PLUGIN_MAX_PORT: '25000',
    });
    expect(env).not.toHaveProperty('PLUGIN_MULTIPLEX_GRPC');
  });

  it('drops protocol variables the host inherited from its own host', () => {
    process.env.PLUGIN_CLIENT_CERT = '-----BEGIN CERTIFICATE-----';
    process.env.PLUGIN_MULTIPLEX_GRPC = 'true';
    process.env.PLUGIN_UNIX_SOCKET_DIR = '/elsewhere';
    const env = pluginEnvironment(base, [1], {});
    expect(env).not.toHaveProperty('PLUGIN_CLIENT_CERT');
    expect(env).not.toHaveProperty('PLUGIN_MULTIPLEX_GRPC');
    expect(env).not.toHaveProperty('PLUGIN_UNIX_SOCKET_DIR');
  });

  it('sets the certificate, socket dir and group, and TMPDIR only when asked', () => {
    const env = pluginEnvironment(
      { ...base, unixSocketGroup: '1000', tmpdirInSocketDir: true, skipHostEnv: true },
      [1],
      {
        clientCertPem: 'PEM',
        socketDir: '/tmp/plug-abc',
      },
    );
    expect(env).toEqual({
      BASIC_PLUGIN: 'hello',
      PLUGIN_PROTOCOL_VERSIONS: '1',
      PLUGIN_MIN_PORT: '10000',
      PLUGIN_MAX_PORT: '25000',
      PLUGIN_CLIENT_CERT: 'PEM',
      PLUGIN_UNIX_SOCKET_DIR: '/tmp/plug-abc',
      PLUGIN_UNIX_SOCKET_GROUP: '1000',
      TMPDIR: '/tmp/plug-abc',
    });
  });
});

describe('socket directories', () => {
  it('creates a private 0700 directory and removes it', async () => {
    const dir = await createSocketDir(undefined, undefined);
    const { stat } = await import('node:fs/promises');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    await removeSocketDir(dir);
    await expect(stat(dir)).rejects.toThrow();
  });

  it('refuses a parent whose sockets would exceed the sun_path limit', async () => {
    await expect(createSocketDir(`/tmp/${'x'.repeat(100)}`, undefined)).rejects.toThrow(/too long/);
  });

  it('refuses an unknown group', async () => {
    await expect(createSocketDir(undefined, 'no-such-group-pluginwire')).rejects.toThrow(
      /failed to find gid/,
    );
  });

  it('leaves live sockets and non-sockets alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pws-'));
    try {
      const file = join(dir, 'plugin1');
      await writeFile(file, 'not a socket');
      expect(await unlinkStaleSocket(file)).toBe(false);
      const path = join(dir, 'plugin2');
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(path, resolve));
      expect(await unlinkStaleSocket(path)).toBe(false);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      expect(await unlinkStaleSocket(join(dir, 'missing'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('PluginStartError', () => {
  it('states the exit, the stderr tail and a hint, and keeps them as properties', () => {
    const rejected = handshakeError('GOPLUGIN_TOO_FEW_FIELDS', 'Unrecognized remote plugin message: hi', {
      line: 'hi',
    });
    const error = new PluginHandshakeRejectedError(rejected, {
      line: 'hi',
      stderrTail: ['[ERROR] boom'],
      exit: { code: null, signal: 'SIGKILL' },
    });
    expect(error).toBeInstanceOf(PluginStartError);
    expect(error.code).toBe('GOPLUGIN_HANDSHAKE_REJECTED');
    expect(error.cause).toBeInstanceOf(HandshakeTooFewFieldsError);
    expect(error.message).toContain('something printed to stdout before it');
    expect(error.line).toBe('hi');
    expect(error.message).toContain('killed by SIGKILL');
    expect(error.message).toContain('  [ERROR] boom');
    expect(error.message).toContain('hint:');
    expect(error.stderrTail).toEqual(['[ERROR] boom']);
  });
});

describe('logLevel', () => {
  it('drops entries below the level, as a Go host logger does', () => {
    const seen: string[] = [];
    const logger = levelledLogger({
      logger: recordingLogger((entry) => seen.push(entry.level)),
      logLevel: 'warn',
    })!;
    for (const level of ['trace', 'debug', 'info', 'warn', 'error'] as const) logger[level]?.('m');
    expect(seen).toEqual(['warn', 'error']);
    expect(levelledLogger({})).toBeUndefined();
  });
});
