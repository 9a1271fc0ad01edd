import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createMemoryDuplexPair } from '../../src/msgpack-rpc/pair.js';
import { PoolClosedError, SocketAbortedError, UnixSocketPool } from '../../src/socket/index.js';
import type { PoolConnectionFactory } from '../../src/socket/pool.js';

/** A connection the tests can see: which stream it wraps and whether it was destroyed. */
interface Tracked {
  id: number;
  stream: Duplex;
  destroyed: boolean;
}

/** An in-memory server: every connect makes a duplex pair; the far ends are kept for inspection. */
function memory() {
  const far: Duplex[] = [];
  let opened = 0;
  const connector = async () => {
    const [near, remote] = createMemoryDuplexPair();
    // Either end reports ECONNRESET when the other is destroyed; that is expected here.
    remote.on('error', () => {});
    near.on('error', () => {});
    far.push(remote);
    opened++;
    return near;
  };
  let created = 0;
  const factory: PoolConnectionFactory<Tracked> = {
    create: (stream) => ({ id: ++created, stream, destroyed: false }),
    isOpen: (connection) => !connection.destroyed,
    destroy: (connection) => {
      connection.destroyed = true;
      connection.stream.destroy();
    },
    onClose: (connection, listener) => {
      connection.stream.once('close', listener);
    },
  };
  return { far, connector, factory, opened: () => opened };
}

describe('UnixSocketPool over an injected connector and connection factory', () => {
  it('wraps each new stream once and reuses an idle connection (LIFO)', async () => {
    const server = memory();
    const pool = new UnixSocketPool('mem.socket', {
      connector: server.connector,
      connection: server.factory,
    });
    const first = await pool.exchange(async (connection) => connection.id);
    const second = await pool.exchange(async (connection) => connection.id);
    expect([first, second]).toEqual([1, 1]);
    expect(server.opened()).toBe(1);
    expect(pool.idle).toBe(1);
    await pool.close();
  });

  it('caps total connections separately from idle ones', async () => {
    const server = memory();
    const pool = new UnixSocketPool('mem.socket', {
      connector: server.connector,
      connection: server.factory,
      max: 3,
      maxIdle: 1,
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = [1, 2, 3, 4].map(() =>
      pool.exchange(async (connection) => {
        await gate;
        return connection.id;
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(pool.size).toBe(3);
    expect(pool.pending).toBe(1);
    release();
    const ids = await Promise.all(running);
    expect(new Set(ids).size).toBe(3);
    expect(server.opened()).toBe(3);
    // Only one fits in the idle list; the others were closed when released.
    expect(pool.idle).toBe(1);
    expect(pool.size).toBe(1);
    await pool.close();
  });

  it('closes idle connections after idleTimeout', async () => {
    const server = memory();
    const pool = new UnixSocketPool('mem.socket', {
      connector: server.connector,
      connection: server.factory,
      idleTimeout: 20,
    });
    let kept: Tracked | undefined;
    await pool.exchange(async (connection) => {
      kept = connection;
    });
    expect(pool.idle).toBe(1);
    await new Promise<void>((resolve) => kept?.stream.once('close', resolve));
    expect(kept?.destroyed).toBe(true);
    expect(pool.idle).toBe(0);
    expect(pool.size).toBe(0);
    await pool.close();
  });

  it('drops an idle connection the peer closed, and the next exchange gets a fresh one', async () => {
    const server = memory();
    const pool = new UnixSocketPool('mem.socket', {
      connector: server.connector,
      connection: server.factory,
    });
    await pool.exchange(async () => undefined);
    const closed = new Promise((resolve) => server.far[0]?.once('close', resolve));
    server.far[0]?.destroy();
    await closed;
    await new Promise((resolve) => setImmediate(resolve));
    expect(pool.idle).toBe(0);
    expect(await pool.exchange(async (connection) => connection.id)).toBe(2);
    await pool.close();
  });

  it('fails a waiting exchange when its signal aborts, and leaves the queue', async () => {
    const server = memory();
    const pool = new UnixSocketPool('mem.socket', {
      connector: server.connector,
      connection: server.factory,
      max: 1,
    });
    let release: () => void = () => {};
    const busy = pool.exchange(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    const waiting = pool.exchange(async () => 'never', { signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    expect(pool.pending).toBe(1);
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toBeInstanceOf(SocketAbortedError);
    expect(pool.pending).toBe(0);
    release();
    await busy;
    await pool.close();
  });

  it('destroys the connection of a failed exchange unless reusableAfter keeps it', async () => {
    const server = memory();
    const pool = new UnixSocketPool('mem.socket', {
      connector: server.connector,
      connection: server.factory,
      reusableAfter: (error) => error instanceof RangeError,
    });
    await expect(pool.exchange(async () => Promise.reject(new RangeError('answer')))).rejects.toThrow(
      'answer',
    );
    expect(pool.idle).toBe(1);
    await expect(pool.exchange(async () => Promise.reject(new Error('broken')))).rejects.toThrow('broken');
    expect(pool.idle).toBe(0);
    expect(pool.size).toBe(0);
    await pool.close();
  });

  it('rejects exchanges after close and destroys every connection', async () => {
    const server = memory();
    const pool = new UnixSocketPool('mem.socket', {
      connector: server.connector,
      connection: server.factory,
    });
    let kept: Tracked | undefined;
    await pool.exchange(async (connection) => {
      kept = connection;
    });
    await pool.close();
    expect(kept?.destroyed).toBe(true);
    await expect(pool.exchange(async () => undefined)).rejects.toBeInstanceOf(PoolClosedError);
  });
});
