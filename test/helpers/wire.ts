/**
 * Helpers for wire-level tests: run a recorded body through a provider parser purely (decoder +
 * parser, no HTTP), or through a real model against the mock server, and reduce the outcome to
 * plain data that can be compared and snapshotted.
 */
import { readFileSync } from 'node:fs';
import type { Observable } from 'rxjs';
import { LlmError, openaiCompatible } from 'rxllm';
import { openaiChatParser } from 'rxllm/providers';
import type { LlmEvent, Model } from 'rxllm';
import type { CallMeta, StreamParser } from 'rxllm/providers';
import { fixtureReply, jsonReply, startMockServer, type MockReply, type MockServer } from 'rxllm/testing';
import { afterAll, beforeAll, expect } from 'vitest';
import { ndjsonDecoder, sseDecoder, type FrameDecoder } from '../../src/http/sse';

/** What a stream ended with: its events (in order), then either completion or one error. */
export interface WireOutcome {
  readonly events: LlmEvent[];
  /** The error the stream ended with; `undefined` when it completed. */
  readonly error: unknown;
  readonly completed: boolean;
}

export interface ParseWireOptions {
  /** @defaultValue openaiChatParser */
  readonly parser?: (meta: CallMeta) => StreamParser;
  /** @defaultValue 'sse' */
  readonly framing?: 'sse' | 'ndjson';
  /** @defaultValue 'openai-compatible' */
  readonly provider?: string;
  /** Set on the parser's meta as if the response headers had carried it. */
  readonly requestId?: string;
}

/**
 * Feeds body pieces through the frame decoder and a fresh parser, the way `runHttpStream` does:
 * messages after the end marker are ignored, a throw ends the run with that error, and at end of
 * body the parser's `end()` runs unless the end marker came. Pure and synchronous.
 */
export function parseWire(pieces: Iterable<Uint8Array>, options: ParseWireOptions = {}): WireOutcome {
  const { parser: createParser = openaiChatParser, framing = 'sse', provider = 'openai-compatible', requestId } = options;
  const meta: CallMeta = requestId === undefined ? { provider } : { provider, requestId };
  const parser = createParser(meta);
  const events: LlmEvent[] = [];
  const emit = (event: LlmEvent): void => {
    events.push(event);
  };
  let finished = false;
  const onMessage = (data: string, event: string | undefined): void => {
    if (finished) return;
    if (parser.message(data, event, emit)) finished = true;
  };
  const decoder: FrameDecoder = framing === 'sse' ? sseDecoder(onMessage) : ndjsonDecoder((line) => onMessage(line, undefined));
  try {
    for (const piece of pieces) {
      if (finished) break;
      decoder.push(piece);
    }
    decoder.end();
    if (!finished) parser.end(emit);
  } catch (error) {
    return { events, error, completed: false };
  }
  return { events, error: undefined, completed: true };
}

/** `bytes` cut at the given offsets (ascending), e.g. `splitAt(body, k)` for two pieces. */
export function splitAt(bytes: Uint8Array, ...offsets: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (const offset of offsets) {
    out.push(bytes.subarray(start, offset));
    start = offset;
  }
  out.push(bytes.subarray(start));
  return out;
}

/** A file's bytes. */
export function bytesOf(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** The comparable facts of an error: class, code, message, status, retry hints, request id. */
export interface ErrorFacts {
  readonly name: string;
  readonly isLlmError: boolean;
  readonly code?: string;
  readonly message: string;
  readonly retryable?: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly requestId?: string;
  readonly provider?: string;
  readonly providerCode?: string;
}

export function errorFacts(error: unknown): ErrorFacts {
  if (!(error instanceof Error)) return { name: typeof error, isLlmError: false, message: String(error) };
  const e = error as Error & Partial<Record<'code' | 'providerCode' | 'provider' | 'requestId', string>> & { retryable?: boolean; status?: number; retryAfterMs?: number };
  const facts: Record<string, unknown> = { name: error.constructor.name, isLlmError: LlmError.is(error), message: error.message };
  for (const key of ['code', 'retryable', 'status', 'retryAfterMs', 'requestId', 'provider', 'providerCode'] as const) {
    if (e[key] !== undefined) facts[key] = e[key];
  }
  return facts as unknown as ErrorFacts;
}

/**
 * Subscribes and records every event until complete or error. Resolves (never rejects) with the
 * outcome; `errors` counts error notifications, so a test can demand exactly one.
 */
export function runStream(stream: Observable<LlmEvent>): Promise<WireOutcome & { readonly errors: number }> {
  return new Promise((resolve) => {
    const events: LlmEvent[] = [];
    let errors = 0;
    stream.subscribe({
      next: (event) => events.push(event),
      error: (error: unknown) => {
        errors++;
        resolve({ events, error, completed: false, errors });
      },
      complete: () => resolve({ events, error: undefined, completed: true, errors }),
    });
  });
}

/** An OpenAI-compatible model pointed at the mock server. */
export function mockModel(server: MockServer): Model {
  return openaiCompatible({ model: 'x', baseURL: server.url, apiKey: 'test-key-wire-fixtures' });
}

/**
 * Serves `reply` for the next request and streams one call of `model` through it. Uses the
 * server's queue, so calls must not overlap; for concurrent calls use `replyRouter`.
 */
export function streamReply(server: MockServer, model: Model, reply: MockReply): Promise<WireOutcome & { readonly errors: number }> {
  server.enqueue(reply);
  return runStream(model.stream({ messages: [{ role: 'user', content: 'hi' }] }));
}

/**
 * Routes replies by request, so many calls can run at once against one server: each call gets a
 * unique key as its user message, and the server's handler answers it with the reply registered
 * under that key. Installs the handler on `server`. Returns `stream(reply)`, which resolves with
 * the call's outcome.
 */
export function replyRouter(server: MockServer, model: Model): (reply: MockReply) => Promise<WireOutcome & { readonly errors: number }> {
  const replies = new Map<string, MockReply>();
  let next = 0;
  server.setHandler((request) => {
    const content = (request.json as { messages?: Array<{ content?: unknown }> } | undefined)?.messages?.[0]?.content;
    const reply = typeof content === 'string' ? replies.get(content) : undefined;
    if (!reply) return jsonReply(404, { error: { message: `wire helper: no reply registered for ${String(content)}`, type: 'test_unrouted' } });
    replies.delete(content as string);
    return reply;
  });
  return (reply) => {
    const key = `call-${next++}`;
    replies.set(key, reply);
    return runStream(model.stream({ messages: [{ role: 'user', content: key }] }));
  };
}

/**
 * Events reduced for snapshots: the `request` event becomes its provider and model id (its
 * `baseURL` carries the mock server's random port); every other event is kept as is.
 */
export function snapshotEvents(events: readonly LlmEvent[]): unknown[] {
  return events.map((event) => (event.type === 'request' ? { type: 'request', provider: event.model.provider, id: event.model.id } : event));
}

/** The joined text of one delta type, e.g. `joined(events, 'text')`. */
export function joined(events: readonly LlmEvent[], type: 'text' | 'reasoning'): string {
  const parts: string[] = [];
  for (const event of events) if (event.type === type) parts.push(event.text);
  return parts.join('');
}

/** Events without the `request` event (whose request carries the caller's routing key). */
export function afterRequest(events: readonly LlmEvent[]): LlmEvent[] {
  return events.filter((event) => event.type !== 'request');
}

/** Events without `request` and `response`: what the parser alone produced. */
export function parserEvents(events: readonly LlmEvent[]): LlmEvent[] {
  return events.filter((event) => event.type !== 'request' && event.type !== 'response');
}

export type StreamOutcome = WireOutcome & { readonly errors: number };

/**
 * Registers a suite-wide `beforeAll` that serves every file twice — whole and one byte per write —
 * all at the same time on one mock server (a byte-split body costs an event-loop turn per byte,
 * so one after another would be slow), and an `afterAll` that closes the server. Returns the map
 * that `beforeAll` fills: key → both outcomes.
 */
export function servedWholeAndByteSplit(files: ReadonlyArray<{ readonly key: string; readonly file: string }>): Map<string, { whole: StreamOutcome; byte: StreamOutcome }> {
  const outcomes = new Map<string, { whole: StreamOutcome; byte: StreamOutcome }>();
  let server: MockServer | undefined;
  beforeAll(async () => {
    server = await startMockServer();
    const stream = replyRouter(server, mockModel(server));
    await Promise.all(
      files.map(async ({ key, file }) => {
        const [whole, byte] = await Promise.all([stream(fixtureReply(file)), stream(fixtureReply(file, { split: 'byte' }))]);
        outcomes.set(key, { whole, byte });
      }),
    );
  }, 30_000);
  afterAll(async () => {
    await server?.close();
  });
  return outcomes;
}

/** Where a recorded request carries its routing key (the first user text), for `replyRouterBy`. */
export type RoutingKeyOf = (request: { readonly json: unknown }) => string | undefined;

/**
 * `replyRouter` for any provider: `keyOf` finds the routing key in the recorded request (for
 * Chat Completions bodies that is `messages[0].content`; Gemini puts it in
 * `contents[0].parts[0].text`). Installs the handler on `server`.
 */
export function replyRouterBy(server: MockServer, model: Model, keyOf: RoutingKeyOf): (reply: MockReply) => Promise<StreamOutcome> {
  const replies = new Map<string, MockReply>();
  let next = 0;
  server.setHandler((request) => {
    const key = keyOf(request);
    const reply = key === undefined ? undefined : replies.get(key);
    if (key === undefined || !reply) return jsonReply(404, { error: { message: `wire helper: no reply registered for ${String(key)}`, type: 'test_unrouted' } });
    replies.delete(key);
    return reply;
  });
  return (reply) => {
    const key = `call-${next++}`;
    replies.set(key, reply);
    return runStream(model.stream({ messages: [{ role: 'user', content: key }] }));
  };
}

/**
 * `servedWholeAndByteSplit` for any provider: `model` builds the model pointed at the mock server,
 * `keyOf` reads the routing key back from a recorded request (see `replyRouterBy`).
 */
export function servedWholeAndByteSplitBy(
  /** `reply` overrides the recorded status and headers, e.g. `{ status: 429 }` for a body recorded without them. */
  files: ReadonlyArray<{ readonly key: string; readonly file: string; readonly reply?: Omit<MockReply, 'body'> }>,
  options: { readonly model: (server: MockServer) => Model; readonly keyOf: RoutingKeyOf },
): Map<string, { whole: StreamOutcome; byte: StreamOutcome }> {
  const outcomes = new Map<string, { whole: StreamOutcome; byte: StreamOutcome }>();
  let server: MockServer | undefined;
  beforeAll(async () => {
    server = await startMockServer();
    const stream = replyRouterBy(server, options.model(server), options.keyOf);
    await Promise.all(
      files.map(async ({ key, file, reply = {} }) => {
        const [whole, byte] = await Promise.all([stream(fixtureReply(file, reply)), stream(fixtureReply(file, { ...reply, split: 'byte' }))]);
        outcomes.set(key, { whole, byte });
      }),
    );
  }, 30_000);
  afterAll(async () => {
    await server?.close();
  });
  return outcomes;
}

/** What `servedWholeAndByteSplit(By)` recorded under `key`; throws when nothing was served under it. */
export function outcomeIn<T>(outcomes: ReadonlyMap<string, T>, key: string): T {
  const outcome = outcomes.get(key);
  if (!outcome) throw new Error(`no outcome for ${key}`);
  return outcome;
}

/** `errorFacts` of the error a stream ended with, or `null` when it completed. */
export function errorFactsOrNull(error: unknown): ErrorFacts | null {
  return error === undefined ? null : errorFacts(error);
}

/** Chunking changes nothing: the byte-split run has the whole run's events (after `request`), ending and error. */
export function expectByteSplitLikeWhole(byte: WireOutcome, whole: WireOutcome): void {
  expect(afterRequest(byte.events), 'byte-split events = whole events').toEqual(afterRequest(whole.events));
  expect(byte.completed, 'byte-split completed = whole completed').toBe(whole.completed);
  expect(errorFactsOrNull(byte.error), 'byte-split error = whole error').toEqual(errorFactsOrNull(whole.error));
}

/** The routing key of a Chat Completions, Anthropic Messages or Ollama body: the first message's content, when a string. */
export const firstMessageContent: RoutingKeyOf = (request) => {
  const content = (request.json as { messages?: Array<{ content?: unknown }> } | undefined)?.messages?.[0]?.content;
  return typeof content === 'string' ? content : undefined;
};

/** The routing key of a Gemini body: the first user text, at `contents[0].parts[0].text`. */
export const firstGeminiText: RoutingKeyOf = (request) => {
  const first = (request.json as { contents?: Array<{ parts?: Array<{ text?: unknown }> }> } | undefined)?.contents?.[0]?.parts?.[0]?.text;
  return typeof first === 'string' ? first : undefined;
};

/** The routing key of a Responses API body: the first input message's first text part. */
export const firstInputText: RoutingKeyOf = (request) => {
  const text = (request.json as { input?: Array<{ content?: Array<{ text?: unknown }> }> } | undefined)?.input?.[0]?.content?.[0]?.text;
  return typeof text === 'string' ? text : undefined;
};
