import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InvalidSocketPathError,
  SocketPathTooLongError,
  UnsupportedPlatformError,
} from '../../src/socket/index.js';
import { maxSocketPathBytes, resolveAddress } from '../../src/socket/path.js';

describe('resolveAddress', () => {
  it('knows the sun_path limits: 107 bytes on Linux, 103 on macOS and the BSDs', () => {
    expect(maxSocketPathBytes('linux')).toBe(107);
    expect(maxSocketPathBytes('darwin')).toBe(103);
    expect(maxSocketPathBytes('freebsd')).toBe(103);
  });

  it('accepts a path of exactly the limit and rejects one byte more, naming both numbers and the path', () => {
    const limit = maxSocketPathBytes();
    const ok = `/${'a'.repeat(limit - 1)}`;
    expect(resolveAddress(ok)).toEqual({ kind: 'path', kernelPath: ok, display: ok });
    const long = `${ok}b`;
    const error = (() => {
      try {
        resolveAddress(long);
      } catch (e) {
        return e;
      }
    })() as SocketPathTooLongError;
    expect(error).toBeInstanceOf(SocketPathTooLongError);
    expect(error.code).toBe('SOCKET_PATH_TOO_LONG');
    expect(error.byteLength).toBe(limit + 1);
    expect(error.limit).toBe(limit);
    expect(error.path).toBe(long);
    expect(error.message).toContain(`${limit + 1} bytes`);
    expect(error.message).toContain(`at most ${limit}`);
  });

  it('counts UTF-8 bytes, not characters', () => {
    const path = `/${'ü'.repeat(60)}`;
    expect(path.length).toBeLessThan(107);
    expect(() => resolveAddress(path)).toThrow(SocketPathTooLongError);
  });

  it('rejects NUL bytes and empty addresses', () => {
    expect(() => resolveAddress('/tmp/a\0b')).toThrow(InvalidSocketPathError);
    expect(() => resolveAddress('')).toThrow(InvalidSocketPathError);
    expect(() => resolveAddress({ abstract: '' })).toThrow(InvalidSocketPathError);
  });

  it('checks the length of a relative path as written and records its absolute form', () => {
    const resolved = resolveAddress({ path: 'x.sock' });
    expect(resolved.kernelPath).toBe('x.sock');
    expect(resolved.display).toBe(`${process.cwd()}/x.sock`);
  });

  it.runIf(process.platform === 'linux')(
    'maps abstract names to a leading NUL and shows them as @name',
    () => {
      expect(resolveAddress({ abstract: 'kong-go-hello' })).toEqual({
        kind: 'abstract',
        kernelPath: '\0kong-go-hello',
        display: '@kong-go-hello',
      });
      expect(() => resolveAddress({ abstract: 'x'.repeat(108) })).toThrow(SocketPathTooLongError);
    },
  );

  it('accepts every path within the limit and rejects every path beyond it (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }), (name) => {
        const path = `/${name.replaceAll('\0', '')}`;
        const bytes = Buffer.byteLength(path);
        if (bytes <= maxSocketPathBytes()) expect(resolveAddress(path).kernelPath).toBe(path);
        else expect(() => resolveAddress(path)).toThrow(SocketPathTooLongError);
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});

describe('platforms', () => {
  const real = Object.getOwnPropertyDescriptor(process, 'platform')!;
  const pretend = (platform: string): void => {
    Object.defineProperty(process, 'platform', { ...real, value: platform });
  };
  afterEach(() => {
    Object.defineProperty(process, 'platform', real);
  });

  it('rejects abstract names off Linux and every Unix socket on Windows (named pipes are another mechanism)', () => {
    pretend('darwin');
    expect(() => resolveAddress({ abstract: 'x' })).toThrow(UnsupportedPlatformError);
    expect(() => resolveAddress(`/${'a'.repeat(103)}`)).toThrow(SocketPathTooLongError);
    pretend('win32');
    expect(() => resolveAddress('C:/x.sock')).toThrow(UnsupportedPlatformError);
  });
});
