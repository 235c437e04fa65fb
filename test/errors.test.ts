import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, ConnectionError, fetchTransport, LlmError, openai, openaiCompatible, RateLimitError, type LlmEvent, type LlmRequestInput, type Model } from 'rxllm';
import { type Transport } from 'rxllm/providers';
import { jsonReply, openaiTextReply, startMockServer, type MockReply, type MockServer } from 'rxllm/testing';
import { pause, record } from './helpers/observe';
import { errorRenderings, expectNoneContains, oneFailure } from './helpers/failures';

/** A fake key, unique enough that any trace of it in an error is a leak. */
const API_KEY = `sk-${'test-SECRETSECRET1234567890abcd'}`;
const KEY_TAIL = API_KEY.slice(-8);

let server: MockServer;
beforeEach(async () => {
  server = await startMockServer();
});
afterEach(async () => {
  await server.close();
});

const request: LlmRequestInput = { messages: [{ role: 'user', content: 'Hello?' }] };

function compatible(options: { baseURL?: string; transport?: Transport } = {}): Model {
  return openaiCompatible({ model: 'mock-model', baseURL: options.baseURL ?? server.url, apiKey: API_KEY, ...(options.transport ? { transport: options.transport } : {}) });
}

/**
 * Runs one call that must fail; checks the one-terminal contract on a plain observer (one
 * error, no complete, nothing after the error — also after the socket has had time to say more)
 * and that no rendering of the error or its cause carries the key. Returns the error and events.
 */
async function failure(model: Model, reply?: MockReply): Promise<{ error: LlmError; events: LlmEvent[] }> {
  if (reply) server.enqueue(reply);
  const { error, events } = await oneFailure(model.stream(request), 100);
  expect(error).toBeInstanceOf(LlmError);
  expectNoSecret(error);
  return { error, events };
}

function expectNoSecret(error: LlmError): void {
  const renderings: Record<string, string> = {
    ...errorRenderings(error),
    cause: inspect(error.cause, { depth: 10 }),
    causeJson: JSON.stringify(error.cause) ?? '',
  };
  expectNoneContains(renderings, [API_KEY, KEY_TAIL, 'SECRETSECRET', /Bearer/i]);
}

describe('HTTP error statuses', () => {
  it('401 echoing the key → ApiError authentication_failed, not retryable, with the request id', async () => {
    // OpenAI's own body for a bad key (it echoes the key it got).
    const reply = jsonReply(
      401,
      {
        error: {
          message: `Incorrect API key provided: ${API_KEY}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      },
      { 'x-request-id': 'req_401_abc' },
    );
    const model = openai({ model: 'gpt-4o-mini', apiKey: API_KEY, baseURL: server.url });
    const { error, events } = await failure(model, reply);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'authentication_failed', status: 401, retryable: false, requestId: 'req_401_abc', provider: 'openai' });
    expect(error.message).toMatch(/Incorrect API key provided/);
    expect(error.message).toContain('[redacted]');
    expect(events.map((e) => e.type)).toEqual(['request']);
  });

  it('401 with a masked key echo (only the tail shown) leaks no tail either', async () => {
    const masked = `sk-test-${'*'.repeat(20)}${KEY_TAIL}`;
    const { error } = await failure(
      compatible(),
      jsonReply(401, { error: { message: `Incorrect API key provided: ${masked}.`, type: 'invalid_request_error', code: 'invalid_api_key' } }),
    );
    expect(error).toMatchObject({ code: 'authentication_failed', status: 401, retryable: false });
  });

  it('429 with retry-after: 2 → RateLimitError, retryable, retryAfterMs 2000', async () => {
    const { error } = await failure(
      compatible(),
      jsonReply(429, { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after': '2', 'x-request-id': 'req_429' }),
    );
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ code: 'rate_limited', status: 429, retryable: true, retryAfterMs: 2000, requestId: 'req_429' });
  });

  it('429 with retry-after-ms: 1500 → retryAfterMs 1500', async () => {
    const { error } = await failure(compatible(), jsonReply(429, { error: { message: 'slow down' } }, { 'retry-after-ms': '1500', 'retry-after': '2' }));
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 1500 });
  });

  it('429 with retry-after as an HTTP date → about that long', async () => {
    const at = new Date(Date.now() + 5000).toUTCString(); // whole seconds: 4–5 s from now
    const { error } = await failure(compatible(), jsonReply(429, { error: { message: 'slow down' } }, { 'retry-after': at }));
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(2000); // lenient: a slow machine eats into it
    expect(error.retryAfterMs).toBeLessThanOrEqual(5000);
  });

  it('429 through the fetch transport → the same RateLimitError and request id', async () => {
    const { error } = await failure(
      compatible({ transport: fetchTransport() }),
      jsonReply(429, { error: { message: 'slow down' } }, { 'retry-after': '2', 'x-request-id': 'req_429_fetch' }),
    );
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 2000, requestId: 'req_429_fetch' });
  });

  it('429 insufficient_quota → quota_exceeded, not retryable (waiting will not help)', async () => {
    const { error } = await failure(
      compatible(),
      jsonReply(429, { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', code: 'insufficient_quota' } }),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'quota_exceeded', status: 429, retryable: false });
  });

  it('500 → ApiError server_error, retryable', async () => {
    const { error } = await failure(
      compatible(),
      jsonReply(500, { error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } }),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'server_error', status: 500, retryable: true });
    expect(error.message).toMatch(/server had an error/);
  });

  it('503 → ApiError unavailable, retryable', async () => {
    const { error } = await failure(compatible(), jsonReply(503, { error: { message: 'The engine is currently overloaded, please try again later', type: 'server_error' } }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'unavailable', status: 503, retryable: true });
  });

  it('502 with an HTML body (a proxy page, not JSON) → typed, retryable', async () => {
    const html = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n';
    const { error } = await failure(compatible(), { status: 502, headers: { 'content-type': 'text/html' }, body: html, split: 16 });
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'bad_gateway', status: 502, retryable: true, provider: 'openai-compatible' });
    expect(error.message).toContain('502');
  });
});

describe('an error inside a 200 stream', () => {
  it('OpenRouter-style error chunk after some text → the text first, then exactly one error', async () => {
    const frame = (payload: unknown): string => `data: ${JSON.stringify(payload)}\n\n`;
    const base = { id: 'gen-1', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'openai/gpt-4o' };
    const chunks = [
      ': OPENROUTER PROCESSING\n\n',
      frame({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hello' }, finish_reason: null }] }),
      frame({ ...base, choices: [{ index: 0, delta: { content: ' world' }, finish_reason: null }] }),
      frame({
        ...base,
        provider: 'OpenAI',
        error: { code: 502, message: `Provider returned error (upstream said: bad key ${API_KEY})`, metadata: { provider_name: 'OpenAI' } },
        choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error', native_finish_reason: 'error' }],
      }),
      'data: [DONE]\n\n',
    ];
    const { error, events } = await failure(compatible(), { headers: { 'content-type': 'text/event-stream', 'x-request-id': 'req_or_1' }, chunks });
    expect(events.map((e) => (e.type === 'text' ? e.text : e.type))).toEqual(['request', 'response', 'Hello', ' world']);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'bad_gateway', status: 502, retryable: true, requestId: 'req_or_1' });
    expect(error.message).toMatch(/Provider returned error/);
  });
});

describe('connection failures', () => {
  async function closedPort(): Promise<number> {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    return port;
  }

  for (const [name, transport] of [['undici', undefined], ['fetch', fetchTransport()]] as const) {
    it(`connection refused → ConnectionError connection_failed, retryable, says refused (${name})`, async () => {
      const port = await closedPort();
      const { error, events } = await failure(compatible({ baseURL: `http://127.0.0.1:${port}/v1`, ...(transport ? { transport } : {}) }));
      expect(error).toBeInstanceOf(ConnectionError);
      expect(error).toMatchObject({ code: 'connection_failed', retryable: true, provider: 'openai-compatible' });
      expect(error.message).toMatch(/refused/);
      expect(error.message).toContain(`127.0.0.1:${port}`);
      expect(events.map((e) => e.type)).toEqual(['request']);
    });
  }

  it('reset mid-stream → typed retryable error after the text that came', async () => {
    const words = Array.from({ length: 10 }, (_, i) => ` w${i}`);
    const { error, events } = await failure(compatible(), openaiTextReply('', { deltas: words, resetAfterChunks: 3 }));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: 'connection_failed', retryable: true });
    expect(error.message).toMatch(/closed before the response ended/);
    expect(events[0]!.type).toBe('request');
    expect(events[1]!.type).toBe('response');
    expect(events.slice(2).every((e) => e.type === 'text')).toBe(true);
    expect(events.length - 2).toBeLessThanOrEqual(3);
    expect(server.connections[0]!.closedAt).toBeTypeOf('number');
  });

  it('closed before the headers → typed retryable error', async () => {
    const { error, events } = await failure(compatible(), { closeBeforeHeaders: true });
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: 'connection_failed', retryable: true });
    expect(events.map((e) => e.type)).toEqual(['request']);
  });

  it('closed before the headers, fetch transport → typed retryable error', async () => {
    const { error } = await failure(compatible({ transport: fetchTransport() }), { closeBeforeHeaders: true });
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: 'connection_failed', retryable: true });
  });
});

describe('the one-terminal contract on success', () => {
  it('a finished stream completes once, after one finish event, and nothing follows', async () => {
    server.enqueue(openaiTextReply('all good here'));
    const seen = record(compatible().stream(request));
    await seen.terminal;
    await server.waitForRequests(1);
    await pause(50);
    expect(seen.completes).toBe(1);
    expect(seen.errors).toEqual([]);
    expect(seen.nextAfterTerminal).toBe(0);
    expect(seen.values.filter((e) => e.type === 'finish')).toHaveLength(1);
    expect(seen.values.at(-1)).toMatchObject({ type: 'finish', reason: 'stop' });
  });
});
