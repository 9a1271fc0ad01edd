/**
 * The `kong_plugin_protocol` schema at run time: a protobufjs `Root` built on first use from the JSON descriptor
 * generated ahead of time (`schema.generated.ts`, from `pluginsocket.proto` by `npm run generate:kong-schema`),
 * so importing the module parses no `.proto` text and builds nothing until ProtoBuf:1 is used.
 */
import protobuf from 'protobufjs/light.js';
import { KONG_PROTOCOL_DESCRIPTOR } from './schema.generated.js';

/** The protobuf package of Kong's plugin-server protocol. */
export const KONG_PROTOCOL_PACKAGE = 'kong_plugin_protocol';

let root: protobuf.Root | undefined;
const types = new Map<string, protobuf.Type>();

/** The schema's root, built from the descriptor on the first call. */
export function kongProtocolRoot(): protobuf.Root {
  if (root === undefined) {
    root = protobuf.Root.fromJSON(
      // protobufjs's own typings of its JSON form are stricter than what Root.toJSON() produces.
      KONG_PROTOCOL_DESCRIPTOR as unknown as protobuf.INamespace,
    );
    root.resolveAll();
  }
  return root;
}

/**
 * A message type by its full name, with or without the leading dot (`kong_plugin_protocol.RpcCall`,
 * `.google.protobuf.Empty`). Cached.
 *
 * @throws Error when the schema has no such message (a programming error: names come from the schema itself).
 */
export function messageType(name: string): protobuf.Type {
  let type = types.get(name);
  if (type === undefined) {
    type = kongProtocolRoot().lookupType(name.startsWith('.') ? name.slice(1) : name);
    types.set(name, type);
  }
  return type;
}

/** The rpcs of `service Kong`, in declaration order. */
export function kongServiceMethods(): protobuf.Method[] {
  const service = kongProtocolRoot().lookupService(`${KONG_PROTOCOL_PACKAGE}.Kong`);
  return service.methodsArray;
}

export type { protobuf };
