import { describe, expect, it } from 'vitest';
import * as socket from '../../src/socket/index.js';

describe('socket errors', () => {
  it('every error class is a SocketError with a SOCKET_ code', () => {
    const details = { errno: 'ENOENT', attempts: 3, elapsed: 120, hints: ['h'] };
    const errors = [
      new socket.UnsupportedPlatformError('/p', 'abstract socket names'),
      new socket.InvalidSocketPathError('/p', 'contains a NUL byte'),
      new socket.SocketPathTooLongError('/p', 120, 107),
      new socket.SocketDirMissingError('/d/p', '/d'),
      new socket.SocketPathIsSymlinkError('/p'),
      new socket.SocketPathNotSocketError('/p', 'FIFO'),
      new socket.SocketInUseError('/p'),
      new socket.StaleSocketError('/p'),
      new socket.SocketPermissionDeniedError('/p', 'x', '/'),
      new socket.GroupNotFoundError('/p', 'g'),
      new socket.BindFailedError('/p', 'bind', Object.assign(new Error('x'), { code: 'EIO' })),
      new socket.SocketNotFoundError('/p', details),
      new socket.SocketRefusedError('/p', details),
      new socket.NotASocketError('/p', details),
      new socket.SocketBusyError('/p', details),
      new socket.ConnectTimeoutError('/p', details),
      new socket.ConnectPermissionDeniedError('/p', details),
      new socket.SocketBadPathError('/p', details),
      new socket.ConnectFailedError('/p', details),
      new socket.PoolTimeoutError('/p', 10, 1),
      new socket.PoolClosedError('/p'),
      new socket.ConnectionLostError('/p', 0),
      new socket.ReadTimeoutError('/p', 10),
      new socket.WriteFailedError('/p', new Error('EPIPE')),
      new socket.SocketAbortedError('connect', undefined),
      new socket.SupervisorConflictError('n', '/p', undefined),
      new socket.SupervisorGaveUpError('n', 'exit-code', 127, 'x'),
      new socket.SupervisorReadyTimeoutError('n', '/p', 10),
      new socket.SupervisorStoppedError('n'),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(socket.SocketError);
      expect(error).toBeInstanceOf(socket.PluginwireError);
      expect(error.code).toMatch(/^SOCKET_[A-Z_]+$/);
      expect(error.message.length).toBeGreaterThan(10);
    }
  });

  it('a connect error after retries says what was tried for how long', () => {
    const error = new socket.SocketNotFoundError('/run/x.socket', {
      errno: 'ENOENT',
      attempts: 7,
      elapsed: 1234.5,
      hints: ['/run/x.sock exists: the server may use the other suffix (.sock vs .socket)'],
    });
    expect(error.code).toBe('SOCKET_NOT_FOUND');
    expect(error.kind).toBe('NotFound');
    expect(error.message).toBe(
      'cannot connect to unix socket /run/x.socket after 7 attempts over 1235 ms: ENOENT: no socket file at the ' +
        'path (server not bound yet, gone, or wrong path); /run/x.sock exists: the server may use the other suffix ' +
        '(.sock vs .socket)',
    );
  });
});
