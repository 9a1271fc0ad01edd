// Clients: connectUnix with boot-time retries, and UnixSocketPool (Kong's keepalive semantics).

export { type ConnectOptions, connectUnix, type RetryInfo, type RetryOptions } from '../client.js';
export type { ConnectFailureKind } from '../connect-errors.js';
export type { AbstractSocketAddress, ResolvedAddress, SocketAddress, SocketPathAddress } from '../path.js';
export {
  type ExchangeOptions,
  type PoolConnectionFactory,
  type PoolConnector,
  UnixSocketPool,
  type UnixSocketPoolOptions,
} from '../pool.js';
export { PoolLease } from '../pool-connection.js';
