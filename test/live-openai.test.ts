import { lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { collect, openai, text } from 'rxllm';

/**
 * Against the real OpenAI API — only when OPENAI_API_KEY is set; otherwise these tests are
 * reported as skipped (vitest lists them), and nothing else needs a key or the network.
 */
const key = process.env['OPENAI_API_KEY'];
const model = process.env['OPENAI_TEST_MODEL'] ?? 'gpt-4o-mini';

describe.skipIf(!key)(`live OpenAI (${model}) — runs only with OPENAI_API_KEY`, () => {
  it('streams text, usage and finish', async () => {
    const completion = await lastValueFrom(
      openai({ model }).stream({ messages: [{ role: 'user', content: 'Say "ok" and nothing else.' }], maxOutputTokens: 16 }).pipe(collect()),
    );
    expect(completion.text.toLowerCase()).toContain('ok');
    expect(completion.usage?.outputTokens).toBeGreaterThan(0);
    expect(completion.finishReason).toBe('stop');
    expect(completion.requestId).toMatch(/^req_/);
  });

  it('streams a tool call', async () => {
    const completion = await lastValueFrom(
      openai({ model })
        .stream({
          messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
          tools: [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
          toolChoice: { name: 'get_weather' },
        })
        .pipe(collect()),
    );
    expect(completion.toolCalls[0]?.name).toBe('get_weather');
    expect(completion.toolCalls[0]?.input).toMatchObject({ city: expect.stringMatching(/paris/i) });
  });

  it('stops early on unsubscribe', async () => {
    const deltas = await lastValueFrom(
      openai({ model }).stream({ messages: [{ role: 'user', content: 'Count from 1 to 200.' }] }).pipe(text(), take(3), toArray()),
    );
    expect(deltas).toHaveLength(3);
  });

  it('reports a wrong key as authentication_failed without echoing it', async () => {
    const wrong = 'sk-wrong-0000000000000000000000000000';
    const error = await lastValueFrom(openai({ model, apiKey: wrong }).stream({ messages: [{ role: 'user', content: 'Hi' }] })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'authentication_failed', status: 401 });
    expect(JSON.stringify(error) + String((error as Error).stack)).not.toContain(wrong.slice(-8));
  });
});
