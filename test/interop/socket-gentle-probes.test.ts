import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KongPluginClient } from '../../src/kong-rpc/index.js';
import { listenUnix, SocketInUseError } from '../../src/socket/index.js';
import { watchReadiness } from '../../src/socket/readiness.js';
import { type Fixture, killFixture, removeDir, startFixture, tempSocketDir } from '../helpers/socket.js';

// Spec socket.md §2.1 step 3: a probe half-closes and drains before it closes, so a server that writes first on
// every connection (go-pdk v0.6's serverPid notification, Node servers that greet) and has no per-connection
// error handler is never reset by it. Each server runs in a child process: its death is what the tests look for.
const PROBES = 100;
const GREETER = 'greeting-server.mjs';

/** Whether a fresh connection still gets the server's first bytes. */
function greets(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const timer = setTimeout(() => finish(false), 5000);
    const finish = (answer: boolean): void => {
      clearTimeout(timer);
      socket.end();
      socket.on('error', () => {});
      socket.resume();
      resolve(answer);
    };
    socket.once('data', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

function readiness(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    watchReadiness({
      kernelPath: path,
      staleIdentity: undefined,
      interval: 10,
      slowInterval: 100,
      timeout: 5000,
      probeTimeout: 500,
      onReady: resolve,
      onTimeout: () => reject(new Error('readiness timed out')),
    });
  });
}

describe.each([
  ['a server that greets in text', 'text'],
  ['a go-pdk-like server that sends a serverPid notification first', 'gopdk'],
])('%s, with no error handler', (_label, mode) => {
  let dir: string;
  let path: string;
  let server: Fixture;
  let died = false;

  beforeAll(async () => {
    dir = tempSocketDir();
    path = join(dir, 'greeter.socket');
    server = startFixture(GREETER, [path, mode]);
    void server.exited.then(() => {
      died = true;
    });
    await server.line(/^listening$/);
  });

  afterAll(async () => {
    await killFixture(server);
    removeDir(dir);
  });

  it(`survives ${PROBES} probes from listenUnix, which refuses the path`, async () => {
    for (let i = 0; i < PROBES; i++) {
      const outcome = await listenUnix(path).then(
        async (unexpected) => {
          await unexpected.close();
          return 'listened';
        },
        (error: unknown) => error,
      );
      expect(outcome).toBeInstanceOf(SocketInUseError);
    }
    expect(await greets(path)).toBe(true);
    expect(died).toBe(false);
  });

  it(`survives ${PROBES} probes from the supervisor's readiness loop`, async () => {
    for (let i = 0; i < PROBES; i++) await readiness(path);
    expect(await greets(path)).toBe(true);
    expect(died).toBe(false);
  });

  it(`survives ${PROBES} Kong clients that connect, call and close`, async () => {
    for (let i = 0; i < PROBES; i++) {
      const client = new KongPluginClient({ socketPath: path, timeout: 2000, connectTimeout: 2000 });
      const status = client.getStatus();
      if (mode === 'gopdk') await expect(status).resolves.toEqual({});
      else await status.catch(() => undefined);
      await client.close();
    }
    expect(await greets(path)).toBe(true);
    expect(died).toBe(false);
  });
});
