/**
 * Between protobuf messages and the plain values Kong's Lua code sees, with lua-protobuf's defaults as Kong runs
 * it (`enum_as_name`, `int64_as_number`, `no_default_values` for proto3; Kong's own tests reset to these after
 * changing them): a decoded message holds only the fields present on the wire (an empty repeated or map field
 * is absent), int64 values are numbers, enums are their names, and bytes are Lua strings. JavaScript has no
 * byte strings, so a `bytes` value becomes a string when it is valid UTF-8 and stays a `Uint8Array` otherwise.
 *
 * Encoding leaves proto3 zero values out, except members of a oneof, as lua-protobuf does (so `Bool{v=false}` is
 * zero bytes); a nil or missing field is left out.
 */
import type { protobuf } from './schema.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A value of a protobuf `bytes` field as Kong's Lua code sees it. */
function bytesValue(bytes: Uint8Array): string | Uint8Array {
  try {
    return utf8.decode(bytes);
  } catch {
    return new Uint8Array(bytes);
  }
}

/** A plain table of a decoded message (the Lua table lua-protobuf gives Kong). */
export type LuaTable = Record<string, unknown>;

/** A decoded message as the plain table lua-protobuf builds. */
export function messageToTable(type: protobuf.Type, message: object): LuaTable {
  const source = message as Record<string, unknown>;
  const table: LuaTable = {};
  for (const field of type.fieldsArray) {
    const name = field.name;
    if (!Object.hasOwn(source, name)) continue;
    const value = source[name];
    if (value === undefined || value === null) continue;
    if (field.map) {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) continue;
      const map: LuaTable = {};
      for (const [key, entry] of entries) map[key] = fieldValue(field, entry);
      table[name] = map;
    } else if (field.repeated) {
      const list = value as unknown[];
      if (list.length === 0) continue;
      table[name] = list.map((entry) => fieldValue(field, entry));
    } else {
      table[name] = fieldValue(field, value);
    }
  }
  return table;
}

function fieldValue(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved !== null) {
    if ('values' in resolved && !('fieldsArray' in resolved)) {
      // An enum: its name when known (enum_as_name), the number otherwise.
      const name = (resolved as protobuf.Enum).valuesById[value as number];
      return name ?? value;
    }
    return messageToTable(resolved as protobuf.Type, value as object);
  }
  switch (field.type) {
    case 'bytes':
      return bytesValue(value as Uint8Array);
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return typeof value === 'number' ? value : Number(value as { toString(): string });
    default:
      return value;
  }
}

/** A table given to lua-protobuf's `encode` does not fit the message (a Lua error in Kong). */
export class TableShapeError extends TypeError {
  override name = 'TableShapeError';
}

/**
 * The object protobufjs encodes for a plain table, as lua-protobuf would encode the table: unknown keys ignored,
 * nil left out, proto3 zero values left out outside oneofs, strings in `bytes` fields as their UTF-8 bytes.
 *
 * @throws {@link TableShapeError} when a value does not fit its field (lua-protobuf raises there too).
 */
export function tableToMessage(type: protobuf.Type, table: unknown): Record<string, unknown> {
  if (typeof table !== 'object' || table === null || Array.isArray(table) || table instanceof Uint8Array) {
    throw new TableShapeError(`${type.fullName}: table expected, got ${describe(table)}`);
  }
  const source = table as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const value = source[field.name];
    if (value === undefined || value === null) continue;
    const inOneof = field.partOf !== null;
    if (field.map) {
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw new TableShapeError(`${field.fullName}: table expected, got ${describe(value)}`);
      }
      const map: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
        if (entry !== undefined && entry !== null) map[key] = encodeValue(field, entry);
      }
      if (Object.keys(map).length > 0) out[field.name] = map;
    } else if (field.repeated) {
      if (!Array.isArray(value))
        throw new TableShapeError(`${field.fullName}: list expected, got ${describe(value)}`);
      // Lua's array part ends at the first nil.
      const list: unknown[] = [];
      for (const entry of value) {
        if (entry === undefined || entry === null) break;
        list.push(encodeValue(field, entry));
      }
      if (list.length > 0) out[field.name] = list;
    } else {
      const encoded = encodeValue(field, value);
      if (inOneof || !isZero(encoded)) out[field.name] = encoded;
    }
  }
  return out;
}

function isZero(value: unknown): boolean {
  return (
    value === 0 || value === false || value === '' || (value instanceof Uint8Array && value.length === 0)
  );
}

function encodeValue(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved !== null) {
    if ('values' in resolved && !('fieldsArray' in resolved)) {
      const values = (resolved as protobuf.Enum).values;
      if (typeof value === 'string' && Object.hasOwn(values, value)) return values[value];
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      throw new TableShapeError(`${field.fullName}: enum value expected, got ${describe(value)}`);
    }
    return tableToMessage(resolved as protobuf.Type, value);
  }
  switch (field.type) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number') return String(value); // Lua coerces numbers to strings
      break;
    case 'bytes':
      if (typeof value === 'string') return Buffer.from(value, 'utf8');
      if (value instanceof Uint8Array) return value;
      break;
    case 'bool':
      // lua-protobuf takes any Lua value here: nil and false are false, everything else is true.
      return value !== false;
    case 'double':
    case 'float':
      if (typeof value === 'number') return value;
      break;
    default:
      // Integers: lua-protobuf accepts numbers with an integer value.
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (typeof value === 'bigint') return Number(value);
      break;
  }
  throw new TableShapeError(`${field.fullName}: ${field.type} expected, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return 'bytes';
  if (Array.isArray(value)) return 'list';
  return value === null ? 'nil' : typeof value;
}
