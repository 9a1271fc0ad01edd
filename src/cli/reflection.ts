/**
 * Lists a gRPC server's services through the server-reflection protocol (`grpc.reflection.v1` and the older
 * `v1alpha`, which go-plugin's Go plugins register when they call `reflection.Register`). The two messages
 * involved are tiny, so they are encoded by hand instead of shipping reflection.proto.
 */
import { type Client, type ClientDuplexStream, makeGenericClientConstructor, status } from '@grpc/grpc-js';

/** What reflection said. */
export type ReflectionResult =
  | { available: true; api: string; services: string[] }
  | { available: false; reason: string };

const APIS = ['grpc.reflection.v1', 'grpc.reflection.v1alpha'] as const;

// ServerReflectionRequest { list_services = 7 (string) }: field 7, wire type 2, empty string.
const LIST_SERVICES_REQUEST = Buffer.from([0x3a, 0x00]);

interface Field {
  number: number;
  wireType: number;
  bytes?: Buffer;
  varint?: number;
}

function readVarint(buffer: Buffer, position: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = buffer[position++];
    if (byte === undefined) throw new Error('truncated varint');
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, position];
    shift += 7;
    if (shift > 63) throw new Error('varint too long');
  }
}

/** Splits one protobuf message into its top-level fields. */
export function readFields(buffer: Buffer): Field[] {
  const fields: Field[] = [];
  let position = 0;
  while (position < buffer.length) {
    const [key, afterKey] = readVarint(buffer, position);
    const number = Math.floor(key / 8);
    const wireType = key % 8;
    position = afterKey;
    if (wireType === 0) {
      const [varint, next] = readVarint(buffer, position);
      fields.push({ number, wireType, varint });
      position = next;
    } else if (wireType === 2) {
      const [length, next] = readVarint(buffer, position);
      if (next + length > buffer.length) throw new Error('truncated length-delimited field');
      fields.push({ number, wireType, bytes: buffer.subarray(next, next + length) });
      position = next + length;
    } else if (wireType === 1 || wireType === 5) {
      position += wireType === 1 ? 8 : 4;
    } else {
      throw new Error(`unsupported protobuf wire type ${wireType}`);
    }
  }
  return fields;
}

/** The service names of a ServerReflectionResponse, or the error it carries. */
export function parseListServicesResponse(buffer: Buffer): string[] {
  const fields = readFields(buffer);
  const error = fields.find((f) => f.number === 7 && f.bytes !== undefined);
  if (error?.bytes !== undefined) {
    const inner = readFields(error.bytes);
    const message = inner.find((f) => f.number === 2)?.bytes?.toString('utf8') ?? '';
    throw new Error(`reflection error ${inner.find((f) => f.number === 1)?.varint ?? '?'}: ${message}`);
  }
  const list = fields.find((f) => f.number === 6 && f.bytes !== undefined);
  if (list?.bytes === undefined) throw new Error('reflection answered without list_services_response');
  return readFields(list.bytes)
    .filter((f) => f.number === 1 && f.bytes !== undefined)
    .map((service) =>
      readFields(service.bytes as Buffer)
        .find((f) => f.number === 1)
        ?.bytes?.toString('utf8'),
    )
    .filter((name): name is string => name !== undefined);
}

function listWith(
  makeClient: (ctor: new (...args: never[]) => Client) => Client,
  api: string,
  timeout: number,
): Promise<string[]> {
  const Ctor = makeGenericClientConstructor(
    {
      ServerReflectionInfo: {
        path: `/${api}.ServerReflection/ServerReflectionInfo`,
        requestStream: true,
        responseStream: true,
        requestSerialize: (value: Buffer) => value,
        requestDeserialize: (value: Buffer) => value,
        responseSerialize: (value: Buffer) => value,
        responseDeserialize: (value: Buffer) => value,
        originalName: 'serverReflectionInfo',
      },
    },
    'ServerReflection',
  );
  const client = makeClient(Ctor as never) as Client & {
    ServerReflectionInfo(options: { deadline: number }): ClientDuplexStream<Buffer, Buffer>;
  };
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo({ deadline: Date.now() + timeout });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    call.on('data', (message: Buffer) => {
      settle(() => {
        try {
          resolve(parseListServicesResponse(message));
        } catch (error) {
          reject(error);
        }
      });
      call.end();
    });
    call.on('error', (error) => settle(() => reject(error)));
    call.on('end', () => settle(() => reject(new Error('reflection stream ended without an answer'))));
    call.write(LIST_SERVICES_REQUEST);
  });
}

/**
 * Asks a gRPC server for its services by reflection, v1 first, then v1alpha.
 *
 * @param makeClient - builds a client on the plugin's channel (`PluginClient.makeClient`).
 * @param timeout - deadline of each attempt, in ms.
 * @returns the services, or why reflection is unavailable (never rejects).
 */
export async function listServices(
  makeClient: (ctor: new (...args: never[]) => Client) => Client,
  timeout: number,
): Promise<ReflectionResult> {
  const reasons: string[] = [];
  for (const api of APIS) {
    try {
      return { available: true, api, services: await listWith(makeClient, api, timeout) };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      reasons.push(
        code === status.UNIMPLEMENTED
          ? `${api}: not registered`
          : `${api}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return { available: false, reason: reasons.join('; ') };
}
