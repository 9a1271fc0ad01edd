import { EventEmitter } from 'node:events';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { forwardStdio } from '../../../src/goplugin/host/stdio.js';
import { type LoggedEntry, recordingLogger } from '../../helpers/logger.js';

/** A stand-in for the server-streaming StreamStdio call: the same events, driven by the test. */
function fakeCall(): EventEmitter & { cancel(): void } {
  return Object.assign(new EventEmitter(), { cancel: () => undefined });
}

describe('GRPCStdio forwarding', () => {
  it('routes STDOUT and STDERR chunks to their sinks and drops INVALID with a WARN', async () => {
    const call = fakeCall();
    const out: string[] = [];
    const err: string[] = [];
    const logs: LoggedEntry[] = [];
    const done = forwardStdio(
      call as never,
      { stdout: (data) => out.push(data.toString()), stderr: (data) => err.push(data.toString()) },
      recordingLogger((entry) => logs.push(entry)),
      'plugin',
    );
    call.emit('data', { channel: 1, data: Buffer.from('to stdout') });
    call.emit('data', { channel: 2, data: Buffer.from('to stderr') });
    call.emit('data', { channel: 0, data: Buffer.from('nowhere') });
    call.emit('end');
    await done;
    expect(out).toEqual(['to stdout']);
    expect(err).toEqual(['to stderr']);
    expect(logs).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'unknown channel, dropping',
        fields: expect.objectContaining({ origin: 'host', plugin: 'plugin' }),
      }),
    ]);
  });

  it.each([status.UNIMPLEMENTED, status.UNAVAILABLE, status.CANCELLED])(
    'ends quietly (DEBUG) on gRPC status %i, as go-plugin >= 1.2.1 does',
    async (code) => {
      const call = fakeCall();
      const logs: LoggedEntry[] = [];
      const done = forwardStdio(
        call as never,
        { stdout: undefined, stderr: undefined },
        recordingLogger((entry) => logs.push(entry)),
        'p',
      );
      call.emit('error', Object.assign(new Error('x'), { code }));
      call.emit('close');
      await done;
      expect(logs.map((entry) => entry.level)).toEqual(['debug']);
    },
  );

  it('survives a throwing sink and a throwing logger', async () => {
    const call = fakeCall();
    const done = forwardStdio(
      call as never,
      {
        stdout: () => {
          throw new Error('sink');
        },
        stderr: undefined,
      },
      {
        warn: () => {
          throw new Error('logger');
        },
        debug: () => {
          throw new Error('logger');
        },
      },
      'p',
    );
    call.emit('data', { channel: 1, data: Buffer.from('x') });
    call.emit('data', { channel: 9, data: Buffer.from('x') });
    call.emit('error', Object.assign(new Error('boom'), { code: status.INTERNAL }));
    call.emit('close');
    await expect(done).resolves.toBeUndefined();
  });
});
