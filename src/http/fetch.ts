import type { HttpCall, HttpRequestSpec, HttpSink, Transport } from './transport';
import { RELEASE_GRACE_MS } from './transport';

export interface FetchTransportOptions {
  /** The fetch to use. @defaultValue globalThis.fetch */
  readonly fetch?: typeof globalThis.fetch;
}

/**
 * Transport on the WHATWG `fetch` (browsers, edge runtimes, Deno, Bun; Node too). Aborting the
 * AbortController cancels the request and its body stream.
 */
export function fetchTransport(options: FetchTransportOptions = {}): Transport {
  return {
    send(request: HttpRequestSpec, sink: HttpSink): HttpCall {
      const doFetch = options.fetch ?? globalThis.fetch;
      const controller = new AbortController();
      let state: 'open' | 'aborted' | 'released' | 'ended' = 'open';
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      const run = async (): Promise<void> => {
        const init: RequestInit = { method: request.method, headers: request.headers, signal: controller.signal };
        if (request.body !== undefined) init.body = request.body;
        const response = await doFetch(request.url, init);
        if (state !== 'open') return void response.body?.cancel().catch(() => undefined);
        sink.onResponse(response.status, { get: (name) => response.headers.get(name) ?? undefined });
        const reader = response.body?.getReader();
        if (reader) {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            if (state === 'open') sink.onData(value);
          }
        }
        const was = state;
        state = 'ended';
        if (graceTimer) clearTimeout(graceTimer);
        if (was === 'open') sink.onEnd();
      };
      // Start a microtask later, so an abort in the same tick as send() sends nothing.
      queueMicrotask(() => {
        if (state !== 'open') return;
        run().catch((error: unknown) => {
          const was = state;
          state = 'ended';
          if (graceTimer) clearTimeout(graceTimer);
          if (was === 'open') sink.onError(error);
        });
      });
      return {
        abort() {
          // After release() the body is being drained for reuse; that path ends on its own.
          if (state === 'open') {
            state = 'aborted';
            if (graceTimer) clearTimeout(graceTimer);
            controller.abort();
          }
        },
        release() {
          if (state !== 'open') return;
          state = 'released';
          graceTimer = setTimeout(() => {
            state = 'aborted';
            controller.abort();
          }, RELEASE_GRACE_MS);
          (graceTimer as { unref?: () => void }).unref?.();
        },
      };
    },
  };
}
