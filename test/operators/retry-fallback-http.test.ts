import { asyncScheduler, from, lastValueFrom, takeWhile, type Observable, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, LlmError, openaiCompatible, type LlmEvent, type LlmRequestInput, type Model } from 'rxllm';
import { fallback, retryBackoff } from 'rxllm/operators';
import { jsonReply, openaiTextReply, startMockServer, type MockServer } from 'rxllm/testing';
import { pause, record, waitFor } from '../helpers/observe';

/**
 * retryBackoff and fallback against real HTTP: the mock server plays 429s, 503s and mid-stream
 * resets; assertions are on what the consumer saw and on what each server received — never on
 * timing (the waits are kept to a few milliseconds).
 */
let a: MockServer;
let b: MockServer;
beforeEach(async () => {
  [a, b] = await Promise.all([startMockServer(), startMockServer()]);
});
afterEach(async () => {
  await Promise.all([a.close(), b.close()]);
});

const request: LlmRequestInput = { messages: [{ role: 'user', content: 'Hello?' }] };
const primary = (): Model => openaiCompatible({ name: 'primary', model: 'a', baseURL: a.url, apiKey: 'test-key-a' });
const backup = (): Model => openaiCompatible({ name: 'backup', model: 'b', baseURL: b.url, apiKey: 'test-key-b' });

const overloaded = jsonReply(503, { error: { message: 'overloaded', type: 'server_error' } });
const types = (events: readonly LlmEvent[]): string[] => events.map((e) => e.type);
const count = (events: readonly LlmEvent[], type: LlmEvent['type']): number => events.filter((e) => e.type === type).length;

/** Runs a stream to its end: every event, and the error if it failed. */
async function run(stream: Observable<LlmEvent>): Promise<{ events: LlmEvent[]; error: unknown }> {
  const seen = record(stream);
  await seen.terminal;
  expect(seen.errors.length + seen.completes).toBe(1);
  return { events: seen.values, error: seen.errors[0] };
}

describe('retryBackoff() over HTTP', () => {
  it('retries a 429 after its retry-after-ms and yields one clean stream', async () => {
    a.enqueue(jsonReply(429, { error: { message: 'slow down', type: 'rate_limit_error' } }, { 'retry-after-ms': '50' }), openaiTextReply('Hello after the wait'));
    const { events, error } = await run(primary().stream(request).pipe(retryBackoff()));
    expect(error).toBeUndefined();
    expect(count(events, 'request')).toBe(1);
    expect(count(events, 'finish')).toBe(1);
    expect(events.filter((e) => e.type === 'retry')).toEqual([{ type: 'retry', attempt: 1, delayMs: 50, cause: 'rate_limited', reset: false }]);
    expect((await lastValueFrom(from(events).pipe(collect()))).text).toBe('Hello after the wait');
    expect(a.requests).toHaveLength(2);
  });

  it('waits the 1000 ms a `retry-after: 1` asks for (on a scheduler that records the wait and runs at once)', async () => {
    const waits: Array<number | undefined> = [];
    const immediate: SchedulerLike = {
      now: () => asyncScheduler.now(),
      schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
        waits.push(delay);
        return asyncScheduler.schedule(work, 0, state);
      },
    };
    a.enqueue(jsonReply(429, { error: { message: 'slow down', type: 'rate_limit_error' } }, { 'retry-after': '1' }), openaiTextReply('Hi'));
    const { events, error } = await run(primary().stream(request).pipe(retryBackoff({ scheduler: immediate })));
    expect(error).toBeUndefined();
    expect(events.find((e) => e.type === 'retry')).toEqual({ type: 'retry', attempt: 1, delayMs: 1000, cause: 'rate_limited', reset: false });
    expect(waits).toEqual([1000]);
  });

  it('passes a 429 on at once when its retry-after exceeds maxRetryAfter', async () => {
    a.enqueue(jsonReply(429, { error: { message: 'slow down', type: 'rate_limit_error' } }, { 'retry-after': '120' }), openaiTextReply('never asked'));
    const { events, error } = await run(primary().stream(request).pipe(retryBackoff({ maxRetryAfter: '60s' })));
    expect(error).toMatchObject({ code: 'rate_limited', retryAfterMs: 120_000 });
    expect(types(events)).toEqual(['request']);
    expect(a.requests).toHaveLength(1);
  });

  it("passes a mid-stream reset on with afterOutput 'before-output'", async () => {
    a.enqueue(openaiTextReply('one two three four five', { resetAfterChunks: 2, chunkDelayMs: 30 }), openaiTextReply('second attempt'));
    const { events, error } = await run(primary().stream(request).pipe(retryBackoff({ random: () => 0 })));
    expect(error).toMatchObject({ code: 'connection_failed', retryable: true });
    expect(count(events, 'text')).toBeGreaterThan(0);
    expect(count(events, 'retry')).toBe(0);
    expect(a.requests).toHaveLength(1);
  });

  it("recovers from a mid-stream reset with afterOutput 'restart': a reset notice, and collect() has the second attempt's text only", async () => {
    a.enqueue(openaiTextReply('one two three four five', { resetAfterChunks: 2, chunkDelayMs: 30 }), openaiTextReply('second attempt'));
    const stream = primary().stream(request).pipe(retryBackoff({ random: () => 0, afterOutput: 'restart' }));
    const { events, error } = await run(stream);
    expect(error).toBeUndefined();
    expect(count(events, 'request')).toBe(1);
    expect(count(events, 'finish')).toBe(1);
    expect(events.filter((e) => e.type === 'retry')).toEqual([{ type: 'retry', attempt: 1, delayMs: 0, cause: 'connection_failed', reset: true }]);
    expect(events.findIndex((e) => e.type === 'text')).toBeLessThan(events.findIndex((e) => e.type === 'retry'));
    expect((await lastValueFrom(from(events).pipe(collect()))).text).toBe('second attempt');
    expect(a.requests).toHaveLength(2);
  });

  it('sends nothing more when the consumer leaves during the wait', async () => {
    a.enqueue(overloaded, openaiTextReply('never asked'));
    const seen = record(primary().stream(request).pipe(retryBackoff({ initialDelay: 100, random: () => 1 }), takeWhile((e) => e.type !== 'retry')));
    await seen.terminal;
    await pause(200); // room for a timer that should have been cleared
    expect(a.requests).toHaveLength(1);
  });
});

describe('fallback() over HTTP', () => {
  it('moves from a 503 on server A to server B and yields one clean stream', async () => {
    a.enqueue(overloaded);
    b.enqueue(openaiTextReply('Hello from B'));
    const { events, error } = await run(primary().stream(request).pipe(fallback(backup())));
    expect(error).toBeUndefined();
    expect(types(events).filter((t) => t === 'request' || t === 'fallback' || t === 'finish')).toEqual(['request', 'fallback', 'finish']);
    expect(events[0]).toMatchObject({ type: 'request', model: { name: 'primary:a' } });
    expect(events.find((e) => e.type === 'fallback')).toEqual({ type: 'fallback', from: 'primary:a', to: 'backup:b', toId: 'b', cause: 'unavailable', reset: false });
    expect((await lastValueFrom(from(events).pipe(collect()))).text).toBe('Hello from B');
    expect([a.requests.length, b.requests.length]).toEqual([1, 1]);
    expect(b.requests[0]!.json).toMatchObject({ model: 'b', messages: [{ role: 'user', content: 'Hello?' }] });
  });

  it('aborts the running fallback call when the consumer leaves', async () => {
    a.enqueue(overloaded);
    b.enqueue(openaiTextReply('one two three four five six seven eight', { chunkDelayMs: 50 }));
    const seen = record(primary().stream(request).pipe(fallback(backup())));
    await waitFor(() => seen.values.some((e) => e.type === 'text'), 'text from B');
    seen.subscription.unsubscribe();
    const closed = await b.waitForClose(b.requests[0]!.connectionId);
    expect(closed.closedMidResponse).toBe(true);
  });

  it('retryBackoff before fallback: retries A, then tries B once (3 + 1 requests)', async () => {
    a.setHandler(() => overloaded);
    b.setHandler(() => overloaded);
    const { error } = await run(primary().stream(request).pipe(retryBackoff({ random: () => 0 }), fallback(backup())));
    expect(error).toMatchObject({ code: 'unavailable', provider: 'backup' });
    expect([a.requests.length, b.requests.length]).toEqual([3, 1]);
  });

  it('retryBackoff after fallback: retries the chain A → B (3 + 3 requests)', async () => {
    a.setHandler(() => overloaded);
    b.setHandler(() => overloaded);
    const { events, error } = await run(primary().stream(request).pipe(fallback(backup()), retryBackoff({ random: () => 0 })));
    expect(LlmError.is(error) && error.code).toBe('unavailable');
    expect([a.requests.length, b.requests.length]).toEqual([3, 3]);
    expect(types(events)).toEqual(['request', 'fallback', 'retry', 'fallback', 'retry', 'fallback']);
  });
});
