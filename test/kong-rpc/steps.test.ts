import { describe, expect, it } from 'vitest';
import {
  fixPdkResult,
  isPdkFailure,
  pdkArguments,
  pdkFailure,
  stepMethodFor,
  TERMINAL_PDK_METHODS,
} from '../../src/kong-rpc/steps.js';
import { EMPTY_MAP } from '../../src/msgpack-rpc/kong-encoder.js';

describe('stepMethodFor (mp_rpc get_step_method)', () => {
  it.each([
    ['kong.client.get_credential', 'plugin.StepCredential'],
    ['kong.client.authenticate', 'plugin.StepCredential'],
    ['kong.client.load_consumer', 'plugin.StepConsumer'],
    ['kong.client.get_consumer', 'plugin.StepConsumer'],
    ['kong.node.get_memory_stats', 'plugin.StepMemoryStats'],
    ['kong.router.get_route', 'plugin.StepRoute'],
    ['kong.router.get_service', 'plugin.StepService'],
    ['kong.request.get_query', 'plugin.StepMultiMap'],
    ['kong.request.get_headers', 'plugin.StepMultiMap'],
    ['kong.response.get_headers', 'plugin.StepMultiMap'],
    ['kong.service.response.get_headers', 'plugin.StepMultiMap'],
    ['kong.request.get_header', 'plugin.Step'],
    ['kong.log.serialize', 'plugin.Step'],
  ])('sends the result of %s with %s', (method, step) => {
    expect(stepMethodFor(method, { id: 'x' })).toBe(step);
  });

  it('lets a result map name its own Step method with _method, before the table', () => {
    expect(stepMethodFor('kong.router.get_route', { _method: 'plugin.StepPlugin' })).toBe(
      'plugin.StepPlugin',
    );
    expect(stepMethodFor('kong.router.get_route', { _method: 7 })).toBe('plugin.StepRoute');
    expect(stepMethodFor('kong.request.get_header', ['_method'])).toBe('plugin.Step');
  });
});

describe('fixPdkResult (mp_rpc must_fix)', () => {
  it('turns multimap values into string arrays: true -> [], "v" -> ["v"], arrays kept', () => {
    expect(
      fixPdkResult('kong.request.get_headers', { flag: true, a: '1', accept: ['*/*', 'text/html'] }),
    ).toEqual({
      flag: [],
      a: ['1'],
      accept: ['*/*', 'text/html'],
    });
  });

  it('sends an empty multimap as the explicit empty map (80), for all four methods', () => {
    for (const method of [
      'kong.request.get_query',
      'kong.request.get_headers',
      'kong.response.get_headers',
      'kong.service.response.get_headers',
    ]) {
      expect(fixPdkResult(method, {})).toBe(EMPTY_MAP);
      expect(fixPdkResult(method, { gone: undefined })).toBe(EMPTY_MAP);
    }
  });

  it('leaves other empty tables alone (Kong encodes them as 90)', () => {
    const empty = {};
    expect(fixPdkResult('kong.router.get_route', empty)).toBe(empty);
  });

  it('sends raw bodies as bytes', () => {
    const fixed = fixPdkResult('kong.request.get_raw_body', 'hé');
    expect(fixed).toBeInstanceOf(Uint8Array);
    expect([...(fixed as Uint8Array)]).toEqual([0x68, 0xc3, 0xa9]);
    const bytes = new Uint8Array([0xff, 0, 0xcf]);
    expect(fixPdkResult('kong.service.response.get_raw_body', bytes)).toBe(bytes);
    expect(fixPdkResult('kong.response.get_raw_body', undefined)).toBeUndefined();
  });

  it('sends kong.log.serialize as JSON text, as Kong’s override does', () => {
    expect(fixPdkResult('kong.log.serialize', { request: { uri: '/' } })).toBe('{"request":{"uri":"/"}}');
    expect(fixPdkResult('kong.log.serialize', '{"a":1}')).toBe('{"a":1}');
  });
});

describe('pdkArguments (Kong calls method(unpack(Args)) for tables, method(Args) otherwise)', () => {
  it('keeps arrays, treats nil as no arguments, wraps scalars, unpacks integer-keyed maps', () => {
    expect(pdkArguments(['host'])).toEqual(['host']);
    expect(pdkArguments(undefined)).toEqual([]);
    expect(pdkArguments(null)).toEqual([]);
    expect(pdkArguments('host')).toEqual(['host']);
    expect(pdkArguments({ 1: 'a', 2: 'b', 4: 'd' })).toEqual(['a', 'b']);
    expect(pdkArguments({})).toEqual([]);
  });
});

describe('terminal calls and pdkFailure', () => {
  it('knows kong.response.exit and kong.response.error as terminal', () => {
    expect([...TERMINAL_PDK_METHODS].sort()).toEqual(['kong.response.error', 'kong.response.exit']);
  });

  it('marks Kong 2.x failures', () => {
    const failure = pdkFailure('boom');
    expect(isPdkFailure(failure)).toBe(true);
    expect(failure.message).toBe('boom');
    expect(isPdkFailure({ message: 'boom' })).toBe(false);
    expect(isPdkFailure(undefined)).toBe(false);
  });
});
