import { z } from 'zod';
import type { ModelInfo } from '../core/events';
import { InvalidRequestError, registerSecret } from '../core/errors';
import type { Transport } from '../http/transport';
import type { Model } from '../core/model';
import { contentText, type LlmRequest } from '../core/request';
import { parseConfig } from '../core/config';
import { apiKeySchema, baseUrlSchema, endpoint, headersSchema, normalizeHeaders, requireApiKey, SSE_REQUEST_HEADERS, toolArgumentsObject, transportSchema } from './config';
import { extraBodyFields, type OwnedField } from './parser-helpers';
import { geminiParser } from './gemini-parser';
import { httpModel } from './http-model';

const DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com/v1beta';

const geminiSchema = z.strictObject({
  model: z
    .string()
    .min(1, 'expected a model id such as "gemini-2.5-flash"')
    .regex(/^[A-Za-z0-9._/-]+$/, 'expected a model id such as "gemini-2.5-flash" (letters, digits, ".", "_", "-", "/")'),
  apiKey: apiKeySchema.optional(),
  baseURL: baseUrlSchema.optional(),
  headers: headersSchema.optional(),
  transport: transportSchema.optional(),
});

/** Options of `gemini()`. */
export interface GeminiConfig {
  /**
   * Model id, e.g. `'gemini-2.5-flash'`. Sent in the path as `models/<id>`; an id that already
   * names its collection (`'models/…'`, `'tunedModels/…'`) is used as is.
   */
  readonly model: string;
  /** API key, sent as the `x-goog-api-key` header (never in the URL). @defaultValue process.env.GEMINI_API_KEY ?? process.env.GOOGLE_API_KEY */
  readonly apiKey?: string | undefined;
  /** Base URL up to and including the version segment. @defaultValue 'https://generativelanguage.googleapis.com/v1beta' */
  readonly baseURL?: string;
  /** Extra headers sent with every call (they cannot replace the API key header). */
  readonly headers?: Readonly<Record<string, string>>;
  /** HTTP transport. @defaultValue undici with a shared keep-alive pool (Node); fetch (browser build) */
  readonly transport?: Transport;
}

/**
 * A Google Gemini model on the Gemini API (Google AI Studio keys), streamed from
 * `POST {baseURL}/models/{model}:streamGenerateContent?alt=sse`.
 *
 * The key travels in the `x-goog-api-key` header only — URLs end up in logs and proxies. The key
 * is registered for redaction, so no error message, `toJSON()` or stack carries it.
 *
 * Validated at construction: a bad option, or no key at all, throws `ConfigurationError`.
 * Each subscription is one HTTP call; see `toGeminiBody` for the request mapping and
 * `geminiParser` for what the stream emits (usage convention included).
 *
 * @example
 * const model = gemini({ model: 'gemini-2.5-flash' }); // GEMINI_API_KEY from the environment
 * const { text, usage } = await lastValueFrom(model.stream({ messages: [{ role: 'user', content: 'Hi' }] }).pipe(collect()));
 */
export function gemini(config: GeminiConfig): Model {
  const options = parseConfig('gemini', geminiSchema, config);
  const apiKey = requireApiKey('gemini', options.apiKey, 'GEMINI_API_KEY', 'GOOGLE_API_KEY');
  registerSecret(apiKey);
  const baseURL = options.baseURL ?? DEFAULT_BASE_URL;
  const info: ModelInfo = { provider: 'gemini', id: options.model, name: `gemini:${options.model}`, baseURL };
  const path = options.model.includes('/') ? options.model : `models/${options.model}`;
  const url = endpoint(baseURL, `${path}:streamGenerateContent?alt=sse`);
  return httpModel({
    info,
    url: () => url,
    headers: {
      ...SSE_REQUEST_HEADERS,
      ...normalizeHeaders(options.headers),
      'x-goog-api-key': apiKey,
    },
    body: (request) => toGeminiBody(request, info),
    framing: 'sse',
    parser: geminiParser,
    transport: options.transport,
  });
}

/**
 * Gemini 3 rejects a replayed `functionCall` turn without a `thoughtSignature` (HTTP 400). rxllm's
 * events do not carry signatures, so history goes back with the value Google documents for
 * turns whose signature is not available ("skip the validator").
 */
const REPLAYED_SIGNATURE = 'skip_thought_signature_validator';

type GeminiPart = Record<string, unknown>;
interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

/**
 * Renders a request as a Gemini `GenerateContentRequest` body. Pure; exported for tests and for
 * people who want to see exactly what goes on the wire.
 *
 * - `system` messages → `systemInstruction.parts` (one text part each, wherever they stand).
 * - `user` → role `user` (the optional `name` is not sent: Gemini has no field for it);
 *   `assistant` → role `model`, text first, then one `functionCall { name, args }` part per tool
 *   call (args as an object; JSON text is parsed and must be an object). The first
 *   `functionCall` of each model turn carries `thoughtSignature: 'skip_thought_signature_validator'`
 *   so that Gemini 3 accepts replayed tool turns.
 * - `tool` results → role `user`, `functionResponse { name, response: { result } }`; `result` is the
 *   content parsed as JSON, or `{ content: text }` when it is not JSON. Gemini matches results by
 *   function name: the name is that of the nearest earlier assistant tool call with the same id.
 *   No such call → `InvalidRequestError` on `messages[i].toolCallId` (raised when the call
 *   starts, before any byte is sent).
 * - Consecutive turns of the same role are merged (Gemini wants them to alternate); empty turns
 *   are left out.
 * - `tools` → `tools: [{ functionDeclarations }]`, parameters through `toGeminiSchema` (an object
 *   schema with no properties is left out: Gemini rejects an empty `properties`); `strict` is not
 *   sent. `toolChoice` → `toolConfig.functionCallingConfig.mode` `AUTO` / `NONE` / `ANY`, and
 *   `{ name }` → `ANY` + `allowedFunctionNames: [name]`.
 * - `generationConfig`: `temperature`, `topP`, `maxOutputTokens`, `stopSequences`, `seed`; JSON mode
 *   → `responseMimeType: 'application/json'`, plus `responseSchema` (through `toGeminiSchema`)
 *   when a schema is given.
 * - `providerOptions.gemini` is merged in last, deeply for plain objects (so
 *   `{ generationConfig: { thinkingConfig: { includeThoughts: true } } }` keeps the mapped fields);
 *   arrays and other values replace. `contents`, built from the messages, is rxllm's: setting it is
 *   an `InvalidRequestError` on `providerOptions.gemini.contents`, before anything is sent.
 *   `metadata` is never sent.
 *
 * @example
 * toGeminiBody(parseRequest({ messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi' }] }), model.info);
 * // { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }], systemInstruction: { parts: [{ text: 'Be terse.' }] } }
 */
export function toGeminiBody(request: LlmRequest, info: ModelInfo): Record<string, unknown> {
  const system: GeminiPart[] = [];
  const contents: GeminiContent[] = [];
  // Tool call id → function name, the latest assistant call winning: Gemini has no call ids of its
  // own, so ids like `call_0` repeat from one response to the next.
  const names = new Map<string, string>();
  const push = (role: GeminiContent['role'], parts: GeminiPart[]): void => {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };

  request.messages.forEach((message, i) => {
    switch (message.role) {
      case 'system':
        system.push({ text: contentText(message.content) });
        return;
      case 'user':
        push('user', [{ text: contentText(message.content) }]);
        return;
      case 'assistant': {
        const parts: GeminiPart[] = [];
        const text = contentText(message.content);
        if (text !== '') parts.push({ text });
        message.toolCalls?.forEach((call, j) => {
          names.set(call.id, call.name);
          parts.push({ functionCall: { name: call.name, args: argumentsObject(call.arguments, `messages[${i}].toolCalls[${j}].arguments`) } });
        });
        push('model', parts);
        return;
      }
      case 'tool': {
        const name = names.get(message.toolCallId);
        if (name === undefined) {
          throw new InvalidRequestError(
            `messages[${i}].toolCallId`,
            `messages[${i}].toolCallId: no earlier assistant tool call has this id, and Gemini needs the function name for a functionResponse; received ${JSON.stringify(message.toolCallId)}`,
          );
        }
        push('user', [{ functionResponse: { name, response: { result: toolResult(contentText(message.content)) } } }]);
        return;
      }
    }
  });
  for (const content of contents) {
    if (content.role !== 'model') continue;
    const first = content.parts.find((part) => part['functionCall'] !== undefined);
    if (first) first['thoughtSignature'] = REPLAYED_SIGNATURE;
  }

  const body: Record<string, unknown> = { contents };
  if (system.length > 0) body['systemInstruction'] = { parts: system };
  if (request.tools?.length) {
    body['tools'] = [
      {
        functionDeclarations: request.tools.map((tool) => {
          const parameters = toGeminiSchema(tool.parameters);
          const empty = parameters['type'] === 'object' && parameters['properties'] === undefined;
          return {
            name: tool.name,
            ...(tool.description !== undefined ? { description: tool.description } : {}),
            ...(empty ? {} : { parameters }),
          };
        }),
      },
    ];
  }
  const choice = request.toolChoice;
  if (choice !== undefined) {
    body['toolConfig'] = {
      functionCallingConfig:
        typeof choice === 'object' ? { mode: 'ANY', allowedFunctionNames: [choice.name] } : { mode: choice === 'auto' ? 'AUTO' : choice === 'none' ? 'NONE' : 'ANY' },
    };
  }
  const generation: Record<string, unknown> = {};
  if (request.temperature !== undefined) generation['temperature'] = request.temperature;
  if (request.topP !== undefined) generation['topP'] = request.topP;
  if (request.maxOutputTokens !== undefined) generation['maxOutputTokens'] = request.maxOutputTokens;
  if (request.stop !== undefined) generation['stopSequences'] = typeof request.stop === 'string' ? [request.stop] : request.stop;
  if (request.seed !== undefined) generation['seed'] = request.seed;
  const format = request.responseFormat;
  if (format?.type === 'json') {
    generation['responseMimeType'] = 'application/json';
    if (format.schema) generation['responseSchema'] = toGeminiSchema(format.schema);
  }
  if (Object.keys(generation).length > 0) body['generationConfig'] = generation;
  const extra = extraBodyFields(request, [info.provider, 'gemini'], GEMINI_OWNED_FIELDS);
  return extra ? mergeDeep(body, extra) : body;
}

/**
 * The body fields `providerOptions.gemini` may not change: `contents`, built from the messages.
 * (The model and the streaming are in the URL, which no option changes.)
 */
const GEMINI_OWNED_FIELDS: Readonly<Record<string, OwnedField>> = {
  contents: { why: "they are built from the request's messages" },
};

/** A tool call's arguments as the object Gemini wants: objects as they are, JSON text parsed. */
function argumentsObject(args: string | Record<string, unknown>, field: string): Record<string, unknown> {
  return toolArgumentsObject(args, field, (shown) => `${field}: expected a JSON object (Gemini takes function arguments as an object); received ${shown}`);
}

/** A tool result for `functionResponse.response.result`: parsed JSON, else `{ content: text }`. */
function toolResult(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { content: text };
  }
}

/** Keys of Gemini's `Schema` (an OpenAPI 3.0 subset) copied as they are. */
const SCHEMA_KEYS = new Set([
  'type', 'title', 'description', 'nullable', 'enum', 'required', 'default', 'example', 'propertyOrdering',
  'minItems', 'maxItems', 'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'minimum', 'maximum',
]);
/** The only `format`s the Gemini API accepts, per type; any other fails the request. */
const FORMATS: Readonly<Record<string, ReadonlySet<string>>> = {
  string: new Set(['enum', 'date-time']),
  integer: new Set(['int32', 'int64']),
  number: new Set(['float', 'double']),
};

/**
 * A JSON Schema reduced to the OpenAPI 3.0 subset Gemini accepts for function parameters and
 * `responseSchema`. Kept: `type`, `properties`, `items`, `required`, `enum`, `anyOf`, `nullable`,
 * `title`, `description`, `default`, `example`, `propertyOrdering`, the min/max bounds, `pattern`,
 * and `format` where Gemini supports it (`date-time`/`enum`, `int32`/`int64`, `float`/`double`).
 * Converted: `type: ['string', 'null']` → `type: 'string', nullable: true` (several types →
 * `anyOf`); `oneOf` → `anyOf`; a string `const` → a one-value `enum`. Dropped, everywhere in the
 * tree: everything else — `$schema`, `additionalProperties`, `$ref`/`$defs` (not inlined: pass
 * schemas without references), `allOf`, `not`, `examples`, `exclusiveMinimum`, …; an empty
 * `properties` is left out too. Pure; the input is not modified.
 *
 * @example
 * toGeminiSchema({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { city: { type: ['string', 'null'] } }, additionalProperties: false });
 * // { type: 'object', properties: { city: { type: 'string', nullable: true } } }
 */
export function toGeminiSchema(schema: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties') {
      if (!isPlainObject(value)) continue;
      const properties: Record<string, unknown> = {};
      for (const [name, sub] of Object.entries(value)) properties[name] = isPlainObject(sub) ? toGeminiSchema(sub) : {};
      if (Object.keys(properties).length > 0) out['properties'] = properties;
    } else if (key === 'items') {
      if (isPlainObject(value)) out['items'] = toGeminiSchema(value);
    } else if (key === 'anyOf' || key === 'oneOf') {
      if (Array.isArray(value)) out['anyOf'] = value.filter(isPlainObject).map((sub) => toGeminiSchema(sub));
    } else if (key === 'const') {
      if (typeof value === 'string') out['enum'] = [value];
    } else if (key === 'type' && Array.isArray(value)) {
      const types = value.filter((t): t is string => typeof t === 'string' && t !== 'null');
      if (types.length !== value.length) out['nullable'] = true;
      if (types.length === 1) out['type'] = types[0];
      else if (types.length > 1) out['anyOf'] = types.map((type) => ({ type }));
    } else if (key === 'format') {
      const type = singleType(schema['type']);
      if (typeof value === 'string' && type !== undefined && FORMATS[type]?.has(value)) out['format'] = value;
    } else if (SCHEMA_KEYS.has(key)) {
      out[key] = value;
    }
  }
  return out;
}

/** The one type a schema names, `null` aside: `'string'` for `'string'` and for `['string', 'null']`. */
function singleType(type: unknown): string | undefined {
  if (typeof type === 'string') return type;
  if (!Array.isArray(type)) return undefined;
  const types = type.filter((t) => t !== 'null');
  return types.length === 1 && typeof types[0] === 'string' ? types[0] : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `extra` merged into `base`: plain objects key by key, anything else replaced. Returns a new object. */
function mergeDeep(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeDeep(current, value) : value;
  }
  return out;
}
