import { z } from 'zod';
import type { ModelInfo } from '../core/events';
import { registerSecret } from '../core/errors';
import type { Transport } from '../http/transport';
import type { Model } from '../core/model';
import { contentText, type LlmRequest } from '../core/request';
import { httpModel } from './http-model';
import { openaiChatParser } from './openai-chat-parser';
import { parseConfig } from '../core/config';
import { apiKeySchema, baseUrlSchema, endpoint, headersSchema, normalizeHeaders, readEnv, requireApiKey, SSE_REQUEST_HEADERS, transportSchema } from './config';
import { extraBodyFields, type OwnedField } from './parser-helpers';

/** The options `openai()` and `openaiResponses()` share besides the model: how to reach the OpenAI platform. */
export interface OpenAIPlatformOptions {
  /** API key. @defaultValue process.env.OPENAI_API_KEY */
  readonly apiKey?: string | undefined;
  /** @defaultValue process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1' */
  readonly baseURL?: string;
  /** Extra headers sent with every call. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as `OpenAI-Organization`. */
  readonly organization?: string;
  /** Sent as `OpenAI-Project`. */
  readonly project?: string;
  /** HTTP transport. @defaultValue undici with a shared keep-alive pool (Node); fetch (browser build) */
  readonly transport?: Transport;
}

/** The schema of `OpenAIPlatformOptions`: spread into a factory's schema after its `model`. */
export const openaiPlatformShape = {
  apiKey: apiKeySchema.optional(),
  baseURL: baseUrlSchema.optional(),
  headers: headersSchema.optional(),
  organization: z.string().optional(),
  project: z.string().optional(),
  transport: transportSchema.optional(),
};

/** The platform's base URL: the one given, else `OPENAI_BASE_URL`, else `https://api.openai.com/v1`. */
export function openaiBaseURL(given: string | undefined): string {
  return given ?? readEnv('OPENAI_BASE_URL') ?? 'https://api.openai.com/v1';
}

/** The extra headers (normalized), plus `OpenAI-Organization` / `OpenAI-Project` when set. */
export function openaiPlatformHeaders(options: {
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly organization?: string | undefined;
  readonly project?: string | undefined;
}): Record<string, string> {
  const headers = normalizeHeaders(options.headers);
  if (options.organization !== undefined) headers['openai-organization'] = options.organization;
  if (options.project !== undefined) headers['openai-project'] = options.project;
  return headers;
}

const openaiSchema = z.strictObject({
  model: z.string().min(1, 'expected a model id such as "gpt-4o-mini"'),
  ...openaiPlatformShape,
});

/** Options of `openai()`. */
export interface OpenAIConfig extends OpenAIPlatformOptions {
  /** Model id, e.g. `'gpt-4o-mini'`. */
  readonly model: string;
}

/** Options of `openaiCompatible()`. */
export interface OpenAICompatibleConfig {
  readonly model: string;
  /** The server's base URL, up to and including the version segment: `'https://openrouter.ai/api/v1'`. */
  readonly baseURL: string;
  /** Sent as `Authorization: Bearer …` when given; local servers need none. */
  readonly apiKey?: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
  /** Provider name in events, errors and logs. @defaultValue 'openai-compatible' */
  readonly name?: string;
  readonly transport?: Transport;
}

const compatibleSchema = z.strictObject({
  model: z.string().min(1),
  baseURL: baseUrlSchema,
  apiKey: apiKeySchema.optional(),
  headers: headersSchema.optional(),
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected a short name of letters, digits, ".", "_" or "-"').optional(),
  transport: transportSchema.optional(),
});

/**
 * An OpenAI Chat Completions model.
 *
 * @example
 * const model = openai({ model: 'gpt-4o-mini' }); // OPENAI_API_KEY from the environment
 * model.stream({ messages: [{ role: 'user', content: 'Hi' }] }).pipe(text()).subscribe(process.stdout.write.bind(process.stdout));
 */
export function openai(config: OpenAIConfig): Model {
  const options = parseConfig('openai', openaiSchema, config);
  const apiKey = requireApiKey('openai', options.apiKey, 'OPENAI_API_KEY');
  const baseURL = openaiBaseURL(options.baseURL);
  const headers = openaiPlatformHeaders(options);
  return chatCompletionsModel({
    info: { provider: 'openai', id: options.model, name: `openai:${options.model}`, baseURL },
    apiKey,
    headers,
    transport: options.transport,
    maxTokensField: 'max_completion_tokens',
  });
}

/**
 * A model on any server that speaks the Chat Completions wire format: OpenRouter, Groq, Together,
 * Fireworks, DeepSeek, xAI, vLLM, llama.cpp server, LM Studio, Ollama's `/v1`.
 *
 * Differences from `openai()`: the API key is optional and never read from the environment, and
 * the output limit is sent as `max_tokens` (which every compatible server understands).
 *
 * @example
 * const llama = openaiCompatible({ name: 'groq', model: 'llama-3.1-8b-instant', baseURL: 'https://api.groq.com/openai/v1', apiKey: process.env.GROQ_API_KEY });
 */
export function openaiCompatible(config: OpenAICompatibleConfig): Model {
  const options = parseConfig('openaiCompatible', compatibleSchema, config);
  const provider = options.name ?? 'openai-compatible';
  return chatCompletionsModel({
    info: { provider, id: options.model, name: `${provider}:${options.model}`, baseURL: options.baseURL },
    apiKey: options.apiKey,
    headers: normalizeHeaders(options.headers),
    transport: options.transport,
    maxTokensField: 'max_tokens',
  });
}

export interface ChatCompletionsSetup {
  readonly info: ModelInfo;
  readonly apiKey: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly transport: Transport | undefined;
  readonly maxTokensField: 'max_tokens' | 'max_completion_tokens';
}

/** The shared Chat Completions model behind `openai()`, `openaiCompatible()` and `simulated()`. */
export function chatCompletionsModel(setup: ChatCompletionsSetup): Model {
  const { info, apiKey, maxTokensField } = setup;
  registerSecret(apiKey);
  const url = endpoint(info.baseURL!, 'chat/completions');
  return httpModel({
    info,
    url: () => url,
    headers: {
      ...SSE_REQUEST_HEADERS,
      ...setup.headers,
      ...(apiKey !== undefined ? { authorization: `Bearer ${apiKey}` } : {}),
    },
    body: (request) => toOpenAIChatBody(request, info, maxTokensField),
    framing: 'sse',
    parser: openaiChatParser,
    transport: setup.transport,
  });
}

/**
 * Renders a request as a Chat Completions body (streaming, with usage). Pure; exported for tests
 * and for people who want to see exactly what goes on the wire.
 *
 * `providerOptions[info.provider]`, else `providerOptions.openai`, is merged in last, except the
 * fields rxllm owns: `model`, `messages`, `stream` and `stream_options.include_usage` (other
 * `stream_options` keys are merged in). Setting one of them to anything else is an
 * `InvalidRequestError` on `providerOptions.<name>.<field>`, raised before anything is sent.
 */
export function toOpenAIChatBody(request: LlmRequest, info: ModelInfo, maxTokensField: 'max_tokens' | 'max_completion_tokens' = 'max_completion_tokens'): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: info.id,
    messages: request.messages.map((message) => {
      switch (message.role) {
        case 'system':
          return { role: 'system', content: contentText(message.content) };
        case 'user':
          return { role: 'user', content: contentText(message.content), ...(message.name !== undefined ? { name: message.name } : {}) };
        case 'assistant':
          return {
            role: 'assistant',
            content: message.content ? contentText(message.content) : null,
            ...(message.toolCalls?.length
              ? {
                  tool_calls: message.toolCalls.map((call) => ({
                    id: call.id,
                    type: 'function',
                    function: { name: call.name, arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments) },
                  })),
                }
              : {}),
          };
        case 'tool':
          return { role: 'tool', tool_call_id: message.toolCallId, content: contentText(message.content) };
      }
    }),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (request.maxOutputTokens !== undefined) body[maxTokensField] = request.maxOutputTokens;
  if (request.temperature !== undefined) body['temperature'] = request.temperature;
  if (request.topP !== undefined) body['top_p'] = request.topP;
  if (request.stop !== undefined) body['stop'] = request.stop;
  if (request.seed !== undefined) body['seed'] = request.seed;
  if (request.tools?.length) {
    body['tools'] = request.tools.map((tool) => ({
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description !== undefined ? { description: tool.description } : {}),
        parameters: tool.parameters,
        ...(tool.strict !== undefined ? { strict: tool.strict } : {}),
      },
    }));
  }
  if (request.toolChoice !== undefined) {
    body['tool_choice'] = typeof request.toolChoice === 'string' ? request.toolChoice : { type: 'function', function: { name: request.toolChoice.name } };
  }
  const format = request.responseFormat;
  if (format?.type === 'json') {
    body['response_format'] = format.schema
      ? { type: 'json_schema', json_schema: { name: format.name ?? 'response', schema: format.schema, ...(format.strict !== undefined ? { strict: format.strict } : {}) } }
      : { type: 'json_object' };
  }
  const extra = extraBodyFields(request, [info.provider, 'openai'], chatOwnedFields(info.id));
  if (extra) {
    Object.assign(body, extra);
    // Extra stream options (include_obfuscation, …) join rxllm's; usage stays on.
    if (extra['stream_options'] !== undefined) body['stream_options'] = { ...(extra['stream_options'] as object), include_usage: true };
  }
  return body;
}

/**
 * The Chat Completions body fields `providerOptions` may not change: the model (named by the
 * factory, and by the `request` event, pricing and cache keys), the messages, `stream`, and
 * `stream_options.include_usage` (other stream options are merged in).
 */
function chatOwnedFields(model: string): Readonly<Record<string, OwnedField>> {
  return {
    model: { sends: model, why: 'choose the model with the factory ({ model }), which the request event, pricing and cache keys name' },
    messages: { why: "they are built from the request's messages" },
    stream: { sends: true, why: 'rxllm reads every answer as a stream' },
    stream_options: {
      accepts: (value) => typeof value === 'object' && value !== null && !Array.isArray(value) && (value as { include_usage?: unknown }).include_usage !== false,
      why: 'usage is read from the stream, so include_usage stays true; pass other stream options as an object, they are merged in',
    },
  };
}
