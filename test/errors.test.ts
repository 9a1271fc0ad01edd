import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';
import { PluginwireError } from '../src/errors.js';
import { GoPluginError } from '../src/goplugin/errors.js';
import { KongConfError } from '../src/kong-conf/errors.js';
import { RpcError } from '../src/msgpack-rpc/errors.js';
import { SocketError } from '../src/socket/errors.js';

describe('PluginwireError', () => {
  it('carries its code, message, name and cause', () => {
    const cause = new Error('root');
    const error = new PluginwireError('SOME_CODE', 'went wrong', { cause });
    expect(error.code).toBe('SOME_CODE');
    expect(error.message).toBe('went wrong');
    expect(error.name).toBe('PluginwireError');
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(Error);
    expect(error.stack).toContain('went wrong');
  });

  it('keeps an explicit undefined cause distinct from no cause', () => {
    expect('cause' in new PluginwireError('A', 'a')).toBe(false);
    expect('cause' in new PluginwireError('A', 'a', { cause: undefined })).toBe(true);
  });

  it('does not list the class chain among enumerable properties', () => {
    const error = new RpcError('MSGPACK_RPC_X', 'x');
    expect(Object.keys(error)).toEqual(['code']);
    expect(JSON.parse(JSON.stringify(error))).toEqual({ code: 'MSGPACK_RPC_X' });
  });

  it.each([
    ['KongConfError', KongConfError, 'KONG_CONF_X'],
    ['RpcError', RpcError, 'MSGPACK_RPC_X'],
    ['GoPluginError', GoPluginError, 'GOPLUGIN_X'],
    ['SocketError', SocketError, 'SOCKET_X'],
  ] as const)('%s is a PluginwireError named after its class', (name, ErrorClass, code) => {
    const error = new ErrorClass(code, 'message');
    expect(error).toBeInstanceOf(PluginwireError);
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
  });

  it('does not confuse the module bases with each other', () => {
    expect(new RpcError('MSGPACK_RPC_X', 'x')).not.toBeInstanceOf(SocketError);
    expect(new SocketError('SOCKET_X', 'x')).not.toBeInstanceOf(RpcError);
    expect(new PluginwireError('X', 'x')).not.toBeInstanceOf(RpcError);
  });

  it('subclasses of a module base are instances of it and of the root', () => {
    class TimeoutError extends RpcError {
      constructor() {
        super('MSGPACK_RPC_TIMEOUT', 'timed out');
      }
    }
    const error = new TimeoutError();
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toBeInstanceOf(PluginwireError);
    expect(error.name).toBe('TimeoutError');
  });

  it('rejects non-objects and plain errors', () => {
    expect((null as unknown) instanceof PluginwireError).toBe(false);
    expect(('x' as unknown) instanceof PluginwireError).toBe(false);
    expect(new Error('x') instanceof PluginwireError).toBe(false);
  });
});

describe('instanceof across copies of pluginwire', () => {
  // A second copy of the error classes, loaded fresh through a separate module instance, plays the part of
  // the CJS build beside the ESM build (or two installed versions).
  async function loadSecondCopy(): Promise<{
    PluginwireError: typeof PluginwireError;
    RpcError: typeof RpcError;
  }> {
    vi.resetModules();
    const root = await import('../src/errors.js');
    const rpc = await import('../src/msgpack-rpc/errors.js');
    return { PluginwireError: root.PluginwireError, RpcError: rpc.RpcError };
  }

  it('recognises an error made by another copy', async () => {
    const copy = await loadSecondCopy();
    const foreign = new copy.RpcError('MSGPACK_RPC_X', 'x');
    expect(copy.RpcError).not.toBe(RpcError);
    expect(foreign).toBeInstanceOf(RpcError);
    expect(foreign).toBeInstanceOf(PluginwireError);
    expect(foreign).not.toBeInstanceOf(SocketError);
    expect(new RpcError('MSGPACK_RPC_X', 'x')).toBeInstanceOf(copy.RpcError);
  });

  it('keeps same-named classes under different module bases apart', async () => {
    class TimeoutError extends RpcError {}
    const socketTimeout = (() => {
      class TimeoutError extends SocketError {}
      return new TimeoutError('SOCKET_TIMEOUT', 't');
    })();
    expect(socketTimeout).not.toBeInstanceOf(TimeoutError);
    expect(new TimeoutError('MSGPACK_RPC_TIMEOUT', 't')).toBeInstanceOf(TimeoutError);
  });

  it('works between the built CommonJS and ES module copies', () => {
    const require = createRequire(import.meta.url);
    let cjs: { PluginwireError: typeof PluginwireError } | undefined;
    try {
      cjs = require('../dist/index.cjs');
    } catch {
      // Not built in this checkout: the two-source-copies test above covers the mechanism.
      return;
    }
    const error = new cjs!.PluginwireError('X', 'x');
    expect(error).toBeInstanceOf(PluginwireError);
  });
});
