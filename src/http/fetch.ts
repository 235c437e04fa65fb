import type { HeaderLookup, HttpCall, HttpRequestSpec, HttpSink, Transport } from './transport';
import { callLifecycle } from './transport';

export interface FetchTransportOptions {
  /** The fetch to use. @defaultValue globalThis.fetch */
  readonly fetch?: typeof globalThis.fetch;
}

/**
 * Transport on the WHATWG `fetch` (browsers, edge runtimes, Deno, Bun; Node too). Aborting the
 * AbortController cancels the request and its body stream.
 *
 * fetch negotiates and decodes the content coding itself (gzip, br, …), so the body the sink gets
 * is never encoded and `content-encoding` is not reported.
 */
export function fetchTransport(options: FetchTransportOptions = {}): Transport {
  return {
    send(request: HttpRequestSpec, sink: HttpSink): HttpCall {
      const doFetch = options.fetch ?? globalThis.fetch;
      const controller = new AbortController();
      const life = callLifecycle(sink, () => controller.abort());
      const run = async (): Promise<void> => {
        const init: RequestInit = { method: request.method, headers: request.headers, signal: controller.signal };
        if (request.body !== undefined) init.body = request.body;
        const response = await doFetch(request.url, init);
        if (!life.open) return void response.body?.cancel().catch(() => undefined);
        life.response(response.status, decodedHeaders(response.headers));
        const reader = response.body?.getReader();
        if (reader) {
          // Keeps reading after release() (data is then dropped) so the connection can be reused.
          for (let r = await reader.read(); !r.done; r = await reader.read()) life.data(r.value);
        }
        life.end();
      };
      // Start a microtask later, so an abort in the same tick as send() sends nothing.
      queueMicrotask(() => {
        if (life.open) run().catch((error: unknown) => life.error(error));
      });
      return life.call;
    },
  };
}

/** The response's headers as the sink should see them: the body fetch delivers is decoded, so no `content-encoding`. */
function decodedHeaders(headers: Headers): HeaderLookup {
  return { get: (name) => (name === 'content-encoding' ? undefined : (headers.get(name) ?? undefined)) };
}
