/**
 * Kong's side of the PDK loop, as pure functions: which `plugin.Step*` method carries a PDK result, how Kong
 * reshapes some results before packing them, and which calls end the event. All of it follows
 * `Kong/kong: kong/runloop/plugin_servers/rpc/mp_rpc.lua` (`get_step_method`, `must_fix`, `fix_mmap`,
 * `fix_raw`) and the overrides of `Kong/kong: kong/runloop/plugin_servers/plugin.lua`.
 */
import { EMPTY_MAP } from '../msgpack-rpc/index.js';

/** PDK methods whose call ends the nginx request: Kong sends no Step after them. */
export const TERMINAL_PDK_METHODS: ReadonlySet<string> = new Set([
  'kong.response.exit',
  'kong.response.error',
]);

/** `get_step_method`'s table: PDK method → the typed Step method that carries its result. */
const STEP_METHOD_BY_PDK_METHOD: ReadonlyMap<string, string> = new Map([
  ['kong.client.get_credential', 'plugin.StepCredential'],
  ['kong.client.authenticate', 'plugin.StepCredential'],
  ['kong.client.load_consumer', 'plugin.StepConsumer'],
  ['kong.client.get_consumer', 'plugin.StepConsumer'],
  ['kong.node.get_memory_stats', 'plugin.StepMemoryStats'],
  ['kong.router.get_route', 'plugin.StepRoute'],
  ['kong.router.get_service', 'plugin.StepService'],
  ['kong.request.get_query', 'plugin.StepMultiMap'],
  ['kong.request.get_headers', 'plugin.StepMultiMap'],
  ['kong.response.get_headers', 'plugin.StepMultiMap'],
  ['kong.service.response.get_headers', 'plugin.StepMultiMap'],
]);

const MULTIMAP_METHODS: ReadonlySet<string> = new Set([
  'kong.request.get_query',
  'kong.request.get_headers',
  'kong.response.get_headers',
  'kong.service.response.get_headers',
]);

const RAW_BODY_METHODS: ReadonlySet<string> = new Set([
  'kong.request.get_raw_body',
  'kong.response.get_raw_body',
  'kong.service.response.get_raw_body',
]);

const PDK_FAILURE = Symbol('pluginwire.kong.pdkFailure');

/**
 * What a PDK implementation returns to report that the PDK function gave `nil, err` the Kong 2.3–2.8 way: the
 * Kong side then answers with `plugin.StepError` and `Data` = the message, and the plugin's call fails. Kong
 * 3.x keeps only the first return value instead, which a PDK implementation expresses by returning
 * `undefined`. Create one with {@link pdkFailure}.
 */
export interface PdkFailure {
  /** The error text sent as `Data` of `plugin.StepError`. */
  readonly message: string;
  /** @internal */
  readonly [PDK_FAILURE]: true;
}

/**
 * Makes the value a PDK implementation returns to fail the plugin's PDK call with `plugin.StepError`, as Kong
 * 2.3–2.8 did for a PDK function that returned `nil, err`.
 *
 * @param message - the error text; the plugin sees it (kong-pdk: `PDK method <m> failed:  <message>`).
 * @returns a marker for {@link KongPluginClient.handleEvent}'s PDK callback to return.
 * @example
 * ```ts
 * const pdk: KongPdkHandler = (method) =>
 *   method === 'kong.request.get_body' ? pdkFailure('body too large') : undefined;
 * ```
 */
export function pdkFailure(message: string): PdkFailure {
  return Object.freeze({ message, [PDK_FAILURE]: true as const });
}

/** Whether a PDK implementation returned {@link pdkFailure}'s marker. */
export function isPdkFailure(value: unknown): value is PdkFailure {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { [PDK_FAILURE]?: unknown })[PDK_FAILURE] === true
  );
}

/**
 * Picks the Step method Kong uses to send a PDK result (`get_step_method`): a result map with a string
 * `_method` names it, else the typed table, else `plugin.Step`.
 *
 * @param pdkMethod - the PDK method that produced the result.
 * @param result - the result, after {@link fixPdkResult}.
 */
export function stepMethodFor(pdkMethod: string, result: unknown): string {
  if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
    const named = (result as { _method?: unknown })._method;
    if (typeof named === 'string' && named !== '') return named;
  }
  return STEP_METHOD_BY_PDK_METHOD.get(pdkMethod) ?? 'plugin.Step';
}

/**
 * Reshapes a PDK result the way Kong does before packing it:
 * - the four multimap methods (`get_query`, `get_headers` ×3): every value becomes an array of strings (`true`
 *   → `[]`, `"v"` → `["v"]`), and an empty result becomes the explicit empty map `80` (`fix_mmap`); every other
 *   empty table goes out as `90` in Kong's encoding;
 * - the three raw-body methods: the body goes out as msgpack bin (`fix_raw`, Kong 3.0+; `Kong/kong#8623`), so
 *   a string is turned into its UTF-8 bytes;
 * - `kong.log.serialize`: Kong's override returns the lua-cjson text of the table, so an object is turned into
 *   JSON text.
 *
 * @param pdkMethod - the PDK method.
 * @param result - what the caller's PDK implementation returned.
 * @returns the value to send as `Data`.
 */
export function fixPdkResult(pdkMethod: string, result: unknown): unknown {
  if (MULTIMAP_METHODS.has(pdkMethod)) return fixMultimap(result);
  if (RAW_BODY_METHODS.has(pdkMethod)) {
    if (typeof result === 'string') return new Uint8Array(Buffer.from(result, 'utf8'));
    if (result instanceof Uint8Array) return result;
    return result;
  }
  if (pdkMethod === 'kong.log.serialize' && typeof result === 'object' && result !== null) {
    return JSON.stringify(result);
  }
  return result;
}

function fixMultimap(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    return value;
  }
  const fixed: Record<string, unknown> = {};
  let empty = true;
  for (const [key, entry] of Object.entries(value)) {
    // A nil value is no entry in Lua, so fix_mmap never sees it.
    if (entry === undefined) continue;
    empty = false;
    if (entry === true) fixed[key] = [];
    else if (typeof entry === 'string') fixed[key] = [entry];
    else fixed[key] = entry;
  }
  return empty ? EMPTY_MAP : fixed;
}

/**
 * Turns the `Args` Kong received into the argument list it calls the PDK function with. Kong calls
 * `method(unpack(Args))` when `Args` is a table and `method(Args)` otherwise; a nil `Args` (Go servers send it
 * for zero arguments) is no argument, and a map is unpacked by its integer keys `1…n`.
 */
export function pdkArguments(args: unknown): unknown[] {
  if (Array.isArray(args)) return args;
  if (args === undefined || args === null) return [];
  if (typeof args === 'object' && !(args instanceof Uint8Array)) {
    const record = args as Record<string, unknown>;
    const list: unknown[] = [];
    for (let index = 1; Object.hasOwn(record, String(index)); index++) list.push(record[String(index)]);
    return list;
  }
  return [args];
}
