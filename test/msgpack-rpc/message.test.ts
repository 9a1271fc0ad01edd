import { describe, expect, it } from 'vitest';
import { MessageCodec } from '../../src/msgpack-rpc/codec.js';
import { ProtocolError, RpcUsageError } from '../../src/msgpack-rpc/errors.js';
import { parseMessage } from '../../src/msgpack-rpc/message.js';
import { MsgidAllocator } from '../../src/msgpack-rpc/msgid.js';
import { hex } from './helpers.js';

const codec = new MessageCodec();
const parse = (bytes: string, options?: Parameters<typeof parseMessage>[1]) =>
  parseMessage(codec.decode(hex(bytes)), options);

function rejection(run: () => unknown): ProtocolError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).fatal).toBe(false);
    return error as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

describe('parseMessage', () => {
  it('accepts the three shapes', () => {
    expect(parse('94 00 01 a4 70 69 6e 67 90')).toEqual({
      kind: 'request',
      msgid: 1,
      method: 'ping',
      params: [],
      paramsWrapped: false,
    });
    expect(parse('94 01 01 c0 c0')).toEqual({ kind: 'response', msgid: 1, error: null, result: null });
    expect(parse('93 02 a1 6e 90')).toEqual({
      kind: 'notification',
      method: 'n',
      params: [],
      paramsWrapped: false,
    });
  });

  it('T16: a non-array is not-an-array', () => {
    expect(rejection(() => parse('a3 61 62 63')).reason).toBe('not-an-array');
  });

  it('T17/T18: wrong lengths are bad-length, with the msgid when it is valid; empty arrays are bad-type', () => {
    expect(rejection(() => parse('95 00 01 a1 6d 90 c0'))).toMatchObject({
      reason: 'bad-length',
      msgid: 1,
      messageType: 0,
    });
    expect(rejection(() => parse('92 02 a1 6d'))).toMatchObject({ reason: 'bad-length', messageType: 2 });
    expect(rejection(() => parse('90')).reason).toBe('bad-type');
  });

  it('T19: unknown or non-integer types are bad-type', () => {
    expect(rejection(() => parse('94 07 01 a1 6d 90')).reason).toBe('bad-type');
    expect(rejection(() => parse('94 a1 30 01 a1 6d 90')).reason).toBe('bad-type');
    expect(rejection(() => parse('94 cb 3f f8 00 00 00 00 00 00 01 a1 6d 90')).reason).toBe('bad-type');
  });

  it('T20: msgids outside 0…2^32−1 are bad-msgid without a msgid', () => {
    const negative = rejection(() => parse('94 00 ff a1 6d 90'));
    expect(negative.reason).toBe('bad-msgid');
    expect(negative.msgid).toBeUndefined();
    expect(rejection(() => parse('94 00 cf 00 00 00 01 00 00 00 00 a1 6d 90')).reason).toBe('bad-msgid');
    expect(rejection(() => parse('94 00 a1 31 a1 6d 90')).reason).toBe('bad-msgid');
  });

  it('T21/T22: accepts every integer form of a msgid, compared numerically', () => {
    expect(parse('94 00 ce ff ff ff ff a1 6d 90')).toMatchObject({ msgid: 4294967295 });
    expect(parse('94 01 d1 04 d2 c0 c0')).toMatchObject({ msgid: 1234 });
    expect(parse('94 01 cf 00 00 00 00 00 00 00 05 c0 c0')).toMatchObject({ msgid: 5 });
    const bigints = new MessageCodec({ int64: 'bigint' });
    expect(parseMessage(bigints.decode(hex('94 01 cf 00 00 00 00 00 00 00 05 c0 c0')))).toMatchObject({
      msgid: 5,
    });
  });

  it('T23: a non-string method (bin included) is bad-method', () => {
    expect(rejection(() => parse('94 00 01 01 90'))).toMatchObject({ reason: 'bad-method', msgid: 1 });
    expect(rejection(() => parse('94 00 01 c4 01 6d 90')).reason).toBe('bad-method');
  });

  it('T24/T25: non-array params are bad-params, or wrapped on request', () => {
    expect(rejection(() => parse('94 00 01 a1 6d c0'))).toMatchObject({ reason: 'bad-params', msgid: 1 });
    expect(parse('94 00 01 a1 6d c0', { nonArrayParams: 'wrap' })).toMatchObject({
      params: [null],
      paramsWrapped: true,
    });
    const serverPid = '93 02 a9 73 65 72 76 65 72 50 69 64 d1 04 d2';
    expect(rejection(() => parse(serverPid)).reason).toBe('bad-params');
    expect(parse(serverPid, { nonArrayParams: 'wrap' })).toEqual({
      kind: 'notification',
      method: 'serverPid',
      params: [1234],
      paramsWrapped: true,
    });
  });
});

describe('MsgidAllocator', () => {
  it('T53: wraps at 2^32 to the base, skipping ids in use', () => {
    const inUse = new Set([1, 2]);
    const one = new MsgidAllocator(1, 4294967295);
    const check = (id: number) => inUse.has(id);
    expect([one.next(check), one.next(check), one.next(check)]).toEqual([4294967295, 3, 4]);
    const zero = new MsgidAllocator(0, 4294967295);
    expect([zero.next((id) => id === 0), zero.next((id) => id === 0)]).toEqual([4294967295, 1]);
  });

  it('starts at the base and validates its arguments', () => {
    expect(new MsgidAllocator().next(() => false)).toBe(1);
    expect(new MsgidAllocator(0).next(() => false)).toBe(0);
    expect(() => new MsgidAllocator(2 as 1)).toThrow(RpcUsageError);
    expect(() => new MsgidAllocator(1, 0)).toThrow(RpcUsageError);
    expect(() => new MsgidAllocator(1, 2 ** 32)).toThrow(RpcUsageError);
  });
});
