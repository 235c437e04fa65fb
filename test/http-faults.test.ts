/**
 * HTTP faults over loopback, each as a regression test: informational 1xx answers before the
 * real one.
 */
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  collect, fetchTransport, LlmError, openaiCompatible, type LlmEvent, type LlmRequestInput, type Model,
} from 'rxllm';
import type { Transport } from 'rxllm/providers';
import { jsonReply, openaiTextReply, startMockServer, type MockReply, type MockServer } from 'rxllm/testing';
import { errorRenderings, expectNoneContains, oneFailure } from './helpers/failures';
import { record } from './helpers/observe';

/** A fake key, unique enough that any trace of it in an error is a leak. */
const API_KEY = `sk-${'test-HTTPFAULTS1234567890abcdef'}`;
const KEY_TAIL = API_KEY.slice(-8);
const request: LlmRequestInput = { messages: [{ role: 'user', content: 'Hello?' }] };

let server: MockServer;
beforeAll(async () => {
  server = await startMockServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.clearRecords();
});

function compatible(transport?: Transport): Model {
  return openaiCompatible({ model: 'mock-model', baseURL: server.url, apiKey: API_KEY, ...(transport ? { transport } : {}) });
}

/** One call that must fail: one terminal, typed, no trace of the key. Returns the error, the events before it and the request's connection id. */
async function failure(model: Model, reply: MockReply): Promise<{ error: LlmError; events: LlmEvent[]; connection: number }> {
  const before = server.requests.length;
  server.enqueue(reply);
  const { error, events } = await oneFailure(model.stream(request), 50);
  expectNoneContains(errorRenderings(error), [API_KEY, KEY_TAIL, /Bearer/i]);
  return { error, events, connection: server.requests[before]!.connectionId };
}


// ---------------------------------------------------------------------------------------------

describe('informational 1xx answers before the final one', () => {
  const hints = [{ status: 103 as const, headers: { link: '</style.css>; rel=preload; as=style' } }, { status: 102 as const }];

  it.each([
    ['undici', undefined],
    ['fetch', fetchTransport()],
  ])('103 Early Hints and 102 Processing before the 200 are skipped and the answer streams (%s)', async (_name, transport) => {
    server.enqueue(openaiTextReply('Hello there', { informational: hints }));
    const events = await lastValueFrom(compatible(transport).stream(request).pipe(collect()));
    expect(events).toMatchObject({ text: 'Hello there', finishReason: 'stop' });
  });

  it('the response event carries the final status, 200, not the 1xx', async () => {
    server.enqueue(openaiTextReply('Hi', { informational: hints }));
    const seen = record(compatible().stream(request));
    await seen.terminal;
    expect(seen.completes).toBe(1);
    expect(seen.values.filter((e) => e.type === 'response')).toEqual([expect.objectContaining({ status: 200, requestId: 'req_mock' })]);
  });

  it('a 429 after a 102 is the rate limit, with its status', async () => {
    const { error } = await failure(compatible(), { ...jsonReply(429, { error: { message: 'slow down', type: 'rate_limit_error' } }, { 'retry-after': '1' }), informational: [{ status: 102 }] });
    expect(error).toMatchObject({ name: 'RateLimitError', status: 429, retryable: true, retryAfterMs: 1000 });
  });
});
