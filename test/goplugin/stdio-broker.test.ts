import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { createHclogLogger } from '../../src/goplugin/hclog.js';
import { BrokerError, type ConnInfo, GRPCBroker, ServeError } from '../../src/goplugin/index.js';
import { bindListener } from '../../src/goplugin/listen.js';
import { StdioCapture } from '../../src/goplugin/plugin/stdio.js';

class FakeStream extends EventEmitter {
  sent: Array<{ channel?: number; data?: Buffer } & Partial<ConnInfo>> = [];
  ended = false;
  write(item: never) {
    this.sent.push(item);
    return true;
  }
  end() {
    this.ended = true;
  }
}

const silent = createHclogLogger({ write: () => {} });

describe('StdioCapture', () => {
  it('sends post-handshake stdout in chunks of at most 1024 bytes to the oldest stream', () => {
    const capture = new StdioCapture({ captureStderr: false });
    const first = new FakeStream();
    const second = new FakeStream();
    capture.start();
    try {
      capture.streamStdio(first as never);
      capture.streamStdio(second as never);
      process.stdout.write('x'.repeat(2500));
      process.stdout.write(new Uint8Array([0x61]));
      process.stdout.write('');
    } finally {
      capture.stop();
    }
    expect(first.sent.map((item) => [item.channel, item.data?.length])).toEqual([
      [1, 1024],
      [1, 1024],
      [1, 452],
      [1, 1],
    ]);
    expect(second.sent).toEqual([]);
    expect(first.ended && second.ended).toBe(true);
  });
  it('buffers stdout while no stream is open, drops the oldest beyond the bound, and flushes to the first stream', () => {
    const capture = new StdioCapture({ captureStderr: false, bufferBytes: 10 });
    capture.start();
    const stream = new FakeStream();
    try {
      process.stdout.write('0123456789');
      process.stdout.write('abcd', () => {});
      capture.streamStdio(stream as never);
    } finally {
      capture.stop();
    }
    expect(capture.dropped).toBe(4);
    expect(Buffer.concat(stream.sent.map((item) => item.data as Buffer)).toString()).toBe('456789abcd');
  });
  it('routes stderr to the stream as channel 2 and moves on when a stream is cancelled', () => {
    const capture = new StdioCapture();
    const first = new FakeStream();
    const second = new FakeStream();
    capture.start();
    try {
      capture.streamStdio(first as never);
      capture.streamStdio(second as never);
      first.emit('cancelled');
      process.stderr.write('err');
    } finally {
      capture.stop();
    }
    expect(first.sent).toEqual([]);
    expect(second.sent.map((item) => [item.channel, item.data?.toString()])).toEqual([[2, 'err']]);
  });
});

describe('GRPCBroker', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const broker = (timeout = 200) => {
    const dir = mkdtempSync(join(tmpdir(), 'pwb-'));
    dirs.push(dir);
    return new GRPCBroker({
      serverCredentials: () => ServerCredentials.createInsecure(),
      channelCredentials: () => credentials.createInsecure(),
      serverOptions: {},
      channelOptions: {},
      bind: (server) =>
        bindListener(server, ServerCredentials.createInsecure(), 'unix', { PLUGIN_UNIX_SOCKET_DIR: dir }),
      logger: silent,
      timeout,
    });
  };
  const codeOf = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      expect(error).toBeInstanceOf(BrokerError);
      return (error as BrokerError).code;
    }
    throw new Error('expected a BrokerError');
  };

  it('hands out ids 1, 2, 3', () => {
    const b = broker();
    expect([b.nextId(), b.nextId(), b.nextId()]).toEqual([1, 2, 3]);
  });
  it('dial waits for the connection info, before or after it arrives', async () => {
    const b = broker();
    const stream = new FakeStream();
    b.attach(stream);
    stream.emit('data', { service_id: 7, network: 'unix', address: '/tmp/x' });
    expect(await b.dial(7)).toMatchObject({ network: 'unix', address: '/tmp/x', target: 'unix:/tmp/x' });
    const pending = b.dial(8);
    stream.emit('data', { service_id: 8, network: 'tcp', address: '127.0.0.1:5' });
    expect((await pending).target).toBe('127.0.0.1:5');
  });
  it('times out like Go, expires unclaimed info, and rejects duplicate dials', async () => {
    const b = broker(50);
    const stream = new FakeStream();
    b.attach(stream);
    expect(await codeOf(b.dial(1))).toBe('GOPLUGIN_BROKER_TIMEOUT');
    stream.emit('data', { service_id: 2, network: 'unix', address: '/tmp/y' });
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await codeOf(b.dial(2))).toBe('GOPLUGIN_BROKER_TIMEOUT');
    const first = b.dial(3);
    expect(await codeOf(b.dial(3))).toBe('GOPLUGIN_BROKER_DUPLICATE_ID');
    expect(await codeOf(first)).toBe('GOPLUGIN_BROKER_TIMEOUT');
  });
  it('ignores multiplexed knocks and rejects unknown networks', async () => {
    const b = broker(50);
    const stream = new FakeStream();
    b.attach(stream);
    stream.emit('data', {
      service_id: 4,
      network: 'unix',
      address: '/x',
      knock: { knock: true, ack: false, error: '' },
    });
    expect(await codeOf(b.dial(4))).toBe('GOPLUGIN_BROKER_TIMEOUT');
    stream.emit('data', { service_id: 5, network: 'udp', address: '1.2.3.4:5' });
    expect(await codeOf(b.dial(5))).toBe('GOPLUGIN_BROKER_UNKNOWN_NETWORK');
  });
  it('accept announces a new listener on the stream and close removes it', async () => {
    const b = broker();
    const stream = new FakeStream();
    b.attach(stream);
    const served = await b.accept(9, () => {});
    expect(stream.sent).toEqual([{ service_id: 9, network: 'unix', address: served.listener.address }]);
    await b.close();
    expect(stream.ended).toBe(true);
    expect(await codeOf(b.dial(1))).toBe('GOPLUGIN_BROKER_CLOSED');
    expect(await codeOf(b.accept(10, () => {}))).toBe('GOPLUGIN_BROKER_CLOSED');
  });
  it('accept without a broker stream times out; close fails pending dials', async () => {
    const b = broker(50);
    expect(await codeOf(b.accept(1, () => {}))).toBe('GOPLUGIN_BROKER_TIMEOUT');
    const pending = b.dial(2);
    await b.close();
    expect(await codeOf(pending)).toBe('GOPLUGIN_BROKER_CLOSED');
  });
});

describe('bindListener', () => {
  it('names the sun_path limit when the socket directory is too long', async () => {
    const server = new Server();
    const attempt = bindListener(server, ServerCredentials.createInsecure(), 'unix', {
      PLUGIN_UNIX_SOCKET_DIR: `/tmp/${'d'.repeat(100)}`,
    });
    await expect(attempt).rejects.toThrow(ServeError);
    await expect(attempt).rejects.toThrow(/sun_path limit/);
  });
  it('rejects an unknown socket group name', async () => {
    const server = new Server();
    const attempt = bindListener(server, ServerCredentials.createInsecure(), 'unix', {
      PLUGIN_UNIX_SOCKET_GROUP: 'no-such-group-pluginwire',
    });
    await expect(attempt).rejects.toMatchObject({ code: 'GOPLUGIN_SOCKET_GROUP' });
    await expect(attempt).rejects.toThrow('failed to find gid from "no-such-group-pluginwire"');
  });
});
