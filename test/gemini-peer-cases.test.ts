/**
 * Gemini edge cases from the streaming tests of the Vercel AI SDK (`@ai-sdk/google`), in
 * test/fixtures/peer-cases (`gemini-vercel-*`): each `<name>.sse` is served by the mock
 * server, whole and one byte per write, through `gemini()`, and the result is compared with
 * `<name>.expected.json` under the conventions of peer-cases/SOURCES.md (the checker is
 * test/helpers/peer-cases.ts, the same comparison as test/openai-peer-cases.test.ts).
 *
 * toolCalls: `id: null` here (Gemini sends none, rxllm makes `call_<index>`), arguments compared
 * parsed. Usage: a list accepts any of its values; for Gemini the lists offer both output
 * conventions; rxllm reports the peer's (strict) one, output = candidatesTokenCount +
 * thoughtsTokenCount, and this suite pins that choice too.
 *
 * A case file added to the folder is picked up without touching this file.
 */
import { describe, expect, it } from 'vitest';
import { gemini } from 'rxllm';
import { firstGeminiText } from './helpers/wire';
import { itChecksEachPeerCase, peerCases, servePeerCases } from './helpers/peer-cases';

const cases = peerCases(/^gemini-vercel-.+\.sse$/);

const outcomes = servePeerCases(cases, {
  model: (server) => gemini({ model: 'gemini-test', apiKey: `AIza${'SyTEST-peer-cases-000000000000000'}`, baseURL: server.url }),
  keyOf: firstGeminiText,
});

describe('Gemini peer cases', () => {
  it('finds the Gemini cases (7 at the time of writing), each with its expectation', () => {
    expect(cases.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'gemini-vercel-reasoning',
        'gemini-vercel-reasoning-thought-signature',
        'gemini-vercel-safety-ratings',
        'gemini-vercel-text',
        'gemini-vercel-text-crlf',
        'gemini-vercel-tool-call',
        'gemini-vercel-tool-call-thought-signature',
      ]),
    );
  });

  itChecksEachPeerCase(cases, outcomes, {
    also: ({ whole }, { expected }) => {
      // The convention rxllm states for Gemini: thoughts are output tokens (and reasoning tokens).
      const usage = whole.events.find((e) => e.type === 'usage');
      const want = expected.usage;
      if (usage?.type === 'usage' && Array.isArray(want?.outputTokens)) expect(usage.usage.outputTokens, 'output = candidates + thoughts').toBe(Math.max(...want.outputTokens));
    },
  });

  it('usage is reported once per stream, before finish, even though every chunk carries usageMetadata', () => {
    for (const [name, { whole }] of outcomes) {
      const types = whole.events.map((e) => e.type);
      expect(types.filter((t) => t === 'usage').length, name).toBeLessThanOrEqual(1);
      if (types.includes('usage')) expect(types.slice(-2), name).toEqual(['usage', 'finish']);
    }
  });
});
