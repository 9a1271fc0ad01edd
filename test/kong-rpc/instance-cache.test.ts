import { describe, expect, it } from 'vitest';
import { InstanceCache } from '../../src/kong-rpc/instance-cache.js';

function backend() {
  const started: [string, Record<string, unknown>][] = [];
  const closed: number[] = [];
  let next = 10;
  let failNext = false;
  return {
    started,
    closed,
    failOnce() {
      failNext = true;
    },
    start: async (plugin: string, config: Record<string, unknown>) => {
      started.push([plugin, config]);
      if (failNext) {
        failNext = false;
        throw new Error('start failed');
      }
      return next++;
    },
    close: async (id: number) => {
      closed.push(id);
      return undefined;
    },
  };
}

describe('InstanceCache (plugin.lua get_instance_id)', () => {
  it('starts one instance per configuration and reuses it', async () => {
    const b = backend();
    const cache = new InstanceCache(b);
    const [a, again, other] = await Promise.all([
      cache.instanceFor('p', { x: 1 }, undefined),
      cache.instanceFor('p', { x: 1 }, undefined),
      cache.instanceFor('p', { x: 2 }, undefined),
    ]);
    expect(a).toBe(10);
    expect(again).toBe(10);
    expect(other).toBe(11);
    expect(b.started).toHaveLength(2);
    expect(await cache.instanceFor('p', { x: 1 }, undefined)).toBe(10);
    expect(b.started).toHaveLength(2);
  });

  it('keys by __plugin_id and replaces the instance when the config changes, closing the old one after', async () => {
    const b = backend();
    const cache = new InstanceCache(b);
    const first = await cache.instanceFor('p', { __plugin_id: 'e1', __seq__: 1, x: 1 }, undefined);
    const second = await cache.instanceFor('p', { __plugin_id: 'e1', __seq__: 2, x: 1 }, undefined);
    expect(second).not.toBe(first);
    await Promise.resolve();
    expect(b.closed).toEqual([first]);
    expect(cache.size).toBe(1);
  });

  it('releases the claim when a start fails, so the next event starts again', async () => {
    const b = backend();
    const cache = new InstanceCache(b);
    b.failOnce();
    await expect(cache.instanceFor('p', {}, undefined)).rejects.toThrow('start failed');
    expect(cache.size).toBe(0);
    expect(await cache.instanceFor('p', {}, undefined)).toBe(10);
  });

  it('drops one plugin on reset, or everything on a pid change', async () => {
    const b = backend();
    const cache = new InstanceCache(b);
    await cache.instanceFor('p', {}, undefined);
    await cache.instanceFor('q', {}, 'custom-key');
    cache.resetPlugin('p');
    expect(cache.size).toBe(1);
    expect(await cache.instanceFor('p', {}, undefined)).toBe(12);
    cache.resetAll();
    expect(cache.size).toBe(0);
  });
});
