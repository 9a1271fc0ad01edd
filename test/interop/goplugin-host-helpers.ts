/**
 * Shared pieces of the goplugin host interop tests: the Go fixture binaries (the plugin engineer's kvplugin and
 * the host-side variants built from test/fixtures/go by build.sh), typed KV/Brokered clients, and leak checks.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { GO_FIXTURES_BIN, KV_PROTO_DIR, KVHOST, KVPLUGIN } from '../fixtures/go/fixtures.js';

export { KVHOST, KVPLUGIN };
/** Host-side variants (test/fixtures/go/gopath/src/pluginwire.test/kv/<name>). */
export const KVLOGPANIC = join(GO_FIXTURES_BIN, 'kvlogpanic');
export const KVGARBAGE = join(GO_FIXTURES_BIN, 'kvgarbage');
export const KVSILENT = join(GO_FIXTURES_BIN, 'kvsilent');
export const KVEXIT = join(GO_FIXTURES_BIN, 'kvexit');
export const KVNETRPC = join(GO_FIXTURES_BIN, 'kvnetrpc');
export const KVLINGER = join(GO_FIXTURES_BIN, 'kvlinger');

/** Whether every binary these tests start exists. */
export function hostFixturesBuilt(): boolean {
  return [KVHOST, KVPLUGIN, KVLOGPANIC, KVGARBAGE, KVSILENT, KVEXIT, KVNETRPC, KVLINGER].every((path) =>
    existsSync(path),
  );
}

export const PEER_NAME = 'Go fixtures (go + Debian go-plugin, built by test/fixtures/go/build.sh)';

/** The cookie of the go-plugin KV example. */
export const COOKIE = { magicCookieKey: 'BASIC_PLUGIN', magicCookieValue: 'hello' } as const;

const definition = loadSync([join(KV_PROTO_DIR, 'kv.proto'), join(KV_PROTO_DIR, 'broker.proto')], {
  keepCase: true,
  includeDirs: [KV_PROTO_DIR],
});
const proto = (
  loadPackageDefinition(definition) as unknown as {
    proto: Record<'KV' | 'Brokered' | 'Echo', ServiceClientConstructor>;
  }
).proto;
export const KVService = proto.KV;
export const BrokeredService = proto.Brokered;
export const EchoService = proto.Echo;

type Callback<T> = (error: Error | null, response: T) => void;

/** Calls a unary method of a proto-loader client as a promise. */
export function call<T>(client: Client, method: string, request: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (req: object, cb: Callback<T>) => void>)[method];
    if (fn === undefined) throw new Error(`no method ${method}`);
    fn.call(client, request, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

/** A fresh parent directory for the plugin's private socket dir, to check that nothing is left in it. */
export async function socketParent(): Promise<{
  dir: string;
  entries(): Promise<string[]>;
  remove(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'pwh-'));
  return { dir, entries: () => readdir(dir), remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Whether a process exists (signal 0). */
export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits for a promise with a bound, failing with `what` when it runs out. */
export function bounded<T>(promise: Promise<T>, timeout: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)),
      timeout,
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
