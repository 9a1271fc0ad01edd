/**
 * Which socket paths are owned by a supervisor of this process, so a client's `NotFound` error can say
 * whether the server is supposed to be running. Supervisors register here; nothing else reads it.
 */

const supervised = new Map<string, () => string>();

/** @internal Registers a supervised socket path; `describe` says what its supervisor is doing. */
export function registerSupervisedSocket(path: string, describe: () => string): () => void {
  supervised.set(path, describe);
  return () => {
    if (supervised.get(path) === describe) supervised.delete(path);
  };
}

/** @internal A hint about the supervisor of `path`, if one exists in this process. */
export function supervisedSocketRunning(path: string): string | undefined {
  return supervised.get(path)?.();
}
