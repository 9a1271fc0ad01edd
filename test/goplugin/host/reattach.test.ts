import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReattachError } from '../../../src/goplugin/host/errors.js';
import {
  formatReattachProviders,
  normalizeReattachConfig,
  parseReattachProviders,
} from '../../../src/goplugin/host/reattach.js';

const TF = {
  'registry.terraform.io/hashicorp/null': {
    Protocol: 'grpc',
    ProtocolVersion: 6,
    Pid: 12345,
    Test: true,
    Addr: { Network: 'unix', String: '/tmp/plugin123' },
  },
};

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ReattachError);
    return (error as ReattachError).code;
  }
  return undefined;
}

describe('reattach configurations', () => {
  it("parses Terraform's TF_REATTACH_PROVIDERS shape", () => {
    expect(parseReattachProviders(JSON.stringify(TF))).toEqual({
      'registry.terraform.io/hashicorp/null': {
        protocol: 'grpc',
        protocolVersion: 6,
        pid: 12345,
        test: true,
        addr: { network: 'unix', address: '/tmp/plugin123' },
      },
    });
  });

  it('round-trips through formatReattachProviders', () => {
    const parsed = parseReattachProviders(JSON.stringify(TF));
    expect(JSON.parse(formatReattachProviders(parsed))).toEqual(TF);
  });

  it('accepts the camelCase form and tcp addresses', () => {
    expect(
      normalizeReattachConfig({
        protocol: 'grpc',
        protocolVersion: 1,
        addr: { network: 'tcp', address: '[::1]:10000' },
      }),
    ).toEqual({ protocol: 'grpc', protocolVersion: 1, addr: { network: 'tcp', address: '[::1]:10000' } });
  });

  it('treats Pid 0 as unknown', () => {
    const config = normalizeReattachConfig({ ...TF['registry.terraform.io/hashicorp/null'], Pid: 0 });
    expect(config.pid).toBeUndefined();
  });

  it('rejects unknown networks the way Terraform words it', () => {
    const text = JSON.stringify({
      p: { ...TF['registry.terraform.io/hashicorp/null'], Addr: { Network: 'udp', String: 'x' } },
    });
    expect(() => parseReattachProviders(text)).toThrow('Unknown address type "udp" for "p"');
  });

  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['netrpc', JSON.stringify({ p: { ...TF['registry.terraform.io/hashicorp/null'], Protocol: 'netrpc' } })],
    [
      'an empty protocol (netrpc in Go)',
      JSON.stringify({ p: { ...TF['registry.terraform.io/hashicorp/null'], Protocol: '' } }),
    ],
    [
      'version 0',
      JSON.stringify({ p: { ...TF['registry.terraform.io/hashicorp/null'], ProtocolVersion: 0 } }),
    ],
    [
      'an empty unix path',
      JSON.stringify({
        p: { ...TF['registry.terraform.io/hashicorp/null'], Addr: { Network: 'unix', String: '' } },
      }),
    ],
    [
      'a tcp address without port',
      JSON.stringify({
        p: { ...TF['registry.terraform.io/hashicorp/null'], Addr: { Network: 'tcp', String: '127.0.0.1' } },
      }),
    ],
    ['a negative pid', JSON.stringify({ p: { ...TF['registry.terraform.io/hashicorp/null'], Pid: -4 } })],
    ['an entry that is not an object', JSON.stringify({ p: 3 })],
  ])('rejects %s with GOPLUGIN_INVALID_REATTACH_CONFIG', (_name, text) => {
    expect(codeOf(() => parseReattachProviders(text))).toBe('GOPLUGIN_INVALID_REATTACH_CONFIG');
  });

  it('throws only ReattachError on arbitrary JSON (fast-check)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseReattachProviders(JSON.stringify(value));
        } catch (error) {
          expect(error).toBeInstanceOf(ReattachError);
        }
      }),
      { seed: 8 },
    );
  });
});

describe('fuzz findings (test/fuzz/corpus/goplugin-reattach.json)', () => {
  it('goplugin-reattach #1: a provider named __proto__ is an own key, not the prototype of the result', () => {
    const text =
      '{"__proto__":{"Protocol":"grpc","ProtocolVersion":1,"Addr":{"Network":"unix","String":" "}},"p":' +
      '{"Protocol":"grpc","ProtocolVersion":6,"Addr":{"Network":"unix","String":"/x"}}}';
    const providers = parseReattachProviders(text);
    expect(Object.getPrototypeOf(providers)).toBe(Object.prototype);
    expect(Object.keys(providers)).toEqual(['__proto__', 'p']);
    expect(Object.getOwnPropertyDescriptor(providers, '__proto__')?.value).toEqual({
      protocol: 'grpc',
      protocolVersion: 1,
      addr: { network: 'unix', address: ' ' },
    });
    // And back: formatReattachProviders writes it as a key too.
    expect(Object.keys(JSON.parse(formatReattachProviders(providers)))).toEqual(['__proto__', 'p']);
  });
});
