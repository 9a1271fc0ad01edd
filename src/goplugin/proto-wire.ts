/**
 * A minimal protobuf (proto3) codec for go-plugin's four internal services, driven by the tables that
 * `scripts/gen-goplugin-protos.ts` compiles from `src/goplugin/protos/*.proto` (`protos.generated.ts`).
 *
 * Why not proto-loader: parsing the `.proto` text and building protobufjs's reflection at start cost a plugin
 * about 10 ms of its start-up (and a missing `protos/` folder next to a bundled plugin crashed it). These
 * messages only use varint scalars, strings, bytes and one nested message, so the codec is small. It decodes
 * to the shape proto-loader gives with `{ keepCase: true, longs: Number, enums: Number, defaults: true }`
 * (every field present, defaults filled, an absent message field `null`), which the rest of the module and
 * user code expect; `test/goplugin/protos.test.ts` checks both directions against proto-loader.
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { MalformedMessageError } from './errors.js';

/** The field kinds the internal protos use. */
export type FieldKind = 'string' | 'bytes' | 'bool' | 'uint32' | 'enum' | 'message';

/** One field: number, name (as the `.proto` spells it), kind and, for `message`, the full type name. */
export type FieldSchema = readonly [number: number, name: string, kind: FieldKind, type?: string];

/** A method: request type, client streaming, response type, server streaming. */
export type MethodSchema = readonly [
  requestType: string,
  requestStream: boolean,
  responseType: string,
  responseStream: boolean,
];

type Fields = Readonly<Record<string, readonly FieldSchema[]>>;
type Message = Record<string, unknown>;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

/** A message that does not parse (grpc-js turns a throwing deserializer into an INTERNAL status). */
function malformed(type: string): MalformedMessageError {
  return new MalformedMessageError(`malformed ${type} message`);
}

class Reader {
  constructor(
    readonly bytes: Buffer,
    public offset: number,
    readonly end: number,
    readonly type: string,
  ) {}

  varint(): number {
    // Only the low 32 bits matter for uint32, bool and enum (int32) fields; read and drop the rest.
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.offset >= this.end) throw malformed(this.type);
      const byte = this.bytes[this.offset++]!;
      if (shift < 32) value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
    throw malformed(this.type);
  }

  length(): number {
    const length = this.varint() >>> 0;
    if (length > this.end - this.offset) throw malformed(this.type);
    return length;
  }

  skip(wireType: number): void {
    if (wireType === WIRE_VARINT) this.varint();
    else if (wireType === WIRE_FIXED64) this.advance(8);
    else if (wireType === WIRE_LENGTH) this.advance(this.length());
    else if (wireType === WIRE_FIXED32) this.advance(4);
    else throw malformed(this.type);
  }

  advance(count: number): void {
    if (count > this.end - this.offset) throw malformed(this.type);
    this.offset += count;
  }
}

function defaults(fields: Fields, type: string): Message {
  const message: Message = {};
  for (const [, name, kind] of fields[type]!) {
    message[name] =
      kind === 'string'
        ? ''
        : kind === 'bytes'
          ? Buffer.alloc(0)
          : kind === 'bool'
            ? false
            : kind === 'message'
              ? null
              : 0;
  }
  return message;
}

function decodeInto(fields: Fields, type: string, reader: Reader, message: Message): Message {
  const schema = fields[type]!;
  while (reader.offset < reader.end) {
    const key = reader.varint() >>> 0;
    const number = key >>> 3;
    const wireType = key & 7;
    const field = schema.find((entry) => entry[0] === number);
    const kind = field?.[2];
    const expected = kind === 'string' || kind === 'bytes' || kind === 'message' ? WIRE_LENGTH : WIRE_VARINT;
    if (field === undefined || wireType !== expected) {
      reader.skip(wireType); // unknown field (or one from a newer revision with another type): skipped, as protobuf does
      continue;
    }
    const name = field[1];
    if (kind === 'uint32') message[name] = reader.varint() >>> 0;
    else if (kind === 'enum') message[name] = reader.varint() | 0;
    else if (kind === 'bool') message[name] = reader.varint() !== 0;
    else {
      const length = reader.length();
      const start = reader.offset;
      reader.offset += length;
      if (kind === 'string') message[name] = reader.bytes.toString('utf8', start, start + length);
      else if (kind === 'bytes') message[name] = Buffer.from(reader.bytes.subarray(start, start + length));
      else {
        // A message field seen twice merges into what came before (protobuf's merge rule).
        const nestedType = field[3]!;
        const nested = (message[name] as Message | null) ?? defaults(fields, nestedType);
        message[name] = decodeInto(
          fields,
          nestedType,
          new Reader(reader.bytes, start, start + length, nestedType),
          nested,
        );
      }
    }
  }
  return message;
}

/**
 * Decodes one message of `type`.
 *
 * @throws {@link GoPluginError} `GOPLUGIN_MALFORMED_MESSAGE` on truncated or malformed input.
 */
export function decodeMessage(fields: Fields, type: string, bytes: Buffer): Message {
  return decodeInto(fields, type, new Reader(bytes, 0, bytes.length, type), defaults(fields, type));
}

function varintBytes(value: number, out: number[]): void {
  if (value < 0) {
    // A negative int32 enum is sign-extended to ten bytes, as protobuf encodes int32.
    let low = value >>> 0;
    for (let index = 0; index < 4; index++) {
      out.push((low & 0x7f) | 0x80);
      low >>>= 7;
    }
    out.push((low & 0x0f) | 0x70 | 0x80, 0xff, 0xff, 0xff, 0xff, 0x01);
    return;
  }
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
}

function encodeInto(fields: Fields, type: string, message: Message, out: number[], chunks: Buffer[]): void {
  for (const [number, name, kind, nestedType] of fields[type]!) {
    const value = message[name];
    if (value === undefined || value === null) continue;
    if (kind === 'uint32' || kind === 'enum' || kind === 'bool') {
      const number32 =
        kind === 'bool' ? (value ? 1 : 0) : kind === 'uint32' ? Number(value) >>> 0 : Number(value) | 0;
      if (number32 === 0) continue; // proto3: default values are not written
      varintBytes((number << 3) | WIRE_VARINT, out);
      varintBytes(number32, out);
      continue;
    }
    let payload: Buffer;
    if (kind === 'string') payload = Buffer.from(String(value), 'utf8');
    else if (kind === 'bytes') payload = Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array);
    else payload = encodeMessage(fields, nestedType!, value as Message);
    if (payload.length === 0 && kind !== 'message') continue; // an empty nested message is still present
    varintBytes((number << 3) | WIRE_LENGTH, out);
    varintBytes(payload.length, out);
    chunks.push(Buffer.from(out.splice(0)), payload);
  }
}

/** Encodes one message of `type` from a plain object (absent and default fields are not written). */
export function encodeMessage(fields: Fields, type: string, message: Message): Buffer {
  const out: number[] = [];
  const chunks: Buffer[] = [];
  encodeInto(fields, type, message, out, chunks);
  if (out.length > 0) chunks.push(Buffer.from(out));
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** Lower-cases the first letter, as proto-loader names `originalName` (`Check` → `check`). */
const lowerFirst = (name: string): string => name.charAt(0).toLowerCase() + name.slice(1);

/**
 * The grpc-js service definition of `service` (full name, e.g. `plugin.GRPCBroker`): what proto-loader's
 * `loadPackageDefinition(...).<service>.service` gives, for `Server.addService` and `makeClientConstructor`.
 */
export function serviceDefinition(
  fields: Fields,
  service: string,
  methods: Readonly<Record<string, MethodSchema>>,
): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [method, [requestType, requestStream, responseType, responseStream]] of Object.entries(
    methods,
  )) {
    definition[method] = {
      path: `/${service}/${method}`,
      requestStream,
      responseStream,
      requestSerialize: (value) => encodeMessage(fields, requestType, value as Message),
      requestDeserialize: (bytes) => decodeMessage(fields, requestType, bytes),
      responseSerialize: (value) => encodeMessage(fields, responseType, value as Message),
      responseDeserialize: (bytes) => decodeMessage(fields, responseType, bytes),
      originalName: lowerFirst(method),
    };
  }
  return definition as ServiceDefinition;
}
