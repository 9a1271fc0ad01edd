// Tracing: the per-message observability hook of RpcPeerOptions.trace and its events.

export type {
  BackpressureTraceEvent,
  CloseTraceEvent,
  LateResponseTraceEvent,
  MessageKind,
  ProtocolErrorTraceEvent,
  ReceiveTraceEvent,
  ResponseDroppedTraceEvent,
  SendTraceEvent,
  TraceEvent,
  TraceHook,
  UnhandledNotificationTraceEvent,
} from '../trace.js';
