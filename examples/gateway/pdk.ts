/**
 * The demo gateway's PDK: what Kong would answer to each call a plugin makes, for one HTTP request. Kong's
 * own PDK is far larger; this one answers the request, response and log functions the demo plugins use, and
 * nil (with a trace line) for anything else, as Kong answers an unknown field.
 */
import type { KongPdkHandler } from '../../src/kong-rpc/index.js';
import { pdkFailure } from '../../src/kong-rpc/index.js';

/** One HTTP request as it travels through the gateway. */
export interface Exchange {
  method: string;
  path: string;
  query: string;
  /** Request headers, lower-cased names; repeated headers as arrays (as Kong's get_headers). */
  requestHeaders: Record<string, string | string[]>;
  body: string;
  /** Response status (200 from the built-in upstream unless a plugin ended the request). */
  status: number;
  /** Response headers set so far (by plugins and the upstream). */
  responseHeaders: Record<string, string>;
  /** Log lines plugins wrote with kong.log.*. */
  logs: string[];
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function text(args: unknown[]): string {
  return args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ');
}

const LOG_LEVELS = ['debug', 'info', 'notice', 'warn', 'err', 'crit', 'alert', 'emerg'];

/**
 * The PDK handler of one exchange, for `KongPluginClient.runEvent`.
 *
 * @param exchange - the request and the response being built.
 * @param plugin - the plugin's name, for log lines.
 * @param onCall - sees every call and what it answered (the trace).
 */
export function gatewayPdk(
  exchange: Exchange,
  plugin: string,
  onCall: (method: string, args: unknown[], result: unknown) => void,
): KongPdkHandler {
  const answer = (method: string, args: unknown[]): unknown => {
    switch (method) {
      case 'kong.request.get_header':
        return first(exchange.requestHeaders[String(args[0]).toLowerCase()]);
      case 'kong.request.get_headers':
        return exchange.requestHeaders;
      case 'kong.request.get_method':
        return exchange.method;
      case 'kong.request.get_path':
        return exchange.path;
      case 'kong.request.get_raw_query':
        return exchange.query;
      case 'kong.request.get_raw_body':
        return exchange.body;
      case 'kong.request.get_body': {
        // Kong returns nil, "missing content type" (a StepError for the plugin) without a JSON body.
        if (!String(first(exchange.requestHeaders['content-type']) ?? '').includes('json')) {
          return pdkFailure('missing content type');
        }
        return JSON.parse(exchange.body || '{}');
      }
      case 'kong.response.get_status':
        return exchange.status;
      case 'kong.response.get_header':
        return exchange.responseHeaders[String(args[0]).toLowerCase()];
      case 'kong.response.get_headers':
        return exchange.responseHeaders;
      case 'kong.response.set_header':
      case 'kong.response.add_header':
        exchange.responseHeaders[String(args[0]).toLowerCase()] = String(args[1]);
        return undefined;
      case 'kong.response.exit':
      case 'kong.response.error':
        // Terminal: the client ends the event here; the gateway answers from outcome.terminal.
        return undefined;
      case 'kong.log.serialize':
        return {
          request: { method: exchange.method, uri: exchange.path, headers: exchange.requestHeaders },
          response: { status: exchange.status, headers: exchange.responseHeaders },
        };
      default: {
        const level = method.startsWith('kong.log.') ? method.slice('kong.log.'.length) : undefined;
        if (level !== undefined && LOG_LEVELS.includes(level)) {
          exchange.logs.push(`[${level}] ${plugin}: ${text(args)}`);
          return undefined;
        }
        return undefined; // not in this small PDK: nil, as Kong answers an unknown field
      }
    }
  };
  return (method, args) => {
    const result = answer(method, args);
    onCall(method, args, result);
    return result;
  };
}
