import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import * as rxllm from 'rxllm';
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

// ---------------------------------------------------------------------------------------------
// Identity: literal names, per-class markers, instanceof and is() across copies of the library.

type ErrorsModule = typeof import('../src/core/errors');
type ErrorName = (typeof ERROR_NAMES)[number];

/** Every error class, each with its parent: the hierarchy the tests expect, written out. */
const PARENT = {
  LlmError: undefined,
  InvalidRequestError: 'LlmError',
  ConfigurationError: 'LlmError',
  ApiError: 'LlmError',
  RateLimitError: 'ApiError',
  ConnectionError: 'LlmError',
  MalformedStreamError: 'LlmError',
  TimeoutError: 'LlmError',
  BudgetExceededError: 'LlmError',
  CircuitOpenError: 'LlmError',
  RateLimitQueueError: 'LlmError',
} as const satisfies Record<string, string | undefined>;
const ERROR_NAMES = Object.keys(PARENT) as Array<keyof typeof PARENT>;

/** One instance of class `name`, made by the classes of `m` (one copy of the errors module). */
function make(m: ErrorsModule, name: ErrorName): InstanceType<ErrorsModule[ErrorName]> {
  switch (name) {
    case 'LlmError': return new m.LlmError({ code: 'unknown', message: 'base' });
    case 'InvalidRequestError': return new m.InvalidRequestError('messages[0].role', 'bad role');
    case 'ConfigurationError': return new m.ConfigurationError('missing apiKey');
    case 'ApiError': return new m.ApiError({ code: 'server_error', message: 'boom', status: 500, retryable: true });
    case 'RateLimitError': return new m.RateLimitError({ message: 'slow down', status: 429, retryAfterMs: 2000 });
    case 'ConnectionError': return new m.ConnectionError('refused');
    case 'MalformedStreamError': return new m.MalformedStreamError('bad json');
    case 'TimeoutError': return new m.TimeoutError('idle', 5000);
    case 'BudgetExceededError': return new m.BudgetExceededError('output-tokens', 12, 10);
    case 'CircuitOpenError': return new m.CircuitOpenError('openai', 3000);
    case 'RateLimitQueueError': return new m.RateLimitQueueError('queue-full', 8, 0);
  }
}

/** `name` and every class above it, most derived first. */
function lineage(name: ErrorName): ErrorName[] {
  const up: ErrorName | undefined = PARENT[name];
  return [name, ...(up === undefined ? [] : lineage(up))];
}

/** Every (class, instance-of-class) pair, with whether the instance should count as one of the class. */
const PAIRS = ERROR_NAMES.flatMap((cls) => ERROR_NAMES.map((of) => ({ cls, of, expected: lineage(of).includes(cls) })));

const here = rxllm as unknown as ErrorsModule;

describe('error identity', () => {
  it('the table covers every error class the module exports', () => {
    const isErrorClass = (v: unknown): boolean => typeof v === 'function' && (v === LlmError || Object.prototype.isPrototypeOf.call(LlmError.prototype, v.prototype));
    const classes = Object.entries(rxllm).filter(([, v]) => isErrorClass(v)).map(([key]) => key);
    expect(new Set(classes)).toEqual(new Set(ERROR_NAMES));
  });

  it.each(ERROR_NAMES)('%s has its literal name in name, toJSON(), String(), the stack and util.inspect', (name) => {
    const error = make(here, name);
    expect(error.name).toBe(name);
    expect(error.toJSON()['name']).toBe(name);
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ name });
    expect(String(error)).toBe(`${name}: ${error.message}`);
    expect(error.stack?.split('\n')[0]).toBe(`${name}: ${error.message}`);
    expect(inspect(error).split('\n')[0]).toBe(`${name}: ${error.message}`);
  });

  it.each(ERROR_NAMES)('%s has its own marker Symbol.for("rxllm.error.<Name>")', (name) => {
    expect(here[name].marker).toBe(Symbol.for(`rxllm.error.${name}`));
    expect(Object.hasOwn(here[name], 'marker')).toBe(true);
  });

  it.each(ERROR_NAMES)('a %s carries the markers of its class and every ancestor, and no other, non-enumerable', (name) => {
    const error = make(here, name);
    const markers = Object.getOwnPropertySymbols(error);
    expect(new Set(markers)).toEqual(new Set(lineage(name).map((n) => Symbol.for(`rxllm.error.${n}`))));
    for (const marker of markers) expect(Object.getOwnPropertyDescriptor(error, marker)).toMatchObject({ value: true, enumerable: false });
    expect(Object.keys(error)).not.toContain('marker');
  });

  it.each(ERROR_NAMES)('%s.is and instanceof are true for %s and its subclasses, false for its parents and siblings', (cls) => {
    for (const { of, expected } of PAIRS.filter((p) => p.cls === cls)) {
      const error = make(here, of);
      expect(here[cls].is(error), `${cls}.is(new ${of})`).toBe(expected);
      expect(error instanceof here[cls], `new ${of} instanceof ${cls}`).toBe(expected);
    }
  });

  it('spot checks: siblings, parents and subclasses', () => {
    expect(rxllm.TimeoutError.is(new rxllm.ConfigurationError('x'))).toBe(false);
    expect(new rxllm.ConfigurationError('x') instanceof rxllm.TimeoutError).toBe(false);
    expect(ApiError.is(new RateLimitError({ message: 'slow down' }))).toBe(true);
    expect(new RateLimitError({ message: 'slow down' }) instanceof ApiError).toBe(true);
    expect(RateLimitError.is(new ApiError({ code: 'server_error', message: 'boom' }))).toBe(false);
    expect(new ApiError({ code: 'server_error', message: 'boom' }) instanceof RateLimitError).toBe(false);
    expect(LlmError.is(new rxllm.CircuitOpenError('c', 1))).toBe(true);
  });

  it.each(ERROR_NAMES)('a %s is still instanceof Error, with the right prototype and constructor', (name) => {
    const error = make(here, name);
    expect(error instanceof Error).toBe(true);
    expect(Object.prototype.toString.call(error)).toBe('[object Error]');
    expect(Object.getPrototypeOf(error)).toBe(here[name].prototype);
    expect(error.constructor).toBe(here[name]);
  });

  it('primitives, null, plain objects, plain Errors and the prototypes themselves are not instances', () => {
    const values: unknown[] = [
      null, undefined, 'RateLimitError', 42, true, Symbol.for('rxllm.error.LlmError'), {}, [], Object.create(null),
      { name: 'RateLimitError', code: 'rate_limited', retryable: true }, new Error('plain'), new TypeError('plain'),
      { [Symbol.for('rxllm.error')]: true }, { [Symbol.for('rxllm.error.LlmError')]: 'yes' },
      LlmError, RateLimitError, LlmError.prototype, RateLimitError.prototype, Object.prototype,
    ];
    for (const name of ERROR_NAMES) {
      for (const value of values) {
        expect(here[name].is(value), `${name}.is(${inspect(value)})`).toBe(false);
        expect(value instanceof here[name], `${inspect(value)} instanceof ${name}`).toBe(false);
      }
    }
  });

  it('an object carrying a class marker counts as that class (marker-based, as undici does)', () => {
    const foreign = Object.assign(new Error('from elsewhere'), { [Symbol.for('rxllm.error.LlmError')]: true, [Symbol.for('rxllm.error.ApiError')]: true });
    expect(foreign instanceof ApiError).toBe(true);
    expect(LlmError.is(foreign)).toBe(true);
    expect(foreign instanceof RateLimitError).toBe(false);
  });

  it('a subclass declaring no marker of its own is known by its parent marker, and takes a literal name if it sets one', () => {
    class ProxyError extends ApiError {
      override readonly name: string = 'ProxyError';
    }
    const error = new ProxyError({ code: 'bad_gateway', message: 'proxy failed', status: 502 });
    expect(error.name).toBe('ProxyError');
    expect(error instanceof ProxyError && error instanceof ApiError && LlmError.is(error)).toBe(true);
    expect(new Set(Object.getOwnPropertySymbols(error))).toEqual(new Set([ApiError.marker, LlmError.marker]));
  });

  it('codes, retryable and toJSON() are unchanged', () => {
    expect(make(here, 'RateLimitError').toJSON()).toEqual({ name: 'RateLimitError', code: 'rate_limited', message: 'slow down', retryable: true, status: 429, retryAfterMs: 2000 });
    expect(make(here, 'BudgetExceededError').toJSON()).toEqual({
      name: 'BudgetExceededError', code: 'budget_exceeded', message: 'Budget exceeded: output-tokens used 12, limit 10', retryable: false,
      limit: 'output-tokens', used: 12, max: 10, phase: 'stream',
    });
    expect(ERROR_NAMES.map((name) => [name, make(here, name).code, make(here, name).retryable])).toEqual([
      ['LlmError', 'unknown', false], ['InvalidRequestError', 'invalid_request', false], ['ConfigurationError', 'invalid_configuration', false],
      ['ApiError', 'server_error', true], ['RateLimitError', 'rate_limited', true], ['ConnectionError', 'connection_failed', true],
      ['MalformedStreamError', 'malformed_stream', false], ['TimeoutError', 'timeout', true], ['BudgetExceededError', 'budget_exceeded', false],
      ['CircuitOpenError', 'circuit_open', true], ['RateLimitQueueError', 'rate_limit_queue_full', true],
    ]);
  });

  it('instanceof and X.is() narrow to X in TypeScript', () => {
    const error: unknown = make(here, 'TimeoutError');
    if (rxllm.TimeoutError.is(error)) expectTypeOf(error).toEqualTypeOf<rxllm.TimeoutError>();
    if (error instanceof rxllm.TimeoutError) expectTypeOf(error.kind).toEqualTypeOf<rxllm.TimeoutKind>();
    if (LlmError.is(error)) expectTypeOf(error).toEqualTypeOf<LlmError>();
    expect(rxllm.TimeoutError.is(error) && error.kind).toBe('idle');
  });
});

describe('error identity across copies of rxllm', () => {
  /** A second, fresh instance of the errors module: what a second install or bundle amounts to. */
  async function otherCopy(): Promise<ErrorsModule> {
    vi.resetModules();
    const other = await import('../src/core/errors');
    expect(other.RateLimitError).not.toBe(here.RateLimitError); // really another copy
    return other;
  }

  it('the copies share no prototype: only the marker can make instanceof hold', async () => {
    const other = await otherCopy();
    const error = make(other, 'RateLimitError');
    expect(Function.prototype[Symbol.hasInstance].call(here.RateLimitError, error)).toBe(false);
    expect(error instanceof here.RateLimitError).toBe(true);
  });

  it('instanceof and is() give the same answers both ways for every class and instance', async () => {
    const other = await otherCopy();
    for (const [made, checked] of [[other, here], [here, other]] as const) {
      for (const { cls, of, expected } of PAIRS) {
        const error = make(made, of);
        expect(checked[cls].is(error), `${cls}.is(new ${of}) across copies`).toBe(expected);
        expect(error instanceof checked[cls], `new ${of} instanceof ${cls} across copies`).toBe(expected);
      }
    }
  });

  it('a cause from another copy is kept as an rxllm error, not reduced to name and message', async () => {
    const other = await otherCopy();
    const cause = make(other, 'TimeoutError');
    const error = new ConnectionError('gave up', { cause });
    expect(error.cause).toBe(cause);
  });
});
