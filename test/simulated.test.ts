import { lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { collect, simulated, text, type LlmRequestInput } from 'rxllm';

const FORMATS = ['openai', 'anthropic', 'gemini', 'ollama', 'openai-responses'] as const;
const ENDPOINTS = {
  openai: '/v1/chat/completions',
  anthropic: '/v1/messages',
  gemini: '/v1/models/sim-1:streamGenerateContent?alt=sse',
  ollama: '/api/chat',
  'openai-responses': '/v1/responses',
} as const;
const request: LlmRequestInput = { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is a stream?' }] };

describe('simulated()', () => {
  it('answers deterministically: the same prompt gets the same text, usage and finish', async () => {
    const model = simulated({ ttftMs: 0, tokensPerSecond: 5000, outputTokens: 12 });
    const [first, second] = [await lastValueFrom(model.stream(request).pipe(collect())), await lastValueFrom(model.stream(request).pipe(collect()))];
    expect(second.text).toBe(first.text);
    expect(first.text.split(' ')).toHaveLength(12);
    expect(first.usage).toMatchObject({ outputTokens: 12 });
    expect(first.finishReason).toBe('stop');
    await model.close();
  });

  it('cuts at maxOutputTokens with finish reason length, as a prefix of the full answer', async () => {
    const model = simulated({ ttftMs: 0, tokensPerSecond: 5000, outputTokens: 12 });
    const full = await lastValueFrom(model.stream(request).pipe(collect()));
    const cut = await lastValueFrom(model.stream({ ...request, maxOutputTokens: 5 }).pipe(collect()));
    expect(cut.finishReason).toBe('length');
    expect(cut.usage?.outputTokens).toBe(5);
    expect(full.text.startsWith(cut.text)).toBe(true);
    await model.close();
  });

  describe.each(FORMATS)('format %s', (format) => {
    it('goes through that provider’s endpoint, request mapping and parser', async () => {
      const model = simulated({ format, ttftMs: 0, tokensPerSecond: 5000, outputTokens: 8 });
      const answer = await lastValueFrom(model.stream(request).pipe(collect()));
      const server = await model.server();
      expect(server.requests[0]!.url).toBe(ENDPOINTS[format]);
      expect(answer.text.split(' ')).toHaveLength(8);
      expect(answer.usage).toMatchObject({ outputTokens: 8 });
      expect(answer.usage!.inputTokens).toBeGreaterThan(0);
      expect(answer.finishReason).toBe('stop');
      expect(answer.model).toMatchObject({ provider: 'simulated', id: 'sim-1' });
      await model.close();
    });

    it('plays scripted faults as that provider’s typed errors', async () => {
      const model = simulated({ format, faults: [{ status: 503 }, { status: 429, retryAfterMs: 1500 }] });
      const unavailable = await lastValueFrom(model.stream(request)).catch((error: unknown) => error);
      const limited = await lastValueFrom(model.stream(request)).catch((error: unknown) => error);
      expect(unavailable).toMatchObject({ code: 'unavailable', status: 503, retryable: true });
      expect(limited).toMatchObject({ code: 'rate_limited', status: 429, retryable: true, retryAfterMs: 1500 });
      await model.close();
    });

    it('closes the connection when unsubscribed mid-answer', async () => {
      const model = simulated({ format, ttftMs: 0, tokensPerSecond: 50, outputTokens: 200 });
      const first = await lastValueFrom(model.stream(request).pipe(text(), take(2), toArray()));
      expect(first).toHaveLength(2);
      const server = await model.server();
      const closed = await server.waitForClose(server.requests[0]!.connectionId);
      expect(closed.closedMidResponse).toBe(true);
      await model.close();
    });
  });

  it('rejects bad options at construction', () => {
    expect(() => simulated({ format: 'cohere' as never })).toThrow(/simulated\(\): format/);
    expect(() => simulated({ tokensPerSecond: 0 })).toThrow(/tokensPerSecond/);
  });
});
