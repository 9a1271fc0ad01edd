// Servers: listenUnix (stale files, symlinks and live owners handled; only its own socket removed) and its events.

export {
  type CloseResult,
  type ListeningEvent,
  type ListenOptions,
  listenUnix,
  type SocketLostEvent,
  UnixServer,
  type UnixServerEvents,
} from '../server.js';
export { ServerConnection } from '../server-connection.js';
