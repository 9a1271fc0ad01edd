import { randomInt } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server, ServerCredentials } from '@grpc/grpc-js';
import { PLUGIN_ENV, readPortRange } from '../env.js';
import { serveError } from '../errors.js';
import type { HandshakeNetwork } from '../handshake.js';

/** Transport of a plugin listener. */
export type PluginTransport = 'unix' | 'tcp';

/** A bound listener. */
export interface BoundListener {
  /** `unix` or `tcp`. */
  network: HandshakeNetwork;
  /** Socket path or `127.0.0.1:<port>`, as printed in the handshake and in broker `ConnInfo`s. */
  address: string;
  /** Removes the socket file this listener created (Unix only; idempotent, never throws). */
  unlink(): void;
}

type Env = Readonly<Record<string, string | undefined>>;

/** `sun_path` is 108 bytes on Linux and 104 on the BSDs and macOS, the terminating NUL included. */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/** The default transport: Unix sockets everywhere but Windows, as Go plugins (`server.go`). */
export function defaultTransport(): PluginTransport {
  return process.platform === 'win32' ? 'tcp' : 'unix';
}

function bindAsync(server: Server, target: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(target, credentials, (error, port) => (error ? reject(error) : resolve(port)));
  });
}

/**
 * Binds `server` where a Go plugin would listen: a Unix socket `plugin<digits>` in `PLUGIN_UNIX_SOCKET_DIR` or the
 * temp dir (mode 0600, or 0660 owned by `PLUGIN_UNIX_SOCKET_GROUP`), or TCP on `127.0.0.1` in the
 * `PLUGIN_MIN_PORT`..`PLUGIN_MAX_PORT` range scanned upwards.
 *
 * @throws {@link ServeError} (`GOPLUGIN_SOCKET_PATH_TOO_LONG`, `GOPLUGIN_SOCKET_GROUP`, `GOPLUGIN_BIND_FAILED`)
 *   or {@link PortRangeError}.
 */
export async function bindListener(
  server: Server,
  credentials: ServerCredentials,
  transport: PluginTransport,
  env: Env,
): Promise<BoundListener> {
  return transport === 'tcp' ? bindTcp(server, credentials, env) : bindUnix(server, credentials, env);
}

async function bindTcp(server: Server, credentials: ServerCredentials, env: Env): Promise<BoundListener> {
  const { min, max } = readPortRange(env);
  let lastError: unknown;
  for (let port = min; port <= max; port++) {
    try {
      const bound = await bindAsync(server, `127.0.0.1:${port}`, credentials);
      return { network: 'tcp', address: `127.0.0.1:${bound}`, unlink: () => {} };
    } catch (error) {
      lastError = error;
    }
  }
  throw serveError('GOPLUGIN_BIND_FAILED', `couldn't bind plugin TCP listener in ${min}..${max}`, {
    cause: lastError,
  });
}

async function bindUnix(server: Server, credentials: ServerCredentials, env: Env): Promise<BoundListener> {
  const dir = env[PLUGIN_ENV.unixSocketDir] || tmpdir();
  // Go names the socket like os.CreateTemp("", "plugin*"): "plugin" + up to 10 random decimal digits.
  const longest = join(dir, 'plugin0000000000');
  if (Buffer.byteLength(longest) > MAX_SOCKET_PATH_BYTES) {
    throw serveError(
      'GOPLUGIN_SOCKET_PATH_TOO_LONG',
      `a Unix socket in ${JSON.stringify(dir)} would be ${Buffer.byteLength(longest)} bytes long, over the ` +
        `${MAX_SOCKET_PATH_BYTES}-byte sun_path limit of ${process.platform}; set a shorter TMPDIR or ` +
        `PLUGIN_UNIX_SOCKET_DIR, or use transport 'tcp'`,
    );
  }
  const gid = socketGroup(env[PLUGIN_ENV.unixSocketGroup]);
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const path = join(dir, `plugin${randomInt(0, 2 ** 32 - 1)}`);
    if (exists(path)) continue; // never touch a path we did not create
    try {
      await bindAsync(server, `unix:${path}`, credentials);
    } catch (error) {
      lastError = error;
      continue;
    }
    let removed = false;
    const unlink = () => {
      if (removed) return;
      removed = true;
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    };
    if (gid === undefined) {
      // Owner-only: the host that started us runs as our user. go-plugin leaves the umask's mode; we do not.
      try {
        chmodSync(path, 0o600);
      } catch (error) {
        unlink();
        throw serveError('GOPLUGIN_BIND_FAILED', `cannot make ${path} owner-only`, { cause: error });
      }
    } else {
      try {
        chownSync(path, -1, gid);
        chmodSync(path, 0o660);
      } catch (error) {
        unlink();
        throw serveError('GOPLUGIN_SOCKET_GROUP', `cannot give ${path} to group ${gid}`, {
          cause: error,
        });
      }
    }
    return { network: 'unix', address: path, unlink };
  }
  throw serveError('GOPLUGIN_BIND_FAILED', `couldn't bind a plugin Unix socket in ${dir}`, {
    cause: lastError,
  });
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** `PLUGIN_UNIX_SOCKET_GROUP` as Go reads it: a numeric gid first, else a group name from /etc/group. */
function socketGroup(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^[0-9]+$/.test(value)) return Number(value);
  let groups = '';
  try {
    groups = readFileSync('/etc/group', 'utf8');
  } catch {
    // no group database: fall through to the error
  }
  for (const line of groups.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === value && gid !== undefined && /^[0-9]+$/.test(gid)) return Number(gid);
  }
  throw serveError('GOPLUGIN_SOCKET_GROUP', `failed to find gid from ${JSON.stringify(value)}`);
}
