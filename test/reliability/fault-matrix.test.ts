/**
 * The fault matrix: every fault a provider connection can throw at a stream, played by a real
 * loopback server (the mock server, or a raw node:net one for interim 1xx responses), each run
 * twice — through a bare model, and through `retryBackoff` + `fallback` to a second, healthy
 * mock-server-backed model — and each run held to the stream contract:
 *
 * - exactly one terminal notification (error + complete = 1; 0 for a run the test leaves), and no
 *   event after it, also 150 ms later;
 * - the `request` event first and once; every text delta at most once — each attempt's deltas are
 *   a prefix of that attempt's scripted deltas, and a completed run has them all;
 * - the outcome the row states: the typed error (class, code, retryable, and what the message must
 *   name) for the bare model; for the pipeline, the recovery (the backup's answer, after how many
 *   calls to the faulty server) or the error passed on untouched;
 * - no handle left: no response still running on any server, every connection closed once the
 *   client's pool is closed (and the ones the client had to abort closed before that), and no
 *   ref'd timer or socket above the count before the run (`process.getActiveResourcesInfo()`).
 *
 * Delays are tens of milliseconds and every wait has a bound of seconds: nothing depends on timing
 * luck. The table is the one in docs/reliability.md.
 */
import { gzipSync } from 'node:zlib';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Observable } from 'rxjs';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ApiError, ConnectionError, LlmError, MalformedStreamError, RateLimitError, TimeoutError, openaiCompatible, undiciTransport,
  type LlmEvent, type LlmRequestInput,
} from 'rxllm';
import { deadline, fallback, retryBackoff, type DeadlineConfig } from 'rxllm/operators';
import { jsonReply, startMockServer, type MockReply, type MockServer } from 'rxllm/testing';
import { pause, record, waitFor } from '../helpers/observe';
import { settleLeaks, trackHandles } from './helpers/handles';
import {
  answerReply, answerWords, CONTENT_TYPE, FAKE_KEY, frameAfterText, framesBeforeText, framesOf, framesWithoutEnd, modelFor,
  type Provider, type Target,
} from './helpers/providers';
import { startRawServer, type RawServer } from './helpers/raw-http';

// ---------------------------------------------------------------------------------------------
// The rows

const PRIMARY = answerWords('p', 8);
const BACKUP = answerWords('b', 8);
const request: LlmRequestInput = { messages: [{ role: 'user', content: 'fault matrix' }] };

const ERROR_CLASSES = { ApiError, ConnectionError, MalformedStreamError, RateLimitError, TimeoutError } as const;

/** The bare model's outcome. */
type Outcome =
  | {
      readonly kind: 'error';
      readonly name: keyof typeof ERROR_CLASSES;
      readonly code: string;
      readonly retryable: boolean;
      /** What the message must say (the real problem, in words). */
      readonly message?: RegExp;
      readonly status?: number;
      /** An exact value, `null` for "absent", or an inclusive range. */
      readonly retryAfterMs?: number | null | readonly [number, number];
      readonly timeoutKind?: TimeoutError['kind'];
    }
  /** Completes with the primary's whole answer. */
  | { readonly kind: 'complete' }
  /** Never ends by itself: the test leaves after the text stops, and no terminal may come. */
  | { readonly kind: 'left' };

/**
 * The pipeline's outcome: `recovers` — the backup's whole answer, after `primaryCalls` calls to the
 * faulty server (1 + the one retry when the error is retried; 1 when it goes straight to the
 * fallback); `same` — the bare outcome passed on, the backup never called.
 */
type PipelineOutcome = { readonly kind: 'recovers'; readonly primaryCalls: number } | { readonly kind: 'same' };

interface Row {
  readonly name: string;
  readonly providers: readonly Provider[];
  /** The faulty server's reply to every request (so a retry meets the same fault). */
  readonly reply?: (provider: Provider) => MockReply;
  /** Instead of the mock server: where the primary model points. */
  readonly target?: 'refused' | 'dns' | { readonly raw: (provider: Provider) => ReadonlyArray<string | Uint8Array> };
  readonly deadline?: DeadlineConfig;
  /** For `left` rows: how long after the second text delta the test unsubscribes. */
  readonly leaveAfterMs?: number;
  /** The client must have aborted the faulty response: its socket closed mid-response before the pool is closed. */
  readonly aborts?: boolean;
  /** The bare run must end within this many ms (fails fast). */
  readonly withinMs?: number;
  readonly bare: Outcome | ((provider: Provider) => Outcome);
  readonly pipeline: PipelineOutcome | ((provider: Provider) => PipelineOutcome);
}

const ALL: readonly Provider[] = ['openai', 'anthropic', 'ollama'];
const SSE: readonly Provider[] = ['openai', 'anthropic'];
const OPENAI: readonly Provider[] = ['openai'];

const withFrames = (provider: Provider, chunks: ReadonlyArray<string | Uint8Array>, extra: Partial<MockReply> = {}): MockReply => ({
  status: 200,
  headers: { 'content-type': CONTENT_TYPE[provider] },
  chunks,
  ...extra,
});
/** The frames of the primary's answer with `frame` inserted after its second text delta. */
const withFrameAfterTwo = (provider: Provider, frame: string): string[] => {
  const frames = framesOf(provider, PRIMARY);
  const at = framesBeforeText(provider) + 2;
  return [...frames.slice(0, at), frame, ...frames.slice(at)];
};
const rateLimited = (retryAfter: string): MockReply =>
  jsonReply(429, { error: { message: 'Rate limit reached for requests', type: 'rate_limit_error' } }, { 'retry-after': retryAfter });
const rateLimitedRow = (shown: string, retryAfter: string | (() => string), retryAfterMs: NonNullable<Extract<Outcome, { kind: 'error' }>['retryAfterMs']> | null, primaryCalls: number): Row => ({
  name: `429 with retry-after: ${shown}`,
  providers: OPENAI,
  reply: () => rateLimited(typeof retryAfter === 'string' ? retryAfter : retryAfter()),
  bare: { kind: 'error', name: 'RateLimitError', code: 'rate_limited', retryable: true, status: 429, retryAfterMs },
  pipeline: { kind: 'recovers', primaryCalls },
});

const NGINX_502 = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
const LOGIN_PAGE = '<!DOCTYPE html><html><head><title>Sign in - Corporate Proxy</title></head><body><form action="/login"><input name="user"></form></body></html>';
const NON_STREAMED: Readonly<Record<Provider, unknown>> = {
  openai: {
    id: 'chatcmpl-1', object: 'chat.completion', created: 1_700_000_000, model: 'primary-model',
    choices: [{ index: 0, message: { role: 'assistant', content: PRIMARY.join('') }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 8, total_tokens: 13 },
  },
  anthropic: {
    id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-primary', content: [{ type: 'text', text: PRIMARY.join('') }],
    stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 5, output_tokens: 8 },
  },
  ollama: { model: 'primary:1b', created_at: '2025-01-01T00:00:00Z', message: { role: 'assistant', content: PRIMARY.join('') }, done_reason: 'stop', done: true },
};
const IN_BAND_ERROR: Readonly<Record<Provider, string>> = {
  openai: `data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error' } })}\n\n`,
  anthropic: `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`,
  ollama: `${JSON.stringify({ error: 'an error was encountered while running the model: unexpected EOF' })}\n`,
};
const GARBAGE_PAYLOAD: Readonly<Record<Provider, string>> = {
  openai: 'data: {"choices":[{"delta":{"content":"x"}}]]]}<garbage>\n\n',
  anthropic: 'event: content_block_delta\ndata: <garbage>{"type":\n\n',
  ollama: '<garbage>{"message":\n',
};
/** Lines an SSE parser must skip: a comment, fields it does not know, a field without a colon. */
const GARBAGE_FIELDS = ': keep-alive\nx-proxy-note: hello\ngarbage line without a colon\nretry: soon\n\n';

const ROWS: readonly Row[] = [
  {
    name: 'connection refused (a closed port)',
    providers: ['openai', 'ollama'],
    target: 'refused',
    withinMs: 3000,
    bare: (p) => ({ kind: 'error', name: 'ConnectionError', code: 'connection_failed', retryable: true, message: p === 'ollama' ? /ollama serve/ : /refused/ }),
    pipeline: { kind: 'recovers', primaryCalls: 2 },
  },
  {
    name: 'DNS failure (a .invalid host)',
    providers: OPENAI,
    target: 'dns',
    withinMs: 3000,
    bare: { kind: 'error', name: 'ConnectionError', code: 'connection_failed', retryable: true, message: /resolve/ },
    pipeline: { kind: 'recovers', primaryCalls: 2 },
  },
  {
    name: 'reset before headers',
    providers: OPENAI,
    reply: (p) => answerReply(p, PRIMARY, { closeBeforeHeaders: true }),
    bare: { kind: 'error', name: 'ConnectionError', code: 'connection_failed', retryable: true },
    pipeline: { kind: 'recovers', primaryCalls: 2 },
  },
  {
    name: 'reset mid-stream (after 2 deltas)',
    providers: ALL,
    reply: (p) => answerReply(p, PRIMARY, { resetAfterChunks: framesBeforeText(p) + 2, chunkDelayMs: 5 }),
    bare: { kind: 'error', name: 'ConnectionError', code: 'connection_failed', retryable: true, message: /closed before the response ended/ },
    pipeline: { kind: 'recovers', primaryCalls: 2 },
  },
  {
    name: 'stall after 2 deltas, deadline({ idle: 150 })',
    providers: ALL,
    reply: (p) => answerReply(p, PRIMARY, { stallAfterChunks: framesBeforeText(p) + 2 }),
    deadline: { idle: 150 },
    aborts: true,
    bare: { kind: 'error', name: 'TimeoutError', code: 'timeout', retryable: true, timeoutKind: 'idle' },
    pipeline: { kind: 'recovers', primaryCalls: 2 },
  },
  {
    name: 'stall after 2 deltas, no deadline (the consumer leaves)',
    providers: ALL,
    reply: (p) => answerReply(p, PRIMARY, { stallAfterChunks: framesBeforeText(p) + 2 }),
    leaveAfterMs: 150,
    aborts: true,
    bare: { kind: 'left' },
    pipeline: { kind: 'same' },
  },
  {
    name: 'slow headers (800 ms), deadline({ firstToken: 150 })',
    providers: OPENAI,
    reply: (p) => answerReply(p, PRIMARY, { headersDelayMs: 800 }),
    deadline: { firstToken: 150 },
    aborts: true,
    bare: { kind: 'error', name: 'TimeoutError', code: 'timeout', retryable: true, timeoutKind: 'first-token' },
    pipeline: { kind: 'recovers', primaryCalls: 2 },
  },
  {
    name: '103 Early Hints before the 200',
    providers: OPENAI,
    target: { raw: (p) => ['HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n', okHead(p), ...framesOf(p, PRIMARY)] },
    bare: { kind: 'complete' },
    pipeline: { kind: 'same' },
  },
  {
    name: '102 Processing, then 103 Early Hints, before the 200',
    providers: OPENAI,
    target: { raw: (p) => ['HTTP/1.1 102 Processing\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n', okHead(p), ...framesOf(p, PRIMARY)] },
    bare: { kind: 'complete' },
    pipeline: { kind: 'same' },
  },
  {
    // undici (7.x) refuses a 100 that no `expect: 100-continue` asked for and destroys the socket
    // ("bad response"), before any handler of the client's could skip it: a retryable connection
    // failure is the most a client on undici can make of it.
    name: 'unsolicited 100 Continue before the 200 (undici refuses it)',
    providers: OPENAI,
    target: { raw: (p) => ['HTTP/1.1 100 Continue\r\n\r\n', okHead(p), ...framesOf(p, PRIMARY)] },
    bare: { kind: 'error', name: 'ConnectionError', code: 'connection_failed', retryable: true },
    pipeline: { kind: 'recovers', primaryCalls: 2 },
  },
  {
    name: 'truncated at a line boundary (no finish, no end marker)',
    providers: ALL,
    reply: (p) => withFrames(p, framesWithoutEnd(p, PRIMARY)),
    bare: { kind: 'error', name: 'MalformedStreamError', code: 'malformed_stream', retryable: true, message: /truncated/ },
    pipeline: { kind: 'recovers', primaryCalls: 2 },
  },
  {
    name: 'truncated mid-line (the body ends inside a JSON frame)',
    providers: ALL,
    reply: (p) => {
      const next = frameAfterText(p, PRIMARY);
      return withFrames(p, [...framesWithoutEnd(p, PRIMARY), next.slice(0, Math.floor(next.length / 2))]);
    },
    bare: { kind: 'error', name: 'MalformedStreamError', code: 'malformed_stream', retryable: true, message: /truncated/ },
    pipeline: { kind: 'recovers', primaryCalls: 2 },
  },
  {
    name: 'garbage payload after 2 deltas (unparsable JSON)',
    providers: ALL,
    reply: (p) => withFrames(p, withFrameAfterTwo(p, GARBAGE_PAYLOAD[p])),
    bare: { kind: 'error', name: 'MalformedStreamError', code: 'malformed_stream', retryable: false, message: /unparsable/ },
    pipeline: { kind: 'same' },
  },
  {
    name: 'garbage SSE lines (comments, unknown fields): skipped',
    providers: SSE,
    reply: (p) => withFrames(p, withFrameAfterTwo(p, GARBAGE_FIELDS)),
    bare: { kind: 'complete' },
    pipeline: { kind: 'same' },
  },
  {
    name: 'in-band error after 2 deltas',
    providers: ALL,
    reply: (p) => withFrames(p, withFrameAfterTwo(p, IN_BAND_ERROR[p])),
    bare: (p) =>
      p === 'openai'
        ? { kind: 'error', name: 'ApiError', code: 'server_error', retryable: true, message: /server had an error/ }
        : p === 'anthropic'
          ? { kind: 'error', name: 'ApiError', code: 'overloaded', retryable: true, message: /Overloaded/ }
          : { kind: 'error', name: 'ApiError', code: 'api_error', retryable: false, message: /unexpected EOF/ },
    pipeline: (p) => (p === 'ollama' ? { kind: 'same' } : { kind: 'recovers', primaryCalls: 2 }),
  },
  rateLimitedRow('0', '0', 0, 2),
  rateLimitedRow('-5 (negative)', '-5', null, 2),
  rateLimitedRow('0.05 (fractional seconds)', '0.05', 50, 2),
  rateLimitedRow('a date in the past', 'Wed, 21 Oct 2015 07:28:00 GMT', 0, 2),
  rateLimitedRow('an HTTP-date 5 minutes ahead (over maxRetryAfter)', () => new Date(Date.now() + 300_000).toUTCString(), [290_000, 300_000], 1),
  rateLimitedRow('99999999999 (huge)', '99999999999', [60_001, Number.MAX_SAFE_INTEGER], 1),
  rateLimitedRow('"soon" (garbage)', 'soon', null, 2),
  {
    name: 'HTML 502 from a proxy',
    providers: ALL,
    reply: () => ({ status: 502, headers: { 'content-type': 'text/html' }, body: NGINX_502 }),
    bare: { kind: 'error', name: 'ApiError', code: 'bad_gateway', retryable: true, status: 502, message: /502 Bad Gateway/ },
    pipeline: { kind: 'recovers', primaryCalls: 2 },
  },
  {
    name: '200 with text/html (a login page)',
    providers: ALL,
    reply: () => ({ status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: LOGIN_PAGE }),
    bare: { kind: 'error', name: 'MalformedStreamError', code: 'malformed_stream', retryable: false, message: /html/i },
    pipeline: { kind: 'same' },
  },
  {
    name: '200 with a non-streamed JSON answer',
    providers: SSE, // Ollama's non-streamed answer is one NDJSON line with done: true, which parses as a stream
    reply: (p) => jsonReply(200, NON_STREAMED[p]),
    bare: { kind: 'error', name: 'MalformedStreamError', code: 'malformed_stream', retryable: false, message: /json/i },
    pipeline: { kind: 'same' },
  },
  {
    name: 'empty 200',
    providers: ALL,
    reply: (p) => ({ status: 200, headers: { 'content-type': CONTENT_TYPE[p] } }),
    bare: { kind: 'error', name: 'MalformedStreamError', code: 'malformed_stream', retryable: true, message: /empty/i },
    pipeline: { kind: 'recovers', primaryCalls: 2 },
  },
  {
    name: 'content-encoding: gzip the client never asked for',
    providers: ALL,
    reply: (p) => ({ status: 200, headers: { 'content-type': CONTENT_TYPE[p] }, contentEncoding: 'gzip', body: gzipSync(framesOf(p, PRIMARY).join('')) }),
    bare: { kind: 'error', name: 'MalformedStreamError', code: 'malformed_stream', retryable: false, message: /content-encoding/i },
    pipeline: { kind: 'same' },
  },
];

/** A 200's head with no length, closed by the server: its body runs to the close. */
function okHead(provider: Provider): string {
  return `HTTP/1.1 200 OK\r\ncontent-type: ${CONTENT_TYPE[provider]}\r\nconnection: close\r\n\r\n`;
}

// ---------------------------------------------------------------------------------------------
// Running a row

/** Room after the terminal notification for a stray second one or a late event. */
const SETTLE_MS = 100;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

describe('fault matrix', () => {
  for (const row of ROWS) {
    for (const provider of row.providers) {
      describe(`${row.name} [${provider}]`, () => {
        it('bare model', () => runRow(row, provider, 'bare'));
        it('retryBackoff + fallback', () => runRow(row, provider, 'pipeline'));
      });
    }
  }
});

async function runRow(row: Row, provider: Provider, mode: 'bare' | 'pipeline'): Promise<void> {
  const [primary, backup] = await Promise.all([startMockServer(), startMockServer()]);
  cleanups.push(() => Promise.all([primary.close(), backup.close()]));
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  cleanups.push(() => agent.destroy());
  const transport = undiciTransport({ dispatcher: agent });
  const raw = typeof row.target === 'object' ? await startRawServer({ pieces: row.target.raw(provider) }) : undefined;
  if (raw) cleanups.push(() => raw.close());
  const target = await targetOf(row, primary, raw);
  if (row.reply) {
    const reply = row.reply;
    primary.setHandler(() => reply(provider));
  }
  backup.setHandler(() => answerReply('openai', BACKUP));
  const handles = trackHandles();
  cleanups.push(async () => handles.stop());

  const backupModel = openaiCompatible({ name: 'backup', model: 'backup-model', baseURL: backup.url, apiKey: FAKE_KEY, transport });
  let stream: Observable<LlmEvent> = modelFor(provider, target, transport).stream(request);
  if (row.deadline) stream = stream.pipe(deadline(row.deadline));
  if (mode === 'pipeline') {
    stream = stream.pipe(
      retryBackoff({ maxRetries: 1, initialDelay: 10, random: () => 0.5, afterOutput: 'restart' }),
      fallback({ models: [backupModel], afterOutput: 'restart' }),
    );
  }
  const bare = typeof row.bare === 'function' ? row.bare(provider) : row.bare;
  const pipelineOutcome = typeof row.pipeline === 'function' ? row.pipeline(provider) : row.pipeline;
  const expected: Outcome | 'recovers' = mode === 'bare' || pipelineOutcome.kind === 'same' ? bare : 'recovers';

  const started = performance.now();
  const seen = record(stream);
  if (expected !== 'recovers' && expected.kind === 'left') {
    await waitFor(() => seen.values.filter((e) => e.type === 'text').length >= 2, 'two text deltas', 5000);
    await pause(row.leaveAfterMs ?? 100);
    seen.subscription.unsubscribe();
  } else {
    await Promise.race([seen.terminal, pause(10_000)]);
  }
  const elapsed = performance.now() - started;
  await pause(SETTLE_MS);

  // The contract: one terminal (none for a run the test left), nothing after it, request first and once.
  const terminals = seen.errors.length + seen.completes;
  expect(terminals, 'terminal notifications').toBe(expected !== 'recovers' && expected.kind === 'left' ? 0 : 1);
  expect(seen.nextAfterTerminal, 'events after the terminal notification').toBe(0);
  expect(seen.values[0]?.type, 'first event').toBe('request');
  expect(seen.values.filter((e) => e.type === 'request'), 'request events').toHaveLength(1);
  expect(seen.values.filter((e) => e.type === 'finish').length, 'finish events').toBe(seen.completes);
  if (row.withinMs !== undefined) expect(elapsed, 'fails fast').toBeLessThan(row.withinMs);
  const final = checkDeltas(seen.values);

  // The outcome.
  if (expected === 'recovers') {
    expect(seen.errors, 'recovered').toEqual([]);
    expect(final, "the backup's whole answer").toEqual(BACKUP);
    const calls = (pipelineOutcome as Extract<PipelineOutcome, { kind: 'recovers' }>).primaryCalls;
    expect(seen.values.filter((e) => e.type === 'retry'), 'retry notices').toHaveLength(Math.max(0, calls - 1));
    expect(seen.values.filter((e) => e.type === 'fallback'), 'fallback notices').toHaveLength(1);
    if (target.url === primary.url) expect(primary.requests, 'calls to the faulty server').toHaveLength(calls);
    expect(backup.requests, 'calls to the backup').toHaveLength(1);
  } else {
    expectOutcome(expected, seen.errors[0], final);
    if (row.reply) expect(primary.requests, 'calls to the faulty server').toHaveLength(1);
    expect(backup.requests, 'calls to the backup').toHaveLength(0);
    expect(seen.values.filter((e) => e.type === 'retry' || e.type === 'fallback'), 'notices').toEqual([]);
  }

  // No handle left: nothing still being answered; an aborted response's socket closed by the client
  // itself; then, with the pool closed, every connection closed and no timer or socket above the baseline.
  await waitFor(() => primary.openRequests === 0 && backup.openRequests === 0, 'no response still running on the servers', 5000);
  if (row.aborts) {
    for (const { connectionId } of primary.requests) {
      expect((await primary.waitForClose(connectionId, 5000)).closedMidResponse, 'aborted mid-response').toBe(true);
    }
  }
  const closed = await Promise.race([agent.close().then(() => true), pause(5000).then(() => false)]);
  expect(closed, "the client's pool closes (no request left in flight)").toBe(true);
  for (const server of [primary, backup]) if (server.requests.length > 0) await server.waitForClose(undefined, 5000);
  if (raw) await raw.waitForClose(5000);
  await Promise.all([primary.close(), backup.close(), raw?.close()]);
  expect(await settleLeaks(handles, 5000), 'timers made by rxllm or undici, and TCP sockets, still alive').toEqual([]);
}

async function targetOf(row: Row, primary: MockServer, raw: RawServer | undefined): Promise<Target> {
  if (raw) return raw;
  if (row.target === 'dns') return { url: 'http://rxllm-fault-matrix.invalid/v1', origin: 'http://rxllm-fault-matrix.invalid' };
  if (row.target === 'refused') {
    const origin = `http://127.0.0.1:${await closedPort()}`;
    return { url: `${origin}/v1`, origin };
  }
  return primary;
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Each token at most once: the text deltas, cut into attempts at every `reset: true` notice, are
 * each a prefix of the scripted deltas of the server that answered that attempt (the primary's
 * `p…` words or the backup's `b…` words). Returns the last attempt's deltas.
 */
function checkDeltas(events: readonly LlmEvent[]): string[] {
  const attempts: string[][] = [[]];
  for (const event of events) {
    if ((event.type === 'retry' || event.type === 'fallback') && event.reset) attempts.push([]);
    if (event.type === 'text') attempts[attempts.length - 1]!.push(event.text);
  }
  for (const deltas of attempts) {
    const script = deltas[0]?.startsWith('b') ? BACKUP : PRIMARY;
    expect(deltas, 'the deltas of one attempt: a prefix of its script, each once').toEqual(script.slice(0, deltas.length));
  }
  return attempts[attempts.length - 1]!;
}

function expectOutcome(expected: Outcome, error: unknown, final: readonly string[]): void {
  if (expected.kind === 'complete') {
    expect(error, 'completes').toBeUndefined();
    expect(final, "the primary's whole answer").toEqual(PRIMARY);
    return;
  }
  if (expected.kind === 'left') return;
  expect(error, 'an error').toBeDefined();
  const facts = error as LlmError;
  expect(LlmError.is(error), `an LlmError: ${String(error)}`).toBe(true);
  expect({ name: facts.name, code: facts.code, retryable: facts.retryable }, facts.message).toEqual({ name: expected.name, code: expected.code, retryable: expected.retryable });
  expect(ERROR_CLASSES[expected.name].is(error)).toBe(true);
  if (expected.message) expect(facts.message).toMatch(expected.message);
  if (expected.status !== undefined) expect(facts.status).toBe(expected.status);
  if (expected.timeoutKind !== undefined) expect((error as TimeoutError).kind).toBe(expected.timeoutKind);
  if (expected.retryAfterMs === null) expect(facts.retryAfterMs, 'retryAfterMs').toBeUndefined();
  else if (typeof expected.retryAfterMs === 'number') expect(facts.retryAfterMs, 'retryAfterMs').toBe(expected.retryAfterMs);
  else if (expected.retryAfterMs) {
    expect(facts.retryAfterMs, 'retryAfterMs').toBeGreaterThanOrEqual(expected.retryAfterMs[0]);
    expect(facts.retryAfterMs, 'retryAfterMs').toBeLessThanOrEqual(expected.retryAfterMs[1]);
  }
  expect(facts.message, 'no key in the message').not.toContain(FAKE_KEY);
}
