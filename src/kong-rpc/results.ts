/**
 * Checks of what a plugin server answers, as strict as Kong is: Kong indexes these fields and raises a Lua
 * error when they are missing, so the Kong side rejects with {@link KongProtocolError} instead.
 */
import { KongProtocolError, KongRpcUsageError } from './errors.js';

/** An instance's status (`StartInstance`, `InstanceStatus`; `CloseInstance` has no `startTime`). */
export interface KongInstanceStatus {
  /** The plugin name. */
  name: string;
  /** The instance id. */
  id: number;
  /** The configuration as the server decoded it. */
  config: unknown;
  /** Start time in seconds since the epoch (absent for `CloseInstance`). */
  startTime: number | undefined;
}

/** A positive, finite number option, or its default. @throws {@link KongRpcUsageError} */
export function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new KongRpcUsageError(`${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

/** A non-negative integer option, or its default. @throws {@link KongRpcUsageError} */
export function count(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new KongRpcUsageError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/** A result that must be a map. @throws {@link KongProtocolError} */
export function record(value: unknown, method: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KongProtocolError(method, 'result is not a map');
  }
  return value as Record<string, unknown>;
}

/** `{Name, Id, Config, StartTime?}` in camelCase. @throws {@link KongProtocolError} without an integer `Id`. */
export function instanceStatus(value: unknown, method: string): KongInstanceStatus {
  const status = record(value, method);
  if (typeof status.Id !== 'number') throw new KongProtocolError(method, 'result has no integer Id');
  return {
    name: String(status.Name),
    id: status.Id,
    config: status.Config,
    startTime: typeof status.StartTime === 'number' ? status.StartTime : undefined,
  };
}

/** StepData as it comes from the server, checked by {@link stepData}. */
export interface WireStepData {
  EventId: unknown;
  Data: 'ret' | { Method: string; Args: unknown };
}

/** Kong indexes `Data.Method` unless `Data` is `"ret"` (spec §4.2 E2); anything else is a Lua error there. */
export function stepData(value: unknown, method: string): WireStepData {
  const step = record(value, method);
  const data = step.Data;
  if (data === 'ret') return step as unknown as WireStepData;
  if (
    typeof data !== 'object' ||
    data === null ||
    typeof (data as { Method?: unknown }).Method !== 'string'
  ) {
    throw new KongProtocolError(method, 'Data is neither "ret" nor {Method, Args}');
  }
  return step as unknown as WireStepData;
}
