/**
 * OpenAI Responses API edge cases from vercel/ai's streaming tests, in test/fixtures/peer-cases
 * (`openai-responses-vercel-*`): each `<name>.sse` is served by the mock server, whole and one byte
 * per write, through `openaiResponses()`, and the result is compared with `<name>.expected.json`
 * under the conventions of peer-cases/SOURCES.md (the checker is test/helpers/peer-cases.ts, the
 * same as for the Chat Completions cases). Usage lists accept any of their values.
 *
 * A case file added to the folder is picked up without touching this file.
 */
import { describe, expect, it } from 'vitest';
import { openaiResponses } from 'rxllm';
import { errorFacts, firstInputText } from './helpers/wire';
import { itChecksEachPeerCase, peerCases, servePeerCases } from './helpers/peer-cases';

const cases = peerCases(/^openai-responses-vercel-.+\.sse$/);

const outcomes = servePeerCases(cases, {
  model: (server) => openaiResponses({ model: 'gpt-4o-2024-07-18', baseURL: server.url, apiKey: `sk-${'W3jH8qP5nB2xK6vT'}` }),
  keyOf: firstInputText,
});

describe('OpenAI Responses peer cases', () => {
  it('finds the Responses cases (8 at the time of writing: the 8 rows of peer-cases/SOURCES.md), each with its expectation', () => {
    expect(cases.length).toBeGreaterThanOrEqual(8);
  });

  itChecksEachPeerCase(cases, outcomes);

  it('the error cases are typed as the wire says: rate limit → RateLimitError; server_error → retryable', () => {
    const error = (name: string): unknown => outcomes.get(`openai-responses-vercel-${name}`)?.whole.error;
    expect(errorFacts(error('error-event-before-output'))).toMatchObject({ name: 'RateLimitError', code: 'rate_limited', retryable: true, providerCode: 'rate_limit_exceeded' });
    expect(errorFacts(error('failed-before-output'))).toMatchObject({ name: 'ApiError', code: 'server_error', retryable: true, providerCode: 'server_error' });
    expect(errorFacts(error('error-then-failed'))).toMatchObject({ name: 'ApiError', code: 'server_error', retryable: true, providerCode: 'server_error' });
  });
});
