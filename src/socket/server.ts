import { EventEmitter } from 'node:events';
import { lstatSync, unlinkSync } from 'node:fs';
import { chmod, chown, link, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';
import { alreadyError, closeServer, identityOf, listenOn, temporaryName } from './bind.js';
import {
  BindFailedError,
  ChmodFailedError,
  ChownFailedError,
  GroupNotFoundError,
  SocketDirMissingError,
  SocketError,
  SocketInUseError,
  SocketPermissionDeniedError,
  StaleSocketError,
} from './errors.js';
import { addExitHook, addSignalCleanup } from './exit.js';
import { lookupGroup } from './group.js';
import { type ResolvedAddress, resolveAddress, type SocketAddress } from './path.js';
import { ServerConnection } from './server-connection.js';
import { type FileIdentity, identityOfStats, inspectSocketPath, isSameFile, sameIdentity } from './stale.js';

/** Options of {@link listenUnix} and {@link UnixServer}. */
export interface ListenOptions {
  /** File mode of the socket (only write permission matters for connecting). Default `0o600`, or `0o660` with `group`. */
  mode?: number;
  /** Group (gid or name) to give the socket to, like go-plugin's `PLUGIN_UNIX_SOCKET_GROUP`. */
  group?: string | number;
  /** `listen(2)` backlog. Default Node's (511). */
  backlog?: number;
  /** What to do with a stale socket (one nobody accepts on) at the path: `replace` (default) or `fail`. */
  stale?: 'replace' | 'fail';
  /** Create a missing parent directory: `true` for mode 0700, or the mode to use. Default: fail. */
  createDir?: boolean | number;
  /** Timeout of the liveness probe of an existing socket, ms. Default 500. */
  probeTimeout?: number;
  /** Remove the socket file (if still ours) when the process exits normally. Default `true`. */
  cleanupOnExit?: boolean;
  /**
   * Signals on which to close gracefully, remove the file and re-raise the signal. Default none, because any
   * listener disables Node's default "terminate" action.
   */
  handleSignals?: NodeJS.Signals[];
  /** Close deadline used on a handled signal, ms. Default 1000. */
  signalCloseDeadline?: number;
  /** Connections beyond this many are closed at once (`connectionRejected`). Default unlimited. */
  maxConnections?: number;
  /** Close connections idle (not `busy()`) for this long, ms. Default 0 = never (Kong pools for 60 s). */
  idleTimeout?: number;
  /** Check every this many ms that the file is still ours (tmp cleaners delete live sockets). Default off. */
  watchPath?: number;
  /** With `watchPath`: bind again when the file was lost. Default `false`. */
  rebindOnLoss?: boolean;
  /** Receives debug lines (probe outcomes, cleanup decisions). */
  logger?: Logger;
}

/** Result of {@link UnixServer.close}: how each connection ended. */
export interface CloseResult {
  /** Connections that were idle and closed at once. */
  closedIdle: number;
  /** Busy connections that finished their exchange before the deadline. */
  finished: number;
  /** Connections still busy at the deadline, destroyed. */
  destroyed: number;
}

/** Payload of the `listening` event. */
export interface ListeningEvent {
  /** The absolute path, or `@name`. */
  path: string;
  /** Whether a stale socket file was replaced. */
  staleReplaced: boolean;
}

/** Payload of the `socketLost` event. */
export interface SocketLostEvent {
  /** The socket path. */
  path: string;
  /** Whether the server binds again (`rebindOnLoss`). */
  rebinding: boolean;
}

/** Events of {@link UnixServer}. */
export interface UnixServerEvents {
  /** The socket is in place and accepting. */
  listening: [ListeningEvent];
  /** A stale socket file was replaced (payload: the path). */
  staleSocketRemoved: [string];
  /** A connection was accepted. */
  connection: [ServerConnection];
  /** A tracked connection ended. */
  connectionClosed: [ServerConnection];
  /** A connection beyond `maxConnections` was closed at once (payload: the open connections). */
  connectionRejected: [number];
  /** The socket file disappeared or was replaced while serving (`watchPath`). */
  socketLost: [SocketLostEvent];
  /** A background failure (e.g. rebinding after a loss); never thrown. */
  error: [Error];
}

/**
 * A Unix-socket server that handles what is already at its path safely, tracks its connections and cleans up
 * only its own socket file. Create one and attach listeners, then call {@link UnixServer.listen}; or use
 * {@link listenUnix}, which does both.
 */
export class UnixServer extends EventEmitter<UnixServerEvents> {
  /** The validated address. */
  readonly address: ResolvedAddress;
  readonly #options: ListenOptions;
  readonly #servers = new Set<Server>();
  readonly #connections = new Set<ServerConnection>();
  #identity: FileIdentity | undefined;
  #listening = false;
  #closing: Promise<CloseResult> | undefined;
  #unregister: Array<() => void> = [];
  #watchTimer: NodeJS.Timeout | undefined;
  #watching: Promise<void> | undefined;
  #staleReplaced = false;

  /**
   * @param address - where to listen.
   * @param options - see {@link ListenOptions}.
   * @throws the address errors of `resolveAddress` (synchronously).
   */
  constructor(address: SocketAddress, options: ListenOptions = {}) {
    super();
    this.address = resolveAddress(address);
    this.#options = options;
  }

  /** The address as logged: the absolute path, or `@name`. */
  get path(): string {
    return this.address.display;
  }

  /** Number of open tracked connections. */
  get connections(): number {
    return this.#connections.size;
  }

  /** Whether a stale socket was replaced when this server started. */
  get staleReplaced(): boolean {
    return this.#staleReplaced;
  }

  /** Whether the server is accepting connections. */
  get listening(): boolean {
    return this.#listening;
  }

  /**
   * Binds the socket (§2.1 of the socket spec): validate, inspect the path with `lstat`, probe an existing
   * socket, bind a private temporary name in the same directory, apply mode and group, then move it into place.
   * (A file name shorter than 5 bytes leaves no room for a temporary name of the same length; such a socket is
   * bound in place, and Node's own unlink at close then removes the path even if it was replaced meanwhile.)
   *
   * @throws {@link SocketDirMissingError}, {@link SocketPathIsSymlinkError}, {@link SocketPathNotSocketError},
   *   {@link SocketInUseError}, {@link StaleSocketError}, {@link SocketPermissionDeniedError},
   *   {@link GroupNotFoundError}, {@link ChownFailedError}, {@link ChmodFailedError}, {@link BindFailedError}.
   */
  async listen(): Promise<this> {
    if (this.#listening || this.#closing) throw new BindFailedError(this.path, 'listen', alreadyError());
    if (this.address.kind === 'abstract') {
      await this.#bindAbstract();
    } else {
      const gid = await this.#resolveGid();
      await this.#ensureDir();
      this.#staleReplaced = await this.#bindPath(gid);
      if (this.#options.cleanupOnExit !== false)
        this.#unregister.push(addExitHook(() => this.#removeFileSync()));
      if (this.#options.watchPath) this.#startWatch(this.#options.watchPath, gid);
    }
    for (const signal of this.#options.handleSignals ?? []) {
      this.#unregister.push(
        addSignalCleanup(signal, () => this.close({ deadline: this.#options.signalCloseDeadline ?? 1000 })),
      );
    }
    this.#listening = true;
    if (this.#staleReplaced) this.emit('staleSocketRemoved', this.path);
    this.emit('listening', { path: this.path, staleReplaced: this.#staleReplaced });
    return this;
  }

  async #resolveGid(): Promise<number | undefined> {
    const group = this.#options.group;
    if (group === undefined) return undefined;
    const gid = await lookupGroup(group);
    if (gid === undefined) throw new GroupNotFoundError(this.path, String(group));
    return gid;
  }

  async #ensureDir(): Promise<void> {
    const dir = dirname(this.path);
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(dir)).isDirectory();
    } catch (error) {
      const errno = error as NodeJS.ErrnoException;
      if (errno.code === 'ENOENT' && this.#options.createDir) {
        const mode = typeof this.#options.createDir === 'number' ? this.#options.createDir : 0o700;
        await mkdir(dir, { recursive: true, mode });
        return;
      }
      if (errno.code === 'ENOENT' || errno.code === 'ENOTDIR')
        throw new SocketDirMissingError(this.path, dir);
      if (errno.code === 'EACCES' || errno.code === 'EPERM') {
        throw new SocketPermissionDeniedError(this.path, 'cannot reach the socket directory', dir, {
          cause: errno,
          errno: errno.code,
        });
      }
      throw new BindFailedError(this.path, `stat of directory ${dir}`, errno);
    }
    if (!isDirectory) throw new SocketDirMissingError(this.path, dir);
  }

  async #bindAbstract(): Promise<void> {
    const server = this.#createNetServer();
    try {
      await listenOn(server, this.address.kernelPath, this.#options.backlog);
    } catch (error) {
      const errno = error as NodeJS.ErrnoException;
      // An abstract name vanishes with its last descriptor: EADDRINUSE always means a live owner.
      if (errno.code === 'EADDRINUSE')
        throw new SocketInUseError(this.path, 'the abstract name is bound', { errno: errno.code });
      throw new BindFailedError(this.path, 'bind', errno);
    }
  }

  /** Returns whether a stale socket was replaced. */
  async #bindPath(gid: number | undefined): Promise<boolean> {
    const { kernelPath } = this.address;
    const probeTimeout = this.#options.probeTimeout ?? 500;
    const before = await inspectSocketPath(kernelPath, this.path, probeTimeout);
    if (before.kind === 'stale' && this.#options.stale === 'fail') throw new StaleSocketError(this.path);
    const temp = temporaryName(kernelPath);
    if (temp === undefined && before.kind === 'stale' && (await isSameFile(kernelPath, before.identity))) {
      // No room for a temporary name: the stale socket must go before binding in place.
      await unlink(kernelPath).catch(() => {});
    }
    const server = this.#createNetServer();
    const bindTarget = temp ?? kernelPath;
    try {
      await listenOn(server, bindTarget, this.#options.backlog);
    } catch (error) {
      this.#servers.delete(server);
      const errno = error as NodeJS.ErrnoException;
      if (errno.code === 'EADDRINUSE')
        throw new SocketInUseError(this.path, 'another server bound it concurrently');
      if (errno.code === 'EACCES' || errno.code === 'EPERM') {
        throw new SocketPermissionDeniedError(this.path, 'cannot create the socket', dirname(this.path), {
          cause: errno,
          errno: errno.code,
        });
      }
      throw new BindFailedError(this.path, 'bind', errno);
    }
    try {
      await this.#applyPermissions(bindTarget, gid);
      if (temp === undefined) {
        // Path too short for a private temporary name: bound in place (after the checks above).
        this.#identity = await identityOf(kernelPath, this.path);
        return before.kind === 'stale';
      }
      // Repeat the inspection right before installing: a concurrent starter may have won meanwhile.
      const now = await inspectSocketPath(kernelPath, this.path, probeTimeout);
      if (now.kind === 'stale' && this.#options.stale === 'fail') throw new StaleSocketError(this.path);
      if (now.kind === 'missing') {
        // link(2) fails with EEXIST when anything appeared since the check, so two concurrent starters on an
        // empty path cannot both win (rename(2) would silently replace the first one's socket).
        try {
          await link(temp, kernelPath);
          await unlink(temp).catch(() => {});
        } catch (error) {
          const errno = error as NodeJS.ErrnoException;
          if (errno.code === 'EEXIST')
            throw new SocketInUseError(this.path, 'another server bound it concurrently');
          if (errno.code !== 'EPERM' && errno.code !== 'ENOTSUP' && errno.code !== 'EOPNOTSUPP') throw errno;
          // Filesystems without hard links: the atomic rename is the best that remains.
          await rename(temp, kernelPath);
        }
      } else {
        // Atomic replacement of the stale socket: no window in which clients see ENOENT.
        await rename(temp, kernelPath);
      }
      this.#identity = await identityOf(kernelPath, this.path);
      return now.kind === 'stale';
    } catch (error) {
      await closeServer(server);
      if (temp !== undefined) await unlink(temp).catch(() => {});
      this.#servers.delete(server);
      if (error instanceof SocketError) throw error;
      throw new BindFailedError(this.path, 'installing the socket', error as NodeJS.ErrnoException);
    }
  }

  async #applyPermissions(file: string, gid: number | undefined): Promise<void> {
    const mode = this.#options.mode ?? (gid === undefined ? 0o600 : 0o660);
    if (gid !== undefined) {
      try {
        await chown(file, -1, gid);
      } catch (error) {
        throw new ChownFailedError(this.path, String(this.#options.group), error as NodeJS.ErrnoException);
      }
    }
    try {
      await chmod(file, mode);
    } catch (error) {
      throw new ChmodFailedError(this.path, mode, error as NodeJS.ErrnoException);
    }
  }

  #createNetServer(): Server {
    const server = createServer({ allowHalfOpen: false }, (socket) => this.#accept(socket));
    // Accept errors (EMFILE…) must not crash the process; the server keeps running.
    server.on('error', (error) => this.#debug(`server error on ${this.path}: ${error.message}`));
    this.#servers.add(server);
    return server;
  }

  #accept(socket: Socket): void {
    socket.on('error', () => {});
    const max = this.#options.maxConnections;
    if (this.#closing || (max !== undefined && this.#connections.size >= max)) {
      socket.destroy();
      this.emit('connectionRejected', this.#connections.size);
      return;
    }
    const connection = new ServerConnection(socket);
    this.#connections.add(connection);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // ECONNRESET/EPIPE are per-connection facts, never process-level crashes; probes are not worth a log.
      this.#debug(`connection error on ${this.path}: ${error.code ?? error.message}`);
    });
    socket.once('close', () => {
      this.#connections.delete(connection);
      this.emit('connectionClosed', connection);
    });
    const idle = this.#options.idleTimeout ?? 0;
    if (idle > 0) {
      socket.setTimeout(idle, () => {
        if (!connection.isBusy) socket.destroy();
      });
    }
    this.emit('connection', connection);
  }

  #startWatch(interval: number, gid: number | undefined): void {
    const tick = async (): Promise<void> => {
      if (this.#closing || this.#identity === undefined) return;
      if (await isSameFile(this.path, this.#identity)) return;
      if (this.#closing) return;
      const rebinding = this.#options.rebindOnLoss === true;
      this.emit('socketLost', { path: this.path, rebinding });
      if (!rebinding) {
        clearInterval(this.#watchTimer);
        this.#identity = undefined;
        return;
      }
      try {
        await this.#bindPath(gid);
      } catch (error) {
        // A close() during the rebind makes its failure moot; otherwise report it and try again next tick.
        if (this.#closing) return;
        if (this.listenerCount('error') > 0) this.emit('error', error as Error);
        else this.#debug(`rebinding ${this.path} failed: ${(error as Error).message}`);
      }
    };
    this.#watchTimer = setInterval(() => {
      // One check at a time: a rebind can take longer than the interval.
      if (this.#watching !== undefined) return;
      this.#watching = tick().finally(() => {
        this.#watching = undefined;
      });
    }, interval);
    this.#watchTimer.unref();
  }

  /**
   * Stops accepting, removes the socket file (only if it is still ours), closes idle connections at once and
   * busy ones as soon as they become idle; destroys what is still busy at the deadline. Idempotent: concurrent
   * and later calls share one promise. Never rejects.
   *
   * @param options - `deadline` in ms (default 5000).
   */
  close(options: { deadline?: number } = {}): Promise<CloseResult> {
    this.#closing ??= this.#close(options.deadline ?? 5000);
    return this.#closing;
  }

  async #close(deadline: number): Promise<CloseResult> {
    clearInterval(this.#watchTimer);
    // A rebind in progress finishes first, so its server and file are closed and removed below too.
    await this.#watching;
    for (const unregister of this.#unregister) unregister();
    this.#unregister = [];
    const serversClosed = [...this.#servers].map((server) => closeServer(server));
    await this.#removeFile();
    this.#listening = false;
    const result: CloseResult = { closedIdle: 0, finished: 0, destroyed: 0 };
    const pending: Promise<void>[] = [];
    let timer: NodeJS.Timeout | undefined;
    const busy = new Set<ServerConnection>();
    for (const connection of this.#connections) {
      if (!connection.isBusy) {
        result.closedIdle++;
        connection.socket.destroySoon();
        continue;
      }
      busy.add(connection);
      pending.push(
        new Promise<void>((resolve) => {
          connection.socket.once('close', () => resolve());
          connection.onIdle(() => {
            if (!busy.delete(connection)) return;
            result.finished++;
            connection.socket.destroySoon();
          });
        }),
      );
    }
    if (busy.size > 0) {
      timer = setTimeout(() => {
        for (const connection of busy) {
          result.destroyed++;
          connection.socket.destroy();
        }
        busy.clear();
      }, deadline);
    }
    await Promise.all(pending);
    clearTimeout(timer);
    await Promise.all(serversClosed);
    return result;
  }

  async #removeFile(): Promise<void> {
    if (this.address.kind !== 'path' || this.#identity === undefined) return;
    const identity = this.#identity;
    this.#identity = undefined;
    // The absolute path: the current directory may have changed since a relative path was bound.
    if (await isSameFile(this.path, identity)) {
      await unlink(this.path).catch(() => {});
    } else {
      this.#debug(`not removing ${this.path}: it is no longer the socket this server created`);
    }
  }

  /**
   * @internal Removes the socket file now, synchronously, if it is still the one this server created (for
   * callers whose own cleanup must be synchronous, such as go-plugin's `BoundListener.unlink`). The server keeps
   * its connections; `close()` still has to be called.
   */
  unlinkSync(): void {
    this.#removeFileSync();
    this.#identity = undefined;
  }

  #removeFileSync(): void {
    const identity = this.#identity;
    if (identity === undefined) return;
    try {
      if (sameIdentity(identityOfStats(lstatSync(this.path, { bigint: true })), identity))
        unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }

  #debug(message: string): void {
    this.#options.logger?.debug?.(message);
  }
}

/**
 * Listens on a Unix socket safely (see {@link UnixServer.listen}) and resolves once it accepts connections.
 * Attach a `connection` listener to the result to handle clients; each is a {@link ServerConnection}.
 *
 * @example
 * ```ts
 * const server = await listenUnix('/run/myapp/api.sock', { mode: 0o660, group: 'myapp' });
 * server.on('connection', (conn) => conn.socket.pipe(conn.socket));
 * await server.close({ deadline: 2000 });
 * ```
 * @throws the errors of {@link UnixServer.listen}.
 */
export async function listenUnix(address: SocketAddress, options: ListenOptions = {}): Promise<UnixServer> {
  return new UnixServer(address, options).listen();
}
