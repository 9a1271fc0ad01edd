import { describe, expect, it } from 'vitest';
import { completeLogger, type LogFields, log } from '../src/logger.js';

describe('the shared Logger', () => {
  it('log() calls the level method with message and fields, drops a missing level, swallows a throw', () => {
    const seen: [string, LogFields | undefined][] = [];
    const logger = {
      info: (message: string, fields?: LogFields) => seen.push([message, fields]),
      error: () => {
        throw new Error('broken logger');
      },
    };
    log(logger, 'info', 'hello', { plugin: 'p' });
    log(logger, 'debug', 'dropped');
    expect(() => log(logger, 'error', 'boom')).not.toThrow();
    log(undefined, 'info', 'nobody listens');
    expect(seen).toEqual([['hello', { plugin: 'p' }]]);
  });

  it('completeLogger() has every level and drops those below the minimum', () => {
    const seen: string[] = [];
    const record = (message: string) => seen.push(message);
    const logger = completeLogger({ debug: record, warn: record, error: record }, 'warn');
    for (const level of ['trace', 'debug', 'info', 'warn', 'error'] as const) logger[level](level);
    expect(seen).toEqual(['warn', 'error']);
  });
});
