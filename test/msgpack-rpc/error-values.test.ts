import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { MessageCodec } from '../../src/msgpack-rpc/codec.js';
import {
  describeErrorValue,
  rawErrorCodec,
  resolveErrorCodec,
  stringErrorCodec,
} from '../../src/msgpack-rpc/error-values.js';
import { RemoteError, RpcUsageError } from '../../src/msgpack-rpc/errors.js';
import { createPeerPair } from '../../src/msgpack-rpc/pair.js';

const context = { method: 'm', msgid: 1 };

describe('error values', () => {
  it('derives RemoteError messages from any wire value', () => {
    expect(describeErrorValue('plain')).toBe('plain');
    expect(describeErrorValue([1, 'validation failed'])).toBe('validation failed');
    expect(describeErrorValue({ code: 3, message: 'from a map' })).toBe('from a map');
    expect(describeErrorValue({ code: 3 })).toBe('{"code":3}');
    expect(describeErrorValue(false)).toBe('false');
    expect(describeErrorValue(12n)).toBe('12n');
    const long = describeErrorValue({ text: 'x'.repeat(500) });
    expect(long.length).toBe(200);
    expect(long.endsWith('…')).toBe(true);
  });

  it('string codec: Error message verbatim, RemoteError data, JSON, String() fallback', () => {
    expect(stringErrorCodec.toWire(new Error('boom'), context)).toBe('boom');
    expect(stringErrorCodec.toWire(new RemoteError('m', 'upstream said no', 'x', 1), context)).toBe(
      'upstream said no',
    );
    expect(stringErrorCodec.toWire(new RemoteError('derived', [0, 'x'], 'x', 1), context)).toBe('derived');
    expect(stringErrorCodec.toWire({ message: 'shaped' }, context)).toBe('shaped');
    const circular: { self?: unknown } = {};
    circular.self = circular;
    expect(stringErrorCodec.toWire(circular, context)).toBe('[object Object]');
    expect(stringErrorCodec.toWire(7, context)).toBe('7');
  });

  it('raw codec: values verbatim, Errors as their message, RemoteError data verbatim', () => {
    expect(rawErrorCodec.toWire([0, 'neovim'], context)).toEqual([0, 'neovim']);
    expect(rawErrorCodec.toWire(new Error('boom'), context)).toBe('boom');
    expect(rawErrorCodec.toWire(new RemoteError('m', { code: 1 }, 'x', 1), context)).toEqual({ code: 1 });
    expect(rawErrorCodec.toWire(null, context)).toBe('unknown error');
  });

  it('a custom error codec shapes both directions (the Neovim shape)', async () => {
    const neovim = {
      toWire: (thrown: unknown) => [0, thrown instanceof Error ? thrown.message : String(thrown)],
      fromWire: (value: unknown) => new Error(`nvim: ${(value as unknown[])[1]}`),
    };
    expect(resolveErrorCodec(neovim)).toBe(neovim);
    expect(() => resolveErrorCodec({} as never)).toThrow(RpcUsageError);
    const { a, b } = createPeerPair({ errors: neovim });
    b.handle('fail', () => {
      throw new Error('E42');
    });
    await expect(a.request('fail', [])).rejects.toThrow('nvim: E42');
    a.destroy();
    b.destroy();
  });

  it('a handler throwing an unencodable raw value still answers, as a string', async () => {
    const { a, b } = createPeerPair({ errors: 'raw' });
    b.handle('fail', () => {
      throw new Map([['a', 1]]);
    });
    const error = (await a.request('fail', []).catch((failure: unknown) => failure)) as RemoteError;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.data).toBe('[object Map]');
    a.destroy();
    b.destroy();
  });
});

describe('Kong encoder text and integers', () => {
  const kong = new MessageCodec({ encoding: 'kong' });
  it('encodes UTF-8 like TextEncoder, lone surrogates as U+FFFD', () => {
    for (const text of ['é', '€', '😀 ok', 'a\ud800b', '\udc00', `${'x'.repeat(40)}😀`]) {
      const bytes = kong.encode(text);
      expect(decode(bytes)).toBe(new TextDecoder().decode(new TextEncoder().encode(text)));
    }
  });

  it('encodes every integer width, signed only for negatives', () => {
    for (const value of [
      0,
      127,
      128,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      -1,
      -32,
      -33,
      -128,
      -129,
      -32768,
      -32769,
      -(2 ** 31),
      -(2 ** 31) - 1,
      -(2 ** 40),
    ]) {
      expect(decode(kong.encode(value))).toBe(value);
    }
    expect(kong.encode(-(2 ** 40))[0]).toBe(0xd3);
    expect(kong.encode(2 ** 40)[0]).toBe(0xcf);
    expect(decode(kong.encode(Number.NaN))).toBeNaN();
  });

  it('encodes long arrays, maps and binaries with their wide headers', () => {
    const array = Array.from({ length: 70_000 }, (_, index) => index & 1);
    expect((decode(kong.encode(array)) as unknown[]).length).toBe(70_000);
    const map = Object.fromEntries(Array.from({ length: 20 }, (_, index) => [`k${index}`, index]));
    expect(kong.encode(map)[0]).toBe(0xde);
    expect(decode(kong.encode(map))).toEqual(map);
    expect(kong.encode(new Uint8Array(300))[0]).toBe(0xc5);
    expect(kong.encode(new Uint8Array(70_000))[0]).toBe(0xc6);
    // The encoder returns a Buffer, and decode() returns bin values as views of its input: compare the bytes.
    expect(Uint8Array.from(decode(kong.encode(new Uint16Array([1, 2]))) as Uint8Array)).toEqual(
      new Uint8Array(new Uint16Array([1, 2]).buffer),
    );
  });
});
