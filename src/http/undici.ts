import { Agent, type Dispatcher } from 'undici';
import type { HeaderLookup, HttpCall, HttpRequestSpec, HttpSink, Transport } from './transport';
import { callLifecycle } from './transport';

export interface UndiciTransportOptions {
  /** Use your own dispatcher (proxy agent, mock agent, custom pool). */
  readonly dispatcher?: Dispatcher;
  /** Keep idle sockets this long. @defaultValue 30_000 */
  readonly keepAliveTimeout?: number;
  /** Max sockets per origin. @defaultValue 256 */
  readonly connections?: number;
}

let sharedAgent: Agent | undefined;

/**
 * The process-wide pooled keep-alive agent, created on first use. undici unrefs idle sockets, so
 * the pool never keeps the process alive. undici's own header and body timeouts (300 s) stay as a
 * last resort; `deadline()` is the tool for real limits.
 */
function defaultAgent(): Agent {
  sharedAgent ??= new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connections: 256 });
  return sharedAgent;
}

class NodeHeaders implements HeaderLookup {
  constructor(private readonly raw: Record<string, string | string[] | undefined>) {}
  get(name: string): string | undefined {
    const value = this.raw[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

/**
 * Node transport on undici's dispatcher API: no Readable stream in between, each body chunk goes
 * straight to the sink. Aborting an in-flight response destroys its socket (the server sees the
 * close); aborting before the request is written sends nothing.
 */
export function undiciTransport(options: UndiciTransportOptions = {}): Transport {
  let ownAgent: Agent | undefined;
  const custom = options.keepAliveTimeout !== undefined || options.connections !== undefined;
  const dispatcherFor = (): Dispatcher =>
    options.dispatcher ??
    (custom ? (ownAgent ??= new Agent({ keepAliveTimeout: options.keepAliveTimeout ?? 30_000, connections: options.connections ?? 256 })) : defaultAgent());
  return {
    send(request: HttpRequestSpec, sink: HttpSink): HttpCall {
      const url = new URL(request.url);
      let controller: Dispatcher.DispatchController | undefined;
      const life = callLifecycle(sink, () => controller?.abort(new Error('aborted by subscriber')));
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          controller = c;
          if (life.aborted) c.abort(new Error('aborted by subscriber'));
        },
        // undici reports every response head here, informational 1xx ones (103 Early Hints, 102
        // Processing) too; `life.response` skips those, so the sink sees only the final status.
        // undici's dispatcher does not decode content codings (and sends no accept-encoding): a
        // `content-encoding` header stays visible, and the driver refuses the encoded body.
        onResponseStart: (_c, statusCode, headers) => life.response(statusCode, new NodeHeaders(headers)),
        onResponseData: (_c, chunk) => life.data(chunk),
        onResponseEnd: () => life.end(),
        onResponseError: (_c, error) => life.error(error),
      };
      // Dispatch a microtask later: undici connects, or writes on an idle keep-alive socket,
      // synchronously inside dispatch(). A caller that aborts in the same tick as send() (an
      // operator that unsubscribes on the `request` event) thus sends nothing and keeps the socket.
      queueMicrotask(() => {
        if (!life.open) return;
        try {
          dispatcherFor().dispatch(
            { origin: url.origin, path: url.pathname + url.search, method: request.method, headers: request.headers, body: request.body ?? null },
            handler,
          );
        } catch (error) {
          life.error(error);
        }
      });
      return life.call;
    },
  };
}
