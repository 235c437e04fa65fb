/**
 * HTTP faults over loopback, each as a regression test: informational 1xx answers before the
 * real one, bodies cut inside a line or at a boundary, an event that never ends (the buffer cap),
 * 200 answers that are not a stream (a web page, one JSON document, an empty or content-encoded
 * body), `providerOptions` that try to replace the fields rxllm owns, and the browser fetch
 * failures that cannot be told from a network error by their message.
 */
import { gzipSync } from 'node:zlib';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  anthropic, ApiError, collect, ConnectionError, fetchTransport, gemini, InvalidRequestError, isRetryable, LlmError, MalformedStreamError, ollama, openai, openaiCompatible, openaiResponses,
  undiciTransport, type LlmEvent, type LlmRequestInput, type Model,
} from 'rxllm';
import { createEventStream, openaiChatParser, runHttpStream, type Transport } from 'rxllm/providers';
import { jsonReply, ollamaChunks, openaiChunks, openaiTextReply, startMockServer, type MockReply, type MockServer } from 'rxllm/testing';
import { classifyFetchFailure } from '../src/http/fetch';
import { ndjsonDecoder, sseDecoder } from '../src/http/sse';
import { errorRenderings, expectNoneContains, oneFailure } from './helpers/failures';
import { record } from './helpers/observe';

/** A fake key, unique enough that any trace of it in an error is a leak. */
const API_KEY = `sk-${'test-HTTPFAULTS1234567890abcdef'}`;
const KEY_TAIL = API_KEY.slice(-8);
const SSE = { 'content-type': 'text/event-stream' } as const;
const NDJSON = { 'content-type': 'application/x-ndjson' } as const;
const request: LlmRequestInput = { messages: [{ role: 'user', content: 'Hello?' }] };

let server: MockServer;
beforeAll(async () => {
  server = await startMockServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.clearRecords();
});

function compatible(transport?: Transport): Model {
  return openaiCompatible({ model: 'mock-model', baseURL: server.url, apiKey: API_KEY, ...(transport ? { transport } : {}) });
}
function local(): Model {
  return ollama({ model: 'llama3.2', baseURL: server.origin });
}

/** One call that must fail: one terminal, typed, no trace of the key. Returns the error, the events before it and the request's connection id. */
async function failure(model: Model, reply: MockReply): Promise<{ error: LlmError; events: LlmEvent[]; connection: number }> {
  const before = server.requests.length;
  server.enqueue(reply);
  const { error, events } = await oneFailure(model.stream(request), 50);
  expectNoneContains(errorRenderings(error), [API_KEY, KEY_TAIL, /Bearer/i]);
  return { error, events, connection: server.requests[before]!.connectionId };
}

const joinedText = (events: readonly LlmEvent[]): string => events.map((e) => (e.type === 'text' ? e.text : '')).join('');
const bodyOf = (chunks: readonly string[]): string => chunks.join('');

// ---------------------------------------------------------------------------------------------

describe('informational 1xx answers before the final one', () => {
  const hints = [{ status: 103 as const, headers: { link: '</style.css>; rel=preload; as=style' } }, { status: 102 as const }];

  it.each([
    ['undici', undefined],
    ['fetch', fetchTransport()],
  ])('103 Early Hints and 102 Processing before the 200 are skipped and the answer streams (%s)', async (_name, transport) => {
    server.enqueue(openaiTextReply('Hello there', { informational: hints }));
    const events = await lastValueFrom(compatible(transport).stream(request).pipe(collect()));
    expect(events).toMatchObject({ text: 'Hello there', finishReason: 'stop' });
  });

  it('the response event carries the final status, 200, not the 1xx', async () => {
    server.enqueue(openaiTextReply('Hi', { informational: hints }));
    const seen = record(compatible().stream(request));
    await seen.terminal;
    expect(seen.completes).toBe(1);
    expect(seen.values.filter((e) => e.type === 'response')).toEqual([expect.objectContaining({ status: 200, requestId: 'req_mock' })]);
  });

  it('a 429 after a 102 is the rate limit, with its status', async () => {
    const { error } = await failure(compatible(), { ...jsonReply(429, { error: { message: 'slow down', type: 'rate_limit_error' } }, { 'retry-after': '1' }), informational: [{ status: 102 }] });
    expect(error).toMatchObject({ name: 'RateLimitError', status: 429, retryable: true, retryAfterMs: 1000 });
  });
});

// ---------------------------------------------------------------------------------------------

describe('a body cut short is a truncation (retryable), wherever the cut falls', () => {
  // Two deltas, then the finish chunk, usage and [DONE]: the cuts fall inside the second delta's frame.
  const frames = openaiChunks(['Hello', ' world'], { usage: { prompt_tokens: 3, completion_tokens: 2 } });
  const second = frames[0]!.length; // where the second frame starts
  const secondLine = frames[1]!.length - 2; // its data line, without the blank line
  const cuts = {
    'inside the JSON of a data line': second + 30,
    'inside the "data:" field name': second + 3,
    'at the end of a data line, before its newline': second + secondLine,
    'after a data line, before its blank line': second + secondLine + 1,
    'at an event boundary': second + frames[1]!.length,
  } as const;
  const body = bodyOf(frames);

  it.each(Object.entries(cuts))('SSE (OpenAI) cut %s → malformed_stream, retryable', async (_where, at) => {
    const { error, events } = await failure(compatible(), { headers: SSE, chunks: [body.slice(0, at)] });
    expect(error).toBeInstanceOf(MalformedStreamError);
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: true, provider: 'openai-compatible' });
    expect(error.message).toMatch(/truncated response/);
    expect(joinedText(events).startsWith('Hello')).toBe(true);
  });

  it('SSE (OpenAI) cut inside the usage chunk after the finish reason → truncation too (the usage was lost)', async () => {
    const at = frames[0]!.length + frames[1]!.length + frames[2]!.length + 20;
    const { error, events } = await failure(compatible(), { headers: SSE, chunks: [body.slice(0, at)] });
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: true });
    expect(joinedText(events)).toBe('Hello world');
  });

  it('SSE: a complete, well-terminated event that is garbage is still not retryable', async () => {
    const { error } = await failure(compatible(), { headers: SSE, chunks: [frames[0]!, 'data: {not json at all}\n\n', ...frames.slice(1)] });
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: false });
    expect(error.message).toContain('unparsable stream chunk');
  });

  it('SSE: a last event without its blank line is still read when it is whole (a sloppy server)', async () => {
    const sloppy = body.replace(/\n\n$/, '');
    server.enqueue({ headers: SSE, body: sloppy });
    const done = await lastValueFrom(compatible().stream(request).pipe(collect()));
    expect(done).toMatchObject({ text: 'Hello world', finishReason: 'stop' });
  });

  const lines = ollamaChunks(['Hello', ' world']);
  const ndjsonBody = bodyOf(lines);
  const ndjsonCuts = {
    'inside a line': lines[0]!.length + 25,
    'at a line boundary': lines[0]!.length + lines[1]!.length,
    'at the end of a whole line, before its newline': lines[0]!.length + lines[1]!.length - 1,
  } as const;

  it.each(Object.entries(ndjsonCuts))('NDJSON (Ollama) cut %s → malformed_stream, retryable', async (_where, at) => {
    const { error, events } = await failure(local(), { headers: NDJSON, chunks: [ndjsonBody.slice(0, at)] });
    expect(error).toBeInstanceOf(MalformedStreamError);
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: true, provider: 'ollama' });
    expect(error.message).toMatch(/truncated response/);
    expect(joinedText(events).startsWith('Hello')).toBe(true);
  });

  it('NDJSON: a complete line that is garbage is still not retryable', async () => {
    const { error } = await failure(local(), { headers: NDJSON, chunks: [lines[0]!, 'this is not json\n', ...lines.slice(1)] });
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: false });
    expect(error.message).toContain('unparsable stream line');
  });
});

// ---------------------------------------------------------------------------------------------

describe('an event that never ends: the buffer is capped', () => {
  const MB = 1024 * 1024;
  /** `size` bytes of one SSE data line that never ends, in 64 KiB writes. */
  const endlessLine = (size: number): Uint8Array[] => {
    const bytes = Buffer.alloc(size, 'x');
    bytes.write('data: {"choices":[{"delta":{"content":"', 0);
    const out: Uint8Array[] = [];
    for (let i = 0; i < size; i += 64 * 1024) out.push(bytes.subarray(i, i + 64 * 1024));
    return out;
  };

  it('a 20 MB SSE line → malformed_stream naming the limit, not retryable, and the socket is closed', async () => {
    const chunks = endlessLine(20 * 1000 * 1000);
    const { error, connection } = await failure(compatible(), { headers: SSE, chunks });
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: false });
    expect(error.message).toContain(`maxEventSize ${16 * MB}`);
    const closed = await server.waitForClose(connection);
    expect(closed.closedMidResponse).toBe(true);
    expect(closed.bytesWritten).toBeLessThan(20 * 1000 * 1000);
  });

  it('a 20 MB NDJSON line (Ollama) → the same', async () => {
    const bytes = Buffer.alloc(20 * 1000 * 1000, 'y');
    bytes.write('{"message":{"content":"', 0);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 64 * 1024) chunks.push(bytes.subarray(i, i + 64 * 1024));
    const { error, connection } = await failure(local(), { headers: NDJSON, chunks });
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: false, provider: 'ollama' });
    expect(error.message).toMatch(/NDJSON line passed 16777216 characters/);
    expect((await server.waitForClose(connection)).closedMidResponse).toBe(true);
  });

  it('with a 1 MiB limit, a 20 MB line costs the heap well under its size', async () => {
    const chunks = endlessLine(20 * 1000 * 1000);
    server.enqueue({ headers: SSE, chunks });
    const info = { provider: 'capped', id: 'mock-model', name: 'capped:mock-model' };
    const stream = createEventStream(request, info, (subscriber) =>
      runHttpStream(subscriber, {
        info,
        transport: undiciTransport(),
        http: { url: `${server.url}/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
        framing: 'sse',
        parser: openaiChatParser,
        maxEventSize: MB,
      }),
    );
    globalThis.gc?.();
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 2);
    const { error } = await oneFailure(stream, 20);
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: false });
    expect(error.message).toContain(`maxEventSize ${MB}`);
    expect(peak - base).toBeLessThan(10 * 1000 * 1000);
    expect((await server.waitForClose(server.requests[0]!.connectionId)).closedMidResponse).toBe(true);
  });

  it('the decoders call onOversize once, for a long line and for an event of many data lines, then ignore the rest', () => {
    const calls: number[] = [];
    const sse = sseDecoder(() => calls.push(-1), { maxEventSize: 100, onOversize: (limit) => calls.push(limit) });
    sse.push(new TextEncoder().encode(`data: ${'a'.repeat(60)}`));
    sse.push(new TextEncoder().encode('b'.repeat(60)));
    sse.push(new TextEncoder().encode('\n\n'));
    sse.end();
    expect(calls).toEqual([100]);

    calls.length = 0;
    const many = sseDecoder(() => calls.push(-1), { maxEventSize: 100, onOversize: (limit) => calls.push(limit) });
    for (let i = 0; i < 20; i++) many.push(new TextEncoder().encode('data: 0123456789\n'));
    expect(calls).toEqual([100]);

    calls.length = 0;
    const lines = ndjsonDecoder(() => calls.push(-1), { maxEventSize: 100, onOversize: (limit) => calls.push(limit) });
    lines.push(new TextEncoder().encode(`{"a":1}\n${'c'.repeat(101)}`));
    lines.push(new TextEncoder().encode('}\n{"b":2}\n'));
    lines.end();
    expect(calls).toEqual([-1, 100]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('a 200 that is not a stream says what it is', () => {
  const portal = `<!DOCTYPE html><html><head><title>Sign in to CafeWifi</title></head><body>Welcome! Your token: ${API_KEY}</body></html>`;

  it('a web page (text/html) → malformed_stream, not retryable, naming what was expected and quoting the page (redacted)', async () => {
    const { error, events } = await failure(compatible(), { headers: { 'content-type': 'text/html; charset=utf-8' }, body: portal });
    expect(error).toBeInstanceOf(MalformedStreamError);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('expected text/event-stream');
    expect(error.message).toContain('got a web page (text/html; charset=utf-8, HTTP 200)');
    expect(error.message).toContain('is baseURL right?');
    expect(error.message).toContain('Sign in to CafeWifi');
    expect(error.message).toContain(`${server.origin}/v1/chat/completions`);
    expect(events.map((e) => e.type)).toEqual(['request', 'response']);
  });

  it('a web page without a content type is known by its "<"', async () => {
    const { error } = await failure(compatible(), { body: `\n  ${portal}` });
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: false });
    expect(error.message).toContain('got a web page (no content-type, HTTP 200)');
  });

  it('a web page for Ollama (NDJSON) → the same, expecting application/x-ndjson', async () => {
    const { error } = await failure(local(), { headers: { 'content-type': 'text/html' }, body: portal });
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: false, provider: 'ollama' });
    expect(error.message).toContain('expected application/x-ndjson');
  });

  it('a huge web page is not read to its end: the call stops at 64 KiB and the socket is closed', async () => {
    const big = `<html><body>${'<p>filler</p>'.repeat(100_000)}</body></html>`;
    const { error, connection } = await failure(compatible(), { headers: { 'content-type': 'text/html' }, body: big, split: 16 * 1024 });
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: false });
    expect((await server.waitForClose(connection)).closedMidResponse).toBe(true);
  });

  it('one JSON document where a stream was expected → malformed_stream, not retryable, saying the server did not stream', async () => {
    const completion = { id: 'chatcmpl-1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }] };
    const { error } = await failure(compatible(), jsonReply(200, completion));
    expect(error).toMatchObject({ name: 'MalformedStreamError', code: 'malformed_stream', retryable: false });
    expect(error.message).toContain('expected a stream (text/event-stream)');
    expect(error.message).toContain('got a single JSON document (application/json, HTTP 200)');
    expect(error.message).toContain('"stream"');
    expect(error.message).toContain('chat.completion');
  });

  it('a JSON body with an error object in a 200 is the provider\'s error', async () => {
    const { error } = await failure(compatible(), jsonReply(200, { error: { message: 'The model `gpt-9` does not exist', type: 'invalid_request_error', code: 'model_not_found' } }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'api_error', retryable: false, providerCode: 'model_not_found' });
    expect(error.message).toContain('The model `gpt-9` does not exist');

    const { error: busy } = await failure(compatible(), { ...jsonReply(200, { error: { message: 'upstream overloaded', type: 'server_error' } }), headers: { 'content-type': 'application/json', 'x-request-id': 'req_busy' } });
    expect(busy).toMatchObject({ name: 'ApiError', retryable: true, requestId: 'req_busy' });
  });

  it('a JSON error body labelled text/event-stream is still the provider\'s error', async () => {
    const { error } = await failure(compatible(), { headers: SSE, body: JSON.stringify({ error: { message: 'bad key', code: 'invalid_api_key' } }) });
    expect(error).toMatchObject({ name: 'ApiError', code: 'authentication_failed', retryable: false });
  });

  it('an empty 200 → malformed_stream, retryable (a gateway whose upstream failed after the headers), saying it was empty', async () => {
    const { error } = await failure(compatible(), { headers: SSE });
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: true });
    expect(error.message).toContain('HTTP 200 with an empty body (text/event-stream)');
    const { error: blank } = await failure(local(), { headers: NDJSON, body: '\n\n  \n' });
    expect(blank).toMatchObject({ code: 'malformed_stream', retryable: true });
    expect(blank.message).toContain('empty body');
  });

  it('plain text with no SSE event in it → malformed_stream, not retryable, quoting it', async () => {
    const { error } = await failure(compatible(), { headers: { 'content-type': 'text/plain' }, body: 'OK\n' });
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: false });
    expect(error.message).toContain('got text/plain (HTTP 200) without a single SSE event in it');
    expect(error.message).toContain('"OK"');
  });

  it('a stream that opens with a byte order mark split across writes still streams, whole', async () => {
    const bom = Uint8Array.of(0xef, 0xbb, 0xbf);
    const sse = new TextEncoder().encode(bodyOf(openaiChunks(['marked'])));
    server.enqueue({ headers: SSE, chunks: [bom.subarray(0, 1), Buffer.concat([bom.subarray(1), sse])] });
    expect(await lastValueFrom(compatible().stream(request).pipe(collect()))).toMatchObject({ text: 'marked', finishReason: 'stop' });
    const ndjson = new TextEncoder().encode(bodyOf(ollamaChunks(['marked'])));
    server.enqueue({ headers: NDJSON, chunks: [bom.subarray(0, 2), Buffer.concat([bom.subarray(2), ndjson])] });
    expect(await lastValueFrom(local().stream(request).pipe(collect()))).toMatchObject({ text: 'marked', finishReason: 'stop' });
  });

  it('a real SSE stream with a wrong content type still streams', async () => {
    server.enqueue({ headers: { 'content-type': 'application/json' }, chunks: openaiChunks(['fine']) });
    expect(await lastValueFrom(compatible().stream(request).pipe(collect()))).toMatchObject({ text: 'fine', finishReason: 'stop' });
  });

  it('a gzip body the request did not ask for → malformed_stream, not retryable, naming the coding; the socket is closed (undici)', async () => {
    const { error, connection } = await failure(compatible(), { headers: SSE, contentEncoding: 'gzip', body: gzipSync(bodyOf(openaiChunks(['zipped']))), chunkDelayMs: 50, split: 8 });
    expect(error).toMatchObject({ code: 'malformed_stream', retryable: false });
    expect(error.message).toContain('got a gzip-encoded body (content-encoding: gzip)');
    expect(error.message).toContain('fetchTransport()');
    expect((await server.waitForClose(connection)).closedMidResponse).toBe(true);
  });

  it('fetch decodes the content coding itself: the same gzip body streams', async () => {
    server.enqueue({ headers: SSE, contentEncoding: 'gzip', body: gzipSync(bodyOf(openaiChunks(['zipped']))) });
    expect(await lastValueFrom(compatible(fetchTransport()).stream(request).pipe(collect()))).toMatchObject({ text: 'zipped', finishReason: 'stop' });
  });

  it('a gzip error body is not quoted as text', async () => {
    const { error } = await failure(compatible(), { status: 500, headers: { 'content-type': 'application/json' }, contentEncoding: 'gzip', body: gzipSync('{"error":{"message":"boom"}}') });
    expect(error).toMatchObject({ name: 'ApiError', status: 500, retryable: true });
    expect(error.message).toContain('gzip-encoded body');
  });
});

// ---------------------------------------------------------------------------------------------

describe('providerOptions cannot change the body fields rxllm owns', () => {
  const gpt = (): Model => openai({ model: 'gpt-test', baseURL: server.url, apiKey: API_KEY });
  const claude = (): Model => anthropic({ model: 'claude-test', baseURL: server.url, apiKey: API_KEY });

  /** The call must fail with an InvalidRequestError on `field`, after the request event, with nothing sent. */
  async function refused(model: Model, providerOptions: Record<string, Record<string, unknown>>, field: string): Promise<InvalidRequestError> {
    const seen = record(model.stream({ ...request, providerOptions }));
    await seen.terminal;
    expect(seen.values.map((e) => e.type)).toEqual(['request']);
    expect(seen.errors).toHaveLength(1);
    expect(seen.completes).toBe(0);
    const error = seen.errors[0] as InvalidRequestError;
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ code: 'invalid_request', retryable: false, field });
    expect(error.message).toContain(`${field}: rxllm sets`);
    expect(server.requests).toHaveLength(0);
    return error;
  }

  it.each([
    ['stream', false, 'rxllm reads every answer as a stream'],
    ['model', 'gpt-other', 'choose the model with the factory'],
    ['messages', [{ role: 'user', content: 'other' }], "built from the request's messages"],
    ['stream_options', { include_usage: false }, 'include_usage stays true'],
  ])('OpenAI: %s → InvalidRequestError before any I/O', async (key, value, why) => {
    const error = await refused(gpt(), { openai: { [key]: value } }, `providerOptions.openai.${key}`);
    expect(error.message).toContain(why);
  });

  it('openaiCompatible: the field path names the provider key that was used', async () => {
    const groq = openaiCompatible({ name: 'groq', model: 'llama', baseURL: server.url, apiKey: API_KEY });
    await refused(groq, { groq: { stream: false } }, 'providerOptions.groq.stream');
  });

  it.each([
    ['stream', false],
    ['model', 'claude-other'],
    ['messages', []],
  ])('Anthropic: %s → InvalidRequestError before any I/O', async (key, value) => {
    await refused(claude(), { anthropic: { [key]: value } }, `providerOptions.anthropic.${key}`);
  });

  it('Ollama, Gemini and the Responses API refuse theirs too', async () => {
    await refused(local(), { ollama: { stream: false } }, 'providerOptions.ollama.stream');
    await refused(gemini({ model: 'gemini-test', apiKey: API_KEY, baseURL: server.url }), { gemini: { contents: [] } }, 'providerOptions.gemini.contents');
    await refused(openaiResponses({ model: 'gpt-test', baseURL: server.url, apiKey: API_KEY }), { 'openai-responses': { input: 'other' } }, 'providerOptions.openai-responses.input');
  });

  it('the values rxllm sends anyway, extra stream options and every other field pass', async () => {
    server.enqueue(openaiTextReply('ok'));
    const providerOptions = { openai: { stream: true, model: 'gpt-test', stream_options: { include_obfuscation: false }, reasoning_effort: 'low', temperature: 0.5 } };
    expect(await lastValueFrom(gpt().stream({ ...request, providerOptions }).pipe(collect()))).toMatchObject({ text: 'ok' });
    expect(server.requests[0]!.json).toMatchObject({ model: 'gpt-test', stream: true, stream_options: { include_obfuscation: false, include_usage: true }, reasoning_effort: 'low', temperature: 0.5 });
  });
});

// ---------------------------------------------------------------------------------------------

describe('browser fetch failures: CORS is told from the network where it can be', () => {
  const browsers = {
    Chrome: () => new TypeError('Failed to fetch'),
    Firefox: () => new TypeError('NetworkError when attempting to fetch resource.'),
    Safari: () => new TypeError('Load failed'),
  } as const;
  const API = 'https://api.example.com/v1/chat/completions';

  it.each(Object.entries(browsers))('classifyFetchFailure reads %s\'s message', (_browser, make) => {
    expect(classifyFetchFailure(make(), API, { pageOrigin: 'https://app.example.com', online: true })).toBe('cross-origin');
    expect(classifyFetchFailure(make(), API, { pageOrigin: 'https://api.example.com', online: true })).toBe('network');
    expect(classifyFetchFailure(make(), API, { pageOrigin: 'null' })).toBe('cross-origin');
    expect(classifyFetchFailure(make(), API, { pageOrigin: 'https://app.example.com', online: false })).toBe('offline');
    expect(classifyFetchFailure(make(), API, {})).toBe('network');
  });

  it('classifyFetchFailure leaves every other error alone', () => {
    const context = { pageOrigin: 'https://app.example.com', online: true };
    expect(classifyFetchFailure(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), API, context)).toBeUndefined();
    expect(classifyFetchFailure(new DOMException('The operation was aborted.', 'AbortError'), API, context)).toBeUndefined();
    expect(classifyFetchFailure(new Error('Failed to fetch'), API, context)).toBeUndefined();
    expect(classifyFetchFailure('Failed to fetch', API, context)).toBeUndefined();
  });

  /** Runs `body` as if in a page at `origin` (a `location` global), with `navigator.onLine` = `online`. */
  async function inPage<T>(origin: string, online: boolean, body: () => Promise<T>): Promise<T> {
    const scope = globalThis as Record<string, unknown>;
    const saved = { location: Object.getOwnPropertyDescriptor(scope, 'location'), navigator: Object.getOwnPropertyDescriptor(scope, 'navigator') };
    Object.defineProperty(scope, 'location', { value: { origin }, configurable: true, writable: true });
    Object.defineProperty(scope, 'navigator', { value: { onLine: online }, configurable: true, writable: true });
    try {
      return await body();
    } finally {
      for (const key of ['location', 'navigator'] as const) {
        const descriptor = saved[key];
        if (descriptor) Object.defineProperty(scope, key, descriptor);
        else delete scope[key];
      }
    }
  }

  /** A fetch that fails the call the way a browser does, and sends the `no-cors` probe for real (to the mock server) or fails it too. */
  function browserFetch(failure: () => TypeError, probe: 'answered' | 'failed'): { fetch: typeof fetch; probes: RequestInit[] } {
    const probes: RequestInit[] = [];
    const fake = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (init?.mode !== 'no-cors') throw failure();
      probes.push(init);
      if (probe === 'failed') throw failure();
      return fetch(input, init);
    }) as typeof fetch;
    return { fetch: fake, probes };
  }

  it.each(Object.entries(browsers))('%s: a cross-origin call whose server answers a no-cors probe → ConnectionError, not retryable, naming CORS', async (_browser, make) => {
    const browser = browserFetch(make, 'answered');
    const { error } = await inPage('https://app.example.com', true, () => oneFailure(compatible(fetchTransport({ fetch: browser.fetch })).stream(request), 20));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ name: 'ConnectionError', code: 'connection_failed', retryable: false, provider: 'openai-compatible' });
    expect(isRetryable(error)).toBe(false);
    expect(error.message).toContain('most likely CORS');
    expect(error.message).toContain('https://app.example.com');
    expect(error.message).toContain(make().message);
    expect(error.cause).toMatchObject({ name: 'TypeError', message: make().message });
    // The probe: a HEAD without credentials or the call's headers, which reached the server.
    expect(browser.probes).toEqual([expect.objectContaining({ method: 'HEAD', mode: 'no-cors', credentials: 'omit' })]);
    expect(browser.probes[0]!.headers).toBeUndefined();
    expect(server.requests.map((r) => r.method)).toEqual(['HEAD']);
    expectNoneContains(errorRenderings(error), [API_KEY, KEY_TAIL, /Bearer/i]);
  });

  it('a cross-origin call whose probe fails too → ConnectionError, retryable (the network)', async () => {
    const browser = browserFetch(browsers.Chrome, 'failed');
    const { error } = await inPage('https://app.example.com', true, () => oneFailure(compatible(fetchTransport({ fetch: browser.fetch })).stream(request), 20));
    expect(error).toMatchObject({ name: 'ConnectionError', retryable: true });
    expect(error.message).toContain('nor with a no-cors probe');
  });

  it('offline, or a same-origin call → ConnectionError, retryable, and no probe', async () => {
    const offline = browserFetch(browsers.Firefox, 'answered');
    const { error } = await inPage('https://app.example.com', false, () => oneFailure(compatible(fetchTransport({ fetch: offline.fetch })).stream(request), 20));
    expect(error).toMatchObject({ name: 'ConnectionError', retryable: true });
    expect(error.message).toContain('the browser is offline');
    expect(offline.probes).toHaveLength(0);

    const same = browserFetch(browsers.Safari, 'answered');
    const { error: network } = await inPage(server.origin, true, () => oneFailure(compatible(fetchTransport({ fetch: same.fetch })).stream(request), 20));
    expect(network).toMatchObject({ name: 'ConnectionError', retryable: true });
    expect(network.message).toContain('a network failure');
    expect(same.probes).toHaveLength(0);
  });

  it('in Node (no page), the fetch transport reports a refused connection as before', async () => {
    const { error } = await oneFailure(openaiCompatible({ model: 'm', baseURL: 'http://127.0.0.1:9/v1', transport: fetchTransport() }).stream(request), 20);
    expect(error).toMatchObject({ name: 'ConnectionError', retryable: true });
  });
});
