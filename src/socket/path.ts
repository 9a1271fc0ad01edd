import { resolve } from 'node:path';
import { InvalidSocketPathError, SocketPathTooLongError, UnsupportedPlatformError } from './errors.js';

/**
 * Where a Unix socket lives: a filesystem path (a plain string or `{ path }`), or a Linux abstract name
 * (`{ abstract }`, shown in logs as `@name`).
 *
 * Abstract names have no file and no permission check: any process in the same network namespace can
 * connect to them.
 */
export type SocketAddress = string | SocketPathAddress | AbstractSocketAddress;

/** A filesystem socket path, as an object. */
export interface SocketPathAddress {
  /** The path (relative paths are resolved by the kernel against the current directory). */
  path: string;
}

/** A Linux abstract socket name (no file, no permissions; Linux only). */
export interface AbstractSocketAddress {
  /** The name, without the leading NUL; shown in logs as `@name`. */
  abstract: string;
}

/** A validated address: what to hand to the kernel, and how to name it in logs and errors. */
export interface ResolvedAddress {
  /** `path` for a filesystem socket, `abstract` for a Linux abstract name. */
  kind: 'path' | 'abstract';
  /** The string given to Node's `net` (the path as written, or `\0name`). */
  kernelPath: string;
  /** The absolute path (filesystem) or `@name` (abstract): for logs, errors and cleanup. */
  display: string;
}

/**
 * Largest number of bytes of a socket path, without the terminating NUL: `sun_path` is 108 bytes on Linux
 * and 104 on macOS and the BSDs.
 *
 * @param platform - the platform to answer for; default the current one.
 */
export function maxSocketPathBytes(platform: NodeJS.Platform = process.platform): number {
  return platform === 'linux' ? 107 : 103;
}

/**
 * Validates an address before any syscall and returns what to pass to the kernel.
 *
 * Relative paths are passed to the kernel as written (it resolves them against the current directory at
 * bind or connect time), so their length is checked as written; the absolute form is recorded for cleanup
 * because the current directory may change later.
 *
 * @param address - the address.
 * @returns the resolved address.
 * @throws {@link UnsupportedPlatformError} on Windows, or for an abstract name off Linux.
 * @throws {@link InvalidSocketPathError} for an empty address or a NUL byte in a path.
 * @throws {@link SocketPathTooLongError} when the path or name exceeds `sun_path`.
 */
export function resolveAddress(address: SocketAddress): ResolvedAddress {
  const limit = maxSocketPathBytes();
  if (typeof address === 'object' && 'abstract' in address) {
    const name = address.abstract;
    const display = `@${name}`;
    if (process.platform !== 'linux') throw new UnsupportedPlatformError(display, 'abstract socket names');
    if (name.length === 0) throw new InvalidSocketPathError(display, 'empty abstract name');
    const bytes = Buffer.byteLength(name);
    if (bytes > limit) throw new SocketPathTooLongError(display, bytes, limit);
    return { kind: 'abstract', kernelPath: `\0${name}`, display };
  }
  const path = typeof address === 'string' ? address : address.path;
  if (process.platform === 'win32') throw new UnsupportedPlatformError(path, 'unix socket paths');
  if (path.length === 0) throw new InvalidSocketPathError(path, 'empty path');
  if (path.includes('\0')) throw new InvalidSocketPathError(path, 'contains a NUL byte');
  const bytes = Buffer.byteLength(path);
  if (bytes > limit) throw new SocketPathTooLongError(path, bytes, limit);
  return { kind: 'path', kernelPath: path, display: resolve(path) };
}

/** Formats an address for messages (`@name` for abstract names). */
export function formatAddress(address: SocketAddress): string {
  if (typeof address === 'string') return address;
  return 'abstract' in address ? `@${address.abstract}` : address.path;
}
