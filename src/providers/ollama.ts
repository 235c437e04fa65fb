import { z } from 'zod';
import { parseConfig, shortened } from '../core/config';
import type { ModelInfo } from '../core/events';
import { ConfigurationError, ConnectionError, LlmError, registerSecret } from '../core/errors';
import { defaultTransport } from '../http/default-transport';
import type { HttpSink, Transport } from '../http/transport';
import type { Model } from '../core/model';
import { contentText, type LlmRequest } from '../core/request';
import { apiKeySchema, baseUrlSchema, headersSchema, normalizeHeaders, readEnv, toolArgumentsObject, transportSchema, withoutTrailingSlashes } from './config';
import { extraBodyFields, type OwnedField } from './parser-helpers';
import { httpModel } from './http-model';
import { ollamaParser } from './ollama-parser';

/** Where `ollama serve` listens unless told otherwise. */
const DEFAULT_BASE_URL = 'http://127.0.0.1:11434';

const ollamaSchema = z.strictObject({
  model: z.string().min(1, 'expected a model name such as "llama3.2" or "qwen3:8b"'),
  baseURL: baseUrlSchema.optional(),
  apiKey: apiKeySchema.optional(),
  headers: headersSchema.optional(),
  keepAlive: z.union([z.string().min(1), z.number()], { error: 'expected a duration such as "5m" or "1h", seconds as a number, 0 (unload at once) or -1 (keep loaded)' }).optional(),
  transport: transportSchema.optional(),
});

/** Options of `ollama()`. */
export interface OllamaConfig {
  /** Model name as Ollama knows it, e.g. `'llama3.2'`, `'qwen3:8b'`, `'gpt-oss:20b'`. */
  readonly model: string;
  /**
   * The server's root URL (no `/api`). `OLLAMA_HOST` is read the way the Ollama CLI reads it:
   * `host:port`, a bare host (port 11434), or a full URL; `0.0.0.0` (a bind-all address) is
   * dialled as `127.0.0.1`.
   * @defaultValue process.env.OLLAMA_HOST ?? 'http://127.0.0.1:11434'
   */
  readonly baseURL?: string;
  /**
   * Sent as `Authorization: Bearer …` — for ollama.com's cloud (`baseURL: 'https://ollama.com'`)
   * or a proxy that wants one. A local server needs none; none is read from the environment.
   */
  readonly apiKey?: string | undefined;
  /** Extra headers sent with every call. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * How long Ollama keeps the model loaded after the call (`keep_alive`): a duration (`'10m'`),
   * seconds, `0` to unload at once, `-1` to keep it loaded.
   * @defaultValue the server's own (5 minutes unless `OLLAMA_KEEP_ALIVE` says otherwise)
   */
  readonly keepAlive?: string | number;
  /** HTTP transport. @defaultValue undici with a shared keep-alive pool (Node); fetch (browser build) */
  readonly transport?: Transport;
}

/**
 * A model served by Ollama, over its native chat API (`POST /api/chat`, newline-delimited JSON):
 * text, thinking (`reasoning` events, for models run with `think`), tool calls, JSON mode and
 * structured output, usage, and Ollama's own timing as a `metrics` notice.
 *
 * No API key: a local server needs none. If nothing listens at the URL, the stream errors with a
 * `ConnectionError` that says so and how to start Ollama (`ollama serve`).
 *
 * Extra body fields go through `providerOptions.ollama`: `{ think: true }`, or
 * `{ options: { num_ctx: 8192 } }` (merged into the sampling options).
 *
 * @example
 * const local = ollama({ model: 'llama3.2' }); // http://127.0.0.1:11434, or OLLAMA_HOST
 * local.stream({ messages: [{ role: 'user', content: 'Why is the sky blue?' }] }).pipe(text()).subscribe((t) => process.stdout.write(t));
 */
export function ollama(config: OllamaConfig): Model {
  const options = parseConfig('ollama', ollamaSchema, config);
  const baseURL = withoutTrailingSlashes(options.baseURL ?? ollamaHostFromEnv() ?? DEFAULT_BASE_URL);
  const { apiKey, keepAlive } = options;
  registerSecret(apiKey);
  const info: ModelInfo = { provider: 'ollama', id: options.model, name: `ollama:${options.model}`, baseURL };
  const url = `${baseURL}/api/chat`;
  return httpModel({
    info,
    url: () => url,
    headers: {
      'content-type': 'application/json',
      accept: 'application/x-ndjson',
      ...normalizeHeaders(options.headers),
      ...(apiKey !== undefined ? { authorization: `Bearer ${apiKey}` } : {}),
    },
    body: (request) => toOllamaBody(request, info, keepAlive === undefined ? {} : { keepAlive }),
    framing: 'ndjson',
    parser: ollamaParser,
    transport: explainRefused(options.transport, baseURL),
  });
}

/**
 * `OLLAMA_HOST` as a base URL, following the Ollama CLI: no scheme means `http://` and port
 * 11434; `0.0.0.0` / `::` (what a server binds to) are dialled on loopback.
 */
function ollamaHostFromEnv(): string | undefined {
  const raw = readEnv('OLLAMA_HOST')?.trim();
  if (raw === undefined || raw === '') return undefined;
  let value = raw;
  if (!raw.includes('://')) {
    const slash = raw.indexOf('/');
    const hostPort = slash === -1 ? raw : raw.slice(0, slash);
    const path = slash === -1 ? '' : raw.slice(slash);
    const hasPort = /^(\[[^\]]*\]|[^:]*):\d+$/.test(hostPort);
    value = `http://${hasPort ? hostPort : `${hostPort === '' ? '127.0.0.1' : hostPort}:11434`}${path}`;
  }
  value = value.replace(/^(https?:\/\/)(0\.0\.0\.0|\[::\])(?=[:/]|$)/, '$1127.0.0.1');
  const parsed = baseUrlSchema.safeParse(value);
  if (!parsed.success) {
    const shown = raw.replace(/^([a-z]+:\/\/)?[^/?#@]*@/i, '$1***@'); // never echo credentials
    throw new ConfigurationError(`ollama(): OLLAMA_HOST: expected host:port or an http(s) URL such as "http://127.0.0.1:11434"; received ${JSON.stringify(shortened(shown))}`);
  }
  return parsed.data;
}

function isRefused(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === 'ECONNREFUSED') return true;
    // Node's happy-eyeballs connect (localhost → ::1 and 127.0.0.1) fails with an AggregateError.
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0 && errors.every((inner) => (inner as { code?: unknown })?.code === 'ECONNREFUSED')) return true;
  }
  return false;
}

/**
 * The transport, with "connection refused" said the way an Ollama user needs to hear it. The
 * generic driver would say "is the server running there?"; here the server has a name and a
 * command that starts it.
 */
function explainRefused(transport: Transport | undefined, baseURL: string): Transport {
  return {
    send(request, sink) {
      const relay: HttpSink = {
        onResponse: (status, headers) => sink.onResponse(status, headers),
        onData: (chunk) => sink.onData(chunk),
        onEnd: () => sink.onEnd(),
        onError(error) {
          if (LlmError.is(error) || !isRefused(error)) return sink.onError(error);
          sink.onError(
            new ConnectionError(
              `ollama: connection refused at ${baseURL}: Ollama is not running there. Start it with \`ollama serve\` (or open the Ollama app), or point baseURL / OLLAMA_HOST at the server`,
              { provider: 'ollama', cause: error },
            ),
          );
        },
      };
      return (transport ?? defaultTransport()).send(request, relay);
    },
  };
}

/** Options of `toOllamaBody()` that are not part of the request. */
export interface OllamaBodyOptions {
  /** Sent as `keep_alive`. */
  readonly keepAlive?: string | number;
}

/**
 * Renders a request as an Ollama `/api/chat` body (streaming). Pure; exported for tests and for
 * seeing exactly what goes on the wire.
 *
 * - Messages keep their roles. An assistant's tool calls go as `tool_calls: [{ function: { name,
 *   arguments } }]` with `arguments` as an object (JSON text is parsed; text that is not a JSON
 *   object is an `InvalidRequestError`). A tool result goes as `role: 'tool'` with `tool_name`,
 *   found by its `toolCallId` among the earlier assistant tool calls. A user's `name` is dropped.
 * - Tools go in the OpenAI function format (`strict` is not part of Ollama's). Ollama has no tool
 *   choice: `'none'` sends no tools, `{ name }` sends only that tool, `'required'` cannot be
 *   enforced and sends the tools as for `'auto'`.
 * - `temperature`, `topP`, `maxOutputTokens`, `stop`, `seed` → `options.temperature`, `top_p`,
 *   `num_predict`, `stop` (always a list), `seed`.
 * - JSON mode → `format: 'json'`; with a schema → `format: <the schema>`.
 * - `providerOptions.ollama` is merged into the body; its `options` into `options`. The fields
 *   rxllm owns — `model`, `messages`, `stream` — may not change: an `InvalidRequestError` on
 *   `providerOptions.ollama.<field>`, before anything is sent.
 *
 * @example
 * toOllamaBody(parseRequest({ messages: [{ role: 'user', content: 'Hi' }], maxOutputTokens: 64 }), ollama({ model: 'llama3.2' }).info);
 * // { model: 'llama3.2', messages: [{ role: 'user', content: 'Hi' }], stream: true, options: { num_predict: 64 } }
 */
export function toOllamaBody(request: LlmRequest, info: ModelInfo, bodyOptions: OllamaBodyOptions = {}): Record<string, unknown> {
  const toolNames = new Map<string, string>();
  const messages = request.messages.map((message, i) => {
    switch (message.role) {
      case 'system':
        return { role: 'system', content: contentText(message.content) };
      case 'user':
        return { role: 'user', content: contentText(message.content) };
      case 'assistant': {
        const calls = message.toolCalls ?? [];
        for (const call of calls) toolNames.set(call.id, call.name);
        return {
          role: 'assistant',
          content: contentText(message.content),
          ...(calls.length > 0
            ? { tool_calls: calls.map((call, j) => ({ function: { name: call.name, arguments: argumentsObject(call.arguments, `messages[${i}].toolCalls[${j}].arguments`) } })) }
            : {}),
        };
      }
      case 'tool': {
        const name = toolNames.get(message.toolCallId);
        return { role: 'tool', content: contentText(message.content), ...(name !== undefined ? { tool_name: name } : {}) };
      }
    }
  });
  const body: Record<string, unknown> = { model: info.id, messages, stream: true };

  const choice = request.toolChoice;
  const tools = choice === 'none' ? [] : typeof choice === 'object' ? (request.tools ?? []).filter((t) => t.name === choice.name) : (request.tools ?? []);
  if (tools.length > 0) {
    body['tools'] = tools.map((tool) => ({
      type: 'function',
      function: { name: tool.name, ...(tool.description !== undefined ? { description: tool.description } : {}), parameters: tool.parameters },
    }));
  }

  const sampling: Record<string, unknown> = {};
  if (request.temperature !== undefined) sampling['temperature'] = request.temperature;
  if (request.topP !== undefined) sampling['top_p'] = request.topP;
  if (request.maxOutputTokens !== undefined) sampling['num_predict'] = request.maxOutputTokens;
  if (request.stop !== undefined) sampling['stop'] = typeof request.stop === 'string' ? [request.stop] : request.stop;
  if (request.seed !== undefined) sampling['seed'] = request.seed;

  const format = request.responseFormat;
  if (format?.type === 'json') body['format'] = format.schema ?? 'json';
  if (bodyOptions.keepAlive !== undefined) body['keep_alive'] = bodyOptions.keepAlive;

  const extra = extraBodyFields(request, ['ollama'], ollamaOwnedFields(info.id));
  if (extra) {
    const { options: extraOptions, ...rest } = extra;
    Object.assign(body, rest);
    if (extraOptions !== null && typeof extraOptions === 'object') Object.assign(sampling, extraOptions);
  }
  if (Object.keys(sampling).length > 0) body['options'] = sampling;
  return body;
}

/** The `/api/chat` body fields `providerOptions.ollama` may not change. */
function ollamaOwnedFields(model: string): Readonly<Record<string, OwnedField>> {
  return {
    model: { sends: model, why: 'choose the model with the factory (ollama({ model })), which the request event, pricing and cache keys name' },
    messages: { why: "they are built from the request's messages" },
    stream: { sends: true, why: 'rxllm reads every answer as a stream' },
  };
}

/** Tool-call arguments as the object Ollama wants. */
function argumentsObject(args: string | Record<string, unknown>, field: string): Record<string, unknown> {
  return toolArgumentsObject(args, field, (shown) => `${field}: Ollama takes tool-call arguments as a JSON object; received ${shown}`);
}
