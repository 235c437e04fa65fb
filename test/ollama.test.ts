/**
 * Ollama's native chat API (`POST /api/chat`, NDJSON) through `ollama()`: the recorded stream
 * served whole and one byte per write, the recorded cloud tool call and error body, streams built
 * in Ollama's shape (tool calls, an error line, a cut-off body), connection refused, the request
 * body, configuration, cancellation, and the `ollamaChunks` wire builder end to end.
 */
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { filter, from, lastValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiError, collect, ConnectionError, fetchTransport, InvalidRequestError, isEvent, MalformedStreamError, ollama, parseRequest, type LlmEvent, type LlmRequestInput, type Model } from 'rxllm';
import { ollamaParser, toOllamaBody } from 'rxllm/providers';
import { jsonReply, ollamaChunks, ollamaErrorBody, startMockServer, type MockReply, type MockServer } from 'rxllm/testing';
import { FIXTURES_DIR } from './helpers/fixtures';
import { record, waitFor } from './helpers/observe';
import { errorRenderings, expectNoneContains, expectTakeThreeClosesSocket, thrownConfigurationError } from './helpers/failures';
import {
  bytesOf, errorFactsOrNull, firstMessageContent, expectByteSplitLikeWhole, outcomeIn, errorFacts, joined, parseWire, parserEvents, runStream, servedWholeAndByteSplitBy, snapshotEvents, splitAt, type StreamOutcome,
} from './helpers/wire';

const DIR = join(FIXTURES_DIR, 'ollama');
const TEXT_STREAM = join(DIR, 'chat-stream-text.ndjson');
const CLOUD_TOOL_CALL = join(DIR, 'chat-nonstream-tool-call-cloud.json');
const NO_TOOLS_400 = join(DIR, 'error-400-does-not-support-tools.json');
const API_KEY = `sk-${'test-OLLAMACLOUD1234567890wxyz'}`;


const completion = (events: readonly LlmEvent[]) => lastValueFrom(from(events).pipe(collect()));
const ndjson = (lines: readonly unknown[]): string => lines.map((line) => `${JSON.stringify(line)}\n`).join('');
const ndjsonReply = (body: string, extra: Omit<MockReply, 'body'> = {}): MockReply => ({ status: 200, headers: { 'content-type': 'application/x-ndjson' }, body, ...extra });
const user = (content: string): LlmRequestInput => ({ messages: [{ role: 'user', content }] });

// ---------------------------------------------------------------------------------------------

const recorded = servedWholeAndByteSplitBy(
  [
    { key: 'text', file: TEXT_STREAM },
    { key: 'cloud-tool-call', file: CLOUD_TOOL_CALL },
    { key: 'no-tools-400', file: NO_TOOLS_400 },
  ],
  { model: (server) => ollama({ model: 'gemma3:1b', baseURL: server.origin }), keyOf: firstMessageContent },
);

const outcomeOf = (key: string): { whole: StreamOutcome; byte: StreamOutcome } => outcomeIn(recorded, key);

describe('recorded Ollama bodies over HTTP, whole and one byte per write', () => {
  it.each(['text', 'cloud-tool-call', 'no-tools-400'])('%s: byte-split and whole runs agree', (key) => {
    const { whole, byte } = outcomeOf(key);
    expectByteSplitLikeWhole(byte, whole);
    expect(whole.errors + byte.errors).toBe(whole.completed ? 0 : 2);
    expect({ events: snapshotEvents(whole.events), completed: whole.completed, error: errorFactsOrNull(whole.error) }).toMatchSnapshot();
  });

  it('chat-stream-text.ndjson: the text, usage 16/22, Ollama timing as a metrics notice, finish stop', async () => {
    const { whole } = outcomeOf('text');
    const done = await completion(whole.events);
    expect(done.text).toBe('Okay, here we go!\n\n1, 2, 3, 4, 5\n');
    expect(done.reasoning).toBe('');
    expect(done.usage).toEqual({ inputTokens: 16, outputTokens: 22, totalTokens: 38 });
    expect(done.finishReason).toBe('stop');
    expect(done.rawFinishReason).toBe('stop');
    expect(whole.events.slice(-3).map((e) => e.type)).toEqual(['metrics', 'usage', 'finish']);
    const metrics = whole.events.find(isEvent('metrics'))!;
    expect(metrics).toMatchObject({ outputTokens: 22, final: true, usage: done.usage });
    expect(metrics.elapsedMs).toBeCloseTo(171.946792, 6); // total_duration 171946792 ns
    expect(metrics.tokensPerSecond).toBeCloseTo(22 / 0.105611917, 6); // eval_count / eval_duration
    expect(metrics.ttftMs).toBeUndefined();
    expect(whole.events[1]).toMatchObject({ type: 'response', status: 200 });
  });

  it('chat-nonstream-tool-call-cloud.json as a one-line stream: thinking, one getWeather call with its own id, tool-calls', async () => {
    const { whole } = outcomeOf('cloud-tool-call');
    const done = await completion(whole.events);
    expect(done.reasoning).toBe('User asks about weather in San Francisco. Use function getWeather.');
    expect(done.text).toBe('');
    expect(done.toolCalls).toEqual([{ index: 0, id: 'call_mo1wm122', name: 'getWeather', arguments: '{"location":"San Francisco, CA"}', input: { location: 'San Francisco, CA' } }]);
    expect(done.usage).toEqual({ inputTokens: 145, outputTokens: 44, totalTokens: 189 });
    expect(done.finishReason).toBe('tool-calls');
    expect(done.rawFinishReason).toBe('stop');
    expect(done.requestId).toBe('9da05030-f8a3-4d49-b758-dcf3e5188e76');
    // total_duration without eval_duration: no tokens/s to report, so no metrics notice.
    expect(whole.events.some(isEvent('metrics'))).toBe(false);
  });

  it('error-400-does-not-support-tools.json: ApiError bad_request, not retryable, with the message', () => {
    const { whole } = outcomeOf('no-tools-400');
    expect(whole.events.map((e) => e.type)).toEqual(['request']);
    expect(whole.error).toBeInstanceOf(ApiError);
    expect(errorFacts(whole.error)).toMatchObject({ name: 'ApiError', code: 'bad_request', status: 400, retryable: false, provider: 'ollama' });
    expect((whole.error as Error).message).toBe('ollama 400: registry.ollama.ai/library/gemma3:1b does not support tools');
  });
});

describe('pure decoder + parser on the recorded stream', () => {
  it('split in two at every byte offset: the same events as one piece, and as over HTTP', () => {
    const bytes = bytesOf(TEXT_STREAM);
    const options = { parser: ollamaParser, framing: 'ndjson', provider: 'ollama' } as const;
    const whole = parseWire([bytes], options);
    expect(whole.completed).toBe(true);
    expect(whole.events).toEqual(parserEvents(outcomeOf('text').whole.events));
    const expected = JSON.stringify(whole.events);
    for (let k = 1; k < bytes.length; k++) {
      const split = parseWire(splitAt(bytes, k), options);
      if (!split.completed || JSON.stringify(split.events) !== expected) expect({ k, ...split }).toEqual({ k, ...whole });
    }
  });

  it('lines after done:true are ignored; a body cut before it is a retryable malformed_stream', () => {
    const lines = readFileSync(TEXT_STREAM, 'utf8');
    const extra = parseWire([new TextEncoder().encode(`${lines}{"error":"late"}\n`)], { parser: ollamaParser, framing: 'ndjson', provider: 'ollama' });
    expect(extra.completed).toBe(true);
    const cut = lines.slice(0, lines.lastIndexOf('{"model"'));
    const truncated = parseWire([new TextEncoder().encode(cut)], { parser: ollamaParser, framing: 'ndjson', provider: 'ollama' });
    expect(truncated.completed).toBe(false);
    expect(truncated.error).toBeInstanceOf(MalformedStreamError);
    expect(errorFacts(truncated.error)).toMatchObject({ code: 'malformed_stream', retryable: true, provider: 'ollama' });
    expect(joined(truncated.events, 'text')).toBe('Okay, here we go!\n\n1, 2, 3, 4, 5\n');
  });

  it('an unparsable line is a malformed_stream error, not silence', () => {
    const run = parseWire([new TextEncoder().encode('{"message":{"content":"a"},"done":false}\n{not json}\n')], { parser: ollamaParser, framing: 'ndjson', provider: 'ollama' });
    expect(run.events).toEqual([{ type: 'text', text: 'a' }]);
    expect(errorFacts(run.error)).toMatchObject({ name: 'MalformedStreamError', code: 'malformed_stream', retryable: false });
  });
});

// ---------------------------------------------------------------------------------------------

describe('over HTTP, built streams', () => {
  let server: MockServer;
  let model: Model;
  beforeAll(async () => {
    server = await startMockServer();
    model = ollama({ model: 'gpt-oss:20b', baseURL: server.origin });
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => server.clearRecords());

  const run = (reply: MockReply, request: LlmRequestInput = user('hi')): Promise<StreamOutcome> => {
    server.enqueue(reply);
    return runStream(model.stream(request));
  };

  it('tool calls in the cloud shape (arguments as objects), over several lines: one event each, indices 0 and 1', async () => {
    // The shape of chat-nonstream-tool-call-cloud.json, streamed: thinking, then the calls, then done.
    const base = { model: 'gpt-oss:120b', created_at: '2026-03-03T23:44:44.118089028Z' };
    const body = ndjson([
      { ...base, message: { role: 'assistant', content: '', thinking: 'User asks about weather' }, done: false },
      { ...base, message: { role: 'assistant', content: '', thinking: ' in two cities.' }, done: false },
      { ...base, message: { role: 'assistant', content: '', tool_calls: [{ id: 'call_mo1wm122', function: { index: 0, name: 'getWeather', arguments: { location: 'San Francisco, CA' } } }] }, done: false },
      { ...base, message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'getWeather', arguments: { location: 'Paris', units: { temp: 'C' } } } }] }, done: false },
      { ...base, message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', total_duration: 603200867, prompt_eval_count: 145, eval_count: 44 },
    ]);
    const outcome = await run(ndjsonReply(body, { split: 7 }));
    expect(outcome.error).toBeUndefined();
    const calls = outcome.events.filter(isEvent('tool-call'));
    expect(calls).toEqual([
      { type: 'tool-call', index: 0, id: 'call_mo1wm122', name: 'getWeather', argumentsDelta: '{"location":"San Francisco, CA"}' },
      { type: 'tool-call', index: 1, id: 'call_1', name: 'getWeather', argumentsDelta: '{"location":"Paris","units":{"temp":"C"}}' },
    ]);
    const done = await completion(outcome.events);
    expect(done.reasoning).toBe('User asks about weather in two cities.');
    expect(done.toolCalls.map((c) => c.input)).toEqual([{ location: 'San Francisco, CA' }, { location: 'Paris', units: { temp: 'C' } }]);
    expect(done.finishReason).toBe('tool-calls');
    expect(done.usage).toEqual({ inputTokens: 145, outputTokens: 44, totalTokens: 189 });
  });

  it('an {"error": …} line mid-stream: the text before it, then exactly one ApiError', async () => {
    const body = ndjson([
      { model: 'm', message: { role: 'assistant', content: 'Hello' }, done: false },
      { model: 'm', message: { role: 'assistant', content: ' there' }, done: false },
      { error: 'an error was encountered while running the model: unexpected EOF' },
      { model: 'm', message: { role: 'assistant', content: ' never' }, done: false },
    ]);
    const outcome = await run(ndjsonReply(body));
    expect(outcome.errors).toBe(1);
    expect(outcome.completed).toBe(false);
    expect(joined(outcome.events, 'text')).toBe('Hello there');
    expect(outcome.events.some(isEvent('finish'))).toBe(false);
    expect(outcome.error).toBeInstanceOf(ApiError);
    expect(errorFacts(outcome.error)).toMatchObject({ code: 'api_error', retryable: false, provider: 'ollama' });
    expect((outcome.error as Error).message).toBe('ollama: an error was encountered while running the model: unexpected EOF');
  });

  it('done_reason length → finish length; a 404 for an unknown model → ApiError not_found', async () => {
    const length = await run(ndjsonReply(ollamaChunks(['a', 'b'], { finishReason: 'length' }).join('')));
    expect((await completion(length.events)).finishReason).toBe('length');
    const missing = await run(jsonReply(404, { error: 'model "llama9" not found, try pulling it first' }));
    expect(errorFacts(missing.error)).toMatchObject({ name: 'ApiError', code: 'not_found', status: 404, retryable: false });
    expect((missing.error as Error).message).toContain('try pulling it first');
  });

  it('unsubscribing mid-stream closes the socket (the server records the close mid-response)', async () => {
    const deltas = Array.from({ length: 200 }, (_, i) => ` w${i}`);
    const chunks = ollamaChunks(deltas);
    await expectTakeThreeClosesSocket(server, model.stream(user('count')), { headers: { 'content-type': 'application/x-ndjson' }, chunks, chunkDelayMs: 20 }, [' w0', ' w1', ' w2']);
  });

  it('a manual unsubscribe during a stall closes the socket too', async () => {
    server.enqueue({ headers: { 'content-type': 'application/x-ndjson' }, chunks: ollamaChunks(['a', 'b', 'c', 'd']), stallAfterChunks: 2 });
    const seen = record(model.stream(user('stall')).pipe(filter(isEvent('text'))));
    await waitFor(() => seen.values.length >= 2, '2 text events before the stall');
    seen.subscription.unsubscribe();
    const connection = await server.waitForClose(server.requests[0]!.connectionId);
    expect(connection.closedMidResponse).toBe(true);
    expect(seen.errors).toEqual([]);
  });

  it('the request on the wire: POST /api/chat, JSON + NDJSON headers, no authorization without a key', async () => {
    await run(ndjsonReply(ollamaChunks(['ok']).join('')));
    const [received] = server.requests;
    expect(received).toMatchObject({ method: 'POST', url: '/api/chat' });
    expect(received!.headers).toMatchObject({ 'content-type': 'application/json', accept: 'application/x-ndjson' });
    expect(received!.headers).not.toHaveProperty('authorization');
    expect(received!.json).toEqual({ model: 'gpt-oss:20b', messages: [{ role: 'user', content: 'hi' }], stream: true });
  });

  it('apiKey (ollama.com cloud) goes as Bearer, keepAlive as keep_alive; a 401 echoing the key leaks it nowhere', async () => {
    const cloud = ollama({ model: 'gpt-oss:120b', baseURL: `${server.origin}/`, apiKey: API_KEY, keepAlive: '10m', headers: { 'X-Team': 'search' } });
    server.enqueue(ndjsonReply(ollamaChunks(['ok']).join('')));
    await runStream(cloud.stream(user('hi')));
    expect(server.requests[0]!.url).toBe('/api/chat');
    expect(server.requests[0]!.headers).toMatchObject({ authorization: `Bearer ${API_KEY}`, 'x-team': 'search' });
    expect(server.requests[0]!.json).toMatchObject({ keep_alive: '10m' });
    server.enqueue(jsonReply(401, ollamaErrorBody(401, `unauthorized: key ${API_KEY} is not valid`)));
    const outcome = await runStream(cloud.stream(user('hi')));
    expect(errorFacts(outcome.error)).toMatchObject({ code: 'authentication_failed', status: 401, retryable: false });
    expectNoneContains({ ...errorRenderings(outcome.error), events: JSON.stringify(outcome.events), model: inspect(cloud, { depth: 10 }) }, [API_KEY, API_KEY.slice(-8)]);
  });

  it('ollamaChunks() played through ollama(): the text, usage and finish it says', async () => {
    const outcome = await run({ headers: { 'content-type': 'application/x-ndjson' }, chunks: ollamaChunks(['Hel', 'lo', ', wor', 'ld'], { model: 'sim', usage: { inputTokens: 7, outputTokens: 4 } }) });
    const done = await completion(outcome.events);
    expect(done.text).toBe('Hello, world');
    expect(done.usage).toEqual({ inputTokens: 7, outputTokens: 4, totalTokens: 11 });
    expect(done.finishReason).toBe('stop');
    const metrics = outcome.events.find(isEvent('metrics'))!;
    expect(metrics).toMatchObject({ outputTokens: 4, tokensPerSecond: 50, final: true }); // 20 ms per token
    const bare = await run({ chunks: ollamaChunks(['x'], { usage: false }) });
    expect(parserEvents(bare.events).map((e) => e.type)).toEqual(['text', 'finish']);
    expect(ollamaErrorBody(500, 'boom')).toEqual({ error: 'boom' });
  });
});

describe('connection refused: Ollama is not running', () => {
  let closedPort: number;
  beforeAll(async () => {
    // A port that was just free: bind it, note it, close it — nothing listens there now.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  it.each([
    ['undici (default)', undefined],
    ['fetch', fetchTransport()],
  ] as const)('%s: one ConnectionError naming the URL and `ollama serve`, retryable', async (_name, transport) => {
    const baseURL = `http://127.0.0.1:${closedPort}`;
    const model = ollama({ model: 'llama3.2', baseURL, ...(transport ? { transport } : {}) });
    const outcome = await runStream(model.stream(user('hi')));
    expect(outcome.errors).toBe(1);
    expect(outcome.events.map((e) => e.type)).toEqual(['request']);
    expect(outcome.error).toBeInstanceOf(ConnectionError);
    const error = outcome.error as ConnectionError;
    expect(error).toMatchObject({ code: 'connection_failed', retryable: true, provider: 'ollama' });
    expect(error.message).toBe(`ollama: connection refused at ${baseURL}: Ollama is not running there. Start it with \`ollama serve\` (or open the Ollama app), or point baseURL / OLLAMA_HOST at the server`);
  });
});

// ---------------------------------------------------------------------------------------------

describe('toOllamaBody: the request on the wire', () => {
  const info = ollama({ model: 'qwen3:8b', baseURL: 'http://127.0.0.1:11434' }).info;

  it('maps a whole conversation: roles, tool calls as objects, tool_name by id, tools, options, format, keep_alive', () => {
    const request = parseRequest({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Weather in Paris and Rome?', name: 'ann' },
        {
          role: 'assistant',
          content: 'Checking.',
          toolCalls: [
            { id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } },
            { id: 'call_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
          ],
        },
        { role: 'tool', toolCallId: 'call_1', content: '{"tempC":21}' },
        { role: 'tool', toolCallId: 'call_2', content: '{"tempC":25}' },
        { role: 'assistant', content: 'Paris 21 °C, Rome 25 °C.' },
        { role: 'user', content: [{ type: 'text', text: 'And ' }, { type: 'text', text: 'tomorrow?' }] },
      ],
      tools: [
        { name: 'get_weather', description: 'Current weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true },
        { name: 'noop' },
      ],
      temperature: 0.2,
      topP: 0.9,
      maxOutputTokens: 256,
      stop: 'END',
      seed: 7,
      responseFormat: { type: 'json', schema: { type: 'object', properties: { tempC: { type: 'number' } }, required: ['tempC'] } },
      metadata: { tenant: 'acme-tenant' },
      providerOptions: { ollama: { think: true, options: { num_ctx: 8192 } }, openai: { reasoning_effort: 'low' } },
    });
    const body = toOllamaBody(request, info, { keepAlive: -1 });
    expect(body).toMatchInlineSnapshot(`
      {
        "format": {
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
        "keep_alive": -1,
        "messages": [
          {
            "content": "You are terse.",
            "role": "system",
          },
          {
            "content": "Weather in Paris and Rome?",
            "role": "user",
          },
          {
            "content": "Checking.",
            "role": "assistant",
            "tool_calls": [
              {
                "function": {
                  "arguments": {
                    "city": "Paris",
                  },
                  "name": "get_weather",
                },
              },
              {
                "function": {
                  "arguments": {
                    "city": "Rome",
                  },
                  "name": "get_weather",
                },
              },
            ],
          },
          {
            "content": "{"tempC":21}",
            "role": "tool",
            "tool_name": "get_weather",
          },
          {
            "content": "{"tempC":25}",
            "role": "tool",
            "tool_name": "get_weather",
          },
          {
            "content": "Paris 21 °C, Rome 25 °C.",
            "role": "assistant",
          },
          {
            "content": "And tomorrow?",
            "role": "user",
          },
        ],
        "model": "qwen3:8b",
        "options": {
          "num_ctx": 8192,
          "num_predict": 256,
          "seed": 7,
          "stop": [
            "END",
          ],
          "temperature": 0.2,
          "top_p": 0.9,
        },
        "stream": true,
        "think": true,
        "tools": [
          {
            "function": {
              "description": "Current weather for a city",
              "name": "get_weather",
              "parameters": {
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
            },
            "type": "function",
          },
          {
            "function": {
              "name": "noop",
              "parameters": {
                "properties": {},
                "type": "object",
              },
            },
            "type": "function",
          },
        ],
      }
    `);
    expect(JSON.stringify(body)).not.toContain('acme-tenant');
  });

  it('JSON mode without a schema → format "json"; toolChoice none → no tools; { name } → only that tool', () => {
    const tools = [{ name: 'a' }, { name: 'b' }];
    expect(toOllamaBody(parseRequest({ ...user('x'), responseFormat: { type: 'json' } }), info)).toMatchObject({ format: 'json' });
    expect(toOllamaBody(parseRequest({ ...user('x'), tools, toolChoice: 'none' }), info)).not.toHaveProperty('tools');
    const only = toOllamaBody(parseRequest({ ...user('x'), tools, toolChoice: { name: 'b' } }), info);
    expect((only['tools'] as Array<{ function: { name: string } }>).map((t) => t.function.name)).toEqual(['b']);
    const minimal = toOllamaBody(parseRequest(user('x')), info);
    expect(minimal).toEqual({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'x' }], stream: true });
  });

  it('tool-call arguments that are not a JSON object → InvalidRequestError on subscribe, before any I/O', async () => {
    const server = await startMockServer();
    try {
      const model = ollama({ model: 'm', baseURL: server.origin });
      const outcome = await runStream(
        model.stream({ messages: [user('x').messages[0]!, { role: 'assistant', toolCalls: [{ id: 'c', name: 'f', arguments: '[1, 2]' }] }, { role: 'tool', toolCallId: 'c', content: 'ok' }] }),
      );
      expect(outcome.error).toBeInstanceOf(InvalidRequestError);
      expect(outcome.error).toMatchObject({ code: 'invalid_request', field: 'messages[1].toolCalls[0].arguments' });
      expect((outcome.error as Error).message).toContain('JSON object');
      expect(outcome.events.map((e) => e.type)).toEqual(['request']);
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.close();
    }
  });
});

describe('ollama() configuration', () => {
  afterEach(() => vi.unstubAllEnvs());

  const configError = thrownConfigurationError;

  it('defaults to http://127.0.0.1:11434 without OLLAMA_HOST', () => {
    vi.stubEnv('OLLAMA_HOST', '');
    expect(ollama({ model: 'llama3.2' }).info).toEqual({ provider: 'ollama', id: 'llama3.2', name: 'ollama:llama3.2', baseURL: 'http://127.0.0.1:11434' });
  });

  it.each([
    ['0.0.0.0', 'http://127.0.0.1:11434'],
    ['0.0.0.0:11500', 'http://127.0.0.1:11500'],
    ['gpu-box', 'http://gpu-box:11434'],
    ['gpu-box:8080', 'http://gpu-box:8080'],
    ['[::1]:11434', 'http://[::1]:11434'],
    ['https://ollama.example.com/', 'https://ollama.example.com'],
    ['http://10.0.0.5:11434', 'http://10.0.0.5:11434'],
  ])('OLLAMA_HOST=%s → %s', (host, expected) => {
    vi.stubEnv('OLLAMA_HOST', host);
    expect(ollama({ model: 'm' }).info.baseURL).toBe(expected);
    // An explicit baseURL wins over the environment.
    expect(ollama({ model: 'm', baseURL: 'http://127.0.0.1:9/' }).info.baseURL).toBe('http://127.0.0.1:9');
  });

  it('a bad OLLAMA_HOST names the variable and does not echo credentials', () => {
    vi.stubEnv('OLLAMA_HOST', 'http://admin:hunter2-secret@gpu-box:11434');
    const error = configError(() => ollama({ model: 'm' }));
    expect(error.message).toMatch(/^ollama\(\): OLLAMA_HOST: expected host:port or an http\(s\) URL/);
    expect(error.message).not.toContain('hunter2');
  });

  it('bad options throw at construction, naming the field', () => {
    expect(configError(() => ollama({ model: '' })).message).toMatch(/^ollama\(\): model: expected a model name/);
    expect(configError(() => ollama({ model: 'm', baseURL: 'localhost:11434' })).message).toMatch(/^ollama\(\): baseURL: expected an http\(s\) URL/);
    expect(configError(() => ollama({ model: 'm', keepAlive: true as never })).message).toMatch(/^ollama\(\): keepAlive: expected a duration/);
    expect(configError(() => ollama({ model: 'm', temperature: 1 } as never)).message).toMatch(/^ollama\(\): temperature: /);
    const keyed = configError(() => ollama({ model: '', apiKey: API_KEY }));
    expect(JSON.stringify(keyed) + keyed.message + String(keyed.stack)).not.toContain(API_KEY);
  });
});
