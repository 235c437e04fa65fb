/**
 * Recorded Chat Completions bodies (OpenAI, OpenRouter, Groq) from test/fixtures, served by
 * the real mock server and streamed through `openaiCompatible()`: once in one write, once one byte
 * per write. Both runs must yield the same events (or the same error); the sequence is snapshotted
 * per fixture. A pure run (decoder + parser, no HTTP) then splits each body in two at every offset.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError, LlmError, RateLimitError, collect, type LlmEvent } from 'rxllm';
import { from, lastValueFrom } from 'rxjs';
import { servedWholeAndByteSplit, bytesOf, errorFactsOrNull, expectByteSplitLikeWhole, outcomeIn, errorFacts, joined, parseWire, parserEvents, snapshotEvents, splitAt, type WireOutcome } from './helpers/wire';
import { FIXTURES_DIR, recordedBodies } from './helpers/fixtures';

const FIXTURES = FIXTURES_DIR;
const DIRS = ['openai-chat', 'openai-compatible'];
const path = (dir: string, name: string): string => join(FIXTURES, dir, name);

/** Every body under the two folders: `.sse` streams and `.json` error bodies (not their `.headers.json`). */
const fixtures = DIRS.flatMap((dir) =>
  recordedBodies(join(FIXTURES, dir)).map((name) => ({ dir, name, file: path(dir, name), label: `${dir}/${name}` })),
);
const streams = fixtures.filter((f) => f.name.endsWith('.sse'));

/** Outcomes per fixture label, whole and byte-split. */
const outcomes = servedWholeAndByteSplit(fixtures.map(({ label, file }) => ({ key: label, file })));

const outcomeOf = (label: string): { whole: WireOutcome; byte: WireOutcome } => outcomeIn(outcomes, label);

async function completion(events: readonly LlmEvent[]) {
  return lastValueFrom(from(events).pipe(collect()));
}

describe('recorded Chat Completions fixtures over HTTP', () => {
  it('finds the fixtures', () => {
    expect(fixtures.map((f) => f.label)).toEqual(
      expect.arrayContaining([
        'openai-chat/text-after-tool-usage.sse',
        'openai-chat/text-usage-count.sse',
        'openai-chat/tool-call-usage.sse',
        'openai-compatible/groq-event-error-tool-use-failed.sse',
        'openai-compatible/openrouter-error-429-rate-limit.json',
        'openai-compatible/openrouter-processing-comments-midstream-error.sse',
        'openai-compatible/openrouter-text-usage.sse',
      ]),
    );
  });

  it.each(fixtures.map((f) => [f.label] as const))('%s: byte-split and whole runs agree', (label) => {
    const { whole, byte } = outcomeOf(label);
    expectByteSplitLikeWhole(byte, whole);
    expect(whole.events[0]?.type).toBe('request');
    expect({ events: snapshotEvents(whole.events), completed: whole.completed, error: errorFactsOrNull(whole.error) }).toMatchSnapshot();
  });
});

describe('recorded fixtures: key facts', () => {
  it('openai-chat/tool-call-usage.sse: one get_capital call with {"country":"UK"}, usage 53/15/68, tool_calls', async () => {
    const { whole } = outcomeOf('openai-chat/tool-call-usage.sse');
    expect(whole.error).toBeUndefined();
    const done = await completion(whole.events);
    expect(done.text).toBe('');
    expect(done.toolCalls).toHaveLength(1);
    expect(done.toolCalls[0]).toMatchObject({ index: 0, id: 'call_ZR5UUuTt3pf61kjwAJIYdVMj', name: 'get_capital', arguments: '{"country":"UK"}', input: { country: 'UK' } });
    expect(done.usage).toEqual({ inputTokens: 53, outputTokens: 15, totalTokens: 68, cachedInputTokens: 0, reasoningTokens: 0 });
    expect(done.finishReason).toBe('tool-calls');
    expect(done.rawFinishReason).toBe('tool_calls');
    const tail = whole.events.slice(-2).map((e) => e.type);
    expect(tail).toEqual(['usage', 'finish']);
  });

  it('openai-chat/text-after-tool-usage.sse: text, usage 78/9/87, stop', async () => {
    const { whole } = outcomeOf('openai-chat/text-after-tool-usage.sse');
    const done = await completion(whole.events);
    expect(done.text).toBe('The capital of the UK is London.');
    expect(done.toolCalls).toEqual([]);
    expect(done.usage).toMatchObject({ inputTokens: 78, outputTokens: 9, totalTokens: 87 });
    expect(done.finishReason).toBe('stop');
  });

  it('openai-chat/text-usage-count.sse: text, usage 14/13/27, and the response event carries request id and rate limits', async () => {
    const { whole } = outcomeOf('openai-chat/text-usage-count.sse');
    const done = await completion(whole.events);
    expect(done.text).toBe('1, 2, 3, 4, 5');
    expect(done.usage).toMatchObject({ inputTokens: 14, outputTokens: 13, totalTokens: 27 });
    expect(done.finishReason).toBe('stop');
    expect(done.requestId).toBe('req_87b8e5a94cce414688e29d59b127eb67');
    const response = whole.events.find((e) => e.type === 'response');
    expect(response).toEqual({
      type: 'response',
      status: 200,
      requestId: 'req_87b8e5a94cce414688e29d59b127eb67',
      rateLimit: { limitRequests: 10000, remainingRequests: 9999, resetRequestsMs: 6, limitTokens: 50000000, remainingTokens: 49999993, resetTokensMs: 0 },
      headers: expect.objectContaining({ 'x-request-id': 'req_87b8e5a94cce414688e29d59b127eb67', 'openai-processing-ms': '237', 'x-ratelimit-reset-requests': '6ms' }),
    });
    expect(whole.events[1]).toBe(response);
  });

  it('openai-compatible/openrouter-text-usage.sse: comment skipped, text, usage 586/3/589, stop', async () => {
    const { whole } = outcomeOf('openai-compatible/openrouter-text-usage.sse');
    const done = await completion(whole.events);
    expect(done.text).toBe('test response');
    expect(done.usage).toMatchObject({ inputTokens: 586, outputTokens: 3, totalTokens: 589 });
    expect(done.finishReason).toBe('stop');
  });

  it('openai-compatible/openrouter-processing-comments-midstream-error.sse: reasoning deltas, then the in-band error', () => {
    const { whole } = outcomeOf('openai-compatible/openrouter-processing-comments-midstream-error.sse');
    expect(whole.completed).toBe(false);
    const produced = parserEvents(whole.events);
    // The error chunk carries the billed usage too: it is passed on before the error.
    expect(produced.map((e) => e.type)).toEqual(['reasoning', 'reasoning', 'usage']);
    expect(produced[2]).toMatchObject({ usage: { inputTokens: 43, outputTokens: 10, reasoningTokens: 11 } });
    expect(joined(whole.events, 'reasoning')).toBe('We need to respond to a greeting. The user');
    expect(joined(whole.events, 'text')).toBe('');
    expect(whole.error).toBeInstanceOf(ApiError);
    expect(whole.error).not.toBeInstanceOf(RateLimitError);
    expect(errorFacts(whole.error)).toMatchObject({ name: 'ApiError', code: 'bad_request', status: 400, retryable: false });
    expect((whole.error as Error).message).toContain('Token limit reached');
  });

  it('openai-compatible/groq-event-error-tool-use-failed.sse: reasoning, then `event: error` as a non-retryable ApiError tool_use_failed', () => {
    const { whole } = outcomeOf('openai-compatible/groq-event-error-tool-use-failed.sse');
    expect(whole.completed).toBe(false);
    const produced = parserEvents(whole.events);
    expect(produced.length).toBeGreaterThan(0);
    expect(produced.every((e) => e.type === 'reasoning')).toBe(true);
    expect(joined(whole.events, 'reasoning')).toMatch(/ Let's do that\.$/); // the last deltas before `event: error`
    expect(whole.error).toBeInstanceOf(ApiError);
    expect(whole.error).not.toBeInstanceOf(RateLimitError);
    const error = whole.error as ApiError;
    expect(error.providerCode).toBe('tool_use_failed');
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(400);
    expect(error.message).toContain('Tool call validation failed');
  });

  it('openai-compatible/openrouter-error-429-rate-limit.json: RateLimitError, retryable, status 429', () => {
    const { whole } = outcomeOf('openai-compatible/openrouter-error-429-rate-limit.json');
    expect(whole.events.map((e) => e.type)).toEqual(['request']);
    expect(whole.error).toBeInstanceOf(RateLimitError);
    const error = whole.error as RateLimitError;
    expect(LlmError.is(error)).toBe(true);
    expect(error.code).toBe('rate_limited');
    expect(error.retryable).toBe(true);
    expect(error.status).toBe(429);
    // No retry-after header: the wait comes from X-Ratelimit-Remaining 0 + X-Ratelimit-Reset (epoch ms),
    // a moment long past when the recording is replayed, hence 0.
    expect(error.retryAfterMs).toBe(0);
    expect(error.message).toContain('Rate limit exceeded');
  });
});

describe('recorded fixtures: pure decoder + parser split in two at every offset', () => {
  const SMALL = 6 * 1024;
  it.each(streams.map((f) => [f.label, f.file] as const))('%s', (label, file) => {
    const bytes = bytesOf(file);
    const whole = parseWire([bytes]);
    // The pure run must say what the HTTP run said (minus request/response, which HTTP adds).
    const http = outcomeOf(label);
    expect(whole.events).toEqual(parserEvents(http.whole.events));
    expect(whole.completed).toBe(http.whole.completed);
    const wholeError = errorFactsOrNull(whole.error);
    const step = statSync(file).size < SMALL ? 1 : 7;
    let checked = 0;
    for (let k = 1; k < bytes.length; k += step) {
      const split = parseWire(splitAt(bytes, k));
      // Cheap equality first; a full diff only when it fails.
      if (split.completed !== whole.completed || split.events.length !== whole.events.length || JSON.stringify(split.events) !== JSON.stringify(whole.events)) {
        expect({ k, events: split.events, completed: split.completed }).toEqual({ k, events: whole.events, completed: whole.completed });
      }
      const splitError = errorFactsOrNull(split.error);
      if (JSON.stringify(splitError) !== JSON.stringify(wholeError)) expect({ k, error: splitError }).toEqual({ k, error: wholeError });
      checked++;
    }
    expect(checked).toBe(Math.ceil((bytes.length - 1) / step));
  });
});
