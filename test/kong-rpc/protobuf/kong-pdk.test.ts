/**
 * Every rpc of `service Kong`, Kong-side direction, table-driven from the schema: the argument frame the plugin
 * sends becomes the PDK arguments as pb_rpc.lua unwraps them, and the PDK result becomes the output frame as it
 * wraps them. The tables are keyed by message type (as pb_rpc.lua's are); a type the schema uses that the tables
 * do not know fails the test.
 */
import { describe, expect, it } from 'vitest';
import {
  pdkArgumentsFromFrame,
  pdkResultFrame,
  TableShapeError,
} from '../../../src/kong-rpc/protobuf/kong-pdk.js';
import { type KongPdkMethod, kongPdkMethods } from '../../../src/kong-rpc/protobuf/methods.js';
import { messageType } from '../../../src/kong-rpc/protobuf/schema.js';

function encode(typeName: string, value: Record<string, unknown>): Uint8Array {
  const type = messageType(typeName);
  return type.encode(type.fromObject(value)).finish();
}

function decode(typeName: string, bytes: Uint8Array): unknown {
  const type = messageType(typeName);
  return type.toObject(type.decode(bytes), { longs: Number, bytes: String, oneofs: false });
}

const consumer = { id: 'c1', created_at: 1700000000, username: 'alice', custom_id: 'a-1', tags: ['gold'] };
const credential = { id: 'cred-1', consumer_id: 'c1' };

/** Input type → [message the plugin sends, arguments the PDK receives]. */
const INPUTS: Record<string, [Record<string, unknown>, unknown[]][]> = {
  '.google.protobuf.Empty': [[{}, []]],
  '.kong_plugin_protocol.String': [
    [{ v: 'host' }, ['host']],
    [{}, []], // v = "" is a proto3 zero: nil in Lua
  ],
  '.kong_plugin_protocol.Int': [
    [{ v: 100 }, [100]],
    [{ v: -1 }, [-1]],
  ],
  '.kong_plugin_protocol.Bool': [
    [{ v: true }, [true]],
    [{}, []],
  ],
  '.kong_plugin_protocol.ByteString': [
    [{ v: Buffer.from('body') }, ['body']],
    [{ v: Buffer.from([0xff, 0x00]) }, [new Uint8Array([0xff, 0x00])]],
  ],
  '.kong_plugin_protocol.KV': [
    [{ k: 'x-hello', v: { string_value: 'hi' } }, ['x-hello', 'hi']],
    [{ k: 'n', v: { number_value: 0 } }, ['n', 0]],
    [
      { k: 'list', v: { list_value: { values: [{ string_value: 'a' }, { bool_value: true }] } } },
      ['list', ['a', true]],
    ],
    [{ k: 'map', v: { struct_value: { fields: { a: { number_value: 1 } } } } }, ['map', { a: 1 }]],
    // structpb_value's `or` chain: false is lost, null is the enum name.
    [{ k: 'f', v: { bool_value: false } }, ['f']],
    [{ k: 'z', v: { null_value: 0 } }, ['z', 'NULL_VALUE']],
    [{ k: 'absent' }, ['absent']],
  ],
  '.google.protobuf.ListValue': [
    [
      {
        values: [
          { string_value: 'notice' },
          { number_value: 42 },
          { bool_value: true },
          { number_value: 1.5 },
          { null_value: 0 },
          { string_value: 'hi' },
        ],
      },
      ['notice', 42, true, 1.5, 'NULL_VALUE', 'hi'],
    ],
    [
      { values: [{ string_value: 'a' }, { bool_value: false }, { string_value: 'c' }] },
      ['a', undefined, 'c'],
    ],
    [{}, []],
  ],
  '.google.protobuf.Struct': [
    [
      {
        fields: {
          'x-a': { list_value: { values: [{ string_value: '1' }] } },
          'x-b': { string_value: '2' },
          flag: { bool_value: true },
        },
      },
      [{ 'x-a': ['1'], 'x-b': '2', flag: true }],
    ],
    [{}, [{}]],
  ],
  '.kong_plugin_protocol.ExitArgs': [
    [
      {
        status: 403,
        body: Buffer.from('forbidden\n'),
        headers: { fields: { 'content-type': { list_value: { values: [{ string_value: 'text/plain' }] } } } },
      },
      [403, 'forbidden\n', { 'content-type': ['text/plain'] }],
    ],
    [{ status: 204 }, [204]],
  ],
  '.kong_plugin_protocol.Target': [[{ host: 'backend', port: 8080 }, ['backend', 8080]]],
  '.kong_plugin_protocol.ConsumerSpec': [
    [{ id: 'alice', by_username: true }, ['alice', true]],
    [{ id: 'c1' }, ['c1']],
  ],
  '.kong_plugin_protocol.AuthenticateArgs': [
    [{ consumer, credential }, [consumer, credential]],
    [{ credential }, [undefined, credential]],
  ],
};

/** Output type → [what the PDK returns, the output message Kong sends (undefined: empty frame)]. */
const OUTPUTS: Record<string, [unknown, Record<string, unknown> | undefined][]> = {
  '.google.protobuf.Empty': [
    [undefined, undefined],
    [true, undefined], // set_upstream's `true`: Kong would raise encoding it; pluginwire answers as for nil
  ],
  '.kong_plugin_protocol.String': [
    ['example.com', { v: 'example.com' }],
    [undefined, undefined],
    ['', undefined],
  ],
  '.kong_plugin_protocol.Int': [
    [8000, { v: 8000 }],
    [0, undefined],
    [undefined, undefined],
  ],
  '.kong_plugin_protocol.Number': [
    [1.1, { v: 1.1 }],
    [undefined, undefined],
  ],
  '.kong_plugin_protocol.Bool': [
    [true, { v: true }],
    [false, undefined],
  ],
  '.kong_plugin_protocol.ByteString': [
    ['upstream body', { v: Buffer.from('upstream body').toString('base64') }],
    [new Uint8Array([0, 255]), { v: Buffer.from([0, 255]).toString('base64') }],
    [undefined, undefined],
  ],
  '.google.protobuf.Value': [
    ['v', { string_value: 'v' }],
    [undefined, { null_value: 1 }],
    [false, { bool_value: false }],
    [[1, 2], { list_value: { values: [{ number_value: 1 }, { number_value: 2 }] } }],
    [{}, { struct_value: {} }],
  ],
  '.google.protobuf.Struct': [
    [
      { host: 'example.com', 'x-multi': ['a', 'b'] },
      {
        fields: {
          host: { string_value: 'example.com' },
          'x-multi': { list_value: { values: [{ string_value: 'a' }, { string_value: 'b' }] } },
        },
      },
    ],
    [{ flag: true }, { fields: { flag: { bool_value: true } } }],
  ],
  '.kong_plugin_protocol.RawBodyResult': [
    ['hello', { content: Buffer.from('hello').toString('base64') }],
    [undefined, { error: "Can't read request body" }],
    [{ body_filepath: '/tmp/body' }, { body_filepath: '/tmp/body' }],
  ],
  '.kong_plugin_protocol.UriCapturesResult': [
    [
      { unnamed: ['users', '42'], named: { id: '42' } },
      {
        unnamed: [Buffer.from('users').toString('base64'), Buffer.from('42').toString('base64')],
        named: { id: Buffer.from('42').toString('base64') },
      },
    ],
    [{ unnamed: [], named: {} }, undefined],
    [undefined, undefined],
  ],
  '.kong_plugin_protocol.Consumer': [
    [{ ...consumer, extra: 'ignored' }, consumer],
    [undefined, undefined],
  ],
  '.kong_plugin_protocol.AuthenticatedCredential': [[credential, credential]],
  '.kong_plugin_protocol.Route': [
    [
      {
        id: 'r1',
        name: 'route',
        strip_path: false,
        preserve_host: true,
        paths: ['/'],
        service: { id: 's1' },
      },
      { id: 'r1', name: 'route', preserve_host: true, paths: ['/'], service: { id: 's1' } },
    ],
  ],
  '.kong_plugin_protocol.Service': [
    [
      { id: 's1', host: 'backend', port: 8080, retries: 5, client_certificate: { id: 'cert' } },
      { id: 's1', host: 'backend', port: 8080, retries: 5, client_certificate: { id: 'cert' } },
    ],
  ],
  '.kong_plugin_protocol.MemoryStats': [
    [
      {
        lua_shared_dicts: { kong: { allocated_slabs: 12288, capacity: 5242880 } },
        workers_lua_vms: [{ pid: 1 }],
      },
      {
        lua_shared_dicts: { kong: { allocated_slabs: 12288, capacity: 5242880 } },
        workers_lua_vms: [{ pid: 1 }],
      },
    ],
  ],
};

const methods: KongPdkMethod[] = [...kongPdkMethods().values()];

describe('every rpc of service Kong, Kong side', () => {
  it('has a conversion case for every input and output type the schema uses', () => {
    for (const method of methods) {
      expect(Object.keys(INPUTS), `${method.name} input`).toContain(method.inputType);
      expect(Object.keys(OUTPUTS), `${method.name} output`).toContain(method.outputType);
    }
  });

  describe.each(methods.map((m) => [m.name, m] as const))('%s', (_name, method) => {
    it(`argument frame (${method.inputType.slice(1)}) -> PDK arguments`, () => {
      for (const [message, args] of INPUTS[method.inputType]!) {
        expect(pdkArgumentsFromFrame(method, encode(method.inputType, message))).toEqual(args);
      }
    });

    it(`PDK result -> result frame (${method.outputType.slice(1)})`, () => {
      for (const [result, message] of OUTPUTS[method.outputType]!) {
        const frame = pdkResultFrame(method, { value: result });
        if (message === undefined) expect(frame.length).toBe(0);
        else expect(decode(method.outputType, frame)).toEqual(message);
      }
    });
  });
});

describe('special cases of pb_rpc.lua', () => {
  const method = (name: string) => kongPdkMethods().get(name)!;
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

  it('spec §13.5 PDK frames', () => {
    expect(
      pdkArgumentsFromFrame(method('kong.request.get_header'), Buffer.from('0a04686f7374', 'hex')),
    ).toEqual(['host']);
    expect(hex(pdkResultFrame(method('kong.request.get_header'), { value: 'example.com' }))).toBe(
      `0a0b${Buffer.from('example.com').toString('hex')}`,
    );
    expect(
      pdkArgumentsFromFrame(
        method('kong.response.set_header'),
        Buffer.from(
          `0a07${Buffer.from('x-hello').toString('hex')}12041a02${Buffer.from('hi').toString('hex')}`,
          'hex',
        ),
      ),
    ).toEqual(['x-hello', 'hi']);
    expect(pdkResultFrame(method('kong.response.set_header'), { value: undefined }).length).toBe(0);
  });

  it('a nil Value result is null_value = 1 (bytes 08 01), not NULL_VALUE', () => {
    expect(hex(pdkResultFrame(method('kong.ctx.shared.get'), { value: undefined }))).toBe('0801');
    expect(hex(pdkResultFrame(method('kong.nginx.get_ctx'), { value: null }))).toBe('0801');
  });

  it('Bool false and Int 0 are proto3 zeros: the empty frame', () => {
    expect(pdkResultFrame(method('kong.ip.is_trusted'), { value: false }).length).toBe(0);
    expect(pdkResultFrame(method('kong.response.get_status'), { value: 0 }).length).toBe(0);
  });

  it('get_raw_body: content, the error of nil, err, or the default error', () => {
    const raw = method('kong.request.get_raw_body');
    expect(decode(raw.outputType, pdkResultFrame(raw, { value: undefined, error: 'too big' }))).toEqual({
      error: 'too big',
    });
    expect(hex(pdkResultFrame(raw, { value: Buffer.from([0x68, 0x00, 0xff]) }))).toBe('0a036800ff');
  });

  it('a nil result for a Struct output is a Lua error in Kong: a typed error here', () => {
    expect(() => pdkResultFrame(method('kong.request.get_headers'), { value: undefined })).toThrow(
      TableShapeError,
    );
    expect(() => pdkResultFrame(method('kong.request.get_query'), { value: 'x' })).toThrow(TableShapeError);
  });

  it('a result of the wrong type for the output message is a typed error', () => {
    expect(() => pdkResultFrame(method('kong.request.get_port'), { value: 'eighty' })).toThrow(
      TableShapeError,
    );
    expect(() => pdkResultFrame(method('kong.router.get_route'), { value: 'route' })).toThrow(
      TableShapeError,
    );
    expect(() => pdkResultFrame(method('kong.router.get_route'), { value: { created_at: 'x' } })).toThrow(
      TableShapeError,
    );
  });

  it('multimap results are plain Structs: one value a string, repeated values a list (no mp_rpc fix_mmap)', () => {
    const headers = method('kong.request.get_headers');
    expect(
      decode(headers.outputType, pdkResultFrame(headers, { value: { a: 'x', b: ['y', 'z'], c: [] } })),
    ).toEqual({
      fields: {
        a: { string_value: 'x' },
        b: { list_value: { values: [{ string_value: 'y' }, { string_value: 'z' }] } },
        c: { struct_value: {} },
      },
    });
  });

  it('kong.log.* take any number of arguments, in order', () => {
    const values = Array.from({ length: 50 }, (_, i) => ({ number_value: i }));
    const args = pdkArgumentsFromFrame(
      method('kong.log.debug'),
      encode('.google.protobuf.ListValue', { values }),
    );
    expect(args).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('an argument frame that is not the input type fails to decode', () => {
    expect(() =>
      pdkArgumentsFromFrame(method('kong.request.get_header'), Buffer.from('0aff', 'hex')),
    ).toThrow();
  });
});
