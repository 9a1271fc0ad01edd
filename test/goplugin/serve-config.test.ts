import { describe, expect, it } from 'vitest';
import { InvalidPluginOptionsError, servePlugin } from '../../src/goplugin/index.js';

describe('servePlugin configuration (before anything is bound or printed)', () => {
  const versions = { 1: () => {} };
  it('with exit: false rejects an empty cookie key or value', async () => {
    await expect(
      servePlugin({ magicCookieKey: '', magicCookieValue: 'hello', versions, exit: false }),
    ).rejects.toMatchObject({
      code: 'GOPLUGIN_INVALID_OPTIONS',
    });
    await expect(
      servePlugin({ magicCookieKey: 'K', magicCookieValue: '', versions, exit: false }),
    ).rejects.toThrow(InvalidPluginOptionsError);
  });
  it('with exit: false rejects a plugin without versions', async () => {
    await expect(
      servePlugin({ magicCookieKey: 'K', magicCookieValue: 'v', versions: {}, exit: false }),
    ).rejects.toMatchObject({
      code: 'GOPLUGIN_INVALID_OPTIONS',
    });
  });
  it('with exit: false a wrong cookie rejects instead of exiting', async () => {
    await expect(
      servePlugin({ magicCookieKey: 'K', magicCookieValue: 'v', versions, env: { K: 'v ' }, exit: false }),
    ).rejects.toMatchObject({ code: 'GOPLUGIN_COOKIE_MISMATCH' });
  });
});
