import { z } from 'zod';
import type { ModelInfo } from '../core/events';
import { InvalidRequestError, registerSecret } from '../core/errors';
import type { Transport } from '../http/transport';
import type { Model } from '../core/model';
import { contentText, type LlmRequest, type TextPart } from '../core/request';
import { parseConfig } from '../core/config';
import { anthropicParser } from './anthropic-parser';
import { apiKeySchema, baseUrlSchema, endpoint, headersSchema, normalizeHeaders, requireApiKey, SSE_REQUEST_HEADERS, toolArgumentsObject, transportSchema } from './config';
import { extraBodyFields, type OwnedField } from './parser-helpers';
import { httpModel } from './http-model';

/** Anthropic requires `max_tokens`; this is sent when the request sets no `maxOutputTokens`. */
const DEFAULT_MAX_TOKENS = 4096;
const ANTHROPIC_VERSION = '2023-06-01';
const EPHEMERAL = { type: 'ephemeral' } as const;

/**
 * Where to put Anthropic prompt-cache breakpoints (`cache_control: { type: 'ephemeral' }`).
 * Anthropic caches the prompt prefix up to each breakpoint, in the order tools → system → messages.
 */
export interface AnthropicCacheControl {
  /** Mark the system prompt (sent as a text block) as cacheable. @defaultValue false */
  readonly system?: boolean | undefined;
  /** Mark the last tool definition, which caches all the tools. @defaultValue false */
  readonly tools?: boolean | undefined;
  /**
   * Cache the conversation up to and including the N-th non-system message of the request: its
   * last content block gets the breakpoint. 0 marks none; N beyond the conversation marks its last
   * message. @defaultValue 0
   */
  readonly messages?: number | undefined;
}

/** Options of `anthropic()`. */
export interface AnthropicConfig {
  /** Model id, e.g. `'claude-sonnet-4-5'`. */
  readonly model: string;
  /** API key, sent as `x-api-key`. @defaultValue process.env.ANTHROPIC_API_KEY */
  readonly apiKey?: string | undefined;
  /** Base URL up to and including the version segment; requests go to `${baseURL}/messages`. @defaultValue 'https://api.anthropic.com/v1' */
  readonly baseURL?: string;
  /**
   * Extra headers sent with every call, e.g. `{ 'anthropic-beta': '…' }`. They may replace
   * `anthropic-version` (default `2023-06-01`) but never `x-api-key`.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** HTTP transport. @defaultValue undici with a shared keep-alive pool (Node); fetch (browser build) */
  readonly transport?: Transport;
  /**
   * Prompt-cache breakpoints for every call. A request may override them field by field with
   * `providerOptions: { anthropic: { cacheControl: { … } } }`. @defaultValue no breakpoints
   */
  readonly cacheControl?: AnthropicCacheControl;
}

const cacheControlSchema = z.strictObject({
  system: z.boolean().optional(),
  tools: z.boolean().optional(),
  messages: z.number().int().nonnegative().optional(),
});

const anthropicSchema = z.strictObject({
  model: z.string().min(1, 'expected a model id such as "claude-sonnet-4-5"'),
  apiKey: apiKeySchema.optional(),
  baseURL: baseUrlSchema.optional(),
  headers: headersSchema.optional(),
  transport: transportSchema.optional(),
  cacheControl: cacheControlSchema.optional(),
});

/**
 * A model on the Anthropic Messages API (`POST ${baseURL}/messages`, streamed as SSE).
 *
 * Text, tool calls, extended thinking (as `reasoning` events; enable it with
 * `providerOptions: { anthropic: { thinking: { type: 'enabled', budget_tokens: 2048 } } }`), usage
 * with cached tokens, prompt caching (`cacheControl`) and typed errors (`overloaded` on 529 or an
 * in-stream `overloaded_error`, retryable). The request mapping is `toAnthropicBody`; the stream
 * parser is `anthropicParser`. Usage convention: `inputTokens` = `input_tokens` +
 * `cache_read_input_tokens` + `cache_creation_input_tokens`; `cachedInputTokens` = the cache read.
 *
 * The key is read at construction (a missing one throws `ConfigurationError` naming
 * `ANTHROPIC_API_KEY`), registered for redaction, and sent only as the `x-api-key` header: it is
 * never on `model.info`, in events or in errors.
 *
 * @example
 * const claude = anthropic({ model: 'claude-sonnet-4-5', cacheControl: { system: true } }); // ANTHROPIC_API_KEY
 * const { text, usage } = await lastValueFrom(
 *   claude.stream({ messages: [{ role: 'system', content: longManual }, { role: 'user', content: 'Summarize §3' }] }).pipe(collect()),
 * );
 */
export function anthropic(config: AnthropicConfig): Model {
  const options = parseConfig('anthropic', anthropicSchema, config);
  const apiKey = requireApiKey('anthropic', options.apiKey, 'ANTHROPIC_API_KEY');
  registerSecret(apiKey);
  const baseURL = options.baseURL ?? 'https://api.anthropic.com/v1';
  const info: ModelInfo = { provider: 'anthropic', id: options.model, name: `anthropic:${options.model}`, baseURL };
  const url = endpoint(baseURL, 'messages');
  const bodyOptions: AnthropicBodyOptions = options.cacheControl ? { cacheControl: options.cacheControl } : {};
  return httpModel({
    info,
    url: () => url,
    headers: {
      ...SSE_REQUEST_HEADERS,
      'anthropic-version': ANTHROPIC_VERSION,
      ...normalizeHeaders(options.headers),
      'x-api-key': apiKey,
    },
    body: (request) => toAnthropicBody(request, info, bodyOptions),
    framing: 'sse',
    parser: anthropicParser,
    transport: options.transport,
  });
}

/** Options of `toAnthropicBody` that come from the model rather than the request. */
export interface AnthropicBodyOptions {
  /** The model's prompt-cache breakpoints; `providerOptions.anthropic.cacheControl` overrides them per field. */
  readonly cacheControl?: AnthropicCacheControl | undefined;
}

type WireBlock = Record<string, unknown>;

/** A wire turn being built: tool results are kept apart because Anthropic wants them first. */
interface Turn {
  readonly role: 'user' | 'assistant';
  readonly results: WireBlock[];
  readonly blocks: WireBlock[];
}

/**
 * Renders a request as an Anthropic Messages body (`stream: true`). Pure; exported for tests and
 * for people who want to see exactly what goes on the wire.
 *
 * - System messages, wherever they are, are joined (blank line between) into the top-level
 *   `system`; a text block with `cache_control` when `cacheControl.system` is set.
 * - Assistant `toolCalls` become `tool_use` blocks with `input` as an object (string arguments are
 *   parsed; `''` is `{}`; text that is not a JSON object is an `InvalidRequestError`). `tool`
 *   messages become `tool_result` blocks in a user turn.
 * - Anthropic requires user and assistant turns to alternate: consecutive messages of the same
 *   wire role are merged into one turn (tool results first, then text). A turn of a single text
 *   block is sent as a plain string.
 * - `maxOutputTokens` → `max_tokens` (required by Anthropic: 4096 when the request sets none);
 *   `temperature`, `topP` → `top_p`, `stop` → `stop_sequences`; `seed`, a user's `name` and a
 *   tool's `strict` have no Anthropic counterpart and are not sent.
 * - `toolChoice`: `'auto'` → `{ type: 'auto' }`, `'required'` → `{ type: 'any' }`, `'none'` →
 *   `{ type: 'none' }`, `{ name }` → `{ type: 'tool', name }`; sent only with tools.
 * - `responseFormat: { type: 'json', schema? }`: Anthropic has no JSON mode, so it is emulated
 *   with a system instruction to answer with JSON only (matching the schema, when given).
 * - `metadata` is never sent (it is for rxllm's operators); to send Anthropic's `metadata.user_id`,
 *   use `providerOptions: { anthropic: { metadata: { user_id } } }`.
 * - `providerOptions.anthropic` is merged into the body as is (e.g. `thinking`, `top_k`),
 *   except its `cacheControl`, which overrides `options.cacheControl` field by field, and the
 *   fields rxllm owns — `model`, `messages`, `stream` — which it may not change (an
 *   `InvalidRequestError` on `providerOptions.anthropic.<field>`, before anything is sent).
 *
 * @example
 * toAnthropicBody(parseRequest({ messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi' }] }), claude.info);
 * // { model: 'claude-sonnet-4-5', max_tokens: 4096, system: 'Be terse.', messages: [{ role: 'user', content: 'Hi' }], stream: true }
 */
export function toAnthropicBody(request: LlmRequest, info: ModelInfo, options: AnthropicBodyOptions = {}): Record<string, unknown> {
  const { cacheControl: requestCache, ...extra } = extraBodyFields(request, ['anthropic'], anthropicOwnedFields(info.id)) ?? {};
  const cache = { ...options.cacheControl, ...(requestCache === undefined ? {} : parseRequestCache(requestCache)) };

  const systemTexts: string[] = [];
  const turns: Turn[] = [];
  let lastBlock: WireBlock | undefined;
  let marked: WireBlock | undefined;
  let position = 0;
  const add = (role: 'user' | 'assistant', block: WireBlock, isResult = false): void => {
    let turn = turns[turns.length - 1];
    if (turn?.role !== role) {
      turn = { role, results: [], blocks: [] };
      turns.push(turn);
    }
    (isResult ? turn.results : turn.blocks).push(block);
    lastBlock = block;
  };
  const addText = (role: 'user' | 'assistant', parts: readonly TextPart[] | undefined): void => {
    // Anthropic rejects empty text blocks (an assistant turn with only tool calls often has '').
    for (const part of parts ?? []) if (part.text !== '') add(role, { type: 'text', text: part.text });
  };

  request.messages.forEach((message, i) => {
    if (message.role === 'system') {
      systemTexts.push(contentText(message.content));
      return;
    }
    switch (message.role) {
      case 'user':
        addText('user', message.content);
        break;
      case 'assistant':
        addText('assistant', message.content);
        message.toolCalls?.forEach((call, j) => {
          const field = `messages[${i}].toolCalls[${j}].arguments`;
          const input = toolArgumentsObject(call.arguments, field, (shown) => `${field}: expected a JSON object (Anthropic's tool_use input); received ${JSON.stringify(shown)}`);
          add('assistant', { type: 'tool_use', id: call.id, name: call.name, input });
        });
        break;
      case 'tool': {
        const text = contentText(message.content);
        add('user', { type: 'tool_result', tool_use_id: message.toolCallId, ...(text !== '' ? { content: text } : {}) }, true);
        break;
      }
    }
    position++;
    if (position === cache.messages) marked = lastBlock;
  });
  if (cache.messages !== undefined && cache.messages > position) marked = lastBlock;
  if (cache.messages && marked) marked['cache_control'] = EPHEMERAL;

  const body: Record<string, unknown> = {
    model: info.id,
    max_tokens: request.maxOutputTokens ?? DEFAULT_MAX_TOKENS,
  };
  const systemText = systemTexts.join('\n\n');
  const format = request.responseFormat;
  const jsonInstruction = format?.type === 'json' ? jsonModeInstruction(format.schema) : undefined;
  if (cache.system && systemText !== '') {
    body['system'] = [{ type: 'text', text: systemText, cache_control: EPHEMERAL }, ...(jsonInstruction ? [{ type: 'text', text: jsonInstruction }] : [])];
  } else if (systemText !== '' || jsonInstruction) {
    body['system'] = [systemText, jsonInstruction].filter((t) => t).join('\n\n');
  }
  body['messages'] = turns.map((turn) => {
    const content = turn.results.length > 0 ? [...turn.results, ...turn.blocks] : turn.blocks;
    const only = content.length === 1 ? content[0]! : undefined;
    return { role: turn.role, content: only?.['type'] === 'text' && only['cache_control'] === undefined ? only['text'] : content };
  });
  if (request.temperature !== undefined) body['temperature'] = request.temperature;
  if (request.topP !== undefined) body['top_p'] = request.topP;
  if (request.stop !== undefined) body['stop_sequences'] = typeof request.stop === 'string' ? [request.stop] : request.stop;
  if (request.tools?.length) {
    const tools: WireBlock[] = request.tools.map((tool) => ({
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      input_schema: tool.parameters,
    }));
    if (cache.tools) tools[tools.length - 1]!['cache_control'] = EPHEMERAL;
    body['tools'] = tools;
    const choice = request.toolChoice;
    if (choice !== undefined) {
      body['tool_choice'] = typeof choice === 'object' ? { type: 'tool', name: choice.name } : { type: choice === 'required' ? 'any' : choice };
    }
  }
  body['stream'] = true;
  Object.assign(body, extra);
  return body;
}

/** The Messages body fields `providerOptions.anthropic` may not change. */
function anthropicOwnedFields(model: string): Readonly<Record<string, OwnedField>> {
  return {
    model: { sends: model, why: 'choose the model with the factory (anthropic({ model })), which the request event, pricing and cache keys name' },
    messages: { why: "they are built from the request's messages" },
    stream: { sends: true, why: 'rxllm reads every answer as a stream' },
  };
}

/** The system instruction that stands in for a JSON mode Anthropic does not have. */
function jsonModeInstruction(schema: Record<string, unknown> | undefined): string {
  const base = 'Respond with a single JSON value and nothing else: no prose before or after it, no Markdown code fences.';
  return schema ? `${base} The JSON must conform to this JSON Schema:\n${JSON.stringify(schema)}` : base;
}

function parseRequestCache(value: unknown): AnthropicCacheControl {
  const result = cacheControlSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = ['providerOptions', 'anthropic', 'cacheControl', ...issue.path.map(String)].join('.');
  throw new InvalidRequestError(field, `${field}: ${issue.message}`);
}
