/**
 * The error base shared by every pluginwire module.
 *
 * @module
 */

/**
 * Key under which every pluginwire error records the names of its class chain. `Symbol.for` makes the key the
 * same in every copy of pluginwire loaded into one process (an ESM and a CJS build, or two versions in
 * `node_modules`), which is what lets `instanceof` work across copies.
 */
const CLASS_CHAIN = Symbol.for('pluginwire.error.classChain');

/** Options accepted by every pluginwire error constructor. */
export interface PluginwireErrorOptions {
  /** The error or value that caused this one; exposed as the standard `cause` property. */
  cause?: unknown;
}

function classChainOf(ctor: abstract new (...args: never[]) => unknown): string[] {
  const names: string[] = [];
  let current: unknown = ctor;
  while (typeof current === 'function' && current !== Error && current !== Function.prototype) {
    names.push((current as { name: string }).name);
    if (current === PluginwireError) break;
    current = Object.getPrototypeOf(current);
  }
  return names;
}

function chainEndsWith(chain: readonly string[], suffix: readonly string[]): boolean {
  if (suffix.length > chain.length) return false;
  const offset = chain.length - suffix.length;
  return suffix.every((name, index) => chain[offset + index] === name);
}

/**
 * Base class of every error pluginwire throws or rejects with.
 *
 * Every error carries a stable string {@link PluginwireError.code} (`KONG_CONF_*`, `MSGPACK_RPC_*`,
 * `GOPLUGIN_*`, `SOCKET_*`): branch on it or on `instanceof`, never on the message text, which may change.
 *
 * `instanceof` also works across copies of pluginwire in one process (for example when one dependency loads the
 * CommonJS build and another the ES module build): an object is an instance of a pluginwire error class when its
 * recorded class chain ends with that class's chain.
 *
 * @example
 * ```ts
 * try {
 *   await peer.request('ping', []);
 * } catch (error) {
 *   if (error instanceof PluginwireError && error.code === 'MSGPACK_RPC_TIMEOUT') retry();
 *   else throw error;
 * }
 * ```
 */
export class PluginwireError extends Error {
  /** Stable, machine-readable identifier of the failure, e.g. `SOCKET_IN_USE`. */
  readonly code: string;

  /**
   * @param code - the stable error code.
   * @param message - a human-readable description.
   * @param options - `cause`, when another error or value caused this one.
   */
  constructor(code: string, message: string, options?: PluginwireErrorOptions) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.code = code;
    // Non-enumerable, like the `name` a native error inherits, so logs and JSON show only the useful fields.
    Object.defineProperty(this, 'name', {
      value: new.target.name,
      enumerable: false,
      writable: true,
      configurable: true,
    });
    Object.defineProperty(this, CLASS_CHAIN, { value: classChainOf(new.target), enumerable: false });
  }

  /**
   * Makes `instanceof` recognise errors created by another copy of pluginwire.
   *
   * @param value - the value on the left of `instanceof`.
   * @returns whether `value` is an instance of this class (or of a same-named class chain in another copy).
   */
  // biome-ignore-start lint/complexity/noThisInStatic: `this` is the class on the right of `instanceof`, a subclass too
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null) return false;
    const chain = (value as { [CLASS_CHAIN]?: unknown })[CLASS_CHAIN];
    if (!Array.isArray(chain)) return false;
    return chainEndsWith(chain as string[], classChainOf(this));
  }
  // biome-ignore-end lint/complexity/noThisInStatic: -
}
