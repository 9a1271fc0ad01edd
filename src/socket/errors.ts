import { PluginwireError, type PluginwireErrorOptions } from '../errors.js';

/**
 * Base class of every error the `pluginwire/socket` module throws or rejects with. Its subclasses carry
 * `code`s that start with `SOCKET_`.
 *
 * Catch this class to handle any socket failure; check `code` (or a subclass) for a specific one.
 */
export class SocketError extends PluginwireError {}

/** Options of the socket errors that describe a path (most of them). */
export interface SocketPathErrorOptions extends PluginwireErrorOptions {
  /** The errno name (`ENOENT`, `EACCES`, …) the kernel reported, when one did. */
  errno?: string;
}

/**
 * A socket error about one address. `path` is the address as logged: an absolute filesystem path, or
 * `@name` for a Linux abstract name.
 */
export class SocketPathError extends SocketError {
  /** The socket address the error is about (`@name` for an abstract name). */
  readonly path: string;
  /** The errno name the kernel reported, when one did. */
  readonly errno: string | undefined;

  /**
   * @param code - the stable error code.
   * @param message - a human-readable description.
   * @param path - the address the error is about.
   * @param options - `cause` and `errno`.
   */
  protected constructor(code: string, message: string, path: string, options?: SocketPathErrorOptions) {
    super(code, message, options);
    this.path = path;
    this.errno = options?.errno;
  }
}

/** The platform cannot do what was asked: Unix sockets on Windows, abstract names off Linux. */
export class UnsupportedPlatformError extends SocketPathError {
  declare readonly code: 'SOCKET_UNSUPPORTED_PLATFORM';
  /**
   * @param path - the address.
   * @param what - what is unsupported, e.g. `abstract socket names`.
   */
  constructor(path: string, what: string) {
    super('SOCKET_UNSUPPORTED_PLATFORM', `${what} are not supported on ${process.platform}: ${path}`, path);
  }
}

/** The address is malformed (a NUL byte in a filesystem path, an empty path or abstract name). */
export class InvalidSocketPathError extends SocketPathError {
  declare readonly code: 'SOCKET_INVALID_SOCKET_PATH';
  /**
   * @param path - the address.
   * @param reason - what is wrong with it.
   */
  constructor(path: string, reason: string) {
    super(
      'SOCKET_INVALID_SOCKET_PATH',
      `invalid unix socket address (${reason}): ${JSON.stringify(path)}`,
      path,
    );
  }
}

/**
 * The address is longer than the kernel's `sun_path` allows. Raised before any syscall: Node up to v22
 * silently truncates long paths (libuv/libuv#4036), which makes peers that use the real path fail.
 */
export class SocketPathTooLongError extends SocketPathError {
  declare readonly code: 'SOCKET_PATH_TOO_LONG';
  /** The length of the address in UTF-8 bytes. */
  readonly byteLength: number;
  /** The largest allowed length in bytes (107 on Linux, 103 on macOS/BSD). */
  readonly limit: number;

  /**
   * @param path - the address.
   * @param byteLength - its length in UTF-8 bytes.
   * @param limit - the maximum number of bytes.
   */
  constructor(path: string, byteLength: number, limit: number) {
    super(
      'SOCKET_PATH_TOO_LONG',
      `unix socket path is ${byteLength} bytes; ${process.platform} allows at most ${limit} ` +
        `(sun_path is ${limit + 1} bytes including the NUL): ${path}`,
      path,
    );
    this.byteLength = byteLength;
    this.limit = limit;
  }
}

/** The directory the socket should be created in does not exist (and `createDir` was not set). */
export class SocketDirMissingError extends SocketPathError {
  declare readonly code: 'SOCKET_DIR_MISSING';
  /** The missing directory. */
  readonly dir: string;

  /**
   * @param path - the socket path.
   * @param dir - its missing parent directory.
   */
  constructor(path: string, dir: string) {
    super('SOCKET_DIR_MISSING', `directory ${dir} does not exist (for unix socket ${path})`, path, {
      errno: 'ENOENT',
    });
    this.dir = dir;
  }
}

/** A symlink is at the socket path. Neither the link nor its target is touched. */
export class SocketPathIsSymlinkError extends SocketPathError {
  declare readonly code: 'SOCKET_PATH_IS_SYMLINK';
  /** @param path - the socket path. */
  constructor(path: string) {
    super(
      'SOCKET_PATH_IS_SYMLINK',
      `a symlink is at the unix socket path; refusing to follow or replace it: ${path}`,
      path,
    );
  }
}

/** Something other than a socket (regular file, directory, FIFO, device) is at the path. It is never removed. */
export class SocketPathNotSocketError extends SocketPathError {
  declare readonly code: 'SOCKET_PATH_NOT_SOCKET';
  /** What was found, e.g. `regular file`, `directory`, `FIFO`. */
  readonly found: string;

  /**
   * @param path - the socket path.
   * @param found - what kind of file is there.
   */
  constructor(path: string, found: string) {
    super(
      'SOCKET_PATH_NOT_SOCKET',
      `a ${found} is at the unix socket path; refusing to replace it: ${path}`,
      path,
      { errno: 'ENOTSOCK' },
    );
    this.found = found;
  }
}

/** Another process accepts connections on the path (or its backlog is full, which also means it is alive). */
export class SocketInUseError extends SocketPathError {
  declare readonly code: 'SOCKET_IN_USE';
  /**
   * @param path - the socket path.
   * @param detail - how liveness was established.
   * @param options - `cause`, `errno`.
   */
  constructor(path: string, detail = 'it accepted a probe connection', options?: SocketPathErrorOptions) {
    super('SOCKET_IN_USE', `another process is accepting connections on ${path} (${detail})`, path, options);
  }
}

/** A stale socket file (its server is gone) is at the path and `stale: 'fail'` was asked. Left untouched. */
export class StaleSocketError extends SocketPathError {
  declare readonly code: 'SOCKET_STALE_SOCKET';
  /** @param path - the socket path. */
  constructor(path: string) {
    super(
      'SOCKET_STALE_SOCKET',
      `a stale unix socket (no process accepts on it) is at ${path}; not replacing it because stale is 'fail'`,
      path,
      { errno: 'ECONNREFUSED' },
    );
  }
}

/**
 * Permission denied: on the socket file, on a directory of its path, or on the directory where the socket
 * should be created. Both the server (`listenUnix`) and the client (`connectUnix`) use it; never retried.
 */
export class SocketPermissionDeniedError extends SocketPathError {
  declare readonly code: 'SOCKET_PERMISSION_DENIED';
  /** The directory or file the permission is missing on, when known. */
  readonly target: string;

  /**
   * @param path - the socket path.
   * @param detail - what could not be done.
   * @param target - where the permission is missing.
   * @param options - `cause`, `errno`.
   */
  constructor(path: string, detail: string, target: string, options?: SocketPathErrorOptions) {
    super('SOCKET_PERMISSION_DENIED', `permission denied: ${detail} (${target})`, path, options);
    this.target = target;
  }
}

/** The `group` option names a group that does not exist. */
export class GroupNotFoundError extends SocketPathError {
  declare readonly code: 'SOCKET_GROUP_NOT_FOUND';
  /** The group as given. */
  readonly group: string;

  /**
   * @param path - the socket path.
   * @param group - the group name as given.
   */
  constructor(path: string, group: string) {
    super('SOCKET_GROUP_NOT_FOUND', `failed to find gid from "${group}" (for unix socket ${path})`, path);
    this.group = group;
  }
}

/** `chown` of the socket to the requested group failed (typically `EPERM`: the process is not a member). */
export class ChownFailedError extends SocketPathError {
  declare readonly code: 'SOCKET_CHOWN_FAILED';
  /**
   * @param path - the socket path.
   * @param group - the group.
   * @param cause - the errno error.
   */
  constructor(path: string, group: string, cause: NodeJS.ErrnoException) {
    super('SOCKET_CHOWN_FAILED', `cannot give unix socket ${path} to group ${group}: ${cause.code}`, path, {
      cause,
      errno: cause.code ?? 'UNKNOWN',
    });
  }
}

/** `chmod` of the socket failed. */
export class ChmodFailedError extends SocketPathError {
  declare readonly code: 'SOCKET_CHMOD_FAILED';
  /**
   * @param path - the socket path.
   * @param mode - the requested mode.
   * @param cause - the errno error.
   */
  constructor(path: string, mode: number, cause: NodeJS.ErrnoException) {
    super(
      'SOCKET_CHMOD_FAILED',
      `cannot set mode ${mode.toString(8).padStart(4, '0')} on unix socket ${path}: ${cause.code}`,
      path,
      { cause, errno: cause.code ?? 'UNKNOWN' },
    );
  }
}

/** Binding, inspecting or renaming the socket failed for a reason without its own class. Wraps the errno. */
export class BindFailedError extends SocketPathError {
  declare readonly code: 'SOCKET_BIND_FAILED';
  /**
   * @param path - the socket path.
   * @param what - the step that failed.
   * @param cause - the errno error.
   */
  constructor(path: string, what: string, cause: NodeJS.ErrnoException) {
    super(
      'SOCKET_BIND_FAILED',
      `${what} failed for unix socket ${path}: ${cause.code ?? cause.message}`,
      path,
      {
        cause,
        errno: cause.code ?? 'UNKNOWN',
      },
    );
  }
}

/** The operation was cancelled through an `AbortSignal`. */
export class SocketAbortedError extends SocketError {
  declare readonly code: 'SOCKET_ABORTED';
  /**
   * @param what - what was aborted.
   * @param cause - the signal's reason.
   */
  constructor(what: string, cause: unknown) {
    super('SOCKET_ABORTED', `${what} was aborted`, { cause });
  }
}
