import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compileKongSchema } from '../../../scripts/generate-kong-schema.js';
import { kongPdkMethods, pdkMethodName } from '../../../src/kong-rpc/protobuf/methods.js';
import { KONG_PROTOCOL_DESCRIPTOR } from '../../../src/kong-rpc/protobuf/schema.generated.js';
import { kongServiceMethods, messageType } from '../../../src/kong-rpc/protobuf/schema.js';
import { PROTOBUF_CAPTURES } from './captures.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('hex');

describe('ProtoBuf:1 schema', () => {
  it('the committed descriptor is what pluginsocket.proto compiles to (run npm run generate:kong-schema)', () => {
    expect(JSON.parse(JSON.stringify(KONG_PROTOCOL_DESCRIPTOR))).toEqual(compileKongSchema());
  });

  it('importing pluginwire/kong-rpc loads no .proto parser', () => {
    const script = `
      const require = (await import('node:module')).createRequire(import.meta.url);
      const before = new Set(Object.keys(require.cache));
      await import('./src/kong-rpc/index.ts');
      const loaded = Object.keys(require.cache).filter((k) => !before.has(k));
      console.log(JSON.stringify({
        parser: loaded.some((k) => /protobufjs[\\\\/]src[\\\\/](parse|tokenize)\\.js$/.test(k)),
      }));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(JSON.parse(out.trim().split('\n').pop() as string)).toEqual({ parser: false });
  });

  it('holds every message of the kong_plugin_protocol package with its wire numbers', () => {
    const rpcCall = messageType('kong_plugin_protocol.RpcCall');
    expect(Object.fromEntries(rpcCall.fieldsArray.map((f) => [f.name, [f.id, f.type]]))).toEqual({
      sequence: [1, 'int64'],
      cmd_get_plugin_names: [31, 'CmdGetPluginNames'],
      cmd_get_plugin_info: [32, 'CmdGetPluginInfo'],
      cmd_start_instance: [33, 'CmdStartInstance'],
      cmd_get_instance_status: [34, 'CmdGetInstanceStatus'],
      cmd_close_instance: [35, 'CmdCloseInstance'],
      cmd_handle_event: [36, 'CmdHandleEvent'],
    });
    const instanceStatus = messageType('.kong_plugin_protocol.InstanceStatus');
    expect(instanceStatus.fieldsArray.map((f) => [f.name, f.id, f.type])).toEqual([
      ['name', 1, 'string'],
      ['instance_id', 2, 'int32'],
      ['config', 3, 'google.protobuf.Value'],
      ['started_at', 4, 'int64'],
    ]);
    for (const name of [
      'Bool',
      'Int',
      'Number',
      'String',
      'ByteString',
      'KV',
      'ExitArgs',
      'Target',
      'ConsumerSpec',
      'Consumer',
      'AuthenticatedCredential',
      'AuthenticateArgs',
      'RawBodyResult',
      'UriCapturesResult',
      'Route',
      'Service',
      'MemoryStats',
      'PluginInfo',
      'PluginNames',
      'PdkCall',
      'PdkReturn',
      'PdkArg',
      'StringMap',
    ]) {
      expect(messageType(`kong_plugin_protocol.${name}`).name).toBe(name);
    }
  });
});

describe('spec §13.5 vectors (message bytes)', () => {
  const RpcCall = messageType('kong_plugin_protocol.RpcCall');
  const RpcReturn = messageType('kong_plugin_protocol.RpcReturn');
  const encode = (type: typeof RpcCall, value: Record<string, unknown>) =>
    Buffer.from(type.encode(type.fromObject(value)).finish());

  it('RpcCall{sequence:2, cmd_start_instance}', () => {
    const bytes = encode(RpcCall, {
      sequence: 2,
      cmd_start_instance: { name: 'my-plugin', config: Buffer.from('{"message":"hi"}') },
    });
    expect(bytes).toEqual(hex(`08028a021d0a09${utf8('my-plugin')}1210${utf8('{"message":"hi"}')}`));
    expect(bytes.length).toBe(0x22);
  });

  it('RpcReturn{sequence:2, instance_status}', () => {
    const bytes = encode(RpcReturn, {
      sequence: 2,
      instance_status: { name: 'my-plugin', instance_id: 5, started_at: 1700000000 },
    });
    expect(bytes).toEqual(hex(`08028a02130a09${utf8('my-plugin')}1005 2080e2cfaa06`));
    expect(bytes.length).toBe(0x18);
  });

  it('RpcCall close, RpcReturn sequence only, RpcCall handle_event', () => {
    expect(encode(RpcCall, { sequence: 3, cmd_close_instance: { instance_id: 5 } })).toEqual(
      hex('08039a02020805'),
    );
    expect(encode(RpcReturn, { sequence: 3 })).toEqual(hex('0803'));
    expect(encode(RpcReturn, { sequence: 4 })).toEqual(hex('0804'));
    expect(
      encode(RpcCall, { sequence: 4, cmd_handle_event: { instance_id: 5, event_name: 'access' } }),
    ).toEqual(hex(`0804a2020a0805 1206${utf8('access')}`));
  });

  it('PDK argument and result messages', () => {
    const StringMessage = messageType('kong_plugin_protocol.String');
    expect(encode(StringMessage, { v: 'host' })).toEqual(hex(`0a04${utf8('host')}`));
    expect(encode(StringMessage, { v: 'example.com' })).toEqual(hex(`0a0b${utf8('example.com')}`));
    const KV = messageType('kong_plugin_protocol.KV');
    expect(encode(KV, { k: 'x-hello', v: { string_value: 'hi' } })).toEqual(
      hex(`0a07${utf8('x-hello')}12041a02${utf8('hi')}`),
    );
    expect(encode(messageType('google.protobuf.Empty'), {}).length).toBe(0);
  });
});

describe('the PDK method table (pb_rpc.lua load_service)', () => {
  it('derives names with the naming rule', () => {
    expect(pdkMethodName('Request_GetHeader')).toBe('kong.request.get_header');
    expect(pdkMethodName('Nginx_GetTls1VersionStr')).toBe('kong.nginx.get_tls1_version_str');
    expect(pdkMethodName('Service_Response_GetRawBody')).toBe('kong.service.response.get_raw_body');
    expect(pdkMethodName('Client_GetIp')).toBe('kong.client.get_ip');
    expect(pdkMethodName('Ctx_SetShared', 'kong.ctx.shared.set')).toBe('kong.ctx.shared.set');
  });

  it('has one entry per rpc of service Kong, with its types and MethodName options', () => {
    const table = kongPdkMethods();
    expect(table.size).toBe(kongServiceMethods().length);
    expect(table.size).toBe(74);
    expect(table.get('kong.ctx.shared.set')).toEqual({
      name: 'kong.ctx.shared.set',
      rpc: 'Ctx_SetShared',
      inputType: '.kong_plugin_protocol.KV',
      outputType: '.google.protobuf.Empty',
    });
    expect(table.get('kong.ctx.shared.get')?.outputType).toBe('.google.protobuf.Value');
    expect(table.get('kong.request.get_header')).toEqual({
      name: 'kong.request.get_header',
      rpc: 'Request_GetHeader',
      inputType: '.kong_plugin_protocol.String',
      outputType: '.kong_plugin_protocol.String',
    });
    expect(table.get('kong.log.notice')?.inputType).toBe('.google.protobuf.ListValue');
    expect(table.get('kong.response.exit')?.inputType).toBe('.kong_plugin_protocol.ExitArgs');
    expect(table.get('kong.nginx.req_start_time')?.outputType).toBe('.kong_plugin_protocol.Number');
    // Without the option the rule would give kong.ctx.set_shared.
    expect(table.has('kong.ctx.set_shared')).toBe(false);
    for (const entry of table.values()) {
      expect(entry.name).toMatch(/^kong(\.[a-z0-9_]+)+$/);
      expect(() => messageType(entry.inputType)).not.toThrow();
      expect(() => messageType(entry.outputType)).not.toThrow();
    }
  });

  it('names every PDK method the go-pdk recordings call', () => {
    const recorded = new Set(PROTOBUF_CAPTURES.flatMap((capture) => capture.pdk_methods_called));
    expect(recorded.size).toBeGreaterThan(30);
    for (const method of recorded) expect(kongPdkMethods().has(method), method).toBe(true);
  });
});
