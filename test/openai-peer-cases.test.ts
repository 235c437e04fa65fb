/**
 * Chat Completions edge cases from the streaming tests of two peer SDKs (openai-node, vercel/ai),
 * in test/fixtures/peer-cases: each `<name>.sse` is served by the mock server, whole and
 * one byte per write, through `openaiCompatible()`, and the result is compared with
 * `<name>.expected.json` under the conventions of peer-cases/SOURCES.md (the checker is
 * test/helpers/peer-cases.ts). Usage lists accept any of their values.
 *
 * A case file added to the folder is picked up without touching this file.
 */
import { describe, expect, it } from 'vitest';
import { itChecksEachPeerCase, peerCases, servePeerCases } from './helpers/peer-cases';

const cases = peerCases(/^(openai-node|vercel-openai|vercel-compat)-.+\.sse$/);

const outcomes = servePeerCases(cases);

describe('OpenAI Chat Completions peer cases', () => {
  it('finds the chat cases (35 at the time of writing), each with its expectation', () => {
    expect(cases.length).toBeGreaterThanOrEqual(35);
  });

  itChecksEachPeerCase(cases, outcomes);
});
