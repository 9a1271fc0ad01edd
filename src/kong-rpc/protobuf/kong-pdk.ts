/**
 * The Kong side of one ProtoBuf:1 PDK call, as `Kong/kong: kong/runloop/plugin_servers/rpc/pb_rpc.lua`
 * (`call_pdk`, `pb_unwrap`, `pb_wrap`) does it:
 * - the argument frame is decoded with the method's input type, then *unwrapped* into the argument list the PDK
 *   function is called with, by input type (e.g. `KV` ↦ `k, v`, `ListValue` ↦ every element, `String` ↦ `v`);
 * - the PDK function's result is *wrapped* into the output type (e.g. `String` ↦ `{v = result}`, `Struct` ↦ the
 *   table as `google.protobuf.Struct`) and encoded; a nil result, or an `Empty` output, is the empty frame.
 *
 * The tables below are keyed by message type, as in pb_rpc.lua, so every rpc of `service Kong` is covered by its
 * input and output types. Lua nil is `undefined` here; trailing nils are dropped from argument lists.
 */
import { type KongPdkMethod, kongPdkMethods } from './methods.js';
import { messageType } from './schema.js';
import { type LuaTable, messageToTable, TableShapeError, tableToMessage } from './values.js';

export { TableShapeError } from './values.js';

// ---- Unwrapping (plugin → Kong): google.protobuf.Value & co. as pb_unwrap's structpb_* functions -----------

/**
 * `structpb_value` of pb_unwrap: a list or struct becomes a table; any other kind is
 * `v.bool_value or v.string_value or v.number_value or v.null_value`. Lua's `or` skips `false`, so a
 * `bool_value` of false comes out nil, and `null_value` is the enum's name `"NULL_VALUE"` (lua-protobuf's
 * `enum_as_name`): both Kong quirks are kept, because the PDK function receives exactly that.
 */
function unwrapValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  const v = value as LuaTable;
  if (v.list_value !== undefined) return unwrapList(v.list_value);
  if (v.struct_value !== undefined) return unwrapStruct(v.struct_value);
  for (const kind of ['bool_value', 'string_value', 'number_value', 'null_value']) {
    const member = v[kind];
    if (member !== undefined && member !== false) return member;
  }
  return undefined;
}

/** `structpb_list`: `ipairs(l.values or l)`; an element that unwraps to nil leaves a hole. */
function unwrapList(list: unknown): unknown[] {
  const out: unknown[] = [];
  if (typeof list !== 'object' || list === null) return out;
  const values = (list as LuaTable).values;
  if (!Array.isArray(values)) return out;
  for (const entry of values) out.push(unwrapValue(entry));
  return out;
}

/** `structpb_struct`: a non-table is returned as is (nil stays nil); nil values vanish from the table. */
function unwrapStruct(struct: unknown): unknown {
  if (typeof struct !== 'object' || struct === null) return struct;
  const fields = (struct as LuaTable).fields;
  const out: LuaTable = {};
  if (typeof fields !== 'object' || fields === null) return out;
  for (const [key, entry] of Object.entries(fields as LuaTable)) {
    const value = unwrapValue(entry);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

type Unwrap = (decoded: LuaTable) => unknown[];

const unwrapV: Unwrap = (d) => [d.v];

/** pb_unwrap: input type → the argument list. Types not listed are passed as the decoded table itself. */
const UNWRAP: ReadonlyMap<string, Unwrap> = new Map<string, Unwrap>([
  ['.google.protobuf.Empty', () => []],
  ['.google.protobuf.Value', (d) => [unwrapValue(d)]],
  // kong.log.*: every element of the list is one argument (`t_unpack`).
  ['.google.protobuf.ListValue', (d) => unwrapList(d)],
  ['.google.protobuf.Struct', (d) => [unwrapStruct(d)]],
  ['.kong_plugin_protocol.Bool', unwrapV],
  ['.kong_plugin_protocol.Number', unwrapV],
  ['.kong_plugin_protocol.Int', unwrapV],
  ['.kong_plugin_protocol.String', unwrapV],
  ['.kong_plugin_protocol.ByteString', unwrapV],
  ['.kong_plugin_protocol.KV', (d) => [d.k, unwrapValue(d.v)]],
  ['.kong_plugin_protocol.Target', (d) => [d.host, d.port]],
  // kong.response.exit(status, body, headers): headers arrive as a Struct of lists (go-pdk).
  ['.kong_plugin_protocol.ExitArgs', (d) => [d.status, d.body, unwrapStruct(d.headers)]],
  ['.kong_plugin_protocol.ConsumerSpec', (d) => [d.id, d.by_username]],
  ['.kong_plugin_protocol.AuthenticateArgs', (d) => [d.consumer, d.credential]],
]);

/** Input types with their own unwrapping (the rest pass the decoded table). */
export const UNWRAPPED_INPUT_TYPES: readonly string[] = [...UNWRAP.keys()];

/**
 * The argument list Kong calls the PDK function with, from the argument frame.
 *
 * @throws Error (protobufjs) when the frame is not a valid message of the input type (Kong's `assert` fails).
 */
export function pdkArgumentsFromFrame(method: KongPdkMethod, payload: Uint8Array): unknown[] {
  const type = messageType(method.inputType);
  const decoded = messageToTable(type, type.decode(payload));
  const unwrap = UNWRAP.get(method.inputType);
  const args = unwrap === undefined ? [decoded] : unwrap(decoded);
  // Lua passes trailing nils positionally, but no PDK function tells them from absent arguments.
  let length = args.length;
  while (length > 0 && args[length - 1] === undefined) length--;
  args.length = length;
  return args;
}

// ---- Wrapping (Kong → plugin): the PDK result as the output message ----------------------------------------

/** `structpb_value` of pb_wrap: nil is `null_value = 1` (not NULL_VALUE's 0: Kong writes `08 01`). */
function wrapValue(value: unknown): LuaTable {
  if (value === undefined || value === null) return { null_value: 1 };
  switch (typeof value) {
    case 'boolean':
      return { bool_value: value };
    case 'number':
      return { number_value: value };
    case 'bigint':
      return { number_value: Number(value) };
    case 'string':
      return { string_value: value };
    default:
      break;
  }
  if (value instanceof Uint8Array) return { string_value: Buffer.from(value).toString('utf8') };
  // A Lua table with `[1]` set is a list, any other table (the empty one included) a struct.
  if (Array.isArray(value) && value.length > 0 && value[0] !== undefined && value[0] !== null) {
    return { list_value: wrapList(value) };
  }
  return { struct_value: wrapStruct(value) };
}

/** `structpb_list`: `ipairs`, so the list ends at the first nil. */
function wrapList(list: unknown): LuaTable {
  if (!Array.isArray(list)) throw new TableShapeError('google.protobuf.ListValue: list expected');
  const values: LuaTable[] = [];
  for (const entry of list) {
    if (entry === undefined || entry === null) break;
    values.push(wrapValue(entry));
  }
  return { values };
}

/** `structpb_struct`: `pairs(d)`, which raises on nil (Kong: a Lua error, nothing written). */
function wrapStruct(table: unknown): LuaTable {
  if (typeof table !== 'object' || table === null) {
    throw new TableShapeError(
      `google.protobuf.Struct: table expected, got ${table === null ? 'nil' : typeof table}`,
    );
  }
  const fields: LuaTable = {};
  // A JS array used as a Lua table: its keys are 1…n.
  const entries = Array.isArray(table)
    ? table.map((entry, index) => [String(index + 1), entry] as const)
    : Object.entries(table as LuaTable);
  for (const [key, entry] of entries) {
    if (entry !== undefined && entry !== null) fields[key] = wrapValue(entry);
  }
  return { fields };
}

/**
 * What a PDK function returned, with the error of a `nil, err` return when the PDK implementation said so
 * ({@link pdkFailure}).
 */
export interface PdkReturn {
  /** The first return value; `undefined` for nil. */
  value: unknown;
  /** The second return value of `nil, err`. */
  error?: string | undefined;
}

type Wrap = (result: PdkReturn) => LuaTable | undefined;

const wrapV: Wrap = ({ value }) => ({ v: value ?? undefined });

/** pb_wrap: output type → the message table; types not listed take the result itself (nil: empty frame). */
const WRAP: ReadonlyMap<string, Wrap> = new Map<string, Wrap>([
  ['.google.protobuf.Value', ({ value }) => wrapValue(value)],
  ['.google.protobuf.ListValue', ({ value }) => wrapList(value)],
  ['.google.protobuf.Struct', ({ value }) => wrapStruct(value)],
  ['.kong_plugin_protocol.Bool', wrapV],
  ['.kong_plugin_protocol.Number', wrapV],
  ['.kong_plugin_protocol.Int', wrapV],
  ['.kong_plugin_protocol.String', wrapV],
  ['.kong_plugin_protocol.ByteString', wrapV],
  [
    '.kong_plugin_protocol.RawBodyResult',
    ({ value, error }) => {
      if (typeof value === 'string' || value instanceof Uint8Array) return { content: value };
      // Kong asks nginx for the file the body was buffered to (`ngx.req.get_body_file()`); a PDK implementation
      // says so with `{ body_filepath }`.
      const path = (value as { body_filepath?: unknown } | undefined)?.body_filepath;
      if (typeof path === 'string') return { body_filepath: path };
      return { error: error ?? "Can't read request body" };
    },
  ],
]);

/** Output types with their own wrapping (the rest encode the result table itself). */
export const WRAPPED_OUTPUT_TYPES: readonly string[] = [...WRAP.keys()];

const EMPTY = new Uint8Array(0);

/**
 * The result frame's payload for a PDK result. An `Empty` output is always the empty frame (Kong would raise a
 * Lua error encoding a non-table result such as `set_upstream`'s `true` into `Empty`; pluginwire answers as for
 * nil, which is what the plugin waits for). A nil result of an output without a wrapper is the empty frame.
 *
 * @throws {@link TableShapeError} when the result does not fit the output type (Kong raises a Lua error and
 *   writes nothing).
 */
export function pdkResultFrame(method: KongPdkMethod, result: PdkReturn): Uint8Array {
  if (method.outputType === '.google.protobuf.Empty') return EMPTY;
  const wrap = WRAP.get(method.outputType);
  const table = wrap === undefined ? result.value : wrap(result);
  if (table === undefined || table === null) return EMPTY;
  const type = messageType(method.outputType);
  return type.encode(tableToMessage(type, table)).finish();
}

/** The PDK method by name, or `undefined` when Kong does not know it (`method "<name>" not found`). */
export function pdkMethod(name: string): KongPdkMethod | undefined {
  return kongPdkMethods().get(name);
}
