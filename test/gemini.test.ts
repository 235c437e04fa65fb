/**
 * The Gemini provider: recorded bodies from test/fixtures/gemini served by the real mock
 * server (whole and one byte per write) and split purely at every offset; the parser's rules on
 * built streams; the request body on the wire; errors (typed, no key anywhere); configuration;
 * cancellation; the wire builders of rxllm/testing; and a live run when GEMINI_API_KEY is set.
 */
import { join } from 'node:path';
import { inspect } from 'node:util';
import { from, lastValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiError, collect, ConfigurationError, gemini, InvalidRequestError, LlmError, MalformedStreamError, parseRequest, RateLimitError, type LlmEvent, type LlmRequestInput, type Model } from 'rxllm';
import { geminiParser, toGeminiBody, toGeminiSchema } from 'rxllm/providers';
import { geminiChunks, geminiErrorBody, jsonReply, startMockServer, type MockReply, type MockServer } from 'rxllm/testing';
import { FIXTURES_DIR, recordedBodies } from './helpers/fixtures';
import { pause, record } from './helpers/observe';
import { errorRenderings, expectNoneContains, expectTakeThreeClosesSocket, oneFailure, thrownConfigurationError } from './helpers/failures';
import { expectWrongKeyRejected } from './helpers/live';
import {
  bytesOf, errorFactsOrNull, errorFacts, joined, parserEvents, parseWire, runStream, servedWholeAndByteSplitBy, snapshotEvents, splitAt, expectByteSplitLikeWhole, outcomeIn,
  firstGeminiText, type WireOutcome,
} from './helpers/wire';

/** A fake key, Google-shaped and unique: any trace of it (or its tail) in an error is a leak. */
const API_KEY = `AIza${'SyTEST-SECRETSECRET-1234567890abcd'}`;
const KEY_TAIL = API_KEY.slice(-8);
const SSE_HEADERS = { 'content-type': 'text/event-stream' } as const;

const DIR = join(FIXTURES_DIR, 'gemini');
const modelAt = (server: MockServer): Model => gemini({ model: 'gemini-test', apiKey: API_KEY, baseURL: server.url });

/** Every body in the folder: `.sse` streams and `.json` error bodies (not their `.headers.json`). */
const fixtures = recordedBodies(DIR)
  .map((name) => ({
    key: name,
    file: join(DIR, name),
    // The 429 body was recorded without its status line and headers.
    ...(name === 'error-429-resource-exhausted.json' ? { reply: { status: 429, headers: { 'content-type': 'application/json; charset=UTF-8' } } } : {}),
  }));
const streams = fixtures.filter((f) => f.key.endsWith('.sse'));
const outcomes = servedWholeAndByteSplitBy(fixtures, { model: modelAt, keyOf: firstGeminiText });

const outcomeOf = (name: string): { whole: WireOutcome; byte: WireOutcome } => outcomeIn(outcomes, name);

const completion = (events: readonly LlmEvent[]) => lastValueFrom(from(events).pipe(collect()));
const types = (events: readonly LlmEvent[]): string[] => events.map((e) => e.type);

describe('recorded Gemini fixtures over HTTP', () => {
  it('finds the fixtures', () => {
    expect(fixtures.map((f) => f.key)).toEqual([
      'error-403-permission-denied.json',
      'error-429-resource-exhausted.json',
      'text-after-tool-crlf.sse',
      'text-crlf.sse',
      'text-usage-service-tier.sse',
      'tool-call-crlf.sse',
      'tool-call-thought-signature.sse',
    ]);
  });

  it.each(fixtures.map((f) => [f.key] as const))('%s: byte-split and whole runs agree', (name) => {
    const { whole, byte } = outcomeOf(name);
    expectByteSplitLikeWhole(byte, whole);
    expect(whole.events[0]).toMatchObject({ type: 'request', model: { provider: 'gemini', id: 'gemini-test' } });
    // Streams: usage at most once, right before the one finish, which is last.
    if (whole.completed) {
      expect(types(whole.events).filter((t) => t === 'usage').length).toBeLessThanOrEqual(1);
      expect(types(whole.events).filter((t) => t === 'finish')).toHaveLength(1);
      expect(whole.events.at(-1)!.type).toBe('finish');
    }
    // The request event carries the routing key; the snapshot keeps provider and model id.
    expect({ events: snapshotEvents(whole.events), completed: whole.completed, error: errorFactsOrNull(whole.error) }).toMatchSnapshot();
  });
});

describe('recorded Gemini fixtures: key facts', () => {
  it('text-crlf.sse: three chunks of text, usage once — the last chunk’s 13/8/21, not the early 15', async () => {
    const { whole } = outcomeOf('text-crlf.sse');
    const done = await completion(whole.events);
    expect(done.text).toBe('The capital of France is Paris.\n');
    expect(done.usage).toEqual({ inputTokens: 13, outputTokens: 8, totalTokens: 21 });
    expect(done.finishReason).toBe('stop');
    expect(done.rawFinishReason).toBe('STOP');
    expect(types(whole.events)).toEqual(['request', 'response', 'text', 'text', 'text', 'usage', 'finish']);
  });

  it('text-after-tool-crlf.sse: "°" (2 bytes) survives the byte split; usage 79/12/91', async () => {
    const { whole, byte } = outcomeOf('text-after-tool-crlf.sse');
    expect(joined(byte.events, 'text')).toBe('The temperature in Paris is 30°C.\n');
    const done = await completion(whole.events);
    expect(done.text).toBe('The temperature in Paris is 30°C.\n');
    expect(done.usage).toEqual({ inputTokens: 79, outputTokens: 12, totalTokens: 91 });
  });

  it('tool-call-crlf.sse: one whole functionCall → one tool-call event with id call_0; STOP → tool-calls', async () => {
    const { whole } = outcomeOf('tool-call-crlf.sse');
    expect(parserEvents(whole.events)).toEqual([
      { type: 'tool-call', index: 0, id: 'call_0', name: 'get_capital', argumentsDelta: '{"country":"France"}' },
      { type: 'usage', usage: { inputTokens: 52, outputTokens: 5, totalTokens: 57 } },
      { type: 'finish', reason: 'tool-calls', rawReason: 'STOP' },
    ]);
    const done = await completion(whole.events);
    expect(done.toolCalls).toEqual([{ index: 0, id: 'call_0', name: 'get_capital', arguments: '{"country":"France"}', input: { country: 'France' } }]);
    expect(done.text).toBe('');
  });

  it('tool-call-thought-signature.sse: args {} and a thoughtSignature (not emitted); thoughts count as output and reasoning', async () => {
    const { whole } = outcomeOf('tool-call-thought-signature.sse');
    const done = await completion(whole.events);
    expect(done.toolCalls).toEqual([{ index: 0, id: 'call_0', name: 'get_country', arguments: '{}', input: {} }]);
    expect(done.text).toBe(''); // the empty text part carrying the finish emits nothing
    expect(done.usage).toEqual({ inputTokens: 29, outputTokens: 212, totalTokens: 241, reasoningTokens: 202 });
    expect(done.finishReason).toBe('tool-calls');
    expect(JSON.stringify(whole.events)).not.toContain('EpwICpkIAXLI2nx'); // the signature
  });

  it('text-usage-service-tier.sse: a number split across chunks joins to 1..30; usage 18/(80+35)/133', async () => {
    const { whole } = outcomeOf('text-usage-service-tier.sse');
    const done = await completion(whole.events);
    expect(done.text).toBe(Array.from({ length: 30 }, (_, i) => String(i + 1)).join('\n'));
    expect(done.usage).toEqual({ inputTokens: 18, outputTokens: 115, totalTokens: 133, reasoningTokens: 35 });
  });

  it('error-403-permission-denied.json (with its recorded headers) → ApiError permission_denied, not retryable', () => {
    const { whole } = outcomeOf('error-403-permission-denied.json');
    expect(types(whole.events)).toEqual(['request']);
    expect(whole.error).toBeInstanceOf(ApiError);
    expect(whole.error).not.toBeInstanceOf(RateLimitError);
    expect(errorFacts(whole.error)).toMatchObject({ code: 'permission_denied', status: 403, retryable: false, provider: 'gemini', providerCode: 'PERMISSION_DENIED' });
    expect((whole.error as Error).message).toContain('unregistered callers');
  });

  it('error-429-resource-exhausted.json → RateLimitError, retryAfterMs 34400 from RetryInfo.retryDelay "34.4s"', () => {
    const { whole } = outcomeOf('error-429-resource-exhausted.json');
    expect(whole.error).toBeInstanceOf(RateLimitError);
    expect(errorFacts(whole.error)).toMatchObject({ code: 'rate_limited', status: 429, retryable: true, retryAfterMs: 34400, providerCode: 'RESOURCE_EXHAUSTED' });
  });
});

describe('recorded Gemini fixtures: pure decoder + parser split in two at every offset', () => {
  it.each(streams.map((f) => [f.key, f.file] as const))('%s', (name, file) => {
    const bytes = bytesOf(file);
    const whole = parseWire([bytes], { parser: geminiParser, provider: 'gemini' });
    expect(whole.events).toEqual(parserEvents(outcomeOf(name).whole.events));
    for (let k = 1; k < bytes.length; k++) {
      const split = parseWire(splitAt(bytes, k), { parser: geminiParser, provider: 'gemini' });
      if (split.completed !== whole.completed || JSON.stringify(split.events) !== JSON.stringify(whole.events)) {
        expect({ k, events: split.events, completed: split.completed }).toEqual({ k, events: whole.events, completed: whole.completed });
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The parser's rules, on built streams

const frame = (payload: unknown): string => `data: ${JSON.stringify(payload)}\r\n\r\n`;
const chunk = (parts: unknown[], extra: Record<string, unknown> = {}, candidate: Record<string, unknown> = {}) => ({
  candidates: [{ content: { parts, role: 'model' }, index: 0, ...candidate }],
  ...extra,
});
const parse = (...payloads: unknown[]): WireOutcome => parseWire([new TextEncoder().encode(payloads.map(frame).join(''))], { parser: geminiParser, provider: 'gemini', requestId: 'req_g' });

describe('geminiParser', () => {
  it('thought parts are reasoning, other text parts are text, empty text emits nothing', () => {
    const out = parse(
      chunk([{ text: 'Let me think.', thought: true }]),
      chunk([{ text: '', thoughtSignature: 'c2ln' }, { text: 'Answer: 4' }], {}, { finishReason: 'STOP' }),
    );
    expect(out.events).toEqual([
      { type: 'reasoning', text: 'Let me think.' },
      { type: 'text', text: 'Answer: 4' },
      { type: 'finish', reason: 'stop', rawReason: 'STOP' },
    ]);
  });

  it('function calls are numbered across the response; Gemini ids are kept, others are call_<index>', () => {
    const out = parse(
      chunk([{ functionCall: { name: 'a', args: { x: 1 } } }, { functionCall: { name: 'b' } }]),
      chunk([{ functionCall: { id: 'fc-9', name: 'c', args: { nested: { y: [1, 2] } } } }], {}, { finishReason: 'STOP' }),
    );
    expect(out.events).toEqual([
      { type: 'tool-call', index: 0, id: 'call_0', name: 'a', argumentsDelta: '{"x":1}' },
      { type: 'tool-call', index: 1, id: 'call_1', name: 'b', argumentsDelta: '{}' },
      { type: 'tool-call', index: 2, id: 'fc-9', name: 'c', argumentsDelta: '{"nested":{"y":[1,2]}}' },
      { type: 'finish', reason: 'tool-calls', rawReason: 'STOP' },
    ]);
  });

  it.each([
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content-filter'],
    ['RECITATION', 'content-filter'],
    ['BLOCKLIST', 'content-filter'],
    ['PROHIBITED_CONTENT', 'content-filter'],
    ['SPII', 'content-filter'],
    ['MALFORMED_FUNCTION_CALL', 'other'],
    ['OTHER', 'other'],
  ] as const)('finishReason %s → %s', (raw, reason) => {
    expect(parse(chunk([{ text: 'x' }], {}, { finishReason: raw })).events.at(-1)).toEqual({ type: 'finish', reason, rawReason: raw });
  });

  it('usage on every chunk is emitted once, the last one, before finish — also when it comes after the finishReason', () => {
    const usage = (candidatesTokenCount: number) => ({ usageMetadata: { promptTokenCount: 7, candidatesTokenCount, totalTokenCount: 7 + candidatesTokenCount, cachedContentTokenCount: 4 } });
    const out = parse(chunk([{ text: 'a' }], usage(1)), chunk([{ text: 'b' }], usage(2), { finishReason: 'STOP' }), { usageMetadata: usage(3).usageMetadata });
    expect(types(out.events)).toEqual(['text', 'text', 'usage', 'finish']);
    expect(out.events[2]).toEqual({ type: 'usage', usage: { inputTokens: 7, outputTokens: 3, totalTokens: 10, cachedInputTokens: 4 } });
  });

  it('a blocked prompt (promptFeedback.blockReason, no candidates) finishes content-filter with the block reason', () => {
    const out = parse({ promptFeedback: { blockReason: 'SAFETY', safetyRatings: [] }, usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 } });
    expect(out.completed).toBe(true);
    expect(out.events).toEqual([
      { type: 'usage', usage: { inputTokens: 8, outputTokens: 0, totalTokens: 8 } },
      { type: 'finish', reason: 'content-filter', rawReason: 'SAFETY' },
    ]);
  });

  it('only candidate 0 is read', () => {
    const out = parse({ candidates: [{ index: 1, content: { parts: [{ text: 'other' }] }, finishReason: 'STOP' }, { index: 0, content: { parts: [{ text: 'mine' }] }, finishReason: 'STOP' }] });
    expect(joined(out.events, 'text')).toBe('mine');
  });

  it('a body that ends without a finishReason is truncated: the text came, then a retryable malformed_stream error', () => {
    const out = parse(chunk([{ text: 'partial' }], { usageMetadata: { promptTokenCount: 3 } }));
    expect(out.events).toEqual([{ type: 'text', text: 'partial' }]);
    expect(out.error).toBeInstanceOf(MalformedStreamError);
    expect(errorFacts(out.error)).toMatchObject({ code: 'malformed_stream', retryable: true, provider: 'gemini', requestId: 'req_g' });
    expect(parse().error).toBeInstanceOf(MalformedStreamError); // an empty body too
  });

  it('an unparsable chunk → malformed_stream, not retryable', () => {
    const out = parseWire([new TextEncoder().encode('data: {"candidates": [\r\n\r\n')], { parser: geminiParser, provider: 'gemini' });
    expect(errorFacts(out.error)).toMatchObject({ name: 'MalformedStreamError', code: 'malformed_stream', retryable: false });
    expect((out.error as Error).message).toContain('unparsable stream chunk');
  });

  it('an error object in the stream → the text first, then the typed error (RetryInfo → retryAfterMs)', () => {
    const out = parse(chunk([{ text: 'Hel' }]), geminiErrorBody(429, 'Resource has been exhausted', { retryAfterMs: 2500 }));
    expect(out.events).toEqual([{ type: 'text', text: 'Hel' }]);
    expect(out.error).toBeInstanceOf(RateLimitError);
    expect(errorFacts(out.error)).toMatchObject({ code: 'rate_limited', status: 429, retryable: true, retryAfterMs: 2500, requestId: 'req_g' });
    const internal = parse(geminiErrorBody(500, 'An internal error has occurred.'));
    expect(errorFacts(internal.error)).toMatchObject({ name: 'ApiError', code: 'server_error', status: 500, retryable: true, providerCode: 'INTERNAL' });
  });

  it('a functionCall without a name fails the stream', () => {
    expect(parse(chunk([{ functionCall: { args: {} } }], {}, { finishReason: 'STOP' })).error).toBeInstanceOf(MalformedStreamError);
  });
});

// ---------------------------------------------------------------------------------------------
// Over HTTP: request body, errors, config, cancellation

let server: MockServer;
beforeAll(async () => {
  server = await startMockServer({ handler: () => okReply() });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  server.clearRecords();
  vi.unstubAllEnvs();
});

function okReply(): MockReply {
  return { headers: SSE_HEADERS, chunks: geminiChunks(['ok'], { usage: { promptTokenCount: 3, candidatesTokenCount: 1 } }) };
}
const model = (extra: { model?: string; apiKey?: string } = {}): Model => gemini({ model: 'gemini-test', apiKey: API_KEY, baseURL: server.url, ...extra });
const user = { role: 'user', content: 'Hi' } as const;

describe('the request on the wire', () => {
  const fullRequest: LlmRequestInput = {
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Weather in Paris and Rome?', name: 'ann' },
      {
        role: 'assistant',
        content: 'Checking both.',
        toolCalls: [
          { id: 'call_0', name: 'get_weather', arguments: { city: 'Paris' } },
          { id: 'call_1', name: 'get_weather', arguments: '{"city":"Rome"}' },
        ],
      },
      { role: 'tool', toolCallId: 'call_0', content: '{"tempC":21}' },
      { role: 'tool', toolCallId: 'call_1', content: 'sunny, 25 °C' },
      { role: 'user', content: 'And tomorrow in Paris?' },
      // Gemini has no call ids: `call_0` comes again in the next response, for another function.
      { role: 'assistant', toolCalls: [{ id: 'call_0', name: 'get_forecast', arguments: { city: 'Paris', day: 'tomorrow' } }] },
      { role: 'tool', toolCallId: 'call_0', content: '{"tempC":19}' },
      { role: 'system', content: 'Answer in JSON.' },
    ],
    tools: [
      {
        name: 'get_weather',
        description: 'Current weather for a city',
        parameters: {
          $schema: 'http://json-schema.org/draft-07/schema#',
          type: 'object',
          properties: {
            city: { type: 'string', description: 'City name' },
            unit: { type: ['string', 'null'], enum: ['C', 'F'] },
            at: { type: ['string', 'null'], format: 'date-time' },
            email: { type: 'string', format: 'email' },
            tags: { type: 'array', items: { type: 'string', const: 'x' }, additionalItems: false },
            options: { type: 'object', properties: {}, additionalProperties: { type: 'string' } },
          },
          required: ['city'],
          additionalProperties: false,
        },
        strict: true,
      },
      { name: 'get_forecast', parameters: { type: 'object', properties: { city: { type: 'string' }, day: { type: 'string' } } } },
      { name: 'noop' },
    ],
    toolChoice: { name: 'get_weather' },
    temperature: 0.2,
    topP: 0.9,
    maxOutputTokens: 256,
    stop: ['END'],
    seed: 7,
    responseFormat: { type: 'json', schema: { type: 'object', properties: { tempC: { type: 'number' } }, required: ['tempC'], additionalProperties: false } },
    metadata: { tenant: 'acme-tenant' },
    providerOptions: {
      gemini: { generationConfig: { thinkingConfig: { includeThoughts: true } }, safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }] },
      openai: { reasoning_effort: 'low' },
    },
  };

  it('every field mapped: systemInstruction, model role, functionResponse names, merged turns, schema stripping, JSON mode', async () => {
    const seen = record(model().stream(fullRequest));
    await seen.terminal;
    expect(seen.completes).toBe(1);
    const received = server.requests[0]!;
    expect(received.method).toBe('POST');
    expect(received.url).toBe('/v1/models/gemini-test:streamGenerateContent?alt=sse');
    expect(received.json).toMatchInlineSnapshot(`
      {
        "contents": [
          {
            "parts": [
              {
                "text": "Weather in Paris and Rome?",
              },
            ],
            "role": "user",
          },
          {
            "parts": [
              {
                "text": "Checking both.",
              },
              {
                "functionCall": {
                  "args": {
                    "city": "Paris",
                  },
                  "name": "get_weather",
                },
                "thoughtSignature": "skip_thought_signature_validator",
              },
              {
                "functionCall": {
                  "args": {
                    "city": "Rome",
                  },
                  "name": "get_weather",
                },
              },
            ],
            "role": "model",
          },
          {
            "parts": [
              {
                "functionResponse": {
                  "name": "get_weather",
                  "response": {
                    "result": {
                      "tempC": 21,
                    },
                  },
                },
              },
              {
                "functionResponse": {
                  "name": "get_weather",
                  "response": {
                    "result": {
                      "content": "sunny, 25 °C",
                    },
                  },
                },
              },
              {
                "text": "And tomorrow in Paris?",
              },
            ],
            "role": "user",
          },
          {
            "parts": [
              {
                "functionCall": {
                  "args": {
                    "city": "Paris",
                    "day": "tomorrow",
                  },
                  "name": "get_forecast",
                },
                "thoughtSignature": "skip_thought_signature_validator",
              },
            ],
            "role": "model",
          },
          {
            "parts": [
              {
                "functionResponse": {
                  "name": "get_forecast",
                  "response": {
                    "result": {
                      "tempC": 19,
                    },
                  },
                },
              },
            ],
            "role": "user",
          },
        ],
        "generationConfig": {
          "maxOutputTokens": 256,
          "responseMimeType": "application/json",
          "responseSchema": {
            "properties": {
              "tempC": {
                "type": "number",
              },
            },
            "required": [
              "tempC",
            ],
            "type": "object",
          },
          "seed": 7,
          "stopSequences": [
            "END",
          ],
          "temperature": 0.2,
          "thinkingConfig": {
            "includeThoughts": true,
          },
          "topP": 0.9,
        },
        "safetySettings": [
          {
            "category": "HARM_CATEGORY_HARASSMENT",
            "threshold": "BLOCK_NONE",
          },
        ],
        "systemInstruction": {
          "parts": [
            {
              "text": "You are terse.",
            },
            {
              "text": "Answer in JSON.",
            },
          ],
        },
        "toolConfig": {
          "functionCallingConfig": {
            "allowedFunctionNames": [
              "get_weather",
            ],
            "mode": "ANY",
          },
        },
        "tools": [
          {
            "functionDeclarations": [
              {
                "description": "Current weather for a city",
                "name": "get_weather",
                "parameters": {
                  "properties": {
                    "at": {
                      "format": "date-time",
                      "nullable": true,
                      "type": "string",
                    },
                    "city": {
                      "description": "City name",
                      "type": "string",
                    },
                    "email": {
                      "type": "string",
                    },
                    "options": {
                      "type": "object",
                    },
                    "tags": {
                      "items": {
                        "enum": [
                          "x",
                        ],
                        "type": "string",
                      },
                      "type": "array",
                    },
                    "unit": {
                      "enum": [
                        "C",
                        "F",
                      ],
                      "nullable": true,
                      "type": "string",
                    },
                  },
                  "required": [
                    "city",
                  ],
                  "type": "object",
                },
              },
              {
                "name": "get_forecast",
                "parameters": {
                  "properties": {
                    "city": {
                      "type": "string",
                    },
                    "day": {
                      "type": "string",
                    },
                  },
                  "type": "object",
                },
              },
              {
                "name": "noop",
              },
            ],
          },
        ],
      }
    `);
    expect(received.body).not.toContain('acme-tenant');
    expect(received.body).not.toContain('reasoning_effort');
  });

  it('toGeminiBody is pure and says the same as the wire', async () => {
    await lastValueFrom(model().stream(fullRequest).pipe(collect()));
    expect(toGeminiBody(parseRequest(fullRequest), model().info)).toEqual(server.requests[0]!.json);
  });

  it('the key goes in x-goog-api-key only: not in the URL, the body or any event', async () => {
    const llm = gemini({ model: 'gemini-test', apiKey: API_KEY, baseURL: server.url, headers: { 'X-Team': 'search', 'x-goog-api-key': 'not-this-one' } });
    const seen = record(llm.stream({ messages: [user] }, { headers: { 'X-Trace-Id': 'trace-1' } }));
    await seen.terminal;
    const received = server.requests[0]!;
    expect(received.headers).toMatchObject({ 'x-goog-api-key': API_KEY, 'content-type': 'application/json', accept: 'text/event-stream', 'x-team': 'search', 'x-trace-id': 'trace-1' });
    expect(received.headers).not.toHaveProperty('authorization');
    expect(received.url).not.toContain(API_KEY);
    expect(received.url).not.toContain('key=');
    expect(received.body).not.toContain(API_KEY);
    expect(JSON.stringify(seen.values)).not.toContain(API_KEY);
    expect(inspect(llm, { depth: 10 })).not.toContain(API_KEY);
  });

  it('a model id with its collection (tunedModels/…) is used as the path as is', async () => {
    await lastValueFrom(model({ model: 'tunedModels/my-tune-42' }).stream({ messages: [user] }).pipe(collect()));
    expect(server.requests[0]!.url).toBe('/v1/tunedModels/my-tune-42:streamGenerateContent?alt=sse');
  });

  it.each([
    ['auto', { mode: 'AUTO' }],
    ['none', { mode: 'NONE' }],
    ['required', { mode: 'ANY' }],
  ] as const)('toolChoice %s → functionCallingConfig %j', (choice, config) => {
    const body = toGeminiBody(parseRequest({ messages: [user], tools: [{ name: 'f' }], toolChoice: choice }), model().info);
    expect(body['toolConfig']).toEqual({ functionCallingConfig: config });
    // A tool without parameters is declared without them: Gemini rejects an empty `properties`.
    expect(body['tools']).toEqual([{ functionDeclarations: [{ name: 'f' }] }]);
  });

  it('JSON mode without a schema → responseMimeType only; a single stop string → stopSequences list', () => {
    const body = toGeminiBody(parseRequest({ messages: [user], responseFormat: { type: 'json' }, stop: 'END' }), model().info);
    expect(body['generationConfig']).toEqual({ responseMimeType: 'application/json', stopSequences: ['END'] });
    expect(toGeminiBody(parseRequest({ messages: [user] }), model().info)).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] });
  });

  it('toGeminiSchema: nullable from type lists, several types → anyOf, oneOf → anyOf, the input untouched', () => {
    const input = { type: 'object', properties: { v: { type: ['integer', 'string', 'null'], format: 'int64' }, u: { oneOf: [{ type: 'string' }, { type: 'number', format: 'double' }] } }, $defs: { x: {} } };
    const before = JSON.stringify(input);
    expect(toGeminiSchema(input)).toEqual({
      type: 'object',
      properties: { v: { nullable: true, anyOf: [{ type: 'integer' }, { type: 'string' }] }, u: { anyOf: [{ type: 'string' }, { type: 'number', format: 'double' }] } },
    });
    expect(JSON.stringify(input)).toBe(before);
  });

  it('a tool result whose id no earlier assistant call has → InvalidRequestError naming the field; nothing is sent', async () => {
    const seen = record(model().stream({ messages: [user, { role: 'assistant', toolCalls: [{ id: 'call_0', name: 'f', arguments: {} }] }, { role: 'tool', toolCallId: 'call_7', content: '1' }] }));
    await seen.terminal;
    expect(types(seen.values)).toEqual(['request']);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toBeInstanceOf(InvalidRequestError);
    expect(seen.errors[0]).toMatchObject({ code: 'invalid_request', field: 'messages[2].toolCallId', retryable: false });
    expect((seen.errors[0] as Error).message).toMatch(/no earlier assistant tool call has this id.*received "call_7"/);
    await pause(100);
    expect(server.requests).toHaveLength(0);
  });

  it('tool call arguments that are not a JSON object → InvalidRequestError', () => {
    const request = parseRequest({ messages: [user, { role: 'assistant', toolCalls: [{ id: 'c', name: 'f', arguments: '[1,2]' }] }] });
    expect(() => toGeminiBody(request, model().info)).toThrow(InvalidRequestError);
    expect(() => toGeminiBody(request, model().info)).toThrow(/messages\[1\]\.toolCalls\[0\]\.arguments: expected a JSON object/);
  });
});

describe('errors: typed, and never carrying the key', () => {
  async function failure(reply: MockReply, llm: Model = model()): Promise<LlmError> {
    server.enqueue(reply);
    const { error } = await oneFailure(llm.stream({ messages: [user] }), 50);
    expectNoneContains(errorRenderings(error), [API_KEY, KEY_TAIL, 'SECRETSECRET']);
    return error;
  }

  it('400 API_KEY_INVALID echoing the key → authentication_failed, not retryable, key redacted', async () => {
    const body = {
      error: {
        code: 400,
        message: `API key not valid (${API_KEY}). Please pass a valid API key.`,
        status: 'INVALID_ARGUMENT',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }],
      },
    };
    const error = await failure(jsonReply(400, body));
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'authentication_failed', status: 400, retryable: false, provider: 'gemini' });
    expect(error.message).toContain('[redacted]');
  });

  it('a key that does not look like a key is redacted too (registered at construction)', async () => {
    const plain = 'plainkey0123456789abcdefXYZ';
    const error = await failure(jsonReply(403, geminiErrorBody(403, `key ${plain} has no access`)), model({ apiKey: plain }));
    expect(error).toMatchObject({ code: 'permission_denied', retryable: false });
    expectNoneContains(errorRenderings(error), [plain.slice(-8)]);
  });

  it('an error inside the 200 stream that echoes the key → typed, redacted', async () => {
    const chunks = [...geminiChunks(['Hello']).map((f) => f.replace(',"finishReason":"STOP"', '')), frame(geminiErrorBody(500, `upstream rejected ${API_KEY}`))];
    const error = await failure({ headers: SSE_HEADERS, chunks });
    expect(error).toMatchObject({ code: 'server_error', status: 500, retryable: true });
  });

  it('geminiErrorBody(503) → ApiError unavailable, retryable; (429, { retryAfterMs }) → RateLimitError with that wait', async () => {
    expect(await failure(jsonReply(503, geminiErrorBody(503, 'The model is overloaded.')))).toMatchObject({ code: 'unavailable', status: 503, retryable: true, providerCode: 'UNAVAILABLE' });
    const limited = await failure(jsonReply(429, geminiErrorBody(429, 'Quota exceeded', { retryAfterMs: 1500 })));
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited).toMatchObject({ retryable: true, retryAfterMs: 1500 });
    // A retry-after header, when present, wins over the body.
    expect(await failure(jsonReply(429, geminiErrorBody(429, 'Quota exceeded', { retryAfterMs: 1500 }), { 'retry-after': '3' }))).toMatchObject({ retryAfterMs: 3000 });
  });
});

describe('configuration is validated at construction', () => {
  const configError = (make: () => unknown): ConfigurationError => {
    const error = thrownConfigurationError(make);
    expectNoneContains(errorRenderings(error), [KEY_TAIL]);
    return error;
  };

  it('no apiKey and neither env var → names GEMINI_API_KEY and GOOGLE_API_KEY', () => {
    vi.stubEnv('GEMINI_API_KEY', '');
    vi.stubEnv('GOOGLE_API_KEY', '');
    expect(configError(() => gemini({ model: 'gemini-2.5-flash' })).message).toMatch(/Pass \{ apiKey \} or set GEMINI_API_KEY \(or GOOGLE_API_KEY\)/);
  });

  it('GEMINI_API_KEY is read first, GOOGLE_API_KEY second', async () => {
    vi.stubEnv('GEMINI_API_KEY', '');
    vi.stubEnv('GOOGLE_API_KEY', `AIza${'SyFROM-GOOGLE-ENV-000000000000000'}`);
    await lastValueFrom(gemini({ model: 'g', baseURL: server.url }).stream({ messages: [user] }).pipe(collect()));
    vi.stubEnv('GEMINI_API_KEY', `AIza${'SyFROM-GEMINI-ENV-000000000000000'}`);
    await lastValueFrom(gemini({ model: 'g', baseURL: server.url }).stream({ messages: [user] }).pipe(collect()));
    expect(server.requests.map((r) => r.headers['x-goog-api-key'])).toEqual([`AIza${'SyFROM-GOOGLE-ENV-000000000000000'}`, `AIza${'SyFROM-GEMINI-ENV-000000000000000'}`]);
  });

  it('bad options name the field, and never echo the key', () => {
    expect(configError(() => gemini({ model: '', apiKey: API_KEY })).message).toMatch(/^gemini\(\): model: expected a model id such as "gemini-2.5-flash"; received ""$/);
    expect(configError(() => gemini({ model: 'has space', apiKey: API_KEY })).message).toMatch(/^gemini\(\): model: /);
    expect(configError(() => gemini({ model: 'g', apiKey: API_KEY, baseURL: 'ftp://x' })).message).toMatch(/^gemini\(\): baseURL: /);
    expect(configError(() => gemini({ model: 'g', apiKey: API_KEY, region: 'eu' } as never)).message).toMatch(/^gemini\(\): region: /);
    expect(configError(() => gemini({ model: 'g', apiKey: 42 } as never)).message).toMatch(/apiKey: .*received number$/);
    expect(configError(() => gemini({ model: 'g', apiKey: API_KEY, transport: {} as never })).message).toMatch(/transport: expected a Transport/);
  });
});

describe('cancellation', () => {
  it('unsubscribing mid-stream (take(3) of the text) closes the socket while the server is still writing', async () => {
    const chunks = geminiChunks(Array.from({ length: 200 }, (_, i) => ` w${i}`));
    await expectTakeThreeClosesSocket(server, model().stream({ messages: [user] }), { headers: SSE_HEADERS, chunks, chunkDelayMs: 20 }, [' w0', ' w1', ' w2']);
  });
});

describe('rxllm/testing wire builders, end to end through gemini()', () => {
  it('geminiChunks: text and usage come out right (CRLF frames, no end marker), byte-split too', async () => {
    const chunks = geminiChunks(['Hel', 'lo, ', '30°C'], { usage: { promptTokenCount: 5, candidatesTokenCount: 3, thoughtsTokenCount: 2, cachedContentTokenCount: 1 } });
    expect(chunks.every((c) => c.startsWith('data: {') && c.endsWith('}\r\n\r\n'))).toBe(true);
    for (const reply of [{ headers: SSE_HEADERS, chunks }, { headers: SSE_HEADERS, body: chunks.join(''), split: 'byte' as const }]) {
      server.enqueue(reply);
      const done = await lastValueFrom(model().stream({ messages: [user] }).pipe(collect()));
      expect(done).toMatchObject({
        text: 'Hello, 30°C',
        usage: { inputTokens: 5, outputTokens: 5, totalTokens: 10, cachedInputTokens: 1, reasoningTokens: 2 },
        finishReason: 'stop',
        rawFinishReason: 'STOP',
      });
    }
  });

  it('geminiChunks: finishReason and no usage; no deltas → one empty chunk that still finishes', async () => {
    server.enqueue({ headers: SSE_HEADERS, chunks: geminiChunks(['cut'], { finishReason: 'MAX_TOKENS' }) });
    const cut = await runStream(model().stream({ messages: [user] }));
    expect(parserEvents(cut.events)).toEqual([{ type: 'text', text: 'cut' }, { type: 'finish', reason: 'length', rawReason: 'MAX_TOKENS' }]);
    server.enqueue({ headers: SSE_HEADERS, chunks: geminiChunks([]) });
    expect(parserEvents((await runStream(model().stream({ messages: [user] }))).events)).toEqual([{ type: 'finish', reason: 'stop', rawReason: 'STOP' }]);
  });

  it('geminiErrorBody: the google.rpc shape', () => {
    expect(geminiErrorBody(429, 'slow down', { retryAfterMs: 1500 })).toEqual({
      error: { code: 429, message: 'slow down', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }] },
    });
    expect(geminiErrorBody(418)).toEqual({ error: { code: 418, message: 'HTTP 418 UNKNOWN', status: 'UNKNOWN' } });
  });
});

/**
 * Against the real Gemini API — only when GEMINI_API_KEY is set; otherwise vitest lists these as
 * skipped, and nothing else needs a key or the network.
 */
const liveKey = process.env['GEMINI_API_KEY'];
const liveModel = process.env['GEMINI_TEST_MODEL'] ?? 'gemini-2.5-flash';
describe.skipIf(!liveKey)(`live Gemini (${liveModel}) — runs only with GEMINI_API_KEY`, () => {
  it('streams text, usage and finish', async () => {
    const done = await lastValueFrom(gemini({ model: liveModel, apiKey: liveKey! }).stream({ messages: [{ role: 'user', content: 'Say "ok" and nothing else.' }] }).pipe(collect()));
    expect(done.text.toLowerCase()).toContain('ok');
    expect(done.usage?.inputTokens).toBeGreaterThan(0);
    expect(done.finishReason).toBe('stop');
  });

  it('streams a tool call, and accepts the tool turn back', async () => {
    const llm = gemini({ model: liveModel, apiKey: liveKey! });
    const tools = [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } }];
    const ask = { role: 'user' as const, content: 'What is the weather in Paris?' };
    const first = await lastValueFrom(llm.stream({ messages: [ask], tools, toolChoice: { name: 'get_weather' } }).pipe(collect()));
    const call = first.toolCalls[0]!;
    expect(call.name).toBe('get_weather');
    expect(call.input).toMatchObject({ city: expect.stringMatching(/paris/i) });
    const second = await lastValueFrom(
      llm.stream({ messages: [ask, { role: 'assistant', toolCalls: [{ id: call.id!, name: call.name, arguments: call.arguments }] }, { role: 'tool', toolCallId: call.id!, content: '{"tempC":21}' }], tools }).pipe(collect()),
    );
    expect(second.text).toMatch(/21/);
  });

  it('reports a wrong key as authentication_failed without echoing it', async () => {
    const wrong = `AIza${'SyWRONG-0000000000000000000000000'}`;
    await expectWrongKeyRejected(gemini({ model: liveModel, apiKey: wrong }), wrong, { code: 'authentication_failed' });
  });
});
