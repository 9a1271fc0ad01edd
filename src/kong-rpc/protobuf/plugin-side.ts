/**
 * The plugin-server side's half of every ProtoBuf:1 PDK call: a TypeScript plugin's arguments become the rpc's
 * input message the way go-pdk builds it, and the output message Kong answers becomes the value the plugin gets
 * the way go-pdk decodes it (kong-rpc spec §13.3; `Kong/go-pdk`: `bridge/bridge.go` and each PDK package, e.g.
 * `request/request.go`, `client/client.go`).
 *
 * Table-driven from the schema: one builder per input type and one reader per output type of `service Kong`,
 * plus the few methods go-pdk treats specially (listed in {@link SPECIAL_CASES}). Values keep the shapes the
 * MsgPack:1 side gives (multimaps, snake_case entity fields), so a plugin runs unchanged on either protocol.
 */
import { readFile } from 'node:fs/promises';
import { KongPdkArgumentError, KongProtocolError, KongStepError } from '../errors.js';
import { kongPdkMethods } from './methods.js';
import { messageType, type protobuf } from './schema.js';

/** A protobufjs plain object (field names as in the schema). */
type Plain = Record<string, unknown>;

/** Builds an input message from a PDK call's arguments. */
type InputBuilder = (args: readonly unknown[], method: string) => Plain;

/** Reads an output message (`undefined` for an empty frame of a message-less result) into the plugin's value. */
type OutputReader = (message: Plain, method: string) => unknown;

const utf8 = new TextDecoder();
const EMPTY_BYTES = new Uint8Array(0);

// ---- JavaScript values <-> google.protobuf.Value ------------------

/**
 * A JavaScript value as a `google.protobuf.Value`, as go-pdk's `structpb.NewValue` builds it: `null`/`undefined`
 * become `null_value` (written even though it is 0, rule 10 of the captures README), bytes become base64 text.
 */
export function toValue(value: unknown, method: string, seen: Set<object> = new Set()): Plain {
  switch (typeof value) {
    case 'undefined':
      return { null_value: 0 };
    case 'string':
      return { string_value: value };
    case 'number':
      return { number_value: value };
    case 'bigint':
      return { number_value: Number(value) };
    case 'boolean':
      return { bool_value: value };
    case 'object': {
      if (value === null) return { null_value: 0 };
      if (value instanceof Uint8Array) return { string_value: Buffer.from(value).toString('base64') };
      if (seen.has(value)) throw new KongPdkArgumentError(method, 'a cyclic value has no protobuf form');
      seen.add(value);
      try {
        if (Array.isArray(value))
          return { list_value: { values: value.map((item) => toValue(item, method, seen)) } };
        return { struct_value: toStruct(value as Record<string, unknown>, method, seen) };
      } finally {
        seen.delete(value);
      }
    }
    default:
      throw new KongPdkArgumentError(method, `a ${typeof value} has no protobuf form`);
  }
}

function toStruct(record: Record<string, unknown>, method: string, seen: Set<object>): Plain {
  const fields: Plain = {};
  for (const [key, item] of Object.entries(record)) fields[key] = toValue(item, method, seen);
  return { fields };
}

const VALUE_KINDS = [
  'null_value',
  'number_value',
  'string_value',
  'bool_value',
  'struct_value',
  'list_value',
];

/** A `google.protobuf.Value` as a JavaScript value, as go-pdk's `AsInterface` reads it (`null_value` -> `null`). */
export function fromValue(value: Plain | null | undefined): unknown {
  if (value === null || value === undefined) return null;
  // Decoded messages name their oneof member in `kind`; plain objects (built here) only carry the member.
  const kind =
    (value.kind as string | undefined) ?? VALUE_KINDS.find((member) => value[member] !== undefined);
  switch (kind) {
    case 'string_value':
      return value.string_value;
    case 'number_value':
      return value.number_value;
    case 'bool_value':
      return value.bool_value;
    case 'list_value':
      return ((value.list_value as Plain | null)?.values as Plain[] | undefined)?.map(fromValue) ?? [];
    case 'struct_value':
      return fromStruct(value.struct_value as Plain | null);
    default:
      return null;
  }
}

function fromStruct(struct: Plain | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (struct?.fields ?? {}) as Record<string, Plain>;
  for (const key of Object.keys(fields)) out[key] = fromValue(fields[key]);
  return out;
}

/**
 * Headers or query arguments as a `google.protobuf.Struct`: go-pdk's `bridge.WrapHeaders` sends every value as a
 * list of strings, even a single one (captures README rule 11). Other values (`set_query`'s `true` for a bare
 * argument) go as themselves.
 */
function headersToStruct(value: unknown, method: string): Plain {
  if (value === undefined || value === null) return { fields: {} };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new KongPdkArgumentError(method, 'headers must be an object of names to values');
  }
  const fields: Plain = {};
  for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
    if (Array.isArray(item))
      fields[name] = { list_value: { values: item.map((one) => toValue(one, method)) } };
    else if (typeof item === 'string') fields[name] = { list_value: { values: [{ string_value: item }] } };
    else fields[name] = toValue(item, method);
  }
  return { fields };
}

/**
 * A header/query Struct as the multimap the plugin gets, as go-pdk's `bridge.UnwrapHeaders` reads it: a string is a
 * one-element list, a list keeps its strings (anything else in it reads as `""`), any other value is dropped.
 */
function structToMultimap(struct: Plain): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const fields = (struct.fields ?? {}) as Record<string, Plain>;
  for (const name of Object.keys(fields)) {
    const item = fromValue(fields[name]);
    if (typeof item === 'string') out[name] = [item];
    else if (Array.isArray(item)) out[name] = item.map((one) => (typeof one === 'string' ? one : ''));
  }
  return out;
}

// ---- scalars -------------------------------------------------------------------------------------------------

function text(value: unknown, method: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value instanceof Uint8Array) return utf8.decode(value);
  throw new KongPdkArgumentError(method, `expected a string, got ${typeof value}`);
}

function bytes(value: unknown, method: string): Uint8Array {
  if (value === undefined || value === null) return EMPTY_BYTES;
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new KongPdkArgumentError(method, `expected a string or bytes, got ${typeof value}`);
}

/** An `int32` argument; go-pdk converts Go ints with `int32(…)`, which wraps, so a value out of range is refused. */
function int32(value: unknown, method: string): number {
  if (value === undefined || value === null) return 0;
  const number = typeof value === 'bigint' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < -(2 ** 31) || number >= 2 ** 31) {
    throw new KongPdkArgumentError(method, `expected an int32, got ${String(value)}`);
  }
  return number;
}

/** int64 fields decode as `Long` (the `long` package is installed); plugins get plain numbers. */
function int64(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value !== null && typeof value === 'object' && 'toNumber' in value) {
    return (value as { toNumber(): number }).toNumber();
  }
  return 0;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? [...(value as string[])] : [];
}

function record(value: unknown, method: string, what: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new KongPdkArgumentError(method, `${what} must be an object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Drops proto3 default values (`""`, 0, `false`, empty lists and bytes) from a message's own fields. protobufjs
 * writes a field that is present even when it holds its default; Go's encoder (and Kong's) leaves it out, so
 * without this the bytes would differ from go-pdk's. Oneof members inside `google.protobuf.Value` keep theirs
 * (go-pdk writes `null_value: 0`), which is why this is applied per message, never recursively.
 */
function proto3(message: Plain): Plain {
  for (const key of Object.keys(message)) {
    const value = message[key];
    if (
      value === '' ||
      value === 0 ||
      value === false ||
      value === undefined ||
      ((Array.isArray(value) || value instanceof Uint8Array) && value.length === 0)
    ) {
      delete message[key];
    }
  }
  return message;
}

function consumerMessage(consumer: Record<string, unknown>, method: string): Plain {
  return proto3({
    id: text(consumer.id, method),
    created_at: Number(consumer.created_at ?? 0),
    username: text(consumer.username, method),
    custom_id: text(consumer.custom_id, method),
    tags: Array.isArray(consumer.tags) ? consumer.tags.map((tag) => text(tag, method)) : [],
  });
}

// ---- input builders, by input type ---------------------------------------------------------------------------

const INPUTS: Readonly<Record<string, InputBuilder>> = {
  'google.protobuf.Empty': () => ({}),
  'kong_plugin_protocol.String': ([value], method) => ({ v: text(value, method) }),
  'kong_plugin_protocol.ByteString': ([value], method) => ({ v: bytes(value, method) }),
  'kong_plugin_protocol.Int': ([value], method) => ({ v: int32(value, method) }),
  'kong_plugin_protocol.Bool': ([value]) => ({ v: value === true }),
  'kong_plugin_protocol.KV': ([key, value], method) => ({ k: text(key, method), v: toValue(value, method) }),
  'google.protobuf.ListValue': (args, method) => ({ values: args.map((arg) => toValue(arg, method)) }),
  'google.protobuf.Struct': ([headers], method) => headersToStruct(headers, method),
  'kong_plugin_protocol.Target': ([host, port], method) => ({
    host: text(host, method),
    port: int32(port, method),
  }),
  'kong_plugin_protocol.ConsumerSpec': ([id, byUsername], method) => ({
    id: text(id, method),
    by_username: byUsername === true,
  }),
  'kong_plugin_protocol.AuthenticateArgs': ([consumer, credential], method) => {
    const consumerRecord = record(consumer, method, 'consumer');
    const credentialRecord = record(credential, method, 'credential');
    // go-pdk (`client/client.go`, Authenticate) refuses the call when both are missing; Kong would fail it too.
    if (consumerRecord === undefined && credentialRecord === undefined) {
      throw new KongPdkArgumentError(method, 'either credential or consumer must be provided');
    }
    const message: Plain = {};
    if (consumerRecord !== undefined) message.consumer = consumerMessage(consumerRecord, method);
    if (credentialRecord !== undefined) {
      message.credential = proto3({
        id: text(credentialRecord.id, method),
        consumer_id: text(credentialRecord.consumer_id, method),
      });
    }
    return message;
  },
  'kong_plugin_protocol.ExitArgs': ([status, body, headers], method) => {
    const message: Plain = { status: int32(status, method) };
    let headerValues = headers;
    if (body !== undefined && body !== null) {
      if (typeof body === 'object' && !(body instanceof Uint8Array)) {
        // Kong's kong.response.exit JSON-encodes a table body and sets the JSON content type; over ProtoBuf:1 the
        // body is bytes, so the same is done here before sending.
        message.body = Buffer.from(JSON.stringify(body), 'utf8');
        const given = record(headers, method, 'headers') ?? {};
        if (!Object.keys(given).some((name) => name.toLowerCase() === 'content-type')) {
          headerValues = { ...given, 'Content-Type': 'application/json; charset=utf-8' };
        }
      } else {
        message.body = bytes(body, method);
      }
    }
    if (headerValues !== undefined && headerValues !== null)
      message.headers = headersToStruct(headerValues, method);
    return message;
  },
};

/**
 * Methods go-pdk builds or reads differently from their types' general rule. The issue's closing note lists them.
 */
export const SPECIAL_CASES: Readonly<Record<string, string>> = {
  'kong.request.get_headers': 'max_headers -1 or missing is sent as Int{v:100} (go-pdk request.GetHeaders)',
  'kong.request.get_query': 'max_args -1 or missing is sent as Int{v:100} (go-pdk request.GetQuery)',
  'kong.response.get_headers': 'max_headers -1 or missing is sent as Int{v:100} (go-pdk response.GetHeaders)',
  'kong.service.response.get_headers':
    'max_headers -1 or missing is sent as Int{v:100} (go-pdk service/response.GetHeaders)',
  'kong.response.exit':
    'terminal: no result is awaited; a table body is JSON-encoded with a JSON content type (Kong does that for tables)',
  'kong.request.get_raw_body': 'RawBodyResult: content, else the body file read, else error rejects (go-pdk)',
  'kong.log.*': 'every argument is one ListValue element; nil/undefined is null_value written as 08 00',
};

const MAX_HEADERS_DEFAULTED = new Set([
  'kong.request.get_headers',
  'kong.request.get_query',
  'kong.response.get_headers',
  'kong.service.response.get_headers',
]);

function inputBuilder(method: string, inputType: string): InputBuilder {
  if (MAX_HEADERS_DEFAULTED.has(method)) {
    // go-pdk turns -1 ("all") into 100, Kong's own default; 0 would make Kong raise on max_headers < 1.
    return ([max], name) => ({ v: max === undefined || max === null || max === -1 ? 100 : int32(max, name) });
  }
  const builder = INPUTS[inputType];
  if (builder === undefined) throw new Error(`no plugin-side builder for input type ${inputType}`);
  return builder;
}

// ---- output readers, by output type --------------------------------------------------------------------------

const OUTPUTS: Readonly<Record<string, OutputReader>> = {
  'google.protobuf.Empty': () => undefined,
  // An empty frame decodes to the zero value and no error (captures README rule 4), as go-pdk returns it.
  'kong_plugin_protocol.String': (message) => message.v ?? '',
  'kong_plugin_protocol.Int': (message) => message.v ?? 0,
  'kong_plugin_protocol.Number': (message) => message.v ?? 0,
  'kong_plugin_protocol.Bool': (message) => message.v ?? false,
  'kong_plugin_protocol.ByteString': (message) => (message.v as Uint8Array | undefined) ?? EMPTY_BYTES,
  'google.protobuf.Value': (message) => fromValue(message),
  'google.protobuf.Struct': (message) => structToMultimap(message),
  'kong_plugin_protocol.RawBodyResult': (message, method) => {
    switch (message.kind) {
      case 'body_filepath':
        // Kong buffered the body to a file (nginx client_body_buffer_size); go-pdk reads it (request.GetRawBody).
        return readFile(message.body_filepath as string).then(
          (body) => new Uint8Array(body),
          (error: Error) => {
            throw new KongStepError(method, `cannot read the body file Kong named: ${error.message}`);
          },
        );
      case 'error':
        throw new KongStepError(method, message.error as string);
      default:
        return (message.content as Uint8Array | undefined) ?? EMPTY_BYTES;
    }
  },
  'kong_plugin_protocol.UriCapturesResult': (message) => {
    const named: Record<string, string> = {};
    const map = (message.named ?? {}) as Record<string, Uint8Array>;
    for (const key of Object.keys(map)) named[key] = utf8.decode(map[key]);
    return { unnamed: ((message.unnamed ?? []) as Uint8Array[]).map((item) => utf8.decode(item)), named };
  },
  'kong_plugin_protocol.AuthenticatedCredential': (message) => ({
    id: message.id ?? '',
    consumer_id: message.consumer_id ?? '',
  }),
  'kong_plugin_protocol.Consumer': (message) => ({
    id: message.id ?? '',
    created_at: int64(message.created_at),
    username: message.username ?? '',
    custom_id: message.custom_id ?? '',
    tags: strings(message.tags),
  }),
  'kong_plugin_protocol.Route': (message) => ({
    id: message.id ?? '',
    created_at: int64(message.created_at),
    updated_at: int64(message.updated_at),
    name: message.name ?? '',
    protocols: strings(message.protocols),
    methods: strings(message.methods),
    hosts: strings(message.hosts),
    paths: strings(message.paths),
    headers: strings(message.headers),
    https_redirect_status_code: message.https_redirect_status_code ?? 0,
    regex_priority: message.regex_priority ?? 0,
    strip_path: message.strip_path ?? false,
    preserve_host: message.preserve_host ?? false,
    snis: strings(message.snis),
    sources: strings(message.sources),
    destinations: strings(message.destinations),
    tags: strings(message.tags),
    service: { id: (message.service as Plain | null)?.id ?? '' },
  }),
  'kong_plugin_protocol.Service': (message) => ({
    id: message.id ?? '',
    created_at: int64(message.created_at),
    updated_at: int64(message.updated_at),
    name: message.name ?? '',
    retries: message.retries ?? 0,
    protocol: message.protocol ?? '',
    host: message.host ?? '',
    port: message.port ?? 0,
    path: message.path ?? '',
    connect_timeout: message.connect_timeout ?? 0,
    write_timeout: message.write_timeout ?? 0,
    read_timeout: message.read_timeout ?? 0,
    tags: strings(message.tags),
    // go-pdk (router.GetService) never copies client_certificate and always reports {id: ""}; the id Kong sent
    // is kept here.
    client_certificate: { id: (message.client_certificate as Plain | null)?.id ?? '' },
  }),
  'kong_plugin_protocol.MemoryStats': (message) => {
    // go-pdk dereferences lua_shared_dicts and its members unchecked: an empty answer crashed its whole server
    // (captures pb-05). Missing parts read as zeros here.
    const dicts = (message.lua_shared_dicts ?? null) as Plain | null;
    const dict = (name: string) => {
      const stats = (dicts?.[name] ?? null) as Plain | null;
      return { allocated_slabs: int64(stats?.allocated_slabs), capacity: int64(stats?.capacity) };
    };
    return {
      lua_shared_dicts: { kong: dict('kong'), kong_db_cache: dict('kong_db_cache') },
      workers_lua_vms: ((message.workers_lua_vms ?? []) as Plain[]).map((vm) => ({
        http_allocated_gc: int64(vm.http_allocated_gc),
        pid: int64(vm.pid),
      })),
    };
  },
};

// ---- per-method codecs ---------------------------------------------------------------------------------------

/** One rpc of `service Kong`, ready for the plugin side. */
export interface PluginSideMethod {
  /** The PDK name, e.g. `kong.request.get_header`. */
  readonly name: string;
  /** The input type's full name without the leading dot. */
  readonly inputType: string;
  /** The output type's full name without the leading dot. */
  readonly outputType: string;
  /**
   * The argument frame's payload for these arguments (empty for `google.protobuf.Empty`).
   *
   * @throws {@link KongPdkArgumentError} when an argument has no protobuf form.
   */
  encodeArguments(args: readonly unknown[]): Uint8Array;
  /**
   * The plugin's value for a result frame's payload. May return a promise (a body Kong left in a file).
   *
   * @throws {@link KongStepError} when the result carries Kong's error (`RawBodyResult.error`);
   *   {@link KongProtocolError} for bytes that are not the output type.
   */
  decodeResult(payload: Uint8Array): unknown;
}

/**
 * Builds the plugin-side codec of one rpc from its types.
 *
 * @param name - the PDK name.
 * @param inputType - the input type, with or without the leading dot.
 * @param outputType - the output type, with or without the leading dot.
 */
export function pluginSideMethod(name: string, inputType: string, outputType: string): PluginSideMethod {
  const input = inputType.replace(/^\./, '');
  const output = outputType.replace(/^\./, '');
  const build = inputBuilder(name, input);
  const read = OUTPUTS[output];
  if (read === undefined) throw new Error(`no plugin-side reader for output type ${output}`);
  const inputMessage: protobuf.Type = messageType(input);
  const outputMessage: protobuf.Type = messageType(output);
  const isEmptyInput = input === 'google.protobuf.Empty';
  return {
    name,
    inputType: input,
    outputType: output,
    encodeArguments(args) {
      if (isEmptyInput) return EMPTY_BYTES;
      return inputMessage.encode(proto3(build(args, name))).finish();
    },
    decodeResult(payload) {
      let message: Plain;
      try {
        message = outputMessage.decode(payload) as unknown as Plain;
      } catch (error) {
        throw new KongProtocolError(name, `result is not a ${output}: ${(error as Error).message}`);
      }
      return read(message, name);
    },
  };
}

const codecs = new Map<string, PluginSideMethod>();

/**
 * The plugin-side codec of a PDK method by its name, from the schema's method table; built on first use and kept.
 *
 * @param name - the PDK name, e.g. `kong.request.get_header`.
 * @returns `undefined` when the method is not an rpc of `service Kong` (Kong would answer `method "…" not found`).
 */
export function pluginSideMethodFor(name: string): PluginSideMethod | undefined {
  let codec = codecs.get(name);
  if (codec === undefined) {
    const method = kongPdkMethods().get(name);
    if (method === undefined) return undefined;
    codec = pluginSideMethod(name, method.inputType, method.outputType);
    codecs.set(name, codec);
  }
  return codec;
}
