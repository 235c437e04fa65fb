import type { Observable } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openaiCompatible, type LlmEvent, type LlmRequestInput, type Model } from 'rxllm';
import { createRateLimiter } from 'rxllm';
import { rateLimit } from 'rxllm/operators';
import { jsonReply, openaiTextReply, startMockServer, type MockServer } from 'rxllm/testing';
import { pause, record } from '../helpers/observe';

/**
 * rateLimit() against real HTTP. Assertions are on the server's own records — how many responses
 * it was writing at once, when each request arrived — with waits that only ever bound from below.
 */
let server: MockServer;
beforeEach(async () => {
  server = await startMockServer();
});
afterEach(async () => {
  await server.close();
});

const request: LlmRequestInput = { messages: [{ role: 'user', content: 'Hello?' }] };
const model = (): Model => openaiCompatible({ name: 'mock', model: 'mock-model', baseURL: server.url, apiKey: 'test-key-rl' });
/** A reply that takes a while (about 8 × 40 ms), so that calls started together overlap on the server. */
const slow = (): ReturnType<typeof openaiTextReply> => openaiTextReply('one two three four five six', { chunkDelayMs: 40 });
const rateLimited = (headers: Record<string, string>) => jsonReply(429, { error: { message: 'slow down', type: 'rate_limit_error' } }, headers);

async function runAll(streams: Observable<LlmEvent>[]): Promise<LlmEvent[][]> {
  const seen = streams.map((s) => record(s));
  await Promise.all(seen.map((s) => s.terminal));
  return seen.map((s) => {
    expect(s.errors.length + s.completes).toBe(1);
    return s.values;
  });
}

describe('rateLimit() over HTTP', () => {
  it('4 concurrent calls under concurrency 2: the server never answers more than 2 at once', async () => {
    // Control: without the limiter the same four calls do overlap on this server.
    server.setHandler(slow);
    await runAll([0, 1, 2, 3].map(() => model().stream(request)));
    expect(server.peakOpenRequests).toBe(4);
    server.clearRecords();

    const limiter = createRateLimiter({ concurrency: 2 });
    const results = await runAll([0, 1, 2, 3].map(() => model().stream(request).pipe(rateLimit(limiter))));
    expect(server.requests).toHaveLength(4);
    expect(server.peakOpenRequests).toBe(2);
    // The 3rd and 4th arrived only after a response had ended.
    const [first, second, third, fourth] = [...server.requests].sort((x, y) => x.receivedAt - y.receivedAt);
    const firstEnd = Math.min(first!.endedAt!, second!.endedAt!);
    expect(third!.receivedAt).toBeGreaterThanOrEqual(firstEnd);
    expect(fourth!.receivedAt).toBeGreaterThanOrEqual(firstEnd);
    expect(results.map((events) => events.filter((e) => e.type === 'throttle').length).sort()).toEqual([0, 0, 1, 1]);
    expect(results.every((events) => events.filter((e) => e.type === 'request').length === 1 && events.at(-1)?.type === 'finish')).toBe(true);
    expect(limiter.inFlight).toBe(0);
  });

  it('a 429 with retry-after-ms makes the next call on the same limiter wait that long', async () => {
    server.enqueue(rateLimited({ 'retry-after-ms': '300' }), openaiTextReply('after the pause'));
    const limiter = createRateLimiter();
    const [failed] = await runAll([model().stream(request).pipe(rateLimit(limiter))]);
    expect(failed!.map((e) => e.type)).toEqual(['request']);
    const [next] = await runAll([model().stream(request).pipe(rateLimit(limiter))]);
    expect(server.requests).toHaveLength(2);
    // Lower bounds only: the pause started after the 429 reached the client.
    expect(server.requests[1]!.receivedAt - server.requests[0]!.receivedAt).toBeGreaterThanOrEqual(295);
    const throttle = next!.find((e) => e.type === 'throttle');
    expect(throttle).toMatchObject({ type: 'throttle' });
    expect((throttle as { waitedMs: number }).waitedMs).toBeGreaterThan(200);
  });

  it('remaining-requests 0 in the response headers pauses the limiter until the reset', async () => {
    server.enqueue(openaiTextReply('last one', { headers: { 'content-type': 'text/event-stream', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '250ms' } }), openaiTextReply('next'));
    const limiter = createRateLimiter();
    await runAll([model().stream(request).pipe(rateLimit(limiter))]);
    await runAll([model().stream(request).pipe(rateLimit(limiter))]);
    expect(server.requests[1]!.receivedAt - server.requests[0]!.receivedAt).toBeGreaterThanOrEqual(245);
  });

  it('a call unsubscribed while queued never reaches the server; the one behind it goes', async () => {
    server.setHandler(() => openaiTextReply('one two three', { chunkDelayMs: 40 }));
    const limiter = createRateLimiter({ concurrency: 1 });
    const running = record(model().stream(request).pipe(rateLimit(limiter)));
    const queued = record(model().stream(request).pipe(rateLimit(limiter)));
    const behind = record(model().stream(request).pipe(rateLimit(limiter)));
    expect(limiter.queued).toBe(2);
    queued.subscription.unsubscribe();
    expect(limiter.queued).toBe(1);
    await Promise.all([running.terminal, behind.terminal]);
    await pause(50); // room for a request that must not come
    expect(server.requests).toHaveLength(2);
    expect(behind.completes).toBe(1);
  });
});
