// Supervision of plugin-server processes: process groups, readiness, Kong's restart timing, bounded stop.

export type { BackoffOptions, RestartPolicy } from '../policy.js';
export { installSignalHandlers, PluginServerSupervisor, stopAll } from '../supervisor.js';
export type {
  ConflictEvent,
  ExitInfo,
  GaveUpEvent,
  LogEvent,
  PluginServerDefinition,
  ProcessEvent,
  ReadyEvent,
  ReadyTimeoutEvent,
  RestartScheduledEvent,
  SpawnContext,
  StoppedEvent,
  StoppingEvent,
  SupervisorEvents,
  SupervisorOptions,
  SupervisorState,
} from '../supervisor-types.js';
