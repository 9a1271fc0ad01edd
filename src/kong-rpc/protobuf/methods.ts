/**
 * Kong's PDK as ProtoBuf:1 sees it: one rpc of `service Kong` per PDK function, named by pb_rpc.lua's rule
 * (kong-rpc spec §13.3; `Kong/kong: kong/runloop/plugin_servers/rpc/pb_rpc.lua`, `load_service`).
 */
import { kongServiceMethods } from './schema.js';

/** One PDK function of `service Kong`. */
export interface KongPdkMethod {
  /** The PDK name, e.g. `kong.request.get_header`. */
  readonly name: string;
  /** The rpc, e.g. `Request_GetHeader`. */
  readonly rpc: string;
  /** Full name of the input (argument) message, with the leading dot, e.g. `.kong_plugin_protocol.String`. */
  readonly inputType: string;
  /** Full name of the output (result) message, e.g. `.google.protobuf.Empty`. */
  readonly outputType: string;
}

/**
 * pb_rpc.lua's naming rule: `Kong.<rpc>` with every `_` turned into `.`, an `_` put between a lower-case letter
 * (and any digits after it) and the upper-case letter that follows, then lower-cased; a `MethodName` option on
 * the rpc wins. `Request_GetHeader` ↦ `kong.request.get_header`, `Nginx_GetTls1VersionStr` ↦
 * `kong.nginx.get_tls1_version_str`.
 */
export function pdkMethodName(rpc: string, methodNameOption?: string): string {
  if (methodNameOption !== undefined) return methodNameOption;
  // Lua's gsub and a global JS regex both scan left to right without overlapping matches.
  return `Kong.${rpc}`
    .replaceAll('_', '.')
    .replace(/([a-z][0-9]*)([A-Z])/g, '$1_$2')
    .toLowerCase();
}

let table: ReadonlyMap<string, KongPdkMethod> | undefined;

/** The PDK method table, PDK name → rpc and types, built from the schema on first use. */
export function kongPdkMethods(): ReadonlyMap<string, KongPdkMethod> {
  if (table === undefined) {
    const map = new Map<string, KongPdkMethod>();
    for (const method of kongServiceMethods()) {
      const option = method.options?.['(MethodName)'];
      const name = pdkMethodName(method.name, typeof option === 'string' ? option : undefined);
      map.set(name, {
        name,
        rpc: method.name,
        inputType: dotted(method.resolvedRequestType?.fullName ?? method.requestType),
        outputType: dotted(method.resolvedResponseType?.fullName ?? method.responseType),
      });
    }
    table = map;
  }
  return table;
}

function dotted(name: string): string {
  return name.startsWith('.') ? name : `.${name}`;
}
