import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type GrpcObject, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formattedGopluginProtos,
  GENERATED_FILE,
  GOPLUGIN_PROTO_DIR,
  GOPLUGIN_PROTO_FILES,
} from '../../scripts/gen-goplugin-protos.js';
import { GoPluginError } from '../../src/goplugin/index.js';
import { decodeMessage, encodeMessage } from '../../src/goplugin/proto-wire.js';
import { MESSAGES } from '../../src/goplugin/protos.generated.js';
import { internalServices } from '../../src/goplugin/protos.js';

// The options the runtime used with proto-loader before the definitions were compiled: the decoded shape must
// not change for handlers or user code.
const reference = loadPackageDefinition(
  loadSync(
    GOPLUGIN_PROTO_FILES.map((file) => join(GOPLUGIN_PROTO_DIR, file)),
    {
      keepCase: true,
      longs: Number,
      enums: Number,
      defaults: true,
      oneofs: true,
      includeDirs: [GOPLUGIN_PROTO_DIR],
    },
  ),
);
const referenceService = (path: string) => {
  let node: unknown = reference;
  for (const part of path.split('.')) node = (node as GrpcObject)[part];
  return (node as ServiceClientConstructor).service;
};
const compiled = internalServices();
const pairs = [
  ['grpc.health.v1.Health', compiled.health],
  ['plugin.GRPCController', compiled.controller],
  ['plugin.GRPCStdio', compiled.stdio],
  ['plugin.GRPCBroker', compiled.broker],
] as const;

const samples: Record<string, object[]> = {
  'grpc.health.v1.HealthCheckRequest': [{}, { service: '' }, { service: 'plugin' }, { service: 'ünïcode ✓' }],
  'grpc.health.v1.HealthCheckResponse': [{}, { status: 0 }, { status: 1 }, { status: 3 }, { status: -2 }],
  'plugin.Empty': [{}],
  'google.protobuf.Empty': [{}],
  'plugin.StdioData': [
    {},
    { channel: 1, data: Buffer.from('hello\n') },
    { channel: 2, data: Buffer.alloc(3000, 0xfe) },
    { channel: 0, data: Buffer.alloc(0) },
  ],
  'plugin.ConnInfo': [
    {},
    { service_id: 1, network: 'unix', address: '/tmp/plugin123' },
    { service_id: 4_294_967_295, network: 'tcp', address: '127.0.0.1:10000', knock: {} },
    { service_id: 7, knock: { knock: true, ack: false, error: 'no' } },
    { service_id: 0, network: '', address: '', knock: null },
  ],
};

describe('go-plugin internal protos, compiled at build time', () => {
  it('the committed protos.generated.ts is what the generator makes of the .proto files', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(formattedGopluginProtos());
  });

  it('defines the same services, methods, paths and streaming flags as proto-loader', () => {
    for (const [name, definition] of pairs) {
      const expected = referenceService(name);
      expect(Object.keys(definition)).toEqual(Object.keys(expected));
      for (const [method, value] of Object.entries(definition)) {
        const other = expected[method]!;
        expect(value.path).toBe(other.path);
        expect(value.requestStream).toBe(other.requestStream);
        expect(value.responseStream).toBe(other.responseStream);
        expect(value.originalName).toBe(other.originalName);
      }
    }
  });

  it('serializes byte for byte as proto-loader and decodes to the shape proto-loader gives', () => {
    let checked = 0;
    for (const [name, definition] of pairs) {
      const expected = referenceService(name);
      for (const [method, value] of Object.entries(definition)) {
        const other = expected[method]!;
        const types = [
          [
            value.requestSerialize,
            value.requestDeserialize,
            other.requestSerialize,
            other.requestDeserialize,
          ],
          [
            value.responseSerialize,
            value.responseDeserialize,
            other.responseSerialize,
            other.responseDeserialize,
          ],
        ] as const;
        for (const [serialize, deserialize, referenceSerialize, referenceDeserialize] of types) {
          // Find the sample set by what the reference serializer accepts for this type's fields.
          const typeName = Object.keys(samples).find((type) =>
            samples[type]!.every((sample) => {
              try {
                return referenceSerialize(sample).equals(serialize(sample));
              } catch {
                return false;
              }
            }),
          );
          expect(typeName, `${name}/${method}`).toBeDefined();
          for (const sample of samples[typeName!]!) {
            const ours = serialize(sample);
            expect(ours).toEqual(referenceSerialize(sample));
            expect(deserialize(ours)).toEqual(referenceDeserialize(ours));
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('round-trips random ConnInfo and StdioData messages against proto-loader in both directions', () => {
    const broker = referenceService('plugin.GRPCBroker').StartStream!;
    const stdio = referenceService('plugin.GRPCStdio').StreamStdio!;
    fc.assert(
      fc.property(
        fc.record({
          service_id: fc.nat({ max: 4_294_967_295 }),
          network: fc.string({ unit: 'grapheme' }),
          address: fc.string(),
          knock: fc.option(fc.record({ knock: fc.boolean(), ack: fc.boolean(), error: fc.string() })),
        }),
        (info) => {
          // protobufjs sometimes writes a field that holds its default value; Go and this codec leave it out.
          // Both are valid encodings, so compare what each side decodes from the other's bytes.
          const ours = encodeMessage(MESSAGES, 'plugin.ConnInfo', info);
          const theirs = broker.requestSerialize(info);
          const decoded = decodeMessage(MESSAGES, 'plugin.ConnInfo', theirs);
          expect(broker.requestDeserialize(ours)).toEqual(decoded);
          expect(decodeMessage(MESSAGES, 'plugin.ConnInfo', ours)).toEqual(decoded);
          expect(decoded).toEqual(broker.requestDeserialize(theirs));
        },
      ),
    );
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 5 }), fc.uint8Array({ maxLength: 2000 }), (channel, data) => {
        const bytes = stdio.responseSerialize({ channel, data: Buffer.from(data) });
        expect(decodeMessage(MESSAGES, 'plugin.StdioData', bytes)).toEqual(stdio.responseDeserialize(bytes));
      }),
    );
  });

  it('skips fields it does not know, of every wire type, as protobuf does', () => {
    // service_id 5, then unknown field 9 as varint, fixed64, length-delimited and fixed32, then network "tcp".
    const bytes = Buffer.from([
      0x08, 0x05, 0x48, 0x96, 0x01, 0x49, 1, 2, 3, 4, 5, 6, 7, 8, 0x4a, 0x02, 0xaa, 0xbb, 0x4d, 1, 2, 3, 4,
      0x12, 0x03, 0x74, 0x63, 0x70,
    ]);
    expect(decodeMessage(MESSAGES, 'plugin.ConnInfo', bytes)).toEqual({
      service_id: 5,
      network: 'tcp',
      address: '',
      knock: null,
    });
  });

  it('rejects truncated and malformed input with an error instead of a wrong message', () => {
    const whole = encodeMessage(MESSAGES, 'plugin.ConnInfo', {
      service_id: 300,
      network: 'unix',
      address: '/tmp/plugin1',
      knock: { error: 'x' },
    });
    for (let length = 1; length < whole.length; length++) {
      const cut = whole.subarray(0, length);
      let decoded: unknown;
      try {
        decoded = decodeMessage(MESSAGES, 'plugin.ConnInfo', cut);
      } catch (error) {
        expect(error).toBeInstanceOf(GoPluginError);
        expect(error).toMatchObject({
          code: 'GOPLUGIN_MALFORMED_MESSAGE',
          message: 'malformed plugin.ConnInfo message',
        });
        continue;
      }
      // A cut that falls between two fields is a valid shorter message: proto-loader must agree with it.
      const broker = referenceService('plugin.GRPCBroker').StartStream!;
      expect(decoded).toEqual(broker.requestDeserialize(Buffer.from(cut)));
    }
    expect(() => decodeMessage(MESSAGES, 'plugin.ConnInfo', Buffer.from([0x0b]))).toThrow(/malformed/); // wire type 3
    expect(() => decodeMessage(MESSAGES, 'plugin.ConnInfo', Buffer.alloc(11, 0xff))).toThrow(/malformed/);
  });
});
