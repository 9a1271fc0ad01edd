/**
 * SECURITY.md, sockets: file and directory modes, and stale-socket cleanup that cannot be tricked into
 * removing anything but a dead socket (symlink swaps racing the bind included). Real sockets, real files.
 */
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { link, rename, rm, symlink, unlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PluginwireError } from '../../src/errors.js';
import { createHclogLogger } from '../../src/goplugin/hclog.js';
import { servePlugin, startPlugin } from '../../src/goplugin/index.js';
import { KongPluginServer } from '../../src/kong-rpc/index.js';
import { listenUnix } from '../../src/socket/index.js';

const TS_KV_PLUGIN = join(import.meta.dirname, '..', 'fixtures', 'goplugin', 'ts-kv-plugin.ts');
const COOKIE = { magicCookieKey: 'BASIC_PLUGIN', magicCookieValue: 'hello' } as const;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-sec-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A socket file nobody listens on: a hard link keeps the file when the closing server unlinks its name. */
async function staleSocket(path: string): Promise<void> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  await link(path, `${path}.keep`);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rename(`${path}.keep`, path);
  if (!lstatSync(path).isSocket()) throw new Error('test setup: no stale socket');
}

/** Runs `work` with the process umask set to `mask`, restoring it afterwards. */
async function withUmask<T>(mask: number, work: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await work();
  } finally {
    process.umask(previous);
  }
}

const modeOf = (path: string): number => lstatSync(path).mode & 0o777;

describe('socket files and directories', () => {
  it('listenUnix: the socket is 0600 and a created directory 0700, even under umask 000', async () => {
    const dir = tempDir();
    const path = join(dir, 'sub', 'api.sock');
    const server = await withUmask(0, () => listenUnix(path, { createDir: true }));
    cleanups.push(() => server.close());
    expect(modeOf(path)).toBe(0o600);
    expect(modeOf(dirname(path))).toBe(0o700);
    expect(lstatSync(path).uid).toBe(process.getuid?.());
  });

  it('startPlugin: the plugin socket lives in a fresh 0700 directory owned by the host user', async () => {
    const client = await startPlugin({
      ...COOKIE,
      command: process.execPath,
      args: ['--import', 'tsx', TS_KV_PLUGIN],
      startTimeout: 30_000,
    });
    cleanups.push(() => client.kill());
    const socket = client.address.address;
    const dir = dirname(socket);
    expect(dir).not.toBe(tmpdir());
    expect(modeOf(dir)).toBe(0o700);
    expect(statSync(dir).uid).toBe(process.getuid?.());
    await client.kill();
    expect(existsSync(dir)).toBe(false);
  });

  it('KongPluginServer.listen: the socket is 0600 whatever the umask, and socketMode widens it on request', async () => {
    const dir = tempDir();
    for (const mask of [0o000, 0o022, 0o077]) {
      const server = new KongPluginServer({ socketPath: join(dir, `k${mask}.socket`) });
      const path = await withUmask(mask, () => server.listen());
      expect(modeOf(path)).toBe(0o600);
      await server.close();
    }
    const shared = new KongPluginServer({ socketPath: join(dir, 'shared.socket'), socketMode: 0o660 });
    const path = await withUmask(0o000, () => shared.listen());
    expect(modeOf(path)).toBe(0o660);
    await shared.close();
  });

  it('servePlugin without a host: the socket is 0600 even under umask 000', async () => {
    const dir = tempDir();
    const plugin = await withUmask(0o000, () =>
      servePlugin({
        ...COOKIE,
        versions: { 1: () => {} },
        test: true,
        exit: false,
        env: { PLUGIN_UNIX_SOCKET_DIR: dir },
        logger: createHclogLogger({ write: () => {} }),
      }),
    );
    cleanups.push(() => plugin.stop());
    expect(dirname(plugin.address)).toBe(dir);
    expect(modeOf(plugin.address)).toBe(0o600);
  });
});

describe('stale-socket cleanup', () => {
  it('listenUnix refuses a symlink, a regular file and a live socket at the path, touching nothing', async () => {
    const dir = tempDir();
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious');
    const link = join(dir, 'link.sock');
    symlinkSync(victim, link);
    await expect(listenUnix(link)).rejects.toMatchObject({ code: 'SOCKET_PATH_IS_SYMLINK' });
    await expect(listenUnix(victim)).rejects.toMatchObject({ code: 'SOCKET_PATH_NOT_SOCKET' });
    const live = await listenUnix(join(dir, 'live.sock'));
    cleanups.push(() => live.close());
    await expect(listenUnix(join(dir, 'live.sock'))).rejects.toMatchObject({ code: 'SOCKET_IN_USE' });
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('KongPluginServer.listen refuses a regular file and a symlink to one, touching nothing', async () => {
    const dir = tempDir();
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'precious');
    const link = join(dir, 'link.socket');
    symlinkSync(victim, link);
    for (const path of [victim, link]) {
      const server = new KongPluginServer({ socketPath: path });
      await expect(server.listen()).rejects.toBeInstanceOf(PluginwireError);
      await server.close();
    }
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('KongPluginServer.close removes only its own socket, not a file put at the path since', async () => {
    const dir = tempDir();
    const path = join(dir, 'k.socket');
    const server = new KongPluginServer({ socketPath: path });
    await server.listen();
    await unlink(path);
    writeFileSync(path, 'someone else');
    await server.close();
    expect(readFileSync(path, 'utf8')).toBe('someone else');
  });

  it.each(['listenUnix', 'KongPluginServer'] as const)(
    '%s: a symlink swapped in while a stale socket is replaced never costs the symlink target',
    async (kind) => {
      const dir = tempDir();
      const victim = join(dir, 'victim.txt');
      writeFileSync(victim, 'precious');
      const path = join(dir, 'race.sock');
      for (let round = 0; round < 25; round++) {
        await staleSocket(path);
        // The attacker swaps the path to a symlink at the victim as fast as it can while the bind runs.
        let racing = true;
        const attacker = (async () => {
          const temp = join(dir, `swap-${round}`);
          while (racing) {
            await symlink(victim, temp).catch(() => {});
            await rename(temp, path).catch(() => {});
            await new Promise((resolve) => setImmediate(resolve));
          }
          await rm(temp, { force: true });
        })();
        const close = await (async () => {
          try {
            if (kind === 'listenUnix') {
              const server = await listenUnix(path);
              return () => server.close();
            }
            const server = new KongPluginServer({ socketPath: path });
            await server.listen().catch(async (error) => {
              await server.close();
              throw error;
            });
            return () => server.close();
          } catch (error) {
            expect(error).toBeInstanceOf(PluginwireError);
            return undefined;
          }
        })();
        racing = false;
        await attacker;
        await close?.();
        expect(readFileSync(victim, 'utf8')).toBe('precious');
        await rm(path, { force: true });
      }
    },
  );
});
