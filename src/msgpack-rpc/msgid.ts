import { RpcUsageError } from './errors.js';
/**
 * Allocates msgids for one connection's outgoing requests: `base … 4294967295`, then wraps to `base`, skipping ids
 * still in use (pending, queued, or recently abandoned). A pure unit, so wraparound is testable without 2^32
 * requests.
 *
 * @example
 * ```ts
 * const ids = new MsgidAllocator(1, 4294967295);
 * ids.next((id) => id === 1); // 4294967295, then 2 on the next call (1 is in use)
 * ```
 */
export class MsgidAllocator {
  /** The first id and the value the counter wraps to. */
  readonly base: 0 | 1;
  private nextId: number;

  /**
   * @param base - 1 (default; keeps id 0 out of use, as Kong does) or 0.
   * @param initial - where the counter starts (default `base`), for tests.
   * @throws {@link RpcUsageError} when `base` is not 0 or 1, or `initial` is outside `base…4294967295`.
   */
  constructor(base: 0 | 1 = 1, initial: number = base) {
    if (base !== 0 && base !== 1) throw new RpcUsageError(`msgidBase must be 0 or 1, got ${String(base)}`);
    if (!Number.isInteger(initial) || initial < base || initial > MAX_MSGID) {
      throw new RpcUsageError(
        `initialMsgid must be an integer in ${base}…${MAX_MSGID}, got ${String(initial)}`,
      );
    }
    this.base = base;
    this.nextId = initial;
  }

  /**
   * Returns the next id for which `isInUse` is false and advances past it.
   *
   * @param isInUse - whether an id is still taken.
   * @throws RangeError when every id is in use (not reachable with the peer's bounded queues).
   */
  next(isInUse: (id: number) => boolean): number {
    const span = MAX_MSGID - this.base + 1;
    for (let tried = 0; tried < span; tried++) {
      const id = this.nextId;
      this.nextId = id === MAX_MSGID ? this.base : id + 1;
      if (!isInUse(id)) return id;
    }
    throw new RangeError('every msgid is in use');
  }

  /**
   * Gives back the id `next()` just returned (the call failed before anything was sent), so it is handed out
   * again. Does nothing when another id was allocated since.
   *
   * @param id - the id returned by the last `next()`.
   */
  unallocate(id: number): void {
    if (this.nextId === (id === MAX_MSGID ? this.base : id + 1)) this.nextId = id;
  }
}

const MAX_MSGID = 0xffffffff;
