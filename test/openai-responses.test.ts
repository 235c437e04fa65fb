/**
 * The OpenAI Responses API (`POST /v1/responses`, SSE) through `openaiResponses()`: every recorded
 * stream in test/fixtures/openai-responses served whole and one byte per write (snapshotted),
 * the payload-only quota error framed as SSE, the pure parser split at every offset, the request
 * body, configuration, cancellation, the `openaiResponsesChunks` wire builder end to end, and a
 * live test that runs only with OPENAI_API_KEY.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { from, lastValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiError, collect, InvalidRequestError, isEvent, LlmError, MalformedStreamError, openaiResponses, parseRequest, RateLimitError, type LlmEvent, type LlmRequestInput, type Model } from 'rxllm';
import { openaiResponsesParser, toResponsesBody } from 'rxllm/providers';
import { jsonReply, openaiResponsesChunks, openaiResponsesErrorBody, startMockServer, type MockReply, type MockServer } from 'rxllm/testing';
import { FIXTURES_DIR } from './helpers/fixtures';
import { forcedWeatherCall } from './helpers/live';
import { errorRenderings, expectNoneContains, expectTakeThreeClosesSocket, thrownConfigurationError } from './helpers/failures';
import {
  bytesOf, errorFactsOrNull, firstInputText, expectByteSplitLikeWhole, outcomeIn, errorFacts, joined, parseWire, parserEvents, runStream, servedWholeAndByteSplitBy, snapshotEvents, splitAt, type StreamOutcome,
} from './helpers/wire';

const DIR = join(FIXTURES_DIR, 'openai-responses');
const QUOTA_JSONL = join(DIR, 'error-insufficient-quota.chunks.jsonl');
const API_KEY = `sk-${'test-RESPONSESSECRET1234567890abcd'}`;
const streams = readdirSync(DIR).filter((name) => name.endsWith('.sse')).sort();
const pure = { parser: openaiResponsesParser, framing: 'sse', provider: 'openai-responses' } as const;


const completion = (events: readonly LlmEvent[]) => lastValueFrom(from(events).pipe(collect()));
const user = (content: string): LlmRequestInput => ({ messages: [{ role: 'user', content }] });
const sseReply = (chunks: string[], extra: Omit<MockReply, 'chunks'> = {}): MockReply => ({ status: 200, headers: { 'content-type': 'text/event-stream', 'x-request-id': 'req_resp_mock' }, chunks, ...extra });

/** The payload-only recording, framed the way the Responses API frames events: `data: <json>` + blank line. */
const quotaSse = readFileSync(QUOTA_JSONL, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => `data: ${line}\n\n`)
  .join('');

// ---------------------------------------------------------------------------------------------

const recorded = servedWholeAndByteSplitBy(
  streams.map((name) => ({ key: name, file: join(DIR, name) })),
  { model: (server) => openaiResponses({ model: 'gpt-4o', baseURL: server.url, apiKey: API_KEY }), keyOf: firstInputText },
);

const outcomeOf = (name: string): { whole: StreamOutcome; byte: StreamOutcome } => outcomeIn(recorded, name);

describe('recorded Responses streams over HTTP, whole and one byte per write', () => {
  it('finds the recordings', () => {
    expect(streams).toEqual(['reasoning-tool-call-usage.sse', 'text-2025-03.sse', 'tool-call-2025-03.sse']);
  });

  it.each(streams)('%s: byte-split and whole runs agree', (name) => {
    const { whole, byte } = outcomeOf(name);
    expectByteSplitLikeWhole(byte, whole);
    expect({ events: snapshotEvents(whole.events), completed: whole.completed, error: errorFactsOrNull(whole.error) }).toMatchSnapshot();
  });

  it('tool-call-2025-03.sse (no sequence_number): one get_capital call {"country":"France"}, usage 255/16, tool-calls', async () => {
    const { whole } = outcomeOf('tool-call-2025-03.sse');
    const done = await completion(whole.events);
    expect(done.text).toBe('');
    expect(done.toolCalls).toEqual([{ index: 0, id: 'call_kL0PCQV7M2WMoVX8V8OtYSAL', name: 'get_capital', arguments: '{"country":"France"}', input: { country: 'France' } }]);
    expect(done.usage).toMatchObject({ inputTokens: 255, outputTokens: 16 });
    expect(done.finishReason).toBe('tool-calls');
    expect(done.rawFinishReason).toBe('completed');
    // The first event per call carries id and name; five argument fragments follow.
    const calls = whole.events.filter(isEvent('tool-call'));
    expect(calls[0]).toEqual({ type: 'tool-call', index: 0, id: 'call_kL0PCQV7M2WMoVX8V8OtYSAL', name: 'get_capital', argumentsDelta: '' });
    expect(calls.slice(1).every((c) => c.id === undefined && c.name === undefined)).toBe(true);
    expect(calls).toHaveLength(6);
    expect(whole.events.slice(-2).map((e) => e.type)).toEqual(['usage', 'finish']);
  });

  it('text-2025-03.sse: "The capital of France is Paris.", usage 278/9, stop', async () => {
    const { whole } = outcomeOf('text-2025-03.sse');
    const done = await completion(whole.events);
    expect(done.text).toBe('The capital of France is Paris.');
    expect(done.toolCalls).toEqual([]);
    expect(done.usage).toMatchObject({ inputTokens: 278, outputTokens: 9 });
    expect(done.finishReason).toBe('stop');
  });

  it('reasoning-tool-call-usage.sse (sequence_number, obfuscation): final_result {"result":6666} at output index 1, 448 reasoning tokens', async () => {
    const { whole } = outcomeOf('reasoning-tool-call-usage.sse');
    const done = await completion(whole.events);
    expect(done.toolCalls).toEqual([{ index: 1, id: 'call_CWXgs68YprAjp6t0371hiPOI', name: 'final_result', arguments: '{"result":6666}', input: { result: 6666 } }]);
    expect(done.usage).toEqual({ inputTokens: 53, outputTokens: 469, totalTokens: 522, cachedInputTokens: 0, reasoningTokens: 448 });
    expect(done.reasoning).toBe(''); // encrypted reasoning only, no summary text
    expect(done.finishReason).toBe('tool-calls');
  });
});

describe('pure decoder + parser, split in two at every offset', () => {
  it.each(streams)('%s', (name) => {
    const file = join(DIR, name);
    const bytes = bytesOf(file);
    const whole = parseWire([bytes], pure);
    expect(whole.completed).toBe(true);
    expect(whole.events).toEqual(parserEvents(outcomeOf(name).whole.events));
    const expected = JSON.stringify(whole.events);
    const step = statSync(file).size < 6 * 1024 ? 1 : 7;
    for (let k = 1; k < bytes.length; k += step) {
      const split = parseWire(splitAt(bytes, k), pure);
      if (!split.completed || JSON.stringify(split.events) !== expected) expect({ k, ...split }).toEqual({ k, ...whole });
    }
  });

  it('a body cut before response.completed is a retryable malformed_stream; an unparsable event errors', () => {
    const body = readFileSync(join(DIR, 'text-2025-03.sse'), 'utf8');
    const cut = parseWire([new TextEncoder().encode(body.slice(0, body.indexOf('event: response.completed')))], pure);
    expect(joined(cut.events, 'text')).toBe('The capital of France is Paris.');
    expect(cut.error).toBeInstanceOf(MalformedStreamError);
    expect(errorFacts(cut.error)).toMatchObject({ code: 'malformed_stream', retryable: true });
    const bad = parseWire([new TextEncoder().encode('data: {"type":"response.output_text.delta","delta":"a"}\n\ndata: {oops}\n\n')], pure);
    expect(bad.events).toEqual([{ type: 'text', text: 'a' }]);
    expect(errorFacts(bad.error)).toMatchObject({ name: 'MalformedStreamError', retryable: false });
  });

  it('arguments that come only whole (no deltas) are emitted once; fragments before the announcement are held', () => {
    const frames = (events: unknown[]): Uint8Array[] => [new TextEncoder().encode(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join(''))];
    const onlyDone = parseWire(
      frames([
        { type: 'response.output_item.added', output_index: 0, item: { type: 'function_call', id: 'fc_1', call_id: 'call_a', name: 'lookup', arguments: '' } },
        { type: 'response.function_call_arguments.done', item_id: 'fc_1', output_index: 0, arguments: '{"q":"x"}' },
        { type: 'response.output_item.done', output_index: 0, item: { type: 'function_call', id: 'fc_1', call_id: 'call_a', name: 'lookup', arguments: '{"q":"x"}' } },
        { type: 'response.completed', response: { status: 'completed', usage: null } },
      ]),
      pure,
    );
    expect(onlyDone.events).toEqual([
      { type: 'tool-call', index: 0, id: 'call_a', name: 'lookup', argumentsDelta: '' },
      { type: 'tool-call', index: 0, argumentsDelta: '{"q":"x"}' },
      { type: 'finish', reason: 'tool-calls', rawReason: 'completed' },
    ]);
    const late = parseWire(
      frames([
        { type: 'response.function_call_arguments.delta', item_id: 'fc_2', delta: '{"a":' },
        { type: 'response.function_call_arguments.delta', item_id: 'fc_2', delta: '1}' },
        { type: 'response.output_item.done', output_index: 0, item: { type: 'function_call', id: 'fc_2', call_id: 'call_b', name: 'f', arguments: '{"a":1}' } },
        { type: 'response.completed', response: { status: 'completed' } },
      ]),
      pure,
    );
    expect(late.events).toEqual([
      { type: 'tool-call', index: 0, id: 'call_b', name: 'f', argumentsDelta: '{"a":1}' },
      { type: 'finish', reason: 'tool-calls', rawReason: 'completed' },
    ]);
    const nameless = parseWire(frames([{ type: 'response.function_call_arguments.delta', output_index: 0, delta: '{}' }, { type: 'response.completed', response: {} }]), pure);
    expect(errorFacts(nameless.error)).toMatchObject({ name: 'MalformedStreamError' });
  });

  it('response.incomplete with content_filter → content-filter; reasoning_text deltas are reasoning; refusals are not text', () => {
    const frames = [
      { type: 'response.reasoning_text.delta', delta: 'thinking…' },
      { type: 'response.refusal.delta', delta: 'I cannot' },
      { type: 'response.output_text.delta', delta: 'Part' },
      { type: 'response.incomplete', response: { status: 'incomplete', incomplete_details: { reason: 'content_filter' }, usage: { input_tokens: 5, output_tokens: 1 } } },
    ].map((e) => `data:${JSON.stringify(e)}\n\n`);
    const run = parseWire([new TextEncoder().encode(frames.join(''))], pure);
    expect(run.events).toEqual([
      { type: 'reasoning', text: 'thinking…' },
      { type: 'text', text: 'Part' },
      { type: 'usage', usage: { inputTokens: 5, outputTokens: 1, totalTokens: 6 } },
      { type: 'finish', reason: 'content-filter', rawReason: 'content_filter' },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('over HTTP', () => {
  let server: MockServer;
  let model: Model;
  beforeAll(async () => {
    server = await startMockServer();
    model = openaiResponses({ model: 'gpt-5-mini', baseURL: server.url, apiKey: API_KEY });
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => {
    server.clearRecords();
    vi.unstubAllEnvs();
  });

  const run = (reply: MockReply, request: LlmRequestInput = user('hi'), on: Model = model): Promise<StreamOutcome> => {
    server.enqueue(reply);
    return runStream(on.stream(request));
  };

  it('error-insufficient-quota.chunks.jsonl framed as SSE: one ApiError quota_exceeded, not retryable (response.failed after it is not read)', async () => {
    for (const split of [undefined, 'byte'] as const) {
      const outcome = await run({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: quotaSse, ...(split ? { split } : {}) });
      expect(outcome.errors).toBe(1);
      expect(outcome.completed).toBe(false);
      expect(parserEvents(outcome.events)).toEqual([]);
      expect(outcome.error).toBeInstanceOf(ApiError);
      expect(outcome.error).not.toBeInstanceOf(RateLimitError);
      expect(errorFacts(outcome.error)).toMatchObject({ code: 'quota_exceeded', retryable: false, provider: 'openai-responses', providerCode: 'insufficient_quota' });
      expect((outcome.error as Error).message).toContain('You exceeded your current quota');
    }
  });

  it('the request on the wire: POST /v1/responses, Bearer key, organization and project, per-call headers; the key nowhere else', async () => {
    const org = openaiResponses({ model: 'gpt-5-mini', baseURL: `${server.url}/`, apiKey: API_KEY, organization: 'org-1', project: 'proj-1', headers: { 'X-Team': 'search' } });
    server.enqueue(sseReply(openaiResponsesChunks(['ok'])));
    const outcome = await runStream(org.stream(user('hi'), { headers: { 'X-Trace-Id': 'trace-1' } }));
    expect(outcome.completed).toBe(true);
    const [received] = server.requests;
    expect(received).toMatchObject({ method: 'POST', url: '/v1/responses' });
    expect(received!.headers).toMatchObject({
      authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', accept: 'text/event-stream',
      'openai-organization': 'org-1', 'openai-project': 'proj-1', 'x-team': 'search', 'x-trace-id': 'trace-1',
    });
    expect(received!.json).toEqual({ model: 'gpt-5-mini', input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }], stream: true, store: false });
    expect(received!.body).not.toContain(API_KEY);
    expect(JSON.stringify(outcome.events)).not.toContain(API_KEY);
    expect(inspect(org, { depth: 10 })).not.toContain(API_KEY);
  });

  it('a 401 that echoes the key: authentication_failed, and no rendering of the error carries the key', async () => {
    const outcome = await run(jsonReply(401, { error: { message: `Incorrect API key provided: ${API_KEY}.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }, { 'x-request-id': 'req_401' }));
    const error = outcome.error as LlmError;
    expect(error).toMatchObject({ code: 'authentication_failed', status: 401, retryable: false, requestId: 'req_401', provider: 'openai-responses' });
    expectNoneContains({ ...errorRenderings(error), cause: inspect(error.cause, { depth: 10 }) }, [API_KEY, API_KEY.slice(-8), /Bearer/i]);
  });

  it('stop or seed: InvalidRequestError on subscribe, after the request event, and nothing reaches the server', async () => {
    const cases: Array<[string, Partial<LlmRequestInput>]> = [['stop', { stop: ['END'] }], ['seed', { seed: 7 }]];
    for (const [field, extra] of cases) {
      const outcome = await runStream(model.stream({ ...user('hi'), ...extra }));
      expect(outcome.events.map((e) => e.type)).toEqual(['request']);
      expect(outcome.errors).toBe(1);
      expect(outcome.error).toBeInstanceOf(InvalidRequestError);
      expect(outcome.error).toMatchObject({ code: 'invalid_request', field, retryable: false });
      expect((outcome.error as Error).message).toMatch(new RegExp(`^Invalid request: ${field}: the OpenAI Responses API`));
    }
    expect(server.requests).toHaveLength(0);
  });

  it('unsubscribing mid-stream closes the socket (the server records the close mid-response)', async () => {
    const chunks = openaiResponsesChunks(Array.from({ length: 200 }, (_, i) => ` w${i}`));
    await expectTakeThreeClosesSocket(server, model.stream(user('count')), sseReply(chunks, { chunkDelayMs: 20 }), [' w0', ' w1', ' w2']);
  });

  it('openaiResponsesChunks() played through openaiResponses(): text, usage (cached, reasoning) and finish', async () => {
    const outcome = await run(sseReply(openaiResponsesChunks(['Hel', 'lo', ', wor', 'ld'], { usage: { inputTokens: 12, outputTokens: 4, cachedInputTokens: 8, reasoningTokens: 1 } })));
    const done = await completion(outcome.events);
    expect(done.text).toBe('Hello, world');
    expect(done.usage).toEqual({ inputTokens: 12, outputTokens: 4, totalTokens: 16, cachedInputTokens: 8, reasoningTokens: 1 });
    expect(done.finishReason).toBe('stop');
    expect(done.requestId).toBe('req_resp_mock');
    const cut = await completion((await run(sseReply(openaiResponsesChunks(['a', 'b'], { finishReason: 'length', usage: false })))).events);
    expect(cut).toMatchObject({ text: 'ab', finishReason: 'length', rawFinishReason: 'max_output_tokens' });
    expect(cut.usage).toBeUndefined();
  });

  it('openaiResponsesErrorBody(): 429 → RateLimitError with retry-after; 500 → retryable server_error; 400 → bad_request', async () => {
    const limited = await run(jsonReply(429, openaiResponsesErrorBody(429, 'Rate limit reached'), { 'retry-after': '1' }));
    expect(limited.error).toBeInstanceOf(RateLimitError);
    expect(limited.error).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 1000, status: 429 });
    const failed = await run(jsonReply(500, openaiResponsesErrorBody(500, 'The server had an error')));
    expect(failed.error).toMatchObject({ code: 'server_error', retryable: true, status: 500 });
    const bad = await run(jsonReply(400, openaiResponsesErrorBody(400, "Unsupported parameter: 'stop'.")));
    expect(bad.error).toMatchObject({ code: 'bad_request', retryable: false, status: 400 });
    expect((bad.error as Error).message).toContain("Unsupported parameter: 'stop'.");
  });

  it('reads OPENAI_API_KEY when no apiKey is given', async () => {
    vi.stubEnv('OPENAI_API_KEY', `sk-${'test-FROMENVIRONMENT0000000000'}`);
    await run(sseReply(openaiResponsesChunks(['ok'])), user('hi'), openaiResponses({ model: 'gpt-5-mini', baseURL: server.url }));
    expect(server.requests[0]!.headers['authorization']).toBe(`Bearer sk-${'test-FROMENVIRONMENT0000000000'}`);
  });
});

// ---------------------------------------------------------------------------------------------

describe('toResponsesBody: the request on the wire', () => {
  const info = openaiResponses({ model: 'gpt-5-mini', apiKey: API_KEY, baseURL: 'https://api.openai.com/v1' }).info;

  it('maps a whole conversation: instructions, input items, function calls and outputs, flat tools, tool_choice, limits, json_schema', () => {
    const request = parseRequest({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Weather in Paris?', name: 'ann' },
        { role: 'assistant', content: 'Checking.', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }] },
        { role: 'tool', toolCallId: 'call_1', content: '{"tempC":21}' },
        { role: 'assistant', content: 'It is 21 °C.' },
        { role: 'system', content: 'Answer in French.' },
        { role: 'user', content: [{ type: 'text', text: 'And ' }, { type: 'text', text: 'tomorrow?' }] },
      ],
      tools: [
        { name: 'get_weather', description: 'Current weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false }, strict: true },
        { name: 'noop' },
      ],
      toolChoice: { name: 'get_weather' },
      temperature: 0.2,
      topP: 0.9,
      maxOutputTokens: 256,
      responseFormat: { type: 'json', name: 'forecast', schema: { type: 'object', properties: { tempC: { type: 'number' } }, required: ['tempC'], additionalProperties: false }, strict: true },
      metadata: { tenant: 'acme-tenant' },
      providerOptions: { 'openai-responses': { reasoning: { effort: 'low', summary: 'auto' } }, openai: { reasoning_effort: 'high' } },
    });
    const body = toResponsesBody(request, info);
    expect(body).toMatchInlineSnapshot(`
      {
        "input": [
          {
            "content": [
              {
                "text": "Weather in Paris?",
                "type": "input_text",
              },
            ],
            "role": "user",
          },
          {
            "content": [
              {
                "text": "Checking.",
                "type": "output_text",
              },
            ],
            "role": "assistant",
          },
          {
            "arguments": "{"city":"Paris"}",
            "call_id": "call_1",
            "name": "get_weather",
            "type": "function_call",
          },
          {
            "call_id": "call_1",
            "output": "{"tempC":21}",
            "type": "function_call_output",
          },
          {
            "content": [
              {
                "text": "It is 21 °C.",
                "type": "output_text",
              },
            ],
            "role": "assistant",
          },
          {
            "content": [
              {
                "text": "And ",
                "type": "input_text",
              },
              {
                "text": "tomorrow?",
                "type": "input_text",
              },
            ],
            "role": "user",
          },
        ],
        "instructions": "You are terse.

      Answer in French.",
        "max_output_tokens": 256,
        "model": "gpt-5-mini",
        "reasoning": {
          "effort": "low",
          "summary": "auto",
        },
        "store": false,
        "stream": true,
        "temperature": 0.2,
        "text": {
          "format": {
            "name": "forecast",
            "schema": {
              "additionalProperties": false,
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
            "strict": true,
            "type": "json_schema",
          },
        },
        "tool_choice": {
          "name": "get_weather",
          "type": "function",
        },
        "tools": [
          {
            "description": "Current weather for a city",
            "name": "get_weather",
            "parameters": {
              "additionalProperties": false,
              "properties": {
                "city": {
                  "type": "string",
                },
              },
              "required": [
                "city",
              ],
              "type": "object",
            },
            "strict": true,
            "type": "function",
          },
          {
            "name": "noop",
            "parameters": {
              "properties": {},
              "type": "object",
            },
            "strict": false,
            "type": "function",
          },
        ],
        "top_p": 0.9,
      }
    `);
    expect(JSON.stringify(body)).not.toContain('acme-tenant');
    expect(JSON.stringify(body)).not.toContain('reasoning_effort');
  });

  it('JSON mode without a schema → text.format json_object; string tool choices pass as they are', () => {
    expect(toResponsesBody(parseRequest({ ...user('x'), responseFormat: { type: 'json' } }), info)['text']).toEqual({ format: { type: 'json_object' } });
    const tools = [{ name: 'a' }];
    expect(toResponsesBody(parseRequest({ ...user('x'), tools, toolChoice: 'required' }), info)).toMatchObject({ tool_choice: 'required', tools: [{ type: 'function', name: 'a', strict: false }] });
    expect(toResponsesBody(parseRequest(user('x')), info)).toEqual({ model: 'gpt-5-mini', input: [{ role: 'user', content: [{ type: 'input_text', text: 'x' }] }], stream: true, store: false });
  });
});

describe('openaiResponses() configuration', () => {
  afterEach(() => vi.unstubAllEnvs());

  const configError = thrownConfigurationError;

  it('no key anywhere: says which env var to set', () => {
    vi.stubEnv('OPENAI_API_KEY', '');
    expect(configError(() => openaiResponses({ model: 'gpt-5-mini' })).message).toBe('openaiResponses(): no API key. Pass { apiKey } or set OPENAI_API_KEY (for a keyless run, use simulated())');
  });

  it('bad options name the field and never echo the key', () => {
    expect(configError(() => openaiResponses({ model: '', apiKey: API_KEY })).message).toMatch(/^openaiResponses\(\): model: expected a model id/);
    expect(configError(() => openaiResponses({ model: 'm', apiKey: API_KEY, baseURL: 'api.openai.com' })).message).toMatch(/^openaiResponses\(\): baseURL: /);
    const unknown = configError(() => openaiResponses({ model: 'm', apiKey: API_KEY, stop: ['x'] } as never));
    expect(unknown.message).toMatch(/^openaiResponses\(\): stop: /);
    for (const error of [unknown, configError(() => openaiResponses({ model: 'm', apiKey: 42 } as never))]) {
      expect(error.message + JSON.stringify(error) + String(error.stack)).not.toContain(API_KEY);
    }
  });

  it('info: provider openai-responses, OPENAI_BASE_URL honoured', () => {
    vi.stubEnv('OPENAI_BASE_URL', 'https://proxy.example.test/v1/');
    expect(openaiResponses({ model: 'gpt-5-mini', apiKey: API_KEY }).info).toEqual({ provider: 'openai-responses', id: 'gpt-5-mini', name: 'openai-responses:gpt-5-mini', baseURL: 'https://proxy.example.test/v1' });
  });
});

const liveKey = process.env['OPENAI_API_KEY'];
const liveModel = process.env['OPENAI_RESPONSES_TEST_MODEL'] ?? 'gpt-4o-mini';

describe.skipIf(!liveKey)(`live OpenAI Responses API (${liveModel}) — runs only with OPENAI_API_KEY`, () => {
  it('streams text, usage and finish', async () => {
    const done = await lastValueFrom(
      openaiResponses({ model: liveModel }).stream({ messages: [{ role: 'system', content: 'Reply with one word.' }, { role: 'user', content: 'Say "ok".' }], maxOutputTokens: 16 }).pipe(collect()),
    );
    expect(done.text.toLowerCase()).toContain('ok');
    expect(done.usage?.outputTokens).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(done.finishReason);
  });

  it('streams a function call', async () => {
    const done = await forcedWeatherCall(openaiResponses({ model: liveModel }));
    expect(done.finishReason).toBe('tool-calls');
  });
});
