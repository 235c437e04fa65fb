import { z } from 'zod';
import { defaultTransport } from '../http/default-transport';
import type { Transport } from '../http/transport';
import type { Model } from '../core/model';
import { jsonReply, openaiChunks, startMockServer, type MockReply, type MockServer, type RecordedRequest } from '../testing/mock-server';
import { anthropicChunks, anthropicErrorBody } from '../testing/wire/anthropic';
import { geminiChunks, geminiErrorBody } from '../testing/wire/gemini';
import { ollamaChunks, ollamaErrorBody } from '../testing/wire/ollama';
import { openaiResponsesChunks, openaiResponsesErrorBody } from '../testing/wire/openai-responses';
import { parseConfig } from '../core/config';
import { mulberry32 } from '../core/random';
import type { ModelInfo } from '../core/events';
import { toAnthropicBody } from './anthropic';
import { anthropicParser } from './anthropic-parser';
import { toGeminiBody } from './gemini';
import { geminiParser } from './gemini-parser';
import { httpModel, type HttpModelSetup } from './http-model';
import { toOllamaBody } from './ollama';
import { ollamaParser } from './ollama-parser';
import { toOpenAIChatBody } from './openai';
import { openaiChatParser } from './openai-chat-parser';
import { toResponsesBody } from './openai-responses';
import { openaiResponsesParser } from './openai-responses-parser';

/** A fault the simulator plays instead of (or in the middle of) an answer. */
export type SimulatedFault =
  /** An HTTP error with an OpenAI-style body, e.g. `{ status: 503 }` or `{ status: 429, retryAfterMs: 1000 }`. */
  | { readonly status: number; readonly message?: string; readonly retryAfterMs?: number }
  /** Drop the connection after this many tokens. */
  | { readonly resetAfterTokens: number }
  /** Stop sending after this many tokens and hold the connection open. */
  | { readonly stallAfterTokens: number };

/** The wire formats the simulator speaks, each through that provider's own request mapping and parser. */
export type SimulatedFormat = 'openai' | 'anthropic' | 'gemini' | 'ollama' | 'openai-responses';

export interface SimulatedConfig {
  /** Model id reported in events. @defaultValue 'sim-1' */
  readonly model?: string;
  /**
   * Which provider's wire format to speak: the request is rendered with that provider's body
   * mapping and the answer parsed by its parser, exactly as with the real provider.
   * @defaultValue 'openai'
   */
  readonly format?: SimulatedFormat;
  /** Delay before the first token. @defaultValue 150 */
  readonly ttftMs?: number;
  /** Output pace. @defaultValue 80 */
  readonly tokensPerSecond?: number;
  /** Answer length in tokens when the request sets no `maxOutputTokens` smaller. @defaultValue 60 */
  readonly outputTokens?: number;
  /** Faults for the first requests, in order: `[{ status: 503 }]` fails the first call only. */
  readonly faults?: readonly SimulatedFault[];
  /** Text the answers are drawn from. @defaultValue a small bundled corpus */
  readonly corpus?: readonly string[];
}

/** A simulated model: a `Model`, plus its loopback server's record. */
export interface SimulatedModel extends Model {
  /** The loopback server (started on first use): what requests and connections it saw. */
  server(): Promise<MockServer>;
  /** Stops the server. The model starts a new one if used again. */
  close(): Promise<void>;
}

const faultSchema = z.union([
  z.strictObject({ status: z.number().int().min(400).max(599), message: z.string().optional(), retryAfterMs: z.number().nonnegative().optional() }),
  z.strictObject({ resetAfterTokens: z.number().int().nonnegative() }),
  z.strictObject({ stallAfterTokens: z.number().int().nonnegative() }),
]);

const configSchema = z.strictObject({
  model: z.string().min(1).optional(),
  format: z.enum(['openai', 'anthropic', 'gemini', 'ollama', 'openai-responses']).optional(),
  ttftMs: z.number().nonnegative().optional(),
  tokensPerSecond: z.number().positive().optional(),
  outputTokens: z.number().int().positive().optional(),
  faults: z.array(faultSchema).optional(),
  corpus: z.array(z.string().min(1)).min(1).optional(),
});

/**
 * A simulator, not a language model: answers are stitched deterministically from a small corpus
 * (the same prompt always gets the same answer), paced at `ttftMs` and `tokensPerSecond`, with
 * usage reported. It runs an OpenAI-compatible server on 127.0.0.1 inside your process, so every
 * byte goes through the same HTTP transport and SSE parser as a real provider — which is what
 * makes it useful for demos, tests and benchmarks without a key or a network.
 *
 * @example
 * const model = simulated({ ttftMs: 300, tokensPerSecond: 40 });
 * model.stream({ messages: [{ role: 'user', content: 'Tell me about streams' }] }).pipe(text()).subscribe(console.log);
 */
export function simulated(config: SimulatedConfig = {}): SimulatedModel {
  const options = parseConfig('simulated', configSchema, config);
  const { ttftMs = 150, tokensPerSecond = 80, outputTokens = 60, corpus = CORPUS } = options;
  const faults = [...(options.faults ?? [])];
  const id = options.model ?? 'sim-1';
  let server: Promise<MockServer> | undefined;

  const wire = WIRES[options.format ?? 'openai'];
  const respond = (request: RecordedRequest): MockReply => {
    const body = (request.json ?? {}) as WireBody;
    const limit = maxTokensOf(body);
    const prompt = promptText(body);
    const deltas = answer(prompt, outputTokens, corpus).slice(0, limit ?? outputTokens);
    const truncated = limit !== undefined && limit < outputTokens;
    const usage = { inputTokens: Math.ceil(prompt.length / 4) + 4, outputTokens: deltas.length };
    const requestId = `req_sim_${request.index}`;
    const chunks = wire.frames(deltas, { model: id, truncated, usage, index: request.index });
    const pace = { firstChunkDelayMs: ttftMs, chunkDelayMs: 1000 / tokensPerSecond };
    const headers = { 'content-type': wire.contentType, 'x-request-id': requestId };
    const fault = faults.shift();
    if (fault === undefined) return { headers, chunks, ...pace };
    if ('status' in fault) {
      const message = fault.message ?? `simulated ${fault.status}`;
      return jsonReply(fault.status, wire.error(fault.status, message, fault.retryAfterMs), {
        'x-request-id': requestId,
        ...(fault.retryAfterMs !== undefined ? { 'retry-after-ms': String(fault.retryAfterMs) } : {}),
      });
    }
    return 'resetAfterTokens' in fault ? { headers, chunks, ...pace, resetAfterChunks: fault.resetAfterTokens } : { headers, chunks, ...pace, stallAfterChunks: fault.stallAfterTokens };
  };

  const start = (): Promise<MockServer> => (server ??= startMockServer({ handler: respond, unref: true }));
  const info: ModelInfo = { provider: 'simulated', id, name: `simulated:${id}`, baseURL: 'http://127.0.0.1/v1' };
  const model = httpModel({
    ...wire.setup(info),
    info,
    headers: { 'content-type': 'application/json', accept: wire.contentType },
    transport: deferredOrigin(() => start().then((s) => s.origin), defaultTransport),
  });
  return {
    ...model,
    server: start,
    async close() {
      const running = server;
      server = undefined;
      await (await running)?.close();
    },
  };
}

/** A transport that waits for an origin (the simulator's port) and then sends there. */
function deferredOrigin(origin: () => Promise<string>, inner: () => Transport): Transport {
  return {
    send(request, sink) {
      let call: ReturnType<Transport['send']> | undefined;
      let state: 'waiting' | 'aborted' | 'released' | 'sent' = 'waiting';
      origin().then(
        (base) => {
          if (state !== 'waiting') return;
          state = 'sent';
          const url = new URL(request.url);
          call = inner().send({ ...request, url: base + url.pathname + url.search }, sink);
        },
        (error: unknown) => {
          if (state === 'waiting') sink.onError(error);
        },
      );
      return {
        abort() {
          if (call) call.abort();
          else state = 'aborted';
        },
        release() {
          if (call) call.release();
          else state = 'released';
        },
      };
    },
  };
}

/** The request body fields the simulator reads, across formats. */
interface WireBody {
  readonly max_tokens?: number;
  readonly max_completion_tokens?: number;
  readonly max_output_tokens?: number;
  readonly generationConfig?: { readonly maxOutputTokens?: number };
  readonly options?: { readonly num_predict?: number };
}

function maxTokensOf(body: WireBody): number | undefined {
  return body.max_tokens ?? body.max_completion_tokens ?? body.max_output_tokens ?? body.generationConfig?.maxOutputTokens ?? body.options?.num_predict;
}

/** The prompt's text in any format's body (the strings under content/text/instructions/system/input): seeds the answer and sizes the simulated input usage (about 4 characters a token). */
function promptText(body: unknown): string {
  const parts: string[] = [];
  const visit = (value: unknown, key: string): void => {
    if (typeof value === 'string') {
      if (key === 'content' || key === 'text' || key === 'instructions' || key === 'system' || key === 'input') parts.push(value);
    } else if (Array.isArray(value)) {
      for (const item of value) visit(item, key);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, k);
    }
  };
  visit(body, '');
  return parts.join('\n');
}

interface FrameOptions {
  readonly model: string;
  readonly truncated: boolean;
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number };
  readonly index: number;
}

/** One wire format: how the simulator answers in it, and how a model sends and parses it. */
interface Wire {
  readonly contentType: string;
  frames(deltas: readonly string[], options: FrameOptions): string[];
  error(status: number, message: string, retryAfterMs: number | undefined): unknown;
  setup(info: ModelInfo): Pick<HttpModelSetup, 'url' | 'body' | 'framing' | 'parser'>;
}

const SSE = 'text/event-stream';
const base = (info: ModelInfo): string => info.baseURL!;

const WIRES: Readonly<Record<SimulatedFormat, Wire>> = {
  openai: {
    contentType: SSE,
    frames: (deltas, o) =>
      openaiChunks(deltas, { model: o.model, finishReason: o.truncated ? 'length' : 'stop', usage: { prompt_tokens: o.usage.inputTokens, completion_tokens: o.usage.outputTokens }, id: `chatcmpl-sim-${o.index}` }),
    error: (status, message) => ({ error: { message, type: status >= 500 ? 'server_error' : 'simulated_error', code: null } }),
    setup: (info) => ({ url: () => `${base(info)}/chat/completions`, body: (r) => toOpenAIChatBody(r, info, 'max_tokens'), framing: 'sse', parser: openaiChatParser }),
  },
  anthropic: {
    contentType: SSE,
    frames: (deltas, o) =>
      anthropicChunks(deltas, { model: o.model, finishReason: o.truncated ? 'max_tokens' : 'end_turn', usage: { input_tokens: o.usage.inputTokens, output_tokens: o.usage.outputTokens } }),
    error: (status, message) => anthropicErrorBody(status, message),
    setup: (info) => ({ url: () => `${base(info)}/messages`, body: (r) => toAnthropicBody(r, info), framing: 'sse', parser: anthropicParser }),
  },
  gemini: {
    contentType: SSE,
    frames: (deltas, o) =>
      geminiChunks(deltas, { model: o.model, finishReason: o.truncated ? 'MAX_TOKENS' : 'STOP', usage: { promptTokenCount: o.usage.inputTokens, candidatesTokenCount: o.usage.outputTokens } }),
    error: (status, message, retryAfterMs) => geminiErrorBody(status, message, retryAfterMs === undefined ? {} : { retryAfterMs }),
    setup: (info) => ({ url: () => `${base(info)}/models/${info.id}:streamGenerateContent?alt=sse`, body: (r) => toGeminiBody(r, info), framing: 'sse', parser: geminiParser }),
  },
  ollama: {
    contentType: 'application/x-ndjson',
    frames: (deltas, o) => ollamaChunks(deltas, { model: o.model, finishReason: o.truncated ? 'length' : 'stop', usage: o.usage }),
    error: (status, message) => ollamaErrorBody(status, message),
    setup: (info) => ({ url: () => `${new URL(base(info)).origin}/api/chat`, body: (r) => toOllamaBody(r, info), framing: 'ndjson', parser: ollamaParser }),
  },
  'openai-responses': {
    contentType: SSE,
    frames: (deltas, o) => openaiResponsesChunks(deltas, { model: o.model, finishReason: o.truncated ? 'length' : 'stop', usage: o.usage, id: `resp_sim_${o.index}` }),
    error: (status, message) => openaiResponsesErrorBody(status, message),
    setup: (info) => ({ url: () => `${base(info)}/responses`, body: (r) => toResponsesBody(r, info), framing: 'sse', parser: openaiResponsesParser }),
  },
};

/** Deterministic answer for a prompt: sentences picked by a PRNG seeded from the prompt, as word deltas. */
function answer(prompt: string, tokens: number, corpus: readonly string[]): string[] {
  let seed = 2166136261;
  for (let i = 0; i < prompt.length; i++) seed = Math.imul(seed ^ prompt.charCodeAt(i), 16777619) >>> 0;
  const random = mulberry32(seed);
  const deltas: string[] = [];
  while (deltas.length < tokens) {
    const sentence = corpus[Math.floor(random() * corpus.length)]!;
    for (const word of sentence.match(/\S+/g) ?? []) deltas.push(deltas.length === 0 ? word : ` ${word}`);
  }
  return deltas.slice(0, tokens);
}

/** The bundled corpus: plain sentences about streams and the costs of calling models. */
const CORPUS: readonly string[] = [
  'A stream is a promise that keeps its word many times over.',
  'Every token that arrives early is a small gift to the person waiting at the screen.',
  'Cancelling a request the moment nobody needs it is the cheapest optimization there is.',
  'Caching an answer turns a slow and costly call into a lookup that takes microseconds.',
  'Retries should wait a little longer each time, with a random jitter so that clients do not march in step.',
  'A fallback model is a spare tire: rarely used, and priceless when it is.',
  'Time to first token is what users feel; tokens per second is what they read.',
  'Budgets work best when they are enforced while the response is still being written.',
  'Rate limits are shared by everyone on the same key, so it pays to queue politely.',
  'A circuit breaker stops a failing dependency from taking the rest of the system down with it.',
  'Small models answer easy questions well, and strong models earn their price on the hard ones.',
  'Observables are lazy: nothing happens until someone subscribes, and everything stops when they leave.',
  'The request travels at the head of the stream, so every operator can read it before a byte is sent.',
  'Back pressure is a conversation between a fast producer and a careful consumer.',
  'A good log line says what happened, to which request, and how long it took.',
  'Hedged requests trade a little extra load for a much shorter tail of slow responses.',
  'Deadlines turn a hung connection into a clear error that the rest of the pipeline can handle.',
  'The cheapest token is the one that never had to be generated.',
  'Measure twice, and keep the numbers next to the machine they came from.',
  'Simple pipelines compose into larger ones without anyone rewriting the parts.',
];
