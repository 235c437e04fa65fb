/**
 * Secrets audit: a configured key must not reach any place rxllm writes to — not whole, and not
 * as any piece of 8 characters or more, since provider text is shortened before it is quoted (an
 * error page to 500 characters, a bad stream line to 117), which can cut an echoed key anywhere.
 *
 * Keys that are NOT `sk-`-shaped (an Azure-style 32-hex key, a gateway token), so only the
 * registry of secrets can catch them — the key-shaped patterns cannot. Each is configured on every
 * provider (an Azure `api-key` header too) and driven through every error path against the mock
 * server (a JSON 401 echoing it, an HTML page cut inside it — as an error and as a 200 answer — a
 * garbage stream line cut inside it, a request id equal to it, a connection failure whose cause,
 * nested causes and AggregateError members hold it, an in-band stream error, a 429), and
 * through a successful call whose kept response headers all echo it. Every view is searched: the
 * error's message, `String()`, stack, `JSON.stringify` / `toJSON()`, `util.inspect` (10 levels,
 * hidden properties too), its own properties, its whole cause chain (`errors` of an
 * `AggregateError` included); every event as JSON; the frames `toSSE` writes; the cache key; and
 * the keys and values a cache store and a ledger store were given. The request headers that carry
 * a key (`authorization`, `x-api-key`, `x-goog-api-key`, `api-key`) must not be named anywhere
 * either. The search checks itself first: it must find a planted piece.
 */
import { inspect } from 'node:util';
import { tap, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  anthropic, createLedger, fetchTransport, gemini, LlmError, memoryStore, ollama, openai, openaiCompatible, openaiResponses, parseRequest, toSSE,
  undiciTransport, withPrices, type Ledger, type LlmEvent, type LlmRequestInput, type Model, type Store,
} from 'rxllm';
import { budget, cache, cacheKey } from 'rxllm/operators';
import { redact, registerSecret, type Transport } from 'rxllm/providers';
import { ApiError, ConnectionError } from '../src/core/errors';
import {
  anthropicChunks, anthropicErrorBody, geminiChunks, geminiErrorBody, jsonReply, ollamaChunks, ollamaErrorBody, openaiChunks, openaiResponsesChunks,
  openaiResponsesErrorBody, startMockServer, type MockReply, type MockServer,
} from 'rxllm/testing';

// Fake keys, written in pieces (the convention of test/helpers/fixtures.ts) so that secret
// scanners leave this file alone; at run time they are whole, recognisable, and not sk-shaped.
const AZURE_KEY = `${'5f3c9a1e'}${'b7d24c60'}${'8e1f7a3b'}${'c9d05e42'}`;
const GATEWAY_TOKEN = `${'gw_live_'}${'Q7mZ2xK9pL4vR8sT1wY6nB3c'}`;
const KEYS = [
  ['Azure-style 32-hex key', AZURE_KEY],
  ['gateway token', GATEWAY_TOKEN],
] as const;

/** The shortest piece of a key the audit looks for: what `redact()` promises to remove. */
const PIECE = 8;
/** Where `errorFromResponse` cuts a body that is not JSON, and `parseWireObject` a bad stream message. */
const BODY_CUT = 500;
const LINE_CUT = 117;

const request: LlmRequestInput = { messages: [{ role: 'user', content: 'Hello?' }], metadata: { tenant: 'acme' } };
const MODEL_ID = 'audit-model';
const prices = withPrices({ [MODEL_ID]: { input: 1, output: 2, asOf: '2025-01-01', source: 'test' } });

let server: MockServer;
const undici = undiciTransport();
beforeAll(async () => {
  server = await startMockServer();
});
afterAll(async () => {
  await server.close();
});

// ---------------------------------------------------------------------------------------------
// The search

/** The request headers that carry a key (`api-key` also finds `x-api-key` and `x-goog-api-key`), and the scheme word of one: none may be named in any view. */
const REQUEST_HEADER_NAMES = [/authorization/i, /x-api-key/i, /x-goog-api-key/i, /\bapi-key\b/i, /\bbearer\b/i];

/** The whole secret and every `PIECE`-character window of it. */
function piecesOf(secret: string): string[] {
  const pieces = [secret];
  for (let i = 0; i + PIECE <= secret.length; i++) pieces.push(secret.slice(i, i + PIECE));
  return pieces;
}

/** One line per view that holds a piece of `secret` (the first piece found) or names a request header. */
function leaks(views: Readonly<Record<string, string>>, secret: string): string[] {
  const pieces = piecesOf(secret);
  const found: string[] = [];
  for (const [view, text] of Object.entries(views)) {
    const piece = pieces.find((p) => text.includes(p));
    if (piece !== undefined) found.push(`${view} holds ${JSON.stringify(piece)}: ${text.slice(0, 300)}`);
    for (const header of REQUEST_HEADER_NAMES) if (header.test(text)) found.push(`${view} names ${header}: ${text.slice(0, 300)}`);
  }
  return found;
}

/** JSON that never throws (a cycle, a BigInt): what a logger would fall back to. */
function json(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (error) {
    return `unserializable: ${String(error)}`;
  }
}

/**
 * Every rendering of an error: message, `String()`, stack, JSON and `toJSON()`, `inspect` (plain
 * and with hidden properties), each own property (enumerable or not), and the same for every link
 * of its cause chain and every member of an `errors` list, 10 levels deep.
 */
function errorViews(error: unknown, at = 'error', depth = 0, views: Record<string, string> = {}): Record<string, string> {
  if (depth > 10 || error === undefined || error === null) return views;
  views[`${at} String()`] = String(error);
  views[`${at} JSON`] = json(error);
  views[`${at} inspect`] = inspect(error, { depth: 10 });
  views[`${at} inspect showHidden`] = inspect(error, { depth: 10, showHidden: true });
  if (typeof error !== 'object') return views;
  const record = error as Record<string, unknown>;
  views[`${at}.message`] = String(record['message']);
  views[`${at}.stack`] = String(record['stack']);
  if (typeof record['toJSON'] === 'function') views[`${at}.toJSON()`] = json((record['toJSON'] as () => unknown).call(error));
  for (const name of Object.getOwnPropertyNames(error)) {
    if (name !== 'cause' && name !== 'errors') views[`${at}.${name}`] = json(record[name]);
  }
  errorViews(record['cause'], `${at}.cause`, depth + 1, views);
  const errors = record['errors'];
  if (Array.isArray(errors)) errors.forEach((inner, i) => errorViews(inner, `${at}.errors[${i}]`, depth + 1, views));
  return views;
}

/** A memory store that remembers every key it was asked about and every value it was given. */
interface RecordingStore extends Store {
  readonly keys: Set<string>;
  readonly values: unknown[];
}

function recordingStore(): RecordingStore {
  const inner = memoryStore();
  const keys = new Set<string>();
  const values: unknown[] = [];
  return {
    keys,
    values,
    get: (key) => (keys.add(key), inner.get(key)),
    set: (key, value, options) => {
      keys.add(key);
      values.push(value);
      inner.set(key, value, options);
    },
    delete: (key) => (keys.add(key), inner.delete(key)),
    increment: (key, by, options) => (keys.add(key), inner.increment(key, by, options)),
  };
}

// ---------------------------------------------------------------------------------------------
// Running a call

/** The state a call's operators share across subscriptions: a cache store and a ledger on its own store. */
interface Stores {
  readonly cache: RecordingStore;
  readonly ledgerStore: RecordingStore;
  readonly ledger: Ledger;
}

function freshStores(): Stores {
  const ledgerStore = recordingStore();
  return { cache: recordingStore(), ledgerStore, ledger: createLedger(ledgerStore) };
}

interface Run {
  readonly events: LlmEvent[];
  readonly error: unknown;
  /** Everything `toSSE` wrote, every event included (its default leaves out `request`). */
  readonly frames: string;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let out = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out + decoder.decode();
    out += decoder.decode(value, { stream: true });
  }
}

/** One call through `cache()` and `budget()` with a ledger, served as SSE by `toSSE`, its events and error recorded on the way. */
async function run(model: Model, stores: Stores): Promise<Run> {
  const events: LlmEvent[] = [];
  let error: unknown;
  const stream: Observable<LlmEvent> = model.stream(request).pipe(
    cache(stores.cache),
    budget({ ledger: stores.ledger, scope: 'tenant', count: (text) => Math.ceil(text.length / 4), prices }),
    tap({ next: (event) => events.push(event), error: (e: unknown) => (error = e) }),
  );
  const frames = await readAll(toSSE(stream, { include: () => true }));
  return { events, error, frames };
}

/** Every view of a run: the error's, each event's, the SSE frames, the stores' keys and values, the ledger's report, the cache key. */
async function viewsOf(model: Model, result: Run, stores: Stores): Promise<Record<string, string>> {
  const views: Record<string, string> = result.error === undefined ? {} : errorViews(result.error);
  result.events.forEach((event, i) => (views[`event ${i} (${event.type})`] = json(event)));
  views['toSSE frames'] = result.frames;
  views['cache store keys'] = [...stores.cache.keys].join('\n');
  views['cache store values'] = json(stores.cache.values);
  views['ledger store keys'] = [...stores.ledgerStore.keys].join('\n');
  views['ledger store values'] = json(stores.ledgerStore.values);
  views['ledger report'] = json(await stores.ledger.report('all'));
  const parsed = parseRequest(request);
  views['cacheKey'] = `${cacheKey(parsed, model.info)} ${cacheKey(parsed, model.info, { tenant: 'acme' })}`;
  views['model.info'] = json(model.info);
  return views;
}

// ---------------------------------------------------------------------------------------------
// The providers

interface Wire {
  readonly name: string;
  make(key: string, transport?: Transport): Model;
  /** The request header that carries the key. */
  readonly keyHeader: 'authorization' | 'x-api-key' | 'x-goog-api-key' | 'api-key';
  readonly contentType: string;
  /** A whole successful stream. */
  readonly ok: readonly string[];
  /** The first messages of a stream (some text, no end): what comes before a failure in it. */
  readonly start: readonly string[];
  /** The provider's JSON error body. */
  errorBody(status: number, message: string): unknown;
  /** One wire message carrying an error inside a 200 stream. */
  inBand(message: string): string;
  /** `data` as one raw wire message: an SSE `data:` line, or an NDJSON line. */
  line(data: string): string;
}

const sseLine = (data: string): string => `data: ${data}\n\n`;
const sse = { contentType: 'text/event-stream', line: sseLine } as const;
const chatWire = {
  ...sse,
  keyHeader: 'authorization',
  ok: openaiChunks(['Hi', ' there'], { usage: { prompt_tokens: 5, completion_tokens: 2 } }),
  start: openaiChunks(['Hi', ' there']).slice(0, 1),
  errorBody: (status: number, message: string) => openaiResponsesErrorBody(status, message), // the Chat Completions body is the same
  inBand: (message: string) => sseLine(JSON.stringify({ error: { message, type: 'server_error', code: 'server_error' } })), // OpenRouter's mid-stream error
} as const;

const WIRES: readonly Wire[] = [
  { ...chatWire, name: 'openai', make: (apiKey, transport) => openai({ model: MODEL_ID, apiKey, baseURL: server.url, ...(transport ? { transport } : {}) }) },
  { ...chatWire, name: 'openaiCompatible', make: (apiKey, transport) => openaiCompatible({ model: MODEL_ID, apiKey, baseURL: server.url, ...(transport ? { transport } : {}) }) },
  {
    // Azure OpenAI's way: no Authorization, the key in an `api-key` header (registered as a credential-looking header).
    ...chatWire,
    name: 'openaiCompatible with an Azure api-key header',
    keyHeader: 'api-key',
    make: (apiKey, transport) => openaiCompatible({ model: MODEL_ID, baseURL: server.url, headers: { 'api-key': apiKey }, ...(transport ? { transport } : {}) }),
  },
  {
    ...sse,
    name: 'anthropic',
    make: (apiKey, transport) => anthropic({ model: MODEL_ID, apiKey, baseURL: server.url, ...(transport ? { transport } : {}) }),
    keyHeader: 'x-api-key',
    ok: anthropicChunks(['Hi', ' there'], { usage: { input_tokens: 5, output_tokens: 2 } }),
    start: anthropicChunks(['Hi', ' there']).slice(0, 4),
    errorBody: anthropicErrorBody,
    inBand: (message) => `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'api_error', message } })}\n\n`,
  },
  {
    ...sse,
    name: 'gemini',
    make: (apiKey, transport) => gemini({ model: MODEL_ID, apiKey, baseURL: server.url, ...(transport ? { transport } : {}) }),
    keyHeader: 'x-goog-api-key',
    ok: geminiChunks(['Hi', ' there']),
    start: geminiChunks(['Hi', ' there']).slice(0, 1),
    errorBody: geminiErrorBody,
    inBand: (message) => sseLine(JSON.stringify(geminiErrorBody(500, message))),
  },
  {
    name: 'ollama',
    make: (apiKey, transport) => ollama({ model: MODEL_ID, apiKey, baseURL: server.origin, ...(transport ? { transport } : {}) }),
    keyHeader: 'authorization',
    contentType: 'application/x-ndjson',
    ok: ollamaChunks(['Hi', ' there']),
    start: ollamaChunks(['Hi', ' there']).slice(0, 1),
    errorBody: ollamaErrorBody,
    inBand: (message) => `${JSON.stringify({ error: message })}\n`,
    line: (data) => `${data}\n`,
  },
  {
    ...sse,
    name: 'openaiResponses',
    make: (apiKey, transport) => openaiResponses({ model: MODEL_ID, apiKey, baseURL: server.url, ...(transport ? { transport } : {}) }),
    keyHeader: 'authorization',
    ok: openaiResponsesChunks(['Hi', ' there']),
    start: openaiResponsesChunks(['Hi', ' there']).slice(0, 5),
    errorBody: openaiResponsesErrorBody,
    inBand: (message) =>
      `event: response.failed\ndata: ${JSON.stringify({ type: 'response.failed', response: { id: 'resp_audit', status: 'failed', error: { code: 'server_error', message } } })}\n\n`,
  },
];

// ---------------------------------------------------------------------------------------------
// The error paths

interface ErrorPath {
  readonly name: string;
  reply(wire: Wire, key: string): MockReply;
  /** Rewrites the transport's connection failure (the reply then closes the socket before answering). */
  readonly wrapFailure?: (original: unknown, key: string) => unknown;
  /**
   * Where the key (some piece of it) reached the error before redaction: there `[redacted]` must
   * stand. Undefined where whether the text is quoted at all is the HTTP layer's choice.
   */
  readonly redactedIn?: 'message' | 'requestId';
}

/** How much of the key a cut leaves: more than one piece, less than the whole. */
const kept = (key: string): number => Math.ceil(key.length / 2);

/** An HTML error page echoing the key twice: whole near the top, and again so that a cut at `cut` characters falls inside it. */
function htmlPage(key: string, cut: number): string {
  const head = `<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1><p>gateway rejected credential ${key}</p><pre>`;
  const body = `${head}${'.'.repeat(cut - kept(key) - head.length)}${key}</pre></body></html>`;
  // The setup itself: the cut leaves a head of the key, not the whole second copy.
  expect(body.slice(0, cut).endsWith(key.slice(0, kept(key)))).toBe(true);
  return body;
}

/** A garbage stream message whose 117-character quote ends inside the key. */
function garbageLine(key: string): string {
  const head = '{"choices":[{"delta":{"content":"cut here';
  const data = `${head}${'~'.repeat(LINE_CUT - kept(key) - head.length)}${key} and the rest of the line`;
  expect(data.length).toBeGreaterThan(120);
  expect(data.slice(0, LINE_CUT).endsWith(key.slice(0, kept(key)))).toBe(true);
  return data;
}

/** Headers echoing the key in every kept header a stream copies into its `response` event. */
const echoingHeaders = (key: string): Record<string, string> => ({
  'x-request-id': key,
  'request-id': key,
  'openai-model': key,
  'x-ratelimit-reset-requests': key,
  'anthropic-ratelimit-requests-reset': key,
});

const ERROR_PATHS: readonly ErrorPath[] = [
  {
    name: '401 with a JSON body echoing the key',
    reply: (wire, key) =>
      jsonReply(401, wire.errorBody(401, `Incorrect API key provided: ${key}. You can find your API key in your account settings.`), { 'x-request-id': 'req_audit' }),
    redactedIn: 'message',
  },
  {
    name: '401 echoing a masked key (a head under 8 characters, a tail of 10)',
    reply: (wire, key) => jsonReply(401, wire.errorBody(401, `Incorrect API key provided: ${key.slice(0, 4)}${'*'.repeat(12)}${key.slice(-10)}.`)),
    redactedIn: 'message',
  },
  {
    name: 'an HTML error page echoing the key, cut at 500 characters inside it',
    reply: (_wire, key) => ({ status: 403, headers: { 'content-type': 'text/html' }, body: htmlPage(key, BODY_CUT) }),
    redactedIn: 'message',
  },
  {
    // A misrouted baseURL: a 200 web page where a stream was expected. How much of it a message
    // quotes is the stream driver's choice (the first 200 characters, when it quotes at all).
    name: 'an HTML page in a 200 answer echoing the key, cut at 200 characters inside it',
    reply: (_wire, key) => ({ status: 200, headers: { 'content-type': 'text/html', 'x-request-id': 'req_audit' }, body: htmlPage(key, 200) }),
  },
  {
    name: 'a garbage stream line holding the key, quoted to 117 characters inside it',
    reply: (wire, key) => ({ headers: { 'content-type': wire.contentType }, chunks: [...wire.start, wire.line(garbageLine(key))] }),
    redactedIn: 'message',
  },
  {
    name: 'a short garbage stream line holding the whole key',
    reply: (wire, key) => ({ headers: { 'content-type': wire.contentType }, chunks: [...wire.start, wire.line(`not json: ${key}`)] }),
    redactedIn: 'message',
  },
  {
    name: 'an error response whose request id is the key',
    reply: (wire, key) => jsonReply(500, wire.errorBody(500, 'internal error'), { 'x-request-id': key, 'request-id': key }),
    redactedIn: 'requestId',
  },
  {
    name: 'a stream whose request id and rate-limit headers are the key, then cut off',
    reply: (wire, key) => ({ headers: { 'content-type': wire.contentType, ...echoingHeaders(key) }, chunks: wire.start }),
    redactedIn: 'requestId',
  },
  {
    name: 'a connection failure whose message and nested causes hold the key',
    reply: () => ({ closeBeforeHeaders: true }),
    wrapFailure: (original, key) => {
      const proxy = new Error(`proxy CONNECT refused credential ${key}`, { cause: new Error(`upstream said: ${key}`, { cause: original }) });
      return Object.assign(new Error(`socket hang up (gateway token ${key})`, { cause: proxy }), { code: 'ECONNRESET', token: key });
    },
    redactedIn: 'message',
  },
  {
    name: 'a connection failure as an AggregateError holding the key (in its message, members and code)',
    reply: () => ({ closeBeforeHeaders: true }),
    wrapFailure: (original, key) =>
      Object.assign(new AggregateError([new Error(`attempt 1: bad token ${key}`), original], `all connection attempts failed for ${key}`), { code: `EPROXY_${key}` }),
    redactedIn: 'message',
  },
  {
    name: 'an in-band stream error echoing the key',
    reply: (wire, key) => ({ headers: { 'content-type': wire.contentType }, chunks: [...wire.start, wire.inBand(`credential ${key} was revoked mid-stream`)] }),
    redactedIn: 'message',
  },
  {
    name: '429 with the key in the message',
    reply: (wire, key) => jsonReply(429, wire.errorBody(429, `Rate limit reached for key ${key} on requests per min.`), { 'retry-after': '0' }),
    redactedIn: 'message',
  },
];

/** The default transport (or `base`) with each connection failure rewritten by `wrap`. */
function failingWith(wrap: (original: unknown) => unknown, base: Transport): Transport {
  return {
    send: (spec, sink) =>
      base.send(spec, {
        onResponse: (status, headers) => sink.onResponse(status, headers),
        onData: (chunk) => sink.onData(chunk),
        onEnd: () => sink.onEnd(),
        onError: (error) => sink.onError(wrap(error)),
      }),
  };
}

/** Runs `path` on `wire` with `key` over `base` and checks every view; returns the error for further checks. */
async function auditFailure(wire: Wire, key: string, path: ErrorPath, base: Transport = undici): Promise<LlmError> {
  const wrap = path.wrapFailure;
  const model = wire.make(key, wrap ? failingWith((original) => wrap(original, key), base) : base);
  server.enqueue(path.reply(wire, key));
  const sent = server.requests.length;
  const stores = freshStores();
  const result = await run(model, stores);
  // The key really left with the request, in the header the search must never find.
  await server.waitForRequests(sent + 1);
  expect(server.requests[sent]!.headers[wire.keyHeader]).toContain(key);

  expect(LlmError.is(result.error), `a typed error, got ${String(result.error)}`).toBe(true);
  const error = result.error as LlmError;
  // The key did reach the error, and was removed there (so the search below is not vacuous).
  if (path.redactedIn !== undefined) expect(String(error[path.redactedIn])).toContain('[redacted]');
  expect(leaks(await viewsOf(model, result, stores), key)).toEqual([]);
  return error;
}

// ---------------------------------------------------------------------------------------------
// The tests

describe('the search itself', () => {
  it('finds the whole key, any 8-character piece of it and a request header name; not a 7-character piece', () => {
    for (const [, key] of KEYS) {
      expect(leaks({ planted: `…${key}…` }, key)).toHaveLength(1);
      for (let i = 0; i + PIECE <= key.length; i++) expect(leaks({ planted: `x${key.slice(i, i + PIECE)}y` }, key), `piece at ${i}`).toHaveLength(1);
      expect(leaks({ clean: `x${key.slice(3, 3 + PIECE - 1)}y` }, key)).toEqual([]);
      expect(leaks({ header: 'authorization: [redacted]' }, key)).toHaveLength(1);
      expect(leaks({ header: 'api-key: [redacted]' }, key)).toHaveLength(1);
    }
  });

  it('walks the whole cause chain and the members of an AggregateError', () => {
    const deep = new Error('outer', { cause: new AggregateError([new Error('fine'), new Error(`deep ${AZURE_KEY.slice(10, 20)}`)], 'aggregate') });
    expect(leaks(errorViews(deep), AZURE_KEY).some((line) => line.startsWith('error.cause.errors[1]'))).toBe(true);
    const property = Object.assign(new Error('fine'), { requestId: GATEWAY_TOKEN.slice(-9) });
    expect(leaks(errorViews(property), GATEWAY_TOKEN).some((line) => line.startsWith('error.requestId'))).toBe(true);
  });
});

describe('redact()', () => {
  // Registered here directly; the providers below register the same keys again (a no-op).
  beforeAll(() => KEYS.forEach(([, key]) => registerSecret(key)));

  it('removes every cut of a key of 8 characters or more — a head, a tail, a middle — and keeps the text around it', () => {
    for (const [, key] of KEYS) {
      for (let from = 0; from + PIECE <= key.length; from++) {
        for (let to = from + PIECE; to <= key.length; to++) {
          expect(redact(`<p>${key.slice(from, to)}…</p>`), `${from}..${to}`).toBe('<p>[redacted]…</p>');
        }
      }
      expect(redact(`a ${key} b ${key.slice(0, 20)}`)).toBe('a [redacted] b [redacted]');
    }
  });

  it('leaves pieces under 8 characters and unrelated text alone', () => {
    expect(redact(`id ${AZURE_KEY.slice(0, 7)} and ${GATEWAY_TOKEN.slice(-7)}; req_123abc`)).toBe(`id ${AZURE_KEY.slice(0, 7)} and ${GATEWAY_TOKEN.slice(-7)}; req_123abc`);
  });

  it('removes a secret of 6–7 characters whole, and ignores one shorter than 6', () => {
    registerSecret(`${'q7Zx'}${'9k2'}`);
    registerSecret(`${'z9Q'}${'w2'}`);
    expect(redact(`key=q7Zx9k2; other=z9Qw2`)).toBe('key=[redacted]; other=z9Qw2');
  });

  it('removes the URL-escaped form of a secret too', () => {
    const token = `${'gw+live/'}${'Ab3=Cd4+Ef5/Gh6'}`;
    registerSecret(token);
    expect(redact(`GET /v1/chat?token=${encodeURIComponent(token).slice(0, 20)}`)).toBe('GET /v1/chat?token=[redacted]');
  });

  it('takes time linear in the text: a 64 KiB error body with the key all over it', () => {
    const body = `${'x'.repeat(1000)}${AZURE_KEY.slice(5, 25)}`.repeat(64);
    const out = redact(body);
    expect(out.split('[redacted]')).toHaveLength(65);
    expect(leaks({ out }, AZURE_KEY)).toEqual([]);
  });

  it('keeps requestId and providerCode of an error clean, whoever built it', () => {
    const error = new ApiError({ code: 'api_error', message: `bad ${GATEWAY_TOKEN}`, requestId: GATEWAY_TOKEN, providerCode: `code_${GATEWAY_TOKEN}` });
    expect(error).toMatchObject({ requestId: '[redacted]', providerCode: 'code_[redacted]' });
    expect(leaks(errorViews(error), GATEWAY_TOKEN)).toEqual([]);
  });

  it('reduces a nested cause chain and an AggregateError to a redacted name, message and code', () => {
    const cause = Object.assign(
      new AggregateError([new Error(`member ${AZURE_KEY}`)], `aggregate ${AZURE_KEY.slice(0, 12)}`, { cause: new Error(`nested ${AZURE_KEY}`) }),
      { code: `E_${AZURE_KEY}`, config: { headers: { authorization: `Bearer ${AZURE_KEY}` } } },
    );
    const error = new ConnectionError('failed', { cause });
    expect(error.cause).toEqual({ name: 'AggregateError', message: 'aggregate [redacted]', code: 'E_[redacted]' });
    expect(leaks(errorViews(error), AZURE_KEY)).toEqual([]);
  });

  it('reduces an rxllm error from another copy (which knew no secrets) that holds one; keeps a clean one as it is', async () => {
    vi.resetModules();
    const other = await import('../src/core/errors');
    expect(other.ApiError).not.toBe(ApiError);
    const dirty = new other.ApiError({ code: 'api_error', message: `echo ${GATEWAY_TOKEN}`, requestId: 'req_1' });
    expect(dirty.message).toContain(GATEWAY_TOKEN); // that copy's registry is empty
    const wrapped = new ConnectionError('gave up', { cause: new other.RateLimitError({ message: 'slow down', cause: dirty }) });
    expect(wrapped.cause).toEqual({ name: 'RateLimitError', message: 'slow down', code: 'rate_limited' });
    expect(leaks(errorViews(wrapped), GATEWAY_TOKEN)).toEqual([]);
    const clean = new other.RateLimitError({ message: 'slow down' });
    expect(new ConnectionError('gave up', { cause: clean }).cause).toBe(clean);
  });
});

for (const wire of WIRES) {
  describe(`${wire.name}: no piece of the key in any view of a failure`, () => {
    for (const [keyName, key] of KEYS) {
      for (const path of ERROR_PATHS) {
        it(`${keyName}: ${path.name}`, async () => {
          await auditFailure(wire, key, path);
        });
      }
    }
  });
}

describe('through the fetch transport (openaiCompatible)', () => {
  const fetch = fetchTransport();
  const compatible = WIRES.find((wire) => wire.name === 'openaiCompatible')!;
  for (const [keyName, key] of KEYS) {
    for (const path of ERROR_PATHS.filter((p) => p.redactedIn === 'requestId' || p.wrapFailure !== undefined || p.name.includes('HTML'))) {
      it(`${keyName}: ${path.name}`, async () => {
        await auditFailure(compatible, key, path, fetch);
      });
    }
  }
});

describe('a successful call whose kept response headers all echo the key', () => {
  for (const wire of WIRES) {
    for (const [keyName, key] of KEYS) {
      it(`${wire.name}, ${keyName}: response events, cache entries, ledger keys, the replayed hit and the SSE frames are clean`, async () => {
        const model = wire.make(key);
        const stores = freshStores();
        server.enqueue({ headers: { 'content-type': wire.contentType, ...echoingHeaders(key) }, chunks: wire.ok });
        const first = await run(model, stores);
        expect(first.error).toBeUndefined();
        const response = first.events.find((event) => event.type === 'response');
        expect(response).toMatchObject({ requestId: '[redacted]', headers: { 'x-request-id': '[redacted]', 'openai-model': '[redacted]' } });
        expect(stores.cache.values.length).toBeGreaterThan(0); // the answer was stored…
        expect(stores.ledgerStore.keys.size).toBeGreaterThan(0); // …and its spend recorded
        const sent = server.requests.length;
        const replay = await run(model, stores); // a cache hit: no request
        expect(server.requests.length).toBe(sent);
        expect(replay.events.some((event) => event.type === 'cache' && event.status === 'hit')).toBe(true);
        expect(leaks(await viewsOf(model, first, stores), key)).toEqual([]);
        expect(leaks(await viewsOf(model, replay, stores), key)).toEqual([]);
      });
    }
  }
});
