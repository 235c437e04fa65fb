import { z } from 'zod';
import { parseConfig } from '../core/config';
import type { ModelInfo } from '../core/events';
import { InvalidRequestError, registerSecret } from '../core/errors';
import type { Model } from '../core/model';
import { contentText, type LlmRequest } from '../core/request';
import { endpoint, requireApiKey, SSE_REQUEST_HEADERS, withoutTrailingSlashes } from './config';
import { extraBodyFields, type OwnedField } from './parser-helpers';
import { openaiBaseURL, openaiPlatformHeaders, openaiPlatformShape, type OpenAIPlatformOptions } from './openai';
import { httpModel } from './http-model';
import { openaiResponsesParser } from './openai-responses-parser';

const responsesSchema = z.strictObject({
  model: z.string().min(1, 'expected a model id such as "gpt-5-mini" or "gpt-4o-mini"'),
  ...openaiPlatformShape,
});

/** Options of `openaiResponses()`. */
export interface OpenAIResponsesConfig extends OpenAIPlatformOptions {
  /** Model id, e.g. `'gpt-5-mini'`, `'o4-mini'`, `'gpt-4o-mini'`. */
  readonly model: string;
}

/**
 * An OpenAI model over the Responses API (`POST /v1/responses`, SSE): text, reasoning summaries,
 * function calls, JSON mode and structured output, usage with cached input and reasoning tokens.
 *
 * Stateless by design: every call sends the whole conversation and `store: false`, so nothing is
 * kept on OpenAI's side and a retried or hedged call is the same call. The Responses API has no
 * stop sequences and no seed: a request with `stop` or `seed` errors (`InvalidRequestError`)
 * before any I/O. Extra body fields go through `providerOptions['openai-responses']`, e.g.
 * `{ reasoning: { effort: 'low', summary: 'auto' } }`.
 *
 * @example
 * const model = openaiResponses({ model: 'gpt-5-mini' }); // OPENAI_API_KEY from the environment
 * model.stream({ messages: [{ role: 'user', content: 'Hi' }] }).pipe(text()).subscribe((t) => process.stdout.write(t));
 */
export function openaiResponses(config: OpenAIResponsesConfig): Model {
  const options = parseConfig('openaiResponses', responsesSchema, config);
  const apiKey = requireApiKey('openaiResponses', options.apiKey, 'OPENAI_API_KEY');
  registerSecret(apiKey);
  const baseURL = withoutTrailingSlashes(openaiBaseURL(options.baseURL));
  const headers = openaiPlatformHeaders(options);
  const info: ModelInfo = { provider: 'openai-responses', id: options.model, name: `openai-responses:${options.model}`, baseURL };
  const url = endpoint(baseURL, 'responses');
  return httpModel({
    info,
    url: () => url,
    headers: { ...SSE_REQUEST_HEADERS, ...headers, authorization: `Bearer ${apiKey}` },
    body: (request) => toResponsesBody(request, info),
    framing: 'sse',
    parser: openaiResponsesParser,
    transport: options.transport,
  });
}

/**
 * Renders a request as a Responses API body (streaming, `store: false`). Pure; exported for tests
 * and for seeing exactly what goes on the wire. Throws `InvalidRequestError` for what the API
 * cannot do (`stop`, `seed`) — on subscribe, after the `request` event and before any I/O.
 *
 * - System messages → `instructions` (several are joined with a blank line).
 * - User and assistant text → `input` messages with `input_text` / `output_text` parts (a user's
 *   `name` is dropped: the API has none); an assistant's tool calls → `function_call` items after
 *   its text; tool results → `function_call_output` items.
 * - Tools → flat `{ type: 'function', name, description, parameters, strict }`. `strict` is sent as
 *   given, else `false`: the Responses API would otherwise default to strict schemas, which reject
 *   schemas written for Chat Completions (optional properties, no `additionalProperties: false`).
 * - `toolChoice` → `tool_choice` (`{ name }` → `{ type: 'function', name }`); `maxOutputTokens` →
 *   `max_output_tokens`; `temperature`, `top_p`; JSON mode → `text.format` `json_object`, or
 *   `json_schema` with `name` (default `'response'`), `schema`, `strict`.
 * - `providerOptions['openai-responses']` is merged into the body last, except the fields rxllm
 *   owns — `model`, `input`, `stream` — which it may not change (an `InvalidRequestError` on
 *   `providerOptions.openai-responses.<field>`, before anything is sent).
 *
 * @example
 * toResponsesBody(parseRequest({ messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi' }] }), model.info);
 * // { model, instructions: 'Be terse.', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hi' }] }], stream: true, store: false }
 */
export function toResponsesBody(request: LlmRequest, info: ModelInfo): Record<string, unknown> {
  if (request.stop !== undefined) {
    throw new InvalidRequestError('stop', 'stop: the OpenAI Responses API has no stop sequences; remove `stop`, or use openai() (Chat Completions) for this request');
  }
  if (request.seed !== undefined) {
    throw new InvalidRequestError('seed', 'seed: the OpenAI Responses API takes no seed; remove `seed`, or use openai() (Chat Completions) for this request');
  }
  const instructions: string[] = [];
  const input: unknown[] = [];
  for (const message of request.messages) {
    switch (message.role) {
      case 'system':
        instructions.push(contentText(message.content));
        break;
      case 'user':
        input.push({ role: 'user', content: message.content.map((part) => ({ type: 'input_text', text: part.text })) });
        break;
      case 'assistant':
        if (message.content?.length) input.push({ role: 'assistant', content: message.content.map((part) => ({ type: 'output_text', text: part.text })) });
        for (const call of message.toolCalls ?? []) {
          input.push({ type: 'function_call', call_id: call.id, name: call.name, arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments) });
        }
        break;
      case 'tool':
        input.push({ type: 'function_call_output', call_id: message.toolCallId, output: contentText(message.content) });
        break;
    }
  }
  const body: Record<string, unknown> = { model: info.id };
  if (instructions.length > 0) body['instructions'] = instructions.join('\n\n');
  body['input'] = input;
  body['stream'] = true;
  body['store'] = false;
  if (request.maxOutputTokens !== undefined) body['max_output_tokens'] = request.maxOutputTokens;
  if (request.temperature !== undefined) body['temperature'] = request.temperature;
  if (request.topP !== undefined) body['top_p'] = request.topP;
  if (request.tools?.length) {
    body['tools'] = request.tools.map((tool) => ({
      type: 'function',
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      parameters: tool.parameters,
      strict: tool.strict ?? false,
    }));
  }
  if (request.toolChoice !== undefined) {
    body['tool_choice'] = typeof request.toolChoice === 'string' ? request.toolChoice : { type: 'function', name: request.toolChoice.name };
  }
  const format = request.responseFormat;
  if (format?.type === 'json') {
    body['text'] = {
      format: format.schema
        ? { type: 'json_schema', name: format.name ?? 'response', schema: format.schema, ...(format.strict !== undefined ? { strict: format.strict } : {}) }
        : { type: 'json_object' },
    };
  }
  const extra = extraBodyFields(request, ['openai-responses'], responsesOwnedFields(info.id));
  if (extra) Object.assign(body, extra);
  return body;
}

/** The Responses body fields `providerOptions['openai-responses']` may not change. */
function responsesOwnedFields(model: string): Readonly<Record<string, OwnedField>> {
  return {
    model: { sends: model, why: 'choose the model with the factory (openaiResponses({ model })), which the request event, pricing and cache keys name' },
    input: { why: "it is built from the request's messages" },
    stream: { sends: true, why: 'rxllm reads every answer as a stream' },
  };
}
