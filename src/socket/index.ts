/**
 * `pluginwire/socket`: Unix-socket servers that handle stale files, symlinks and live owners safely and clean
 * up only their own socket; clients with boot-time retries; a connection pool with Kong's semantics; and a
 * supervisor for plugin-server processes (process groups, readiness, Kong's restart timing, bounded stop).
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export { type ConnectOptions, connectUnix, type RetryInfo, type RetryOptions, retryDelay } from './client.js';
export {
  type ConnectErrorDetails,
  ConnectFailedError,
  type ConnectFailureKind,
  ConnectionLostError,
  ConnectPermissionDeniedError,
  ConnectTimeoutError,
  LeaseEndedError,
  NotASocketError,
  PoolClosedError,
  PoolTimeoutError,
  ReadTimeoutError,
  SocketBadPathError,
  SocketBusyError,
  SocketConnectError,
  SocketNotFoundError,
  SocketRefusedError,
  WriteFailedError,
} from './connect-errors.js';
export {
  BindFailedError,
  ChmodFailedError,
  ChownFailedError,
  GroupNotFoundError,
  InvalidSocketPathError,
  SocketAbortedError,
  SocketDirMissingError,
  SocketError,
  SocketInUseError,
  SocketPathError,
  type SocketPathErrorOptions,
  SocketPathIsSymlinkError,
  SocketPathNotSocketError,
  SocketPathTooLongError,
  SocketPermissionDeniedError,
  StaleSocketError,
  UnsupportedPlatformError,
} from './errors.js';
export type { SocketLogger } from './logger.js';
export {
  type AbstractSocketAddress,
  maxSocketPathBytes,
  type ResolvedAddress,
  resolveAddress,
  type SocketAddress,
  type SocketPathAddress,
} from './path.js';
export {
  type BackoffOptions,
  backoffDelay,
  type KongProfile,
  kongProfile,
  type RestartPolicy,
} from './policy.js';
export {
  type ExchangeOptions,
  type PoolConnectionFactory,
  type PoolConnector,
  type PoolOptions,
  UnixSocketPool,
} from './pool.js';
export { PoolLease } from './pool-connection.js';
export {
  type CloseResult,
  type ListeningEvent,
  type ListenOptions,
  listenUnix,
  type SocketLostEvent,
  UnixServer,
  type UnixServerEvents,
} from './server.js';
export { ServerConnection } from './server-connection.js';
export { installSignalHandlers, PluginServerSupervisor, stopAll } from './supervisor.js';
export {
  SupervisorConflictError,
  SupervisorGaveUpError,
  SupervisorReadyTimeoutError,
  SupervisorStoppedError,
} from './supervisor-errors.js';
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
} from './supervisor-types.js';
