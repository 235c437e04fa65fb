/**
 * Checks the live suites share (they run against the real APIs, only when the provider's key is
 * set): the same prompts and the same expectations wherever the providers behave alike.
 */
import { lastValueFrom } from 'rxjs';
import { expect } from 'vitest';
import { collect, type Completion, type LlmRequestInput, type Model } from 'rxllm';

/** Asks for a bare "ok" (16 output tokens at most): the text says ok, output was counted, it stopped, and the request id is the API's. */
export async function expectSaysOk(model: Model): Promise<void> {
  const done = await lastValueFrom(model.stream({ messages: [{ role: 'user', content: 'Say "ok" and nothing else.' }], maxOutputTokens: 16 }).pipe(collect()));
  expect(done.text.toLowerCase()).toContain('ok');
  expect(done.usage?.outputTokens).toBeGreaterThan(0);
  expect(done.finishReason).toBe('stop');
  expect(done.requestId).toMatch(/^req_/);
}

/**
 * Asks for the weather in Paris with a `get_weather(city)` tool the model must call (`extra` adds
 * request fields); checks that the first tool call is `get_weather` for Paris and returns the completion.
 */
export async function forcedWeatherCall(model: Model, extra: Partial<LlmRequestInput> = {}): Promise<Completion> {
  const done = await lastValueFrom(
    model
      .stream({
        messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
        tools: [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
        toolChoice: { name: 'get_weather' },
        ...extra,
      })
      .pipe(collect()),
  );
  expect(done.toolCalls[0]?.name).toBe('get_weather');
  expect(done.toolCalls[0]?.input).toMatchObject({ city: expect.stringMatching(/paris/i) });
  return done;
}

/** A call with the wrong key `wrong` (already in `model`) errors with `facts`, and neither its JSON nor its stack echoes the key. */
export async function expectWrongKeyRejected(model: Model, wrong: string, facts: Record<string, unknown>): Promise<void> {
  const error = await lastValueFrom(model.stream({ messages: [{ role: 'user', content: 'Hi' }] })).catch((e: unknown) => e);
  expect(error).toMatchObject(facts);
  expect(JSON.stringify(error) + String((error as Error).stack)).not.toContain(wrong.slice(-8));
}
