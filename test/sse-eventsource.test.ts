/**
 * `toSSE()` against a real `EventSource` (undici's, the WHATWG one; Node 20 has no global) over
 * loopback: the browser's side of the contract. An EventSource reconnects whenever a response
 * ends, so a finished answer must not turn into a second, billed call, and a failure frame must not
 * look like EventSource's own connection `error`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { concat, defer, of, throwError, type Observable } from 'rxjs';
import { EventSource } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { LlmError, toSSE, type LlmEvent, type ToSSEOptions } from 'rxllm';
import { parts } from './helpers/events';
import { pause, waitFor } from './helpers/observe';

interface Served {
  readonly url: string;
  /** Subscriptions of the upstream call: each one would be a billed provider call. */
  readonly calls: () => number;
  /** Every request the server got, with its `Last-Event-ID` and the status it was answered. */
  readonly requests: Array<{ lastEventId: string | undefined; status?: number }>;
}

let server: Server | undefined;
const sources: EventSource[] = [];
afterEach(async () => {
  for (const source of sources.splice(0)) source.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** An HTTP server answering every request with `toSSE(upstream, res, options(req))`. */
async function serve(upstream: Observable<LlmEvent>, options: (req: IncomingMessage) => ToSSEOptions): Promise<Served> {
  let calls = 0;
  const counted = defer(() => {
    calls++;
    return upstream;
  });
  const requests: Served['requests'] = [];
  server = createServer((req, res) => {
    const seen: Served['requests'][number] = { lastEventId: req.headers['last-event-id'] as string | undefined };
    requests.push(seen);
    res.on('finish', () => (seen.status = res.statusCode));
    toSSE(counted, res, options(req));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/chat`, calls: () => calls, requests };
}

/** An EventSource that records the named frames and its own `error` events. */
function open(url: string): { source: EventSource; frames: Array<[string, unknown]>; connectionErrors: number } {
  const source = new EventSource(url);
  sources.push(source);
  const seen = { source, frames: [] as Array<[string, unknown]>, connectionErrors: 0 };
  for (const name of ['response', 'text', 'usage', 'finish', 'llm-error', 'done']) {
    source.addEventListener(name, (event) => void seen.frames.push([name, JSON.parse((event as MessageEvent<string>).data)]));
  }
  source.onerror = () => void seen.connectionErrors++;
  return seen;
}

const answer = of(parts.r, parts.h, parts.a, parts.b, parts.u, parts.f);

describe('toSSE() and a browser EventSource', () => {
  it('a client that closes on done: the whole answer, then done, one upstream call and no reconnect', async () => {
    const served = await serve(answer, (req) => ({ request: req, retryMs: 20 }));
    const client = open(served.url);
    client.source.addEventListener('done', () => client.source.close());
    await waitFor(() => client.frames.some(([name]) => name === 'done'), 'the done frame');
    await pause(300); // 15 reconnection delays
    expect(client.frames.map(([name]) => name)).toEqual(['response', 'text', 'text', 'usage', 'finish', 'done']);
    expect(client.frames.at(-1)).toEqual(['done', { type: 'done' }]);
    expect(served.calls()).toBe(1);
    expect(served.requests).toEqual([{ lastEventId: undefined, status: 200 }]);
    expect(client.connectionErrors).toBe(0);
  });

  it('a client that ignores done: its reconnect carries Last-Event-ID, is answered 204, and EventSource stops — still one call', async () => {
    const served = await serve(answer, (req) => ({ request: req, retryMs: 20 }));
    const client = open(served.url);
    await waitFor(() => client.source.readyState === client.source.CLOSED, 'EventSource closed by the 204', 3000);
    await pause(300); // a client still reconnecting would have come back ~15 times by now
    expect(served.calls()).toBe(1);
    expect(served.requests).toEqual([
      { lastEventId: undefined, status: 200 },
      { lastEventId: '6', status: 204 }, // the done frame's id: it saw the whole answer
    ]);
    expect(client.frames.filter(([name]) => name === 'done')).toHaveLength(1);
    // Two connection errors, both EventSource's own: the response ended (it goes to reconnect), then the 204 (it gives up).
    expect(client.connectionErrors).toBe(2);
  });

  it('without { request }, the same client reconnects and calls again — why a client must close() on done', async () => {
    const served = await serve(answer, () => ({ retryMs: 20 }));
    const client = open(served.url);
    await waitFor(() => served.calls() >= 3, 'repeated calls');
    client.source.close();
    expect(served.requests.slice(1).every((r) => r.lastEventId === '6')).toBe(true);
  });

  it('a failure arrives as an llm-error frame, not as EventSource’s error event; then done, and no retry of the call', async () => {
    const failure = new LlmError({ code: 'rate_limited', message: 'openai 429: slow down', retryable: true, status: 429 });
    const served = await serve(concat(of(parts.r, parts.h, parts.a), throwError(() => failure)), (req) => ({ request: req, retryMs: 20 }));
    const client = open(served.url);
    let errorsWhenFailureArrived = -1;
    client.source.addEventListener('llm-error', () => (errorsWhenFailureArrived = client.connectionErrors));
    client.source.addEventListener('done', () => client.source.close());
    await waitFor(() => client.frames.some(([name]) => name === 'done'), 'the done frame');
    await pause(300);
    expect(client.frames.map(([name]) => name)).toEqual(['response', 'text', 'llm-error', 'done']);
    expect(client.frames[2]![1]).toMatchObject({ type: 'llm-error', error: { name: 'LlmError', code: 'rate_limited', status: 429 } });
    expect(errorsWhenFailureArrived).toBe(0);
    expect(client.connectionErrors).toBe(0);
    expect(served.calls()).toBe(1);
  });

  it('a client that ignores done after a failure is answered 204 too, not every few seconds with a new call', async () => {
    const failure = new LlmError({ code: 'unavailable', message: 'openai 503: overloaded', retryable: true, status: 503 });
    const served = await serve(concat(of(parts.r), throwError(() => failure)), (req) => ({ request: req, retryMs: 20 }));
    const client = open(served.url);
    await waitFor(() => client.source.readyState === client.source.CLOSED, 'EventSource closed by the 204', 3000);
    await pause(300);
    expect(served.calls()).toBe(1);
    expect(served.requests.map((r) => r.status)).toEqual([200, 204]);
  });
});
