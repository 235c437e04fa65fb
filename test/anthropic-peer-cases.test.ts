/**
 * Anthropic Messages edge cases from vercel/ai's Anthropic streaming tests, in
 * test/fixtures/peer-cases (`anthropic-vercel-*`): each `<name>.sse` is served by the mock
 * server, whole and one byte per write, through `anthropic()`, and the result is compared with
 * `<name>.expected.json` under the conventions of peer-cases/SOURCES.md (the checker is
 * test/helpers/peer-cases.ts, the same as for test/openai-peer-cases.test.ts).
 *
 * Usage: rxllm reports Anthropic's input as input_tokens + cache_read + cache_creation (the first
 * value of such a list) and `cachedInputTokens` = cache_read; this suite demands exactly that
 * (`usageLists: 'first'`).
 *
 * A case file added to the folder is picked up without touching this file.
 */
import { describe, expect, it } from 'vitest';
import { anthropic } from 'rxllm';
import { errorFacts, firstMessageContent } from './helpers/wire';
import { itChecksEachPeerCase, peerCases, servePeerCases } from './helpers/peer-cases';

const cases = peerCases(/^anthropic-.+\.sse$/);

const outcomes = servePeerCases(cases, {
  model: (server) => anthropic({ model: 'claude-test', baseURL: server.url, apiKey: `sk-ant-${'Q7vX2mN9pL4kR8tZ'}` }),
  // Anthropic bodies carry the routing key as the first user turn's content (a string for one text block).
  keyOf: firstMessageContent,
});

describe('Anthropic Messages peer cases', () => {
  it('finds the anthropic cases (13 at the time of writing), each with its expectation', () => {
    expect(cases.length).toBeGreaterThanOrEqual(13);
  });

  // rxllm's convention is the first value of a list (input incl. cache read and creation).
  itChecksEachPeerCase(cases, outcomes, { usageLists: 'first' });

  it('the overloaded cases are retryable ApiErrors with code overloaded; the generic error chunk is not retryable', () => {
    for (const name of ['anthropic-vercel-overloaded-first-chunk', 'anthropic-vercel-overloaded-midstream']) {
      expect(errorFacts(outcomes.get(name)!.whole.error), name).toMatchObject({ name: 'ApiError', code: 'overloaded', retryable: true, provider: 'anthropic', providerCode: 'overloaded_error' });
    }
    expect(errorFacts(outcomes.get('anthropic-vercel-error-chunk-after-ping')!.whole.error)).toMatchObject({ name: 'ApiError', retryable: false, message: 'anthropic error: test error' });
  });
});
