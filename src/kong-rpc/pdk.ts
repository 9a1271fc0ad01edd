/**
 * The typed PDK object a TypeScript plugin receives in its phase methods. Every call becomes one PDK request to
 * Kong: the camelCase path is sent as Kong's dotted snake_case name (`kong.request.getHeader('host')` →
 * `kong.request.get_header` with `["host"]`), the promise resolves with Kong's reply.
 */

/** A header or query multimap as Kong sends it: every value is an array of strings. */
export type KongMultimap = Record<string, string[]>;

/** A Kong entity (consumer, credential, route, service) as Kong sends it: a plain map. */
export interface KongEntity {
  /** The entity id. */
  id?: string;
  /** Every other field of the entity. */
  [field: string]: unknown;
}

/** A value Kong accepts as a PDK argument: anything msgpack can carry. */
export type KongValue = unknown;

/** `kong.client`: the downstream client. */
export interface KongClientPdk {
  /** `kong.client.get_ip`: the remote address of the connection. */
  getIp(): Promise<string>;
  /** `kong.client.get_forwarded_ip`: the client address, honouring trusted proxies. */
  getForwardedIp(): Promise<string>;
  /** `kong.client.get_port`: the remote port of the connection. */
  getPort(): Promise<number>;
  /** `kong.client.get_forwarded_port`: the client port, honouring trusted proxies. */
  getForwardedPort(): Promise<number>;
  /** `kong.client.get_credential`: the authenticated credential, if any (sent back with `plugin.StepCredential`). */
  getCredential(): Promise<KongEntity | undefined>;
  /** `kong.client.get_consumer`: the authenticated consumer, if any (sent back with `plugin.StepConsumer`). */
  getConsumer(): Promise<KongEntity | undefined>;
  /** `kong.client.load_consumer`: looks a consumer up by id (or by username when `byUsername`). */
  loadConsumer(consumerId: string, byUsername?: boolean): Promise<KongEntity | undefined>;
  /** `kong.client.authenticate`: sets the authenticated consumer and/or credential. */
  authenticate(consumer: KongEntity | null, credential: KongEntity | null): Promise<void>;
  /** `kong.client.get_protocol`: the protocol of the route (`http`, `https`, `grpc`, …). */
  getProtocol(allowTerminated?: boolean): Promise<string>;
}

/** `kong.ctx.shared`: the request context shared between plugins. */
export interface KongCtxSharedPdk {
  /** `kong.ctx.shared.get`: a value another plugin stored for this request. */
  get(key: string): Promise<KongValue>;
  /** `kong.ctx.shared.set`: stores a value for other plugins of this request. */
  set(key: string, value: KongValue): Promise<void>;
}

/** `kong.ctx`: per-request context. */
export interface KongCtxPdk {
  /** `kong.ctx.shared`. */
  readonly shared: KongCtxSharedPdk;
}

/** `kong.ip`: address helpers. */
export interface KongIpPdk {
  /** `kong.ip.is_trusted`: whether the address is in `trusted_ips`. */
  isTrusted(address: string): Promise<boolean>;
}

/** `kong.log`: Kong's log, namespaced to the plugin. */
export interface KongLogPdk {
  /** `kong.log.alert`. */
  alert(...message: KongValue[]): Promise<void>;
  /** `kong.log.crit`. */
  crit(...message: KongValue[]): Promise<void>;
  /** `kong.log.err`. */
  err(...message: KongValue[]): Promise<void>;
  /** `kong.log.warn`. */
  warn(...message: KongValue[]): Promise<void>;
  /** `kong.log.notice`. */
  notice(...message: KongValue[]): Promise<void>;
  /** `kong.log.info`. */
  info(...message: KongValue[]): Promise<void>;
  /** `kong.log.debug`. */
  debug(...message: KongValue[]): Promise<void>;
  /** `kong.log.serialize`: the request summary as JSON text (Kong's override encodes it with lua-cjson). */
  serialize(): Promise<string>;
}

/** `kong.nginx`: nginx internals. */
export interface KongNginxPdk {
  /** `kong.nginx.get_var`: an nginx variable. */
  getVar(name: string): Promise<string | undefined>;
  /** `kong.nginx.get_ctx`: a value of `ngx.ctx`. */
  getCtx(key: string): Promise<KongValue>;
  /** `kong.nginx.set_ctx`: sets a value of `ngx.ctx`. */
  setCtx(key: string, value: KongValue): Promise<void>;
  /** `kong.nginx.get_subsystem`: `http` or `stream`. */
  getSubsystem(): Promise<string>;
  /** `kong.nginx.get_tls1_version_str`: the TLS version of the connection. */
  getTls1VersionStr(): Promise<string | undefined>;
  /** `kong.nginx.req_start_time`: the request start time in seconds. */
  reqStartTime(): Promise<number>;
}

/** `kong.node`: the Kong node. */
export interface KongNodePdk {
  /** `kong.node.get_id`: the node id. */
  getId(): Promise<string>;
  /** `kong.node.get_hostname`: the node's host name. */
  getHostname(): Promise<string>;
  /** `kong.node.get_memory_stats`: memory statistics (sent back with `plugin.StepMemoryStats`). */
  getMemoryStats(unit?: string, scale?: number): Promise<Record<string, unknown>>;
}

/** `kong.request`: the downstream request. */
export interface KongRequestPdk {
  /** `kong.request.get_scheme`. */
  getScheme(): Promise<string>;
  /** `kong.request.get_host`. */
  getHost(): Promise<string>;
  /** `kong.request.get_port`. */
  getPort(): Promise<number>;
  /** `kong.request.get_forwarded_scheme`. */
  getForwardedScheme(): Promise<string>;
  /** `kong.request.get_forwarded_host`. */
  getForwardedHost(): Promise<string>;
  /** `kong.request.get_forwarded_port`. */
  getForwardedPort(): Promise<number>;
  /** `kong.request.get_forwarded_path`. */
  getForwardedPath(): Promise<string>;
  /** `kong.request.get_forwarded_prefix`. */
  getForwardedPrefix(): Promise<string | undefined>;
  /** `kong.request.get_http_version`. */
  getHttpVersion(): Promise<number>;
  /** `kong.request.get_method`. */
  getMethod(): Promise<string>;
  /** `kong.request.get_path`. */
  getPath(): Promise<string>;
  /** `kong.request.get_path_with_query`. */
  getPathWithQuery(): Promise<string>;
  /** `kong.request.get_raw_query`. */
  getRawQuery(): Promise<string>;
  /** `kong.request.get_query_arg`. */
  getQueryArg(name: string): Promise<string | boolean | undefined>;
  /** `kong.request.get_query`: the query as a multimap (sent back with `plugin.StepMultiMap`). */
  getQuery(maxArgs?: number): Promise<KongMultimap>;
  /** `kong.request.get_header`: the first value of a request header. */
  getHeader(name: string): Promise<string | undefined>;
  /** `kong.request.get_headers`: every request header as a multimap (sent back with `plugin.StepMultiMap`). */
  getHeaders(maxHeaders?: number): Promise<KongMultimap>;
  /** `kong.request.get_raw_body`: the body bytes (msgpack bin since Kong 3.0). */
  getRawBody(): Promise<Uint8Array | undefined>;
  /** `kong.request.get_body`: the parsed body. */
  getBody(mimeType?: string, maxArgs?: number): Promise<KongValue>;
  /** `kong.request.get_start_time`: the request start time in milliseconds. */
  getStartTime(): Promise<number>;
  /** `kong.request.get_uri_captures`: the route's regex captures. */
  getUriCaptures(): Promise<Record<string, unknown>>;
}

/** `kong.response`: the response to the client. */
export interface KongResponsePdk {
  /** `kong.response.get_status`. */
  getStatus(): Promise<number>;
  /** `kong.response.get_header`. */
  getHeader(name: string): Promise<string | undefined>;
  /** `kong.response.get_headers` (sent back with `plugin.StepMultiMap`). */
  getHeaders(maxHeaders?: number): Promise<KongMultimap>;
  /** `kong.response.get_source`: `service`, `exit` or `error`. */
  getSource(): Promise<string>;
  /** `kong.response.get_raw_body`: the response body bytes (msgpack bin since Kong 3.0). */
  getRawBody(): Promise<Uint8Array | undefined>;
  /** `kong.response.set_status`. */
  setStatus(status: number): Promise<void>;
  /** `kong.response.set_header`. */
  setHeader(name: string, value: string | number | boolean): Promise<void>;
  /** `kong.response.add_header`. */
  addHeader(name: string, value: string | number | boolean): Promise<void>;
  /** `kong.response.clear_header`. */
  clearHeader(name: string): Promise<void>;
  /** `kong.response.set_headers`. */
  setHeaders(headers: Record<string, string | string[]>): Promise<void>;
  /** `kong.response.set_raw_body`. */
  setRawBody(body: string | Uint8Array): Promise<void>;
  /**
   * `kong.response.exit`: ends the request with this response. Terminal: Kong sends no reply, so the promise
   * resolves at once and the event is over; later PDK calls of the handler fail with `KongEventClosedError`.
   */
  exit(
    status: number,
    body?: string | Record<string, unknown> | Uint8Array,
    headers?: Record<string, string | string[]>,
  ): Promise<void>;
  /** `kong.response.error`: ends the request with a Kong error response. Terminal, like {@link KongResponsePdk.exit}. */
  error(status: number, message?: string, headers?: Record<string, string | string[]>): Promise<void>;
}

/** `kong.router`: the matched route and service. */
export interface KongRouterPdk {
  /** `kong.router.get_route` (sent back with `plugin.StepRoute`). */
  getRoute(): Promise<KongEntity | undefined>;
  /** `kong.router.get_service` (sent back with `plugin.StepService`). */
  getService(): Promise<KongEntity | undefined>;
}

/** `kong.service.request`: the request Kong sends upstream. */
export interface KongServiceRequestPdk {
  /** `kong.service.request.set_scheme`. */
  setScheme(scheme: string): Promise<void>;
  /** `kong.service.request.set_path`. */
  setPath(path: string): Promise<void>;
  /** `kong.service.request.set_raw_query`. */
  setRawQuery(query: string): Promise<void>;
  /** `kong.service.request.set_method`. */
  setMethod(method: string): Promise<void>;
  /** `kong.service.request.set_query`. */
  setQuery(query: Record<string, string | string[] | boolean>): Promise<void>;
  /** `kong.service.request.set_header`. */
  setHeader(name: string, value: string | number | boolean): Promise<void>;
  /** `kong.service.request.add_header`. */
  addHeader(name: string, value: string | number | boolean): Promise<void>;
  /** `kong.service.request.clear_header`. */
  clearHeader(name: string): Promise<void>;
  /** `kong.service.request.set_headers`. */
  setHeaders(headers: Record<string, string | string[]>): Promise<void>;
  /** `kong.service.request.set_raw_body`. */
  setRawBody(body: string | Uint8Array): Promise<void>;
  /** `kong.service.request.set_body`. */
  setBody(body: Record<string, unknown>, mimeType?: string): Promise<void>;
  /** `kong.service.request.enable_buffering`. */
  enableBuffering(): Promise<void>;
}

/** `kong.service.response`: the upstream response. */
export interface KongServiceResponsePdk {
  /** `kong.service.response.get_status`. */
  getStatus(): Promise<number | undefined>;
  /** `kong.service.response.get_header`. */
  getHeader(name: string): Promise<string | undefined>;
  /** `kong.service.response.get_headers` (sent back with `plugin.StepMultiMap`). */
  getHeaders(maxHeaders?: number): Promise<KongMultimap>;
  /** `kong.service.response.get_raw_body`: the upstream body bytes (msgpack bin since Kong 3.0). */
  getRawBody(): Promise<Uint8Array | undefined>;
  /** `kong.service.response.get_body`: the parsed upstream body. */
  getBody(mimeType?: string, maxArgs?: number): Promise<KongValue>;
}

/** `kong.service`: the upstream service. */
export interface KongServicePdk {
  /** `kong.service.set_upstream`. */
  setUpstream(host: string): Promise<boolean>;
  /** `kong.service.set_target`. */
  setTarget(host: string, port: number): Promise<void>;
  /** `kong.service.request`. */
  readonly request: KongServiceRequestPdk;
  /** `kong.service.response`. */
  readonly response: KongServiceResponsePdk;
}

/** `kong.plugin`: the running plugin. */
export interface KongPluginPdk {
  /** `kong.plugin.get_id`: the plugin entity id. */
  getId(): Promise<string>;
}

/**
 * The `kong` object of a TypeScript plugin's phase method. Namespaces and methods are those of Kong's PDK in
 * camelCase. {@link KongPdk.call} reaches any PDK function, including ones not typed here.
 *
 * @example
 * ```ts
 * async access(kong: KongPdk) {
 *   const host = await kong.request.getHeader('host');
 *   await kong.response.setHeader('x-host', host ?? 'none');
 * }
 * ```
 */
export interface KongPdk {
  /** `kong.client`. */
  readonly client: KongClientPdk;
  /** `kong.ctx`. */
  readonly ctx: KongCtxPdk;
  /** `kong.ip`. */
  readonly ip: KongIpPdk;
  /** `kong.log`. */
  readonly log: KongLogPdk;
  /** `kong.nginx`. */
  readonly nginx: KongNginxPdk;
  /** `kong.node`. */
  readonly node: KongNodePdk;
  /** `kong.plugin`. */
  readonly plugin: KongPluginPdk;
  /** `kong.request`. */
  readonly request: KongRequestPdk;
  /** `kong.response`. */
  readonly response: KongResponsePdk;
  /** `kong.router`. */
  readonly router: KongRouterPdk;
  /** `kong.service`. */
  readonly service: KongServicePdk;
  /**
   * Calls any PDK function by its full dotted snake_case name.
   *
   * @param method - e.g. `kong.vault.get`.
   * @param args - its positional arguments.
   * @returns Kong's reply.
   */
  call(method: string, ...args: KongValue[]): Promise<unknown>;
}

/** The transport of a PDK object: sends one PDK call and resolves with Kong's reply. */
export type PdkCall = (method: string, args: unknown[]) => Promise<unknown>;

const snakeCache = new Map<string, string>();

/**
 * `getHeader` → `get_header`, `getTls1VersionStr` → `get_tls1_version_str`: an `_` before every upper-case
 * letter that follows a lower-case letter or a digit, then lower case. kong-pdk (`Kong/kong-js-pdk: pdk.js`)
 * only looks at a lower-case letter before the capital, which misses `getTls1VersionStr`.
 */
export function toSnakeCase(name: string): string {
  let snake = snakeCache.get(name);
  if (snake === undefined) {
    snake = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
    if (snakeCache.size < 4096) snakeCache.set(name, snake);
  }
  return snake;
}

/**
 * Builds a {@link KongPdk} whose calls go through `call`. Namespaces are created on first access and kept, so
 * a plugin that reads `kong.request` a hundred times builds it once.
 *
 * @param call - sends one PDK call.
 */
export function createPdk(call: PdkCall): KongPdk {
  const root = namespace('kong', call);
  return root as unknown as KongPdk;
}

function namespace(prefix: string, call: PdkCall): object {
  // Built per event (the PDK object is bound to its event), so this stays lean: the children map is made on
  // first access, and the target is an anonymous arrow (a named one costs a `__name` call per namespace under
  // esbuild's keepNames, which tsx uses).
  let children: Map<string | symbol, unknown> | undefined;
  return new Proxy((...args: unknown[]): Promise<unknown> => call(prefix, args), {
    get(target, property) {
      let child = children?.get(property);
      if (child !== undefined) return child;
      if (typeof property === 'symbol') return Reflect.get(target, property);
      // Promise resolution asks for `then`; a PDK namespace must not look like a thenable.
      if (property === 'then') return undefined;
      if (property === 'call' && prefix === 'kong') {
        child = (method: string, ...args: unknown[]) => call(method, args);
      } else {
        child = namespace(childName(prefix, property), call);
      }
      children ??= new Map();
      children.set(property, child);
      return child;
    },
  });
}

/** `prefix` + `.` + the snake-case property, kept per prefix so that events after the first build no string. */
const childNames = new Map<string, Map<string, string>>();

function childName(prefix: string, property: string): string {
  let names = childNames.get(prefix);
  if (names === undefined) {
    names = new Map();
    if (childNames.size < 4096) childNames.set(prefix, names);
  }
  let name = names.get(property);
  if (name === undefined) {
    name = `${prefix}.${toSnakeCase(property)}`;
    if (names.size < 4096) names.set(property, name);
  }
  return name;
}
