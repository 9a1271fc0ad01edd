import { existsSync, lstatSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { abortableSleep, onAbort } from '../abort.js';
import { type ConnectFailureKind, connectError, type SocketConnectError } from './connect-errors.js';
import { SocketAbortedError, SocketPathTooLongError } from './errors.js';
import { maxSocketPathBytes, type ResolvedAddress, resolveAddress, type SocketAddress } from './path.js';
import { supervisedSocketRunning } from './supervised-sockets.js';

/** Information passed to {@link RetryOptions.onRetry} before each sleep. */
export interface RetryInfo {
  /** The address. */
  path: string;
  /** The attempt that just failed (1-based). */
  attempt: number;
  /** Its failure class. */
  kind: ConnectFailureKind;
  /** Its errno. */
  errno: string;
  /** The sleep before the next attempt, ms. */
  delay: number;
  /** Time since the first attempt, ms. */
  elapsed: number;
}

/**
 * Boot-time retry of {@link connectUnix}: while a server starts, `ENOENT` and `ECONNREFUSED` mean "not yet".
 * Delays grow `initialDelay × factor^(n−1)` up to `maxDelay`, each with ±`jitter`, until `deadline`.
 */
export interface RetryOptions {
  /** Give up after this long, ms. Default 10000 (Kong's bounded wait of 100 × 0.1 s). */
  deadline?: number;
  /** First delay, ms. Default 50. */
  initialDelay?: number;
  /** Growth factor. Default 2. */
  factor?: number;
  /** Largest delay, ms. Default 1000. */
  maxDelay?: number;
  /** Relative jitter (0.2 = ±20 %). Default 0.2. */
  jitter?: number;
  /** Failure classes to retry. Default `['NotFound', 'Refused']`. */
  retryOn?: ConnectFailureKind[];
  /** Called before each sleep. Retries are otherwise silent. */
  onRetry?: (info: RetryInfo) => void;
  /** Random source in [0, 1) for the jitter (tests inject one). Default `Math.random`. */
  random?: () => number;
}

/** Options of {@link connectUnix}. */
export interface ConnectOptions {
  /** Per-attempt connect timeout, ms. Default 5000. */
  timeout?: number;
  /** Retry while the server boots: `true` for the defaults, or {@link RetryOptions}. Default: one attempt. */
  retry?: boolean | RetryOptions;
  /** Cancels the connect (and any retry sleep) at once with {@link SocketAbortedError}. */
  signal?: AbortSignal;
}

/**
 * The delay before attempt `attempt + 1`, ms: `min(maxDelay, initialDelay × factor^(attempt−1))` scaled by a
 * random factor in `[1 − jitter, 1 + jitter)`.
 *
 * @param attempt - the attempt that just failed, 1-based.
 * @param options - the retry options.
 */
export function retryDelay(attempt: number, options: RetryOptions = {}): number {
  const base = Math.min(
    options.maxDelay ?? 1000,
    (options.initialDelay ?? 50) * (options.factor ?? 2) ** Math.max(0, attempt - 1),
  );
  const jitter = options.jitter ?? 0.2;
  const random = (options.random ?? Math.random)();
  return Math.max(1, base * (1 - jitter + 2 * jitter * random));
}

interface AttemptFailure {
  kind: ConnectFailureKind;
  errno: string;
  cause: unknown;
}

/**
 * Connects to a Unix socket. The path length is checked first (Node silently truncates long paths). With
 * `retry`, `NotFound` and `Refused` are retried quietly with backoff and jitter until the deadline; other
 * failures fail at once. Resolves with a connected `net.Socket`.
 *
 * @example
 * ```ts
 * // The server was just spawned and binds within a few hundred ms.
 * const socket = await connectUnix('/usr/local/kong/js_pluginserver.sock', { retry: { deadline: 5000 } });
 * ```
 * @throws a {@link SocketConnectError} subclass naming the last failure class, attempts and elapsed time;
 *   {@link SocketAbortedError} when `signal` aborts; the address errors ({@link InvalidSocketPathError}, {@link SocketPathTooLongError}, {@link UnsupportedPlatformError}).
 */
export async function connectUnix(address: SocketAddress, options: ConnectOptions = {}): Promise<Socket> {
  const resolved = resolveAddress(address);
  const { signal } = options;
  const retry: RetryOptions | undefined =
    options.retry === true ? {} : options.retry === false ? undefined : options.retry;
  const timeout = options.timeout ?? 5000;
  const retryOn = new Set<ConnectFailureKind>(retry?.retryOn ?? ['NotFound', 'Refused']);
  const deadline = retry?.deadline ?? 10_000;
  const started = performance.now();
  let attempt = 0;
  for (;;) {
    if (signal?.aborted) throw new SocketAbortedError(`connect to ${resolved.display}`, signal.reason);
    attempt++;
    const elapsedBefore = performance.now() - started;
    const attemptTimeout =
      retry === undefined ? timeout : Math.max(1, Math.min(timeout, deadline - elapsedBefore));
    const outcome = await attemptConnect(resolved, attemptTimeout, signal);
    if ('socket' in outcome) return outcome.socket;
    const failure = outcome.failure;
    const elapsed = performance.now() - started;
    if (retry !== undefined && retryOn.has(failure.kind)) {
      const delay = retryDelay(attempt, retry);
      if (elapsed + delay < deadline) {
        retry.onRetry?.({
          path: resolved.display,
          attempt,
          kind: failure.kind,
          errno: failure.errno,
          delay,
          elapsed,
        });
        await abortableSleep(delay, {
          signal,
          abortError: (reason) => new SocketAbortedError(`connect to ${resolved.display}`, reason),
        });
        continue;
      }
    }
    throw finalError(resolved, failure, attempt, elapsed);
  }
}

function attemptConnect(
  resolved: ResolvedAddress,
  timeout: number,
  signal: AbortSignal | undefined,
): Promise<{ socket: Socket } | { failure: AttemptFailure }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: resolved.kernelPath });
    // Assigned last; `let` because onAbort() calls the listener (and so cleanup) at once on an aborted signal.
    let disposeAbort = (): void => {};
    const cleanup = (): void => {
      clearTimeout(timer);
      disposeAbort();
      socket.removeListener('connect', onConnect);
      socket.removeListener('error', onError);
    };
    const fail = (failure: AttemptFailure): void => {
      cleanup();
      socket.on('error', () => {});
      socket.destroy();
      resolve({ failure });
    };
    const onConnect = (): void => {
      cleanup();
      resolve({ socket });
    };
    const onError = (error: NodeJS.ErrnoException): void =>
      fail({ kind: classify(error.code, resolved), errno: error.code ?? 'UNKNOWN', cause: error });
    const timer = setTimeout(() => fail({ kind: 'Timeout', errno: 'ETIMEDOUT', cause: undefined }), timeout);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    disposeAbort = onAbort(signal, (reason) => {
      cleanup();
      socket.on('error', () => {});
      socket.destroy();
      reject(new SocketAbortedError(`connect to ${resolved.display}`, reason));
    });
  });
}

function classify(errno: string | undefined, resolved: ResolvedAddress): ConnectFailureKind {
  switch (errno) {
    case 'ENOENT':
      return 'NotFound';
    case 'ECONNREFUSED': {
      // Linux also answers ECONNREFUSED for a path that is not a socket at all; that will never get better.
      if (resolved.kind === 'path') {
        try {
          if (!lstatSync(resolved.kernelPath).isSocket()) return 'NotASocket';
        } catch {
          // Vanished meanwhile: still "refused" for this attempt.
        }
      }
      return 'Refused';
    }
    case 'ECONNRESET':
      // The connection sat in the backlog of a listener that then closed (its server died or is restarting):
      // the same situation as a refused connect, not a broken established connection.
      return 'Refused';
    case 'EAGAIN':
      return 'Busy';
    case 'ETIMEDOUT':
      return 'Timeout';
    case 'EACCES':
    case 'EPERM':
      return 'PermissionDenied';
    case 'ENOTDIR':
    case 'ELOOP':
      return 'BadPath';
    default:
      return 'ConnectFailed';
  }
}

function finalError(
  resolved: ResolvedAddress,
  failure: AttemptFailure,
  attempts: number,
  elapsed: number,
): SocketConnectError | SocketPathTooLongError {
  if (failure.errno === 'ENAMETOOLONG' || failure.errno === 'EINVAL') {
    return new SocketPathTooLongError(
      resolved.display,
      Buffer.byteLength(resolved.kernelPath),
      maxSocketPathBytes(),
    );
  }
  return connectError(failure.kind, resolved.display, {
    errno: failure.errno,
    attempts,
    elapsed,
    hints: hintsFor(failure.kind, resolved),
    cause: failure.cause,
  });
}

/** The `.sock` vs `.socket` mix-up is a recurring misconfiguration (Kong/kong#7460, Kong/docs.konghq.com#2654). */
function hintsFor(kind: ConnectFailureKind, resolved: ResolvedAddress): string[] {
  if (kind !== 'NotFound' || resolved.kind !== 'path') return [];
  const hints: string[] = [];
  const path = resolved.display;
  const dir = dirname(path);
  if (!existsSync(dir)) hints.push(`directory ${dir} does not exist`);
  const name = basename(path);
  const sibling = name.endsWith('.socket')
    ? `${name.slice(0, -'.socket'.length)}.sock`
    : name.endsWith('.sock')
      ? `${name.slice(0, -'.sock'.length)}.socket`
      : undefined;
  if (sibling !== undefined && existsSync(join(dir, sibling))) {
    hints.push(`${join(dir, sibling)} exists: the server may use the other suffix (.sock vs .socket)`);
  }
  const supervised = supervisedSocketRunning(path);
  if (supervised !== undefined) hints.push(supervised);
  return hints;
}
