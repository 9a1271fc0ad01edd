/**
 * Shared pieces of the Kong interop tests: temp dirs, a TypeScript plugin that makes every kind of PDK call,
 * and a hex-frame parser for the Lua mini-Kong's output.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from '@msgpack/msgpack';
import type { KongPdk, KongPluginDefinition } from '../../src/kong-rpc/index.js';

/** A temp directory removed by `dispose()`. */
export function tempDir(prefix: string): { path: string; dispose(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, dispose: () => rmSync(path, { recursive: true, force: true }) };
}

/** What the every-step plugin saw, per phase. */
export type Observed = Record<string, unknown>;

/** A 40-byte header value: Kong-compatible encoding must send it as str16 (`da 00 28`). */
export const FORTY_BYTES = 'x'.repeat(40);

/**
 * A plugin whose phases make every kind of PDK call Kong answers differently: plain values, nil, multimaps,
 * the empty multimap, raw bodies, the typed entity Steps, `_method`, a nil result, a terminal call, and a call
 * after it.
 */
export function everyStepPlugin(observed: Observed): KongPluginDefinition<{ greeting: string }> {
  return {
    name: 'every-step',
    version: '0.3.0',
    priority: 42,
    schema: [{ greeting: { type: 'string' } }],
    create: (config) => ({
      async access(kong: KongPdk) {
        observed.config = config;
        observed.host = await kong.request.getHeader('host');
        observed.path = await kong.request.getPath();
        observed.headers = await kong.request.getHeaders();
        observed.query = await kong.request.getQuery();
        observed.rawBody = await kong.request.getRawBody();
        try {
          observed.body = await kong.request.getBody();
        } catch (error) {
          observed.body = error;
        }
        observed.credential = await kong.client.getCredential();
        observed.consumer = await kong.client.getConsumer();
        observed.route = await kong.router.getRoute();
        observed.service = await kong.router.getService();
        observed.memory = await kong.node.getMemoryStats();
        observed.stepPlugin = await kong.call('kong.fixture.step_plugin');
        observed.unknown = await kong.call('kong.nginx.no_such_function');
        await kong.response.setHeader('x-greeting', config.greeting);
        await kong.response.setHeader('x-long', FORTY_BYTES);
        observed.responseHeaders = await kong.response.getHeaders();
      },
      async response(kong: KongPdk) {
        await kong.response.exit(403, 'nope', { 'x-exit': '1' });
        try {
          await kong.response.setHeader('x-after', 'exit');
          observed.afterExit = 'answered';
        } catch (error) {
          observed.afterExit = error;
        }
      },
      async log(kong: KongPdk) {
        observed.serialized = await kong.log.serialize();
        await kong.log.info('served', observed.serialized);
      },
    }),
  };
}

/** One line of the mini-Kong's output. */
export type MiniKongLine =
  | { kind: 'sent'; bytes: Uint8Array; message: unknown }
  | { kind: 'received'; bytes: Uint8Array; message: unknown }
  | { kind: 'text'; text: string };

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.trim().split(/\s+/), (byte) => Number.parseInt(byte, 16));
}

/** Parses the mini-Kong's stdout: `-> hex` (sent by Kong), `<- hex` (received by Kong), and text lines. */
export function parseMiniKong(stdout: string): MiniKongLine[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line): MiniKongLine => {
      if (line.startsWith('-> ')) {
        const bytes = hexBytes(line.slice(3));
        return { kind: 'sent', bytes, message: decode(bytes) };
      }
      if (line.startsWith('<- ')) {
        const bytes = hexBytes(line.slice(3));
        return { kind: 'received', bytes, message: decode(bytes) };
      }
      return { kind: 'text', text: line };
    });
}

/** Hex of bytes, space-separated, for readable byte assertions. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
}

/** Hex of a string's UTF-8 bytes. */
export function hexText(text: string): string {
  return hex(Buffer.from(text, 'utf8'));
}
