import { RpcUsageError } from './errors.js';
/**
 * Size and structure caps shared by the framer and the codec (spec §3.4).
 *
 * @module
 */

/** Size and structure caps of a frame decoder; every one is checked as soon as its header is complete. */
export interface FrameLimits {
  /** Largest frame in bytes; also caps buffering. Default 16 MiB (16,777,216). */
  maxFrameBytes?: number;
  /** Largest str payload in bytes. Default `maxFrameBytes`. */
  maxStrLength?: number;
  /** Largest bin payload in bytes. Default `maxFrameBytes`. */
  maxBinLength?: number;
  /** Largest ext payload in bytes. Default `maxFrameBytes`. */
  maxExtLength?: number;
  /** Most items in one array. Default 1,048,576. */
  maxArrayLength?: number;
  /** Most entries in one map. Default 1,048,576. */
  maxMapLength?: number;
  /** Deepest container nesting (the envelope array is depth 1). Default 100. */
  maxDepth?: number;
}

/** The limits with every default filled in. */
export type ResolvedFrameLimits = Required<FrameLimits>;

/** Default `maxFrameBytes`: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Default `maxArrayLength` and `maxMapLength`: 2^20. */
export const DEFAULT_MAX_CONTAINER_LENGTH = 1024 * 1024;
/** Default `maxDepth`: 100, at least what `@msgpack/msgpack`'s encoder can produce. */
export const DEFAULT_MAX_DEPTH = 100;

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RpcUsageError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * Fills in defaults and validates limits.
 *
 * @throws {@link RpcUsageError} when a limit is not a positive integer.
 */
export function resolveFrameLimits(limits: FrameLimits = {}): ResolvedFrameLimits {
  const maxFrameBytes = positiveInteger('maxFrameBytes', limits.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES);
  return {
    maxFrameBytes,
    maxStrLength: positiveInteger('maxStrLength', limits.maxStrLength, maxFrameBytes),
    maxBinLength: positiveInteger('maxBinLength', limits.maxBinLength, maxFrameBytes),
    maxExtLength: positiveInteger('maxExtLength', limits.maxExtLength, maxFrameBytes),
    maxArrayLength: positiveInteger('maxArrayLength', limits.maxArrayLength, DEFAULT_MAX_CONTAINER_LENGTH),
    maxMapLength: positiveInteger('maxMapLength', limits.maxMapLength, DEFAULT_MAX_CONTAINER_LENGTH),
    maxDepth: positiveInteger('maxDepth', limits.maxDepth, DEFAULT_MAX_DEPTH),
  };
}
