/**
 * The Anthropic Messages provider: recorded bodies from test/fixtures/anthropic served by the
 * real mock server (whole and one byte per write) and split purely at every offset; the parser's
 * rules on built streams; the request body on the wire; errors (typed, no key anywhere);
 * configuration; cancellation; the wire builders of rxllm/testing; a cross-provider fallback; and
 * a live run when ANTHROPIC_API_KEY is set.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { anthropic, ApiError, collect, ConfigurationError, InvalidRequestError, LlmError, MalformedStreamError, openaiCompatible, parseRequest, RateLimitError, type LlmEvent, type LlmRequestInput, type Model, type ModelInfo } from 'rxllm';
import { anthropicParser, mapAnthropicFinish, mapAnthropicUsage, toAnthropicBody } from 'rxllm/providers';
import { fallback } from 'rxllm/operators';
import { anthropicChunks, anthropicErrorBody, jsonReply, startMockServer, type MockReply, type MockServer } from 'rxllm/testing';
import { FIXTURES_DIR } from './helpers/fixtures';
import { pause, record } from './helpers/observe';
import { errorRenderings, expectNoneContains, expectTakeThreeClosesSocket, oneFailure, thrownConfigurationError } from './helpers/failures';
import { expectSaysOk, expectWrongKeyRejected, forcedWeatherCall } from './helpers/live';
import {
  bytesOf, errorFacts, joined, parserEvents, parseWire, servedWholeAndByteSplitBy, snapshotEvents, splitAt, expectByteSplitLikeWhole, outcomeIn,
  firstMessageContent, type WireOutcome,
} from './helpers/wire';

/** A fake key, unique enough that any trace of it in an error or event is a leak. */
const API_KEY = `sk-ant-${'test-SECRETSECRET1234567890abcd'}`;
const KEY_TAIL = API_KEY.slice(-8);

/** Anthropic bodies carry the routing key as the first user turn's content (a string for one text block). */
const keyOf = firstMessageContent;

const anthropicAt = (server: MockServer, extra: Partial<Parameters<typeof anthropic>[0]> = {}): Model =>
  anthropic({ model: 'claude-test', baseURL: server.url, apiKey: API_KEY, ...extra });

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'request-id': 'req_anthropic_mock' };

/** An SSE body from wire payloads, each framed `event: <type>` / `data: <json>` like Anthropic's. */
function sse(...payloads: ReadonlyArray<Record<string, unknown> | string>): string {
  return payloads.map((p) => (typeof p === 'string' ? p : `event: ${String(p['type'])}\ndata: ${JSON.stringify(p)}\n\n`)).join('');
}

const parse = (body: string, pieces?: number[]): WireOutcome => {
  const bytes = new TextEncoder().encode(body);
  return parseWire(pieces ? splitAt(bytes, ...pieces) : [bytes], { parser: anthropicParser, provider: 'anthropic', requestId: 'req_x' });
};

const START = { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'claude-test', usage: { input_tokens: 10, output_tokens: 1 } } };
const TEXT_START = { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } };
const textDelta = (t: string, index = 0) => ({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } });
const stop = (index: number) => ({ type: 'content_block_stop', index });
const messageDelta = (reason: string | null, output = 5) => ({ type: 'message_delta', delta: { stop_reason: reason, stop_sequence: null }, usage: { output_tokens: output } });
const MESSAGE_STOP = { type: 'message_stop' };

// ---------------------------------------------------------------------------------------------
// Recorded fixtures

const FIXTURES = join(FIXTURES_DIR, 'anthropic');
const fixtures = readdirSync(FIXTURES)
  .filter((name) => name.endsWith('.sse'))
  .sort()
  .map((name) => ({ name, file: join(FIXTURES, name) }));

const outcomes = servedWholeAndByteSplitBy(
  fixtures.map(({ name, file }) => ({ key: name, file })),
  { model: (server) => anthropicAt(server), keyOf },
);

const outcomeOf = (name: string): { whole: WireOutcome; byte: WireOutcome } => outcomeIn(outcomes, name);

const completion = (events: readonly LlmEvent[]) => lastValueFrom(from(events).pipe(collect()));

describe('recorded Anthropic fixtures over HTTP', () => {
  it('finds the five fixtures', () => {
    expect(fixtures.map((f) => f.name)).toEqual(['server-and-client-tool-use.sse', 'text-count.sse', 'text-short.sse', 'thinking.sse', 'tool-use-parallel.sse']);
  });

  it.each(fixtures.map((f) => [f.name] as const))('%s: byte-split and whole runs agree; one usage right before one finish', (name) => {
    const { whole, byte } = outcomeOf(name);
    expectByteSplitLikeWhole(byte, whole);
    expect(byte.completed).toBe(true);
    expect(whole.completed).toBe(true);
    expect(whole.events[0]?.type).toBe('request');
    const types = whole.events.map((e) => e.type);
    expect(types.filter((t) => t === 'usage')).toHaveLength(1);
    expect(types.filter((t) => t === 'finish')).toHaveLength(1);
    expect(types.slice(-2)).toEqual(['usage', 'finish']);
    expect({ events: snapshotEvents(whole.events), completed: whole.completed }).toMatchSnapshot();
  });

  it('text-short.sse: text "2", usage 20/5, end_turn → stop', async () => {
    const done = await completion(outcomeOf('text-short.sse').whole.events);
    expect(done).toMatchObject({ text: '2', reasoning: '', toolCalls: [], finishReason: 'stop', rawFinishReason: 'end_turn' });
    expect(done.usage).toEqual({ inputTokens: 20, outputTokens: 5, totalTokens: 25, cachedInputTokens: 0 });
  });

  it('text-count.sse: the ping between deltas is ignored; text, usage 15/13, request id from Request-Id', async () => {
    const { whole } = outcomeOf('text-count.sse');
    const done = await completion(whole.events);
    expect(done.text).toBe('1\n2\n3\n4\n5');
    expect(done.usage).toEqual({ inputTokens: 15, outputTokens: 13, totalTokens: 28, cachedInputTokens: 0 });
    expect(done.requestId).toBe('req_011CSFCEDW38yAyCenJvnwn8');
    expect(parserEvents(whole.events).map((e) => e.type)).toEqual(['text', 'text', 'text', 'usage', 'finish']);
  });

  it('tool-use-parallel.sse: text, then calculateTip {billAmount: 50, tipPercentage: 15} and getWaiterName {} as tool calls 0 and 1', async () => {
    const { whole } = outcomeOf('tool-use-parallel.sse');
    const done = await completion(whole.events);
    expect(done.text).toBe("I'll calculate the tip and get the waiter's name for you.");
    expect(done.toolCalls).toEqual([
      { index: 0, id: 'toolu_01VsaoaKxpzdz8vgY4hTGjE3', name: 'calculateTip', arguments: '{"billAmount": 50, "tipPercentage": 15}', input: { billAmount: 50, tipPercentage: 15 } },
      { index: 1, id: 'toolu_01Uksi8drJHeC8rCj8yVUtCJ', name: 'getWaiterName', arguments: '', input: {} },
    ]);
    expect(done).toMatchObject({ finishReason: 'tool-calls', rawFinishReason: 'tool_use' });
    expect(done.usage).toMatchObject({ inputTokens: 679, outputTokens: 111 });
    // The first event of each call carries id and name; the rest only argument deltas, none empty.
    const calls = whole.events.filter((e) => e.type === 'tool-call');
    expect(calls[0]).toEqual({ type: 'tool-call', index: 0, id: 'toolu_01VsaoaKxpzdz8vgY4hTGjE3', name: 'calculateTip', argumentsDelta: '' });
    expect(calls.slice(1).filter((c) => c.index === 0).every((c) => c.id === undefined && c.name === undefined && c.argumentsDelta !== '')).toBe(true);
  });

  it('tool-use-parallel.sse: the response event reads the anthropic-ratelimit-* family and Request-Id', () => {
    const response = outcomeOf('tool-use-parallel.sse').whole.events.find((e) => e.type === 'response');
    expect(response).toMatchObject({
      type: 'response',
      status: 200,
      requestId: 'req_011CXWs8vFX4PQFDuEwsbQPN',
      // The recorded resets (January 2026) lie in the past when replayed: 0.
      rateLimit: { limitRequests: 4000, remainingRequests: 3999, resetRequestsMs: 0, limitTokens: 2400000, remainingTokens: 2400000, resetTokensMs: 0 },
      headers: expect.objectContaining({ 'anthropic-ratelimit-input-tokens-limit': '2000000', 'request-id': 'req_011CXWs8vFX4PQFDuEwsbQPN' }),
    });
  });

  it('server-and-client-tool-use.sse: the server tool (tool_search) is not a tool call; get_exchange_rate is call 0; message_delta input_tokens wins', async () => {
    const { whole } = outcomeOf('server-and-client-tool-use.sse');
    const done = await completion(whole.events);
    expect(done.text).toBe('Let me search for a tool that can provide current exchange rate information.I found the right tool! Let me fetch the current USD to EUR exchange rate for you.');
    expect(done.toolCalls).toEqual([
      { index: 0, id: 'toolu_01EFn5wTNBYA8Reni8rbmnHT', name: 'get_exchange_rate', arguments: '{"from_currency": "USD", "to_currency": "EUR"}', input: { from_currency: 'USD', to_currency: 'EUR' } },
    ]);
    expect(JSON.stringify(whole.events)).not.toContain('srvtoolu_');
    expect(JSON.stringify(whole.events)).not.toContain('tool_search_tool_bm25');
    expect(done.usage).toEqual({ inputTokens: 1591, outputTokens: 175, totalTokens: 1766, cachedInputTokens: 0 });
    expect(done.finishReason).toBe('tool-calls');
  });

  it('thinking.sse: thinking deltas as reasoning (signature ignored), then the text', async () => {
    const done = await completion(outcomeOf('thinking.sse').whole.events);
    expect(done.reasoning).toMatch(/^This is a straightforward question about pedestrian safety\. I should provide clear, helpful advice/);
    expect(done.reasoning).not.toContain('EvMC'); // the signature
    expect(done.text).toMatch(/^Here are the basic steps for safely crossing the street:/);
    expect(done.text).toMatch(/Always prioritize safety over speed when crossing streets\.$/);
    expect(done.usage).toMatchObject({ inputTokens: 43, outputTokens: 282 });
    expect(done.finishReason).toBe('stop');
  });
});

describe('recorded fixtures: pure decoder + parser split in two at every offset', () => {
  it.each(fixtures.map((f) => [f.name, f.file] as const))('%s', (name, file) => {
    const bytes = bytesOf(file);
    const opts = { parser: anthropicParser, provider: 'anthropic' } as const;
    const whole = parseWire([bytes], opts);
    expect(whole.events).toEqual(parserEvents(outcomeOf(name).whole.events).map((e) => e));
    const step = bytes.length < 6 * 1024 ? 1 : 7;
    const expected = JSON.stringify(whole.events);
    for (let k = 1; k < bytes.length; k += step) {
      const split = parseWire(splitAt(bytes, k), opts);
      if (!split.completed || JSON.stringify(split.events) !== expected) expect({ k, events: split.events, completed: split.completed }).toEqual({ k, events: whole.events, completed: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Parser rules on built streams

describe('anthropicParser', () => {
  it('maps stop reasons', () => {
    expect(['end_turn', 'stop_sequence', 'pause_turn', 'max_tokens', 'model_context_window_exceeded', 'tool_use', 'refusal', 'something_new'].map(mapAnthropicFinish)).toEqual([
      'stop', 'stop', 'stop', 'length', 'length', 'tool-calls', 'content-filter', 'other',
    ]);
  });

  it('maps usage: input counts uncached + cache read + cache write; cached = cache read', () => {
    expect(mapAnthropicUsage({ input_tokens: 17, output_tokens: 227, cache_read_input_tokens: 5, cache_creation_input_tokens: 10 })).toEqual({
      inputTokens: 32, outputTokens: 227, totalTokens: 259, cachedInputTokens: 5,
    });
    expect(mapAnthropicUsage({ input_tokens: 3, output_tokens: 1 })).toEqual({ inputTokens: 3, outputTokens: 1, totalTokens: 4 });
  });

  it('a body that ends after a stop_reason without message_stop still finishes', () => {
    const out = parse(sse(START, TEXT_START, textDelta('Hi'), stop(0), messageDelta('max_tokens', 2)));
    expect(out.completed).toBe(true);
    expect(out.events).toEqual([
      { type: 'text', text: 'Hi' },
      { type: 'usage', usage: { inputTokens: 10, outputTokens: 2, totalTokens: 12 } },
      { type: 'finish', reason: 'length', rawReason: 'max_tokens' },
    ]);
  });

  it('a body that ends with neither is truncated: malformed_stream, retryable, after the text that came', () => {
    const out = parse(sse(START, TEXT_START, textDelta('Hi')));
    expect(out.events).toEqual([{ type: 'text', text: 'Hi' }]);
    expect(out.error).toBeInstanceOf(MalformedStreamError);
    expect(errorFacts(out.error)).toMatchObject({ code: 'malformed_stream', retryable: true, provider: 'anthropic', requestId: 'req_x' });
  });

  it('nothing is read after message_stop', () => {
    const out = parse(sse(START, TEXT_START, textDelta('a'), stop(0), messageDelta('end_turn'), MESSAGE_STOP, textDelta('late'), { type: 'error', error: { type: 'api_error', message: 'late' } }));
    expect(out.completed).toBe(true);
    expect(joined(out.events, 'text')).toBe('a');
  });

  it('an unparsable event is malformed_stream, not retryable', () => {
    const out = parse(sse(START, 'event: content_block_delta\ndata: {"type":"content_block_delta",\n\n'));
    expect(errorFacts(out.error)).toMatchObject({ name: 'MalformedStreamError', code: 'malformed_stream', retryable: false });
  });

  it('in-stream errors are typed: overloaded_error → overloaded, api_error → server_error (both retryable), rate_limit_error → RateLimitError, others final', () => {
    const err = (type: string, named: boolean) => parse(sse(START, (named ? 'event: error\n' : '') + `data: ${JSON.stringify({ type: 'error', error: { type, message: `m-${type}` } })}\n\n`)).error;
    expect(errorFacts(err('overloaded_error', true))).toMatchObject({ name: 'ApiError', code: 'overloaded', retryable: true, providerCode: 'overloaded_error', message: 'anthropic overloaded_error: m-overloaded_error' });
    expect(errorFacts(err('overloaded_error', false))).toMatchObject({ code: 'overloaded', retryable: true });
    expect(errorFacts(err('api_error', false))).toMatchObject({ name: 'ApiError', code: 'server_error', retryable: true });
    expect(err('rate_limit_error', true)).toBeInstanceOf(RateLimitError);
    expect(errorFacts(err('invalid_request_error', true))).toMatchObject({ name: 'ApiError', code: 'api_error', retryable: false, requestId: 'req_x' });
    expect(errorFacts(parse('event: error\ndata: upstream exploded\n\n').error)).toMatchObject({ name: 'ApiError', message: 'anthropic: upstream exploded' });
  });

  it('a tool_use block whose input came whole in content_block_start (no deltas) still yields its arguments', () => {
    const out = parse(sse(
      START,
      { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_9', name: 'lookup', input: { q: 'x' } } },
      stop(0),
      messageDelta('tool_use'),
      MESSAGE_STOP,
    ));
    expect(out.events.filter((e) => e.type === 'tool-call')).toEqual([
      { type: 'tool-call', index: 0, id: 'toolu_9', name: 'lookup', argumentsDelta: '' },
      { type: 'tool-call', index: 0, argumentsDelta: '{"q":"x"}' },
    ]);
  });

  it('input_json_delta for a block that never started is malformed', () => {
    const out = parse(sse(START, { type: 'content_block_delta', index: 3, delta: { type: 'input_json_delta', partial_json: '{}' } }));
    expect(errorFacts(out.error)).toMatchObject({ code: 'malformed_stream', retryable: false });
  });

  it('unknown event, block and delta types are skipped (forward compatible)', () => {
    const out = parse(sse(
      START,
      { type: 'content_block_start', index: 0, content_block: { type: 'web_search_tool_result', content: [] } },
      { type: 'content_block_delta', index: 0, delta: { type: 'citations_delta', citation: {} } },
      stop(0),
      { type: 'brand_new_event' },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: 'Hi' } },
      stop(1),
      messageDelta('end_turn'),
      MESSAGE_STOP,
    ));
    expect(out.completed).toBe(true);
    expect(joined(out.events, 'text')).toBe('Hi');
  });
});

// ---------------------------------------------------------------------------------------------
// Against the mock server: request body, errors, config, cancellation, builders, fallback

let server: MockServer;
beforeAll(async () => {
  server = await startMockServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  server.clearRecords();
  vi.unstubAllEnvs();
});

const okReply = (deltas: readonly string[] = ['ok'], options: Parameters<typeof anthropicChunks>[1] = { usage: { input_tokens: 5, output_tokens: 1 } }): MockReply => ({
  headers: SSE_HEADERS,
  chunks: anthropicChunks(deltas, options),
});

describe('the request body on the wire', () => {
  const fullRequest: LlmRequestInput = {
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Weather in Paris and Rome?', name: 'ann' },
      {
        role: 'assistant',
        content: 'Checking both.',
        toolCalls: [
          { id: 'toolu_1', name: 'get_weather', arguments: { city: 'Paris' } },
          { id: 'toolu_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
        ],
      },
      { role: 'tool', toolCallId: 'toolu_1', content: '{"tempC":21}' },
      { role: 'tool', toolCallId: 'toolu_2', content: '{"tempC":25}' },
      { role: 'user', content: 'Which is warmer?' },
      { role: 'system', content: 'Answer in one word.' },
      { role: 'user', content: [{ type: 'text', text: 'And ' }, { type: 'text', text: 'tomorrow?' }] },
      { role: 'assistant', content: '', toolCalls: [{ id: 'toolu_3', name: 'noop', arguments: '' }] },
      { role: 'tool', toolCallId: 'toolu_3', content: '' },
    ],
    tools: [
      { name: 'get_weather', description: 'Current weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true },
      { name: 'noop' },
    ],
    toolChoice: 'required',
    temperature: 0.2,
    topP: 0.9,
    maxOutputTokens: 256,
    stop: ['\n\n', 'END'],
    seed: 7,
    metadata: { tenant: 'acme-tenant', user: 'ann-42' },
    providerOptions: { anthropic: { top_k: 40, cacheControl: { messages: 2 } }, openai: { user: 'not-for-anthropic' } },
  };

  it('every field mapped: system hoisted, turns merged to alternate, tool results first, cache marks, no metadata', async () => {
    server.enqueue(okReply());
    await lastValueFrom(anthropicAt(server, { cacheControl: { system: true, tools: true } }).stream(fullRequest).pipe(collect()));
    const received = server.requests[0]!;
    expect(received.method).toBe('POST');
    expect(received.url).toBe('/v1/messages');
    expect(received.json).toMatchInlineSnapshot(`
      {
        "max_tokens": 256,
        "messages": [
          {
            "content": "Weather in Paris and Rome?",
            "role": "user",
          },
          {
            "content": [
              {
                "text": "Checking both.",
                "type": "text",
              },
              {
                "id": "toolu_1",
                "input": {
                  "city": "Paris",
                },
                "name": "get_weather",
                "type": "tool_use",
              },
              {
                "cache_control": {
                  "type": "ephemeral",
                },
                "id": "toolu_2",
                "input": {
                  "city": "Rome",
                },
                "name": "get_weather",
                "type": "tool_use",
              },
            ],
            "role": "assistant",
          },
          {
            "content": [
              {
                "content": "{"tempC":21}",
                "tool_use_id": "toolu_1",
                "type": "tool_result",
              },
              {
                "content": "{"tempC":25}",
                "tool_use_id": "toolu_2",
                "type": "tool_result",
              },
              {
                "text": "Which is warmer?",
                "type": "text",
              },
              {
                "text": "And ",
                "type": "text",
              },
              {
                "text": "tomorrow?",
                "type": "text",
              },
            ],
            "role": "user",
          },
          {
            "content": [
              {
                "id": "toolu_3",
                "input": {},
                "name": "noop",
                "type": "tool_use",
              },
            ],
            "role": "assistant",
          },
          {
            "content": [
              {
                "tool_use_id": "toolu_3",
                "type": "tool_result",
              },
            ],
            "role": "user",
          },
        ],
        "model": "claude-test",
        "stop_sequences": [
          "

      ",
          "END",
        ],
        "stream": true,
        "system": [
          {
            "cache_control": {
              "type": "ephemeral",
            },
            "text": "You are terse.

      Answer in one word.",
            "type": "text",
          },
        ],
        "temperature": 0.2,
        "tool_choice": {
          "type": "any",
        },
        "tools": [
          {
            "description": "Current weather for a city",
            "input_schema": {
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
            "name": "get_weather",
          },
          {
            "cache_control": {
              "type": "ephemeral",
            },
            "input_schema": {
              "properties": {},
              "type": "object",
            },
            "name": "noop",
          },
        ],
        "top_k": 40,
        "top_p": 0.9,
      }
    `);
  });

  it('headers: x-api-key, anthropic-version, JSON; extra headers may set anthropic-beta and the version, never the key', async () => {
    server.enqueue(okReply());
    const model = anthropicAt(server, { headers: { 'Anthropic-Beta': 'prompt-caching-2024-07-31', 'anthropic-version': '2099-01-01', 'X-Api-Key': `sk-ant-${'other-0000000000'}` } });
    const events = await lastValueFrom(model.stream({ messages: [{ role: 'user', content: 'Hi' }] }, { headers: { 'x-api-key': 'per-call-nope' } }).pipe(toArray()));
    const headers = server.requests[0]!.headers;
    expect(headers).toMatchObject({ 'x-api-key': API_KEY, 'anthropic-version': '2099-01-01', 'anthropic-beta': 'prompt-caching-2024-07-31', 'content-type': 'application/json', accept: 'text/event-stream' });
    expect(headers['authorization']).toBeUndefined();
    expect(JSON.stringify(events)).not.toContain(KEY_TAIL);
    expect(JSON.stringify(model.info)).not.toContain(KEY_TAIL);
    expect(model.info).toEqual({ provider: 'anthropic', id: 'claude-test', name: 'anthropic:claude-test', baseURL: server.url });
  });

  const info: ModelInfo = { provider: 'anthropic', id: 'claude-test', name: 'anthropic:claude-test' };
  const body = (input: LlmRequestInput, cacheControl?: { system?: boolean; tools?: boolean; messages?: number }) =>
    toAnthropicBody(parseRequest(input), info, cacheControl ? { cacheControl } : {});

  it('a minimal request: default max_tokens 4096, no system, one string turn', () => {
    expect(body({ messages: [{ role: 'user', content: 'Hi' }] })).toEqual({ model: 'claude-test', max_tokens: 4096, messages: [{ role: 'user', content: 'Hi' }], stream: true });
  });

  it('toolChoice: auto / none / { name }; none of it without tools', () => {
    const tools = [{ name: 'a' }, { name: 'b' }];
    const user = [{ role: 'user' as const, content: 'x' }];
    expect(body({ messages: user, tools, toolChoice: 'auto' })['tool_choice']).toEqual({ type: 'auto' });
    expect(body({ messages: user, tools, toolChoice: 'none' })['tool_choice']).toEqual({ type: 'none' });
    expect(body({ messages: user, tools, toolChoice: { name: 'b' } })['tool_choice']).toEqual({ type: 'tool', name: 'b' });
    expect(body({ messages: user, tools })['tool_choice']).toBeUndefined();
    expect(body({ messages: user, toolChoice: 'none' })).not.toHaveProperty('tool_choice');
    expect(body({ messages: user, stop: 'END' })['stop_sequences']).toEqual(['END']);
  });

  it('JSON mode is emulated with a system instruction (with the schema when given), after the system prompt', () => {
    const schema = { type: 'object', properties: { tempC: { type: 'number' } }, required: ['tempC'] };
    const withSchema = body({ messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'x' }], responseFormat: { type: 'json', schema } });
    expect(withSchema['system']).toBe(
      'Be terse.\n\nRespond with a single JSON value and nothing else: no prose before or after it, no Markdown code fences. The JSON must conform to this JSON Schema:\n{"type":"object","properties":{"tempC":{"type":"number"}},"required":["tempC"]}',
    );
    expect(body({ messages: [{ role: 'user', content: 'x' }], responseFormat: { type: 'json' } })['system']).toBe(
      'Respond with a single JSON value and nothing else: no prose before or after it, no Markdown code fences.',
    );
    // With a cached system prompt the instruction is a block of its own, after the breakpoint.
    expect(body({ messages: [{ role: 'system', content: 'Manual' }, { role: 'user', content: 'x' }], responseFormat: { type: 'json' } }, { system: true })['system']).toEqual([
      { type: 'text', text: 'Manual', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: expect.stringMatching(/^Respond with a single JSON value/) },
    ]);
    expect(body({ messages: [{ role: 'user', content: 'x' }], responseFormat: { type: 'text' } })).not.toHaveProperty('system');
  });

  it('cacheControl.messages: N marks the last block of the N-th non-system message; beyond the end, the last one; per request overrides the model', () => {
    const messages: LlmRequestInput['messages'] = [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'one' },
      { role: 'assistant', content: 'two' },
      { role: 'user', content: 'three' },
    ];
    expect(body({ messages }, { messages: 1 })['messages']).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'one', cache_control: { type: 'ephemeral' } }] },
      { role: 'assistant', content: 'two' },
      { role: 'user', content: 'three' },
    ]);
    expect((body({ messages }, { messages: 99 })['messages'] as Array<{ content: unknown }>)[2]!.content).toEqual([{ type: 'text', text: 'three', cache_control: { type: 'ephemeral' } }]);
    expect(JSON.stringify(body({ messages }, { messages: 0 }))).not.toContain('cache_control');
    // The request's own cacheControl replaces the model's field by field, and is not sent as a field.
    const overridden = body({ messages, providerOptions: { anthropic: { cacheControl: { system: false, messages: 2 } } } }, { system: true, messages: 1 });
    expect(overridden['system']).toBe('S');
    expect(overridden).not.toHaveProperty('cacheControl');
    expect((overridden['messages'] as Array<{ content: unknown }>)[1]!.content).toEqual([{ type: 'text', text: 'two', cache_control: { type: 'ephemeral' } }]);
  });

  it('a bad per-request cacheControl, or tool-call arguments that are not a JSON object: InvalidRequestError naming the field, nothing sent', async () => {
    const bad = record(anthropicAt(server).stream({ messages: [{ role: 'user', content: 'x' }], providerOptions: { anthropic: { cacheControl: { messages: -1 } } } }));
    await bad.terminal;
    expect(bad.errors[0]).toBeInstanceOf(InvalidRequestError);
    expect(bad.errors[0]).toMatchObject({ field: 'providerOptions.anthropic.cacheControl.messages' });
    const args = record(
      anthropicAt(server).stream({
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', toolCalls: [{ id: 't1', name: 'f', arguments: '[1,2]' }] },
        ],
      }),
    );
    await args.terminal;
    expect(args.errors[0]).toBeInstanceOf(InvalidRequestError);
    expect(args.errors[0]).toMatchObject({ code: 'invalid_request', field: 'messages[1].toolCalls[0].arguments' });
    expect((args.errors[0] as Error).message).toContain('expected a JSON object');
    await pause(50);
    expect(server.requests).toHaveLength(0);
  });
});

describe('configuration is checked at construction', () => {
  const configError = (make: () => unknown): ConfigurationError => {
    const error = thrownConfigurationError(make);
    expectNoneContains(errorRenderings(error), [KEY_TAIL]);
    return error;
  };

  it('no apiKey and ANTHROPIC_API_KEY unset: says which env var', () => {
    vi.stubEnv('ANTHROPIC_API_KEY', '');
    expect(configError(() => anthropic({ model: 'claude-test' })).message).toMatch(/Pass \{ apiKey \} or set ANTHROPIC_API_KEY/);
  });

  it('reads ANTHROPIC_API_KEY when no apiKey is given', async () => {
    vi.stubEnv('ANTHROPIC_API_KEY', `sk-ant-${'FROMENVIRONMENT000000000'}`);
    server.enqueue(okReply());
    await lastValueFrom(anthropic({ model: 'claude-test', baseURL: server.url }).stream({ messages: [{ role: 'user', content: 'Hi' }] }).pipe(collect()));
    expect(server.requests[0]!.headers['x-api-key']).toBe(`sk-ant-${'FROMENVIRONMENT000000000'}`);
  });

  it('bad options name the field', () => {
    expect(configError(() => anthropic({ model: '', apiKey: API_KEY })).message).toBe('anthropic(): model: expected a model id such as "claude-sonnet-4-5"; received ""');
    expect(configError(() => anthropic({ model: 'c', apiKey: API_KEY, baseURL: 'nope' })).message).toMatch(/^anthropic\(\): baseURL: .*received "nope"$/);
    expect(configError(() => anthropic({ model: 'c', apiKey: API_KEY, cacheControl: { messages: 1.5 } })).message).toMatch(/^anthropic\(\): cacheControl\.messages: /);
    expect(configError(() => anthropic({ model: 'c', apiKey: API_KEY, cacheControl: { everything: true } as never })).message).toMatch(/cacheControl\.everything/);
    expect(configError(() => anthropic({ model: 'c', apiKey: API_KEY, maxTokens: 5 } as never)).message).toMatch(/^anthropic\(\): maxTokens: /);
  });
});

describe('errors', () => {
  /** One call that must fail: one error, no complete, nothing after it, and no trace of the key. */
  async function failure(reply: MockReply, model: Model = anthropicAt(server)): Promise<{ error: LlmError; events: LlmEvent[] }> {
    server.enqueue(reply);
    const { error, events } = await oneFailure(model.stream({ messages: [{ role: 'user', content: 'Hello?' }] }), 50);
    expectNoneContains({ ...errorRenderings(error), events: JSON.stringify(events) }, [API_KEY, KEY_TAIL, 'SECRETSECRET']);
    return { error, events };
  }

  it('529 overloaded → ApiError overloaded, retryable, with the request id', async () => {
    const { error, events } = await failure(jsonReply(529, anthropicErrorBody(529, 'Overloaded'), { 'request-id': 'req_529' }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'overloaded', retryable: true, status: 529, provider: 'anthropic', requestId: 'req_529', providerCode: 'overloaded_error' });
    expect(error.message).toBe('anthropic 529 overloaded_error: Overloaded');
    expect(events.map((e) => e.type)).toEqual(['request']);
  });

  it('429 with retry-after → RateLimitError with retryAfterMs', async () => {
    const { error } = await failure(jsonReply(429, anthropicErrorBody(429, 'Number of request tokens has exceeded your per-minute rate limit'), { 'retry-after': '7' }));
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ code: 'rate_limited', retryable: true, status: 429, retryAfterMs: 7000, providerCode: 'rate_limit_error' });
  });

  it('401 that echoes the key → authentication_failed, not retryable, the key redacted everywhere', async () => {
    const { error } = await failure(jsonReply(401, { type: 'error', error: { type: 'authentication_error', message: `invalid x-api-key: ${API_KEY} (…${KEY_TAIL})` } }));
    expect(error).toMatchObject({ code: 'authentication_failed', retryable: false, status: 401, providerCode: 'authentication_error' });
    expect(error.message).toContain('[redacted]');
    expect(error.message).toMatch(/^anthropic 401 authentication_error: invalid x-api-key/);
  });

  it('overloaded_error mid-stream → the text that came, then one retryable overloaded error', async () => {
    const frames = anthropicChunks(['Hello', ' there', ' unused'], { usage: { input_tokens: 3, output_tokens: 3 } });
    const cut = frames.slice(0, 5); // message_start, block start, ping, two deltas
    const errorFrame = `event: error\ndata: ${JSON.stringify(anthropicErrorBody(529, 'Overloaded'))}\n\n`;
    const { error, events } = await failure({ headers: SSE_HEADERS, chunks: [...cut, errorFrame, ...frames.slice(5)] });
    expect(joined(events, 'text')).toBe('Hello there');
    expect(events.some((e) => e.type === 'finish' || e.type === 'usage')).toBe(false);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'overloaded', retryable: true, providerCode: 'overloaded_error', requestId: 'req_anthropic_mock' });
    expect(error.status).toBeUndefined();
  });

  it('a body cut off mid-message → malformed_stream, retryable', async () => {
    const frames = anthropicChunks(['a', 'b']);
    const { error, events } = await failure({ headers: SSE_HEADERS, chunks: frames.slice(0, 4) });
    expect(joined(events, 'text')).toBe('a');
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: true });
  });
});

describe('unsubscribing mid-stream closes the socket', () => {
  it('take(3) of the text while the server is still writing', async () => {
    const deltas = Array.from({ length: 200 }, (_, i) => (i === 0 ? 'w0' : ` w${i}`));
    const chunks = anthropicChunks(deltas, { usage: { input_tokens: 5, output_tokens: 200 } });
    const stream = anthropicAt(server).stream({ messages: [{ role: 'user', content: 'Count' }] });
    await expectTakeThreeClosesSocket(server, stream, { headers: SSE_HEADERS, chunks, chunkDelayMs: 20 }, ['w0', ' w1', ' w2']);
  });
});

describe('wire builders (rxllm/testing) end to end', () => {
  it('anthropicChunks: text, usage with cache counters, and the stop reason come out right', async () => {
    server.enqueue(okReply(['Hel', 'lo ', 'wörld'], { model: 'claude-x', finishReason: 'max_tokens', usage: { input_tokens: 12, output_tokens: 3, cache_read_input_tokens: 4, cache_creation_input_tokens: 2 } }));
    const done = await lastValueFrom(anthropicAt(server).stream({ messages: [{ role: 'user', content: 'Hi' }] }).pipe(collect()));
    expect(done).toMatchObject({ text: 'Hello wörld', finishReason: 'length', rawFinishReason: 'max_tokens', requestId: 'req_anthropic_mock' });
    expect(done.usage).toEqual({ inputTokens: 18, outputTokens: 3, totalTokens: 21, cachedInputTokens: 4 });
  });

  it('anthropicChunks without usage: no usage event; no deltas: no text block', async () => {
    server.enqueue(okReply(['a'], {}));
    const events = await lastValueFrom(anthropicAt(server).stream({ messages: [{ role: 'user', content: 'Hi' }] }).pipe(toArray()));
    expect(events.map((e) => e.type)).toEqual(['request', 'response', 'text', 'finish']);
    expect(anthropicChunks([]).map((f) => f.split('\n')[0])).toEqual(['event: message_start', 'event: message_delta', 'event: message_stop']);
  });

  it('anthropicErrorBody: the native shape, typed by status', async () => {
    expect(anthropicErrorBody(529, 'Overloaded')).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect([400, 401, 403, 404, 413, 429, 500, 504, 418].map((s) => anthropicErrorBody(s, 'm').error.type)).toEqual([
      'invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'request_too_large', 'rate_limit_error', 'api_error', 'timeout_error', 'invalid_request_error',
    ]);
    server.enqueue(jsonReply(500, anthropicErrorBody(500, 'Internal server error')));
    const seen = record(anthropicAt(server).stream({ messages: [{ role: 'user', content: 'Hi' }] }));
    await seen.terminal;
    expect(seen.errors[0]).toMatchObject({ code: 'server_error', retryable: true, status: 500, providerCode: 'api_error' });
  });
});

describe('cross-provider fallback', () => {
  it('openaiCompatible answering 503 → fallback(anthropic): one request, the notice, the Anthropic answer, one finish', async () => {
    const primary = await startMockServer();
    try {
      primary.enqueue(jsonReply(503, { error: { message: 'upstream unavailable', type: 'server_error' } }));
      server.enqueue(okReply(['Bonjour', ' !'], { usage: { input_tokens: 9, output_tokens: 2 } }));
      const events = openaiCompatible({ model: 'gpt-x', baseURL: primary.url, apiKey: 'test-key' })
        .stream({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello in French' }] })
        .pipe(fallback(anthropic({ model: 'claude-x', baseURL: server.url, apiKey: 'test-key' })));
      const seen = record(events);
      await seen.terminal;
      expect(seen.errors).toEqual([]);
      expect(seen.completes).toBe(1);
      const types = seen.values.map((e) => e.type);
      expect(types).toEqual(['request', 'fallback', 'response', 'text', 'text', 'usage', 'finish']);
      expect(seen.values[0]).toMatchObject({ type: 'request', model: { provider: 'openai-compatible', id: 'gpt-x' } });
      expect(seen.values[1]).toEqual({ type: 'fallback', from: 'openai-compatible:gpt-x', to: 'anthropic:claude-x', toId: 'claude-x', cause: 'unavailable', reset: false });
      const done = await lastValueFrom(from(seen.values).pipe(collect()));
      expect(done).toMatchObject({ text: 'Bonjour !', finishReason: 'stop', usage: { inputTokens: 9, outputTokens: 2, totalTokens: 11 } });
      // The same request, rendered for Anthropic: the system message hoisted.
      expect(primary.requests).toHaveLength(1);
      expect(server.requests[0]!.json).toMatchObject({ model: 'claude-x', system: 'Be brief.', messages: [{ role: 'user', content: 'Say hello in French' }] });
      expect(server.requests[0]!.headers['x-api-key']).toBe('test-key');
    } finally {
      await primary.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Live

const liveKey = process.env['ANTHROPIC_API_KEY'];
const liveModel = process.env['ANTHROPIC_TEST_MODEL'] ?? 'claude-haiku-4-5';

describe.skipIf(!liveKey)(`live Anthropic (${liveModel}) — runs only with ANTHROPIC_API_KEY`, () => {
  it('streams text, usage and finish', async () => {
    await expectSaysOk(anthropic({ model: liveModel }));
  });

  it('streams a forced tool call', async () => {
    const done = await forcedWeatherCall(anthropic({ model: liveModel }), { maxOutputTokens: 200 });
    expect(done.finishReason).toBe('tool-calls');
  });

  it('reports a wrong key as authentication_failed without echoing it', async () => {
    const wrong = `sk-ant-${'wrong-00000000000000000000000000'}`;
    await expectWrongKeyRejected(anthropic({ model: liveModel, apiKey: wrong }), wrong, { code: 'authentication_failed', status: 401 });
  });
});
