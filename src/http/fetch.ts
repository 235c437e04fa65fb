import type { HeaderLookup, HttpCall, HttpRequestSpec, HttpSink, Transport } from './transport';
import { callLifecycle, TransportError } from './transport';

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
 *
 * A fetch that fails before any response, in a browser, fails with one message whatever the cause
 * (`TypeError: Failed to fetch`, `NetworkError when attempting to fetch resource.`, `Load failed`):
 * a CORS refusal and a network failure look the same. To keep `retryBackoff()` from retrying a
 * refusal that will repeat, the transport tells them apart where it can (see `diagnose`): offline
 * → retryable; a cross-origin call whose server answers a `no-cors` probe → refused by the browser
 * (most likely CORS), not retryable; otherwise a network failure, retryable.
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
        let response: Response;
        try {
          response = await doFetch(request.url, init);
        } catch (error) {
          if (!life.open) return;
          throw await diagnose(error, request.url, doFetch, controller.signal);
        }
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

/** What the page knows of its situation; read from `location` and `navigator` where they exist. */
export interface BrowserContext {
  /** The calling page's (or worker's) origin; undefined outside a browser, where CORS does not apply. */
  readonly pageOrigin?: string | undefined;
  /** `navigator.onLine`, where there is one. */
  readonly online?: boolean | undefined;
}

/**
 * How a fetch that failed before any response may be read, from its error and where it was sent:
 *
 * - `undefined`: not the opaque browser failure (Node's `TypeError: fetch failed` carries its cause,
 *   an abort is an `AbortError`, …): pass it on as it is;
 * - `'offline'`: the browser says it is offline;
 * - `'cross-origin'`: the call went to another origin, so the browser may have refused it (CORS,
 *   a private-network rule) — or the network failed; only a probe can tell;
 * - `'network'`: a same-origin call (or no page at all), which CORS does not govern: the network.
 *
 * Pure: `context` is what `location` and `navigator` say. Browsers give every failure before a
 * response one message — Chrome `TypeError: Failed to fetch`, Firefox `TypeError: NetworkError
 * when attempting to fetch resource.`, Safari `TypeError: Load failed` — which is all there is.
 *
 * @example
 * classifyFetchFailure(new TypeError('Failed to fetch'), 'https://api.example.com/v1/chat/completions', { pageOrigin: 'https://app.example.com', online: true }); // 'cross-origin'
 */
export function classifyFetchFailure(error: unknown, url: string, context: BrowserContext): 'offline' | 'cross-origin' | 'network' | undefined {
  if (!isOpaqueFetchFailure(error)) return undefined;
  if (context.online === false) return 'offline';
  if (context.pageOrigin === undefined) return 'network';
  // An opaque origin (a file:// page, a sandboxed iframe): every call is cross-origin.
  if (context.pageOrigin === 'null') return 'cross-origin';
  return originOf(url) === context.pageOrigin ? 'network' : 'cross-origin';
}

/** The messages browsers give a fetch that failed before any response (Chrome, Firefox, Safari). */
const OPAQUE_MESSAGES = /^(?:Failed to fetch|NetworkError when attempting to fetch resource\.?|Load failed)(?: \(.*\))?$/;

/** True for the TypeError a browser's fetch rejects with when it got no response, for whatever reason. */
export function isOpaqueFetchFailure(error: unknown): boolean {
  // By name, not instanceof: a TypeError from another realm (an iframe's fetch) is one too.
  return error instanceof Error && error.name === 'TypeError' && OPAQUE_MESSAGES.test(error.message);
}

function browserContext(): BrowserContext {
  const scope = globalThis as { location?: { origin?: unknown }; navigator?: { onLine?: unknown } };
  const origin = scope.location?.origin;
  const online = scope.navigator?.onLine;
  return { pageOrigin: typeof origin === 'string' ? origin : undefined, online: typeof online === 'boolean' ? online : undefined };
}

/**
 * The error for a fetch that failed before any response: the error as it is when it is not the
 * browser's opaque failure, else a `TransportError` that says what is known. A cross-origin failure
 * is probed with a `no-cors` HEAD to the same URL (no credentials, no headers, its answer unread):
 * a server that answers it is reachable, so the browser refused the call itself — CORS, most
 * likely, which another attempt will meet again (not retryable); a probe that fails too means the
 * server could not be reached (retryable). The probe is aborted with the call.
 */
async function diagnose(error: unknown, url: string, doFetch: typeof globalThis.fetch, signal: AbortSignal): Promise<unknown> {
  const context = browserContext();
  const kind = classifyFetchFailure(error, url, context);
  if (kind === undefined) return error;
  const origin = originOf(url);
  const said = `${(error as Error).name}: ${(error as Error).message}`;
  if (kind === 'offline') return new TransportError(`the browser is offline (navigator.onLine is false): the call to ${origin} was not made (${said})`, true, error);
  if (kind === 'network') return new TransportError(`the browser could not reach ${origin} (${said}): a network failure`, true, error);
  const page = context.pageOrigin ?? 'this page';
  let answers = false;
  try {
    await doFetch(url, { method: 'HEAD', mode: 'no-cors', credentials: 'omit', cache: 'no-store', signal });
    answers = true;
  } catch {
    answers = false;
  }
  return answers
    ? new TransportError(
        `the browser refused the call from ${page} to ${origin} (${said}), though ${origin} answers: most likely CORS. The server must allow the origin ${page} (Access-Control-Allow-Origin) and the request's headers (Access-Control-Allow-Headers), or the call must go through your own server. Not retried: the browser would refuse it again`,
        false,
        error,
      )
    : new TransportError(
        `the browser could not reach ${origin} from ${page} (${said}), nor with a no-cors probe: the network, DNS, TLS, mixed content (an https page calling http://) or a blocked URL`,
        true,
        error,
      );
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
