import { randomInt } from 'node:crypto';
import { accessSync, constants, lstatSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server, ServerCredentials } from '@grpc/grpc-js';
import { lookupGroup } from '../socket/group.js';
import { ChownFailedError, GroupNotFoundError, listenUnix, type UnixServer } from '../socket/index.js';
import { maxSocketPathBytes } from '../socket/path.js';
import { PLUGIN_ENV, readPortRange } from './env.js';
import { serveError } from './errors.js';
import type { HandshakeNetwork } from './handshake.js';

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
export const MAX_SOCKET_PATH_BYTES: number = maxSocketPathBytes();

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
 * @throws a `ServeError` subclass (`GOPLUGIN_SOCKET_PATH_TOO_LONG`, `GOPLUGIN_SOCKET_GROUP`, `GOPLUGIN_BIND_FAILED`)
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
  const limit = maxSocketPathBytes();
  if (Buffer.byteLength(longest) > limit) {
    throw serveError(
      'GOPLUGIN_SOCKET_PATH_TOO_LONG',
      `a Unix socket in ${JSON.stringify(dir)} would be ${Buffer.byteLength(longest)} bytes long, over the ` +
        `${limit}-byte sun_path limit of ${process.platform}; set a shorter TMPDIR or ` +
        `PLUGIN_UNIX_SOCKET_DIR, or use transport 'tcp'`,
    );
  }
  checkSocketDir(dir);
  const group = env[PLUGIN_ENV.unixSocketGroup];
  const gid = group === undefined || group === '' ? undefined : await lookupGroup(group);
  if (group !== undefined && group !== '' && gid === undefined) {
    throw serveError('GOPLUGIN_SOCKET_GROUP', `failed to find gid from ${JSON.stringify(group)}`);
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const path = join(dir, `plugin${randomInt(0, 2 ** 32 - 1)}`);
    if (exists(path)) continue; // never touch a path we did not create
    let socket: UnixServer;
    try {
      // The socket module binds (a private name with the final mode and group, renamed into place), so the
      // socket never appears with the umask's mode; grpc-js gets each accepted connection through its
      // connection injector, which runs the same TLS (AutoMTLS) and HTTP/2 handling as a port it bound itself.
      socket = await listenUnix(path, {
        stale: 'fail',
        ...(gid === undefined ? { mode: 0o600 } : { group: gid, mode: 0o660 }),
      });
    } catch (error) {
      if (error instanceof ChownFailedError || error instanceof GroupNotFoundError) {
        throw serveError('GOPLUGIN_SOCKET_GROUP', `cannot give ${path} to group ${gid}`, {
          cause: error,
        });
      }
      lastError = error;
      continue;
    }
    const injector = server.createConnectionInjector(credentials);
    socket.on('connection', (connection) => injector.injectConnection(connection.socket));
    let removed = false;
    const unlink = () => {
      if (removed) return;
      removed = true;
      socket.unlinkSync();
      void socket.close({ deadline: 0 });
    };
    return { network: 'unix', address: path, unlink };
  }
  throw serveError('GOPLUGIN_BIND_FAILED', `couldn't bind a plugin Unix socket in ${dir}`, {
    cause: lastError,
  });
}

/**
 * Fails early, with one clear error, when no socket can be created in `dir`: grpc-js would log an `E No address
 * added` line on stderr for each of the 20 attempts and then fail with a message naming none of this.
 */
function checkSocketDir(dir: string): void {
  let problem: string | undefined;
  try {
    if (!statSync(dir).isDirectory()) problem = 'is not a directory';
    else accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    problem = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'is not writable';
  }
  if (problem !== undefined) {
    throw serveError(
      'GOPLUGIN_BIND_FAILED',
      `couldn't bind a plugin Unix socket: ${JSON.stringify(dir)} ${problem} (PLUGIN_UNIX_SOCKET_DIR or TMPDIR)`,
    );
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
