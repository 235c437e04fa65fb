import { bpeCounter, type BpeRankFile } from './bpe';
import type { LlmRequest, Message, TextPart, ToolDefinition } from '../core/request';
import { estimateTokens } from './token-estimate';

/**
 * Token counting. OpenAI models are counted with their real tokenizer (tiktoken's rank files as
 * js-tiktoken ships them, counted by our own byte-pair merge in ./bpe); models with
 * no public tokenizer (Claude, Gemini, Llama, …) get an estimate marked `estimated: true`.
 *
 * Nothing is loaded until a count is needed: the rank files (o200k_base is 2.3 MB of source;
 * its rank map takes ~0.15 s to build) are dynamic imports, made once per encoding and shared by
 * every counter of that encoding.
 */

/** The js-tiktoken encodings rxllm loads: o200k_base (gpt-4o and later), cl100k_base (gpt-4, gpt-3.5-turbo). */
export type EncodingName = 'o200k_base' | 'cl100k_base';

/** Counts tokens the way one model does. Get one with `tokenCounter(model)` or `loadTokenCounter(model)`. */
export interface TokenCounter {
  /** Tokens in `text`; O(text.length). Special-token strings such as `<|endoftext|>` count as plain text. */
  count(text: string): number;
  /** True when no tokenizer is known for the model (or it could not be loaded): `count` is an estimate. */
  readonly estimated: boolean;
  /** The tokenizer behind `count`, when it is exact. */
  readonly encoding: EncodingName | undefined;
}

/** A token count, and whether it is exact. */
export interface TokenCount {
  readonly tokens: number;
  readonly estimated: boolean;
  readonly encoding: EncodingName | undefined;
}

// ---------------------------------------------------------------------------------------------
// Which tokenizer a model uses

/**
 * The encoding of an OpenAI model id (provider prefixes such as OpenRouter's `openai/` are
 * ignored), or `undefined` when the model has no known tokenizer.
 *
 * o200k_base: gpt-4o*, chatgpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, o1*, o3*, o4*, gpt-oss*, codex-*.
 * cl100k_base: gpt-4 and gpt-4-turbo (not 4o / 4.1 / 4.5), gpt-3.5-turbo, text-embedding-3-*, text-embedding-ada-002.
 *
 * @example
 * encodingOf('openai/gpt-4o-mini-2024-07-18'); // 'o200k_base'
 * encodingOf('claude-sonnet-4-5');             // undefined
 */
export function encodingOf(model: string): EncodingName | undefined {
  const id = bareModelId(model);
  if (/^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|codex-)/.test(id) || /^o[134](-|$)/.test(id)) return 'o200k_base';
  if (/^(gpt-4|gpt-3\.5|gpt-35|text-embedding-3-|text-embedding-ada-002)/.test(id)) return 'cl100k_base';
  return undefined;
}

/** `'OpenAI/GPT-4o'` → `'gpt-4o'`: lower case, without a `vendor/` prefix. */
function bareModelId(model: string): string {
  const id = model.trim().toLowerCase();
  return id.slice(id.lastIndexOf('/') + 1);
}

// ---------------------------------------------------------------------------------------------
// Loading, once per encoding

const RANKS: Readonly<Record<EncodingName, () => Promise<{ default: BpeRankFile }>>> = {
  o200k_base: () => import('js-tiktoken/ranks/o200k_base'),
  cl100k_base: () => import('js-tiktoken/ranks/cl100k_base'),
};

// Module-level on purpose: a rank map is immutable and costs ~0.15 s and ~15 MB to build, so
// every counter of an encoding shares one. Only these caches are shared; counters hold no state.
const exact = new Map<EncodingName, TokenCounter>();
const loading = new Map<EncodingName, Promise<TokenCounter | undefined>>();

/** Loads an encoding once; resolves `undefined` if its rank file cannot be imported (then the next call tries again). */
function loadEncoding(name: EncodingName): Promise<TokenCounter | undefined> {
  const done = exact.get(name);
  if (done) return Promise.resolve(done);
  let pending = loading.get(name);
  if (!pending) {
    pending = RANKS[name]().then(
      (ranks) => {
        const counter: TokenCounter = Object.freeze({ encoding: name, estimated: false, count: bpeCounter(ranks.default) });
        exact.set(name, counter);
        loading.delete(name);
        return counter;
      },
      () => {
        loading.delete(name);
        return undefined;
      },
    );
    loading.set(name, pending);
  }
  return pending;
}

/** Which encodings are loaded so far. Importing rxllm loads none. */
export function loadedEncodings(): EncodingName[] {
  return [...exact.keys()];
}

// ---------------------------------------------------------------------------------------------
// Counters

/**
 * The token counter for a model, synchronously when it is ready:
 * - an OpenAI model whose encoding is loaded: the exact counter;
 * - an OpenAI model whose encoding is not loaded yet: a Promise that loads it (dynamic import,
 *   once per encoding; concurrent calls share it). If the import fails, the Promise resolves to
 *   the estimate rather than rejecting, and a later call tries the import again;
 * - any other model: an estimate (`estimated: true`), synchronously and without loading
 *   anything. It counts with o200k_base when that is already loaded, else with a
 *   tokenizer-free approximation of o200k_base (±10 % on typical text).
 *
 * `model` is the provider's model id (`ModelInfo.id`), e.g. `'gpt-4o-mini'`, `'openai/gpt-4o'`,
 * `'claude-3-5-haiku-20241022'`, `'gemini-2.0-flash'`, `'llama3.2'`.
 *
 * @example
 * const found = tokenCounter('gpt-4o-mini');
 * const counter = found instanceof Promise ? await found : found;
 * counter.count('Hello, world'); // 4
 */
export function tokenCounter(model: string): TokenCounter | Promise<TokenCounter> {
  const encoding = encodingOf(model);
  if (encoding === undefined) return estimateCounter(model, exact.get('o200k_base'));
  return exact.get(encoding) ?? loadEncoding(encoding).then((counter) => counter ?? estimateCounter(model, undefined));
}

/**
 * The best counter for a model, loading whatever it needs: an OpenAI model's encoding; for a
 * model with no known tokenizer, o200k_base, whose counts it uses as the estimate (a better
 * estimate than the tokenizer-free one `tokenCounter` gives before anything is loaded).
 *
 * @example
 * const counter = await loadTokenCounter('claude-haiku-4-5');
 * counter.estimated; // true
 */
export async function loadTokenCounter(model: string): Promise<TokenCounter> {
  const encoding = encodingOf(model);
  if (encoding !== undefined) return tokenCounter(model);
  return estimateCounter(model, await loadEncoding('o200k_base'));
}

/**
 * Tokens in `text` for `model` (see `loadTokenCounter` for what is loaded).
 * @example
 * await countTokens('tiktoken is great!', 'gpt-4'); // { tokens: 6, estimated: false, encoding: 'cl100k_base' }
 */
export async function countTokens(text: string, model: string): Promise<TokenCount> {
  const counter = await loadTokenCounter(model);
  return { tokens: counter.count(text), estimated: counter.estimated, encoding: counter.encoding };
}

/**
 * Input tokens of a chat request as the provider bills them: the text of every message plus
 * the chat format's per-message overhead, tool definitions and tool calls (see `requestTokens`).
 *
 * @example
 * await countRequestTokens(parseRequest({ messages: [{ role: 'user', content: 'Count from 1 to 5' }] }), 'gpt-3.5-turbo');
 * // { tokens: 14, estimated: false, encoding: 'cl100k_base' } — the API reported 14
 */
export async function countRequestTokens(request: LlmRequest, model: string): Promise<TokenCount> {
  const counter = await loadTokenCounter(model);
  return { tokens: requestTokens(request, counter), estimated: counter.estimated, encoding: counter.encoding };
}

// ---------------------------------------------------------------------------------------------
// Estimates for models with no public tokenizer

type Family = 'openai' | 'claude' | 'gemini' | 'gemma' | 'llama' | 'chatml';

const familyOf = new WeakMap<TokenCounter, Family>();
const estimates = new Map<string, TokenCounter>();

function family(model: string): Family {
  const id = bareModelId(model);
  if (encodingOf(id) !== undefined) return 'openai';
  if (id.startsWith('claude')) return 'claude';
  if (id.startsWith('gemini')) return 'gemini';
  if (id.startsWith('gemma')) return 'gemma';
  if (id.includes('llama')) return 'llama';
  return 'chatml';
}

function estimateCounter(model: string, o200k: TokenCounter | undefined): TokenCounter {
  const fam = family(model);
  const key = `${fam}:${o200k ? 'o200k' : 'chars'}`;
  let counter = estimates.get(key);
  if (!counter) {
    const count = o200k ? o200k.count : estimateTokens;
    counter = Object.freeze({ encoding: undefined, estimated: true, count });
    familyOf.set(counter, fam);
    estimates.set(key, counter);
  }
  return counter;
}

// ---------------------------------------------------------------------------------------------
// Requests

/**
 * How a chat format wraps messages, in tokens. `perMessage` excludes the role, which is counted
 * as text (`user` is one token).
 */
interface ChatFormat {
  readonly perMessage: number;
  readonly reply: number;
  readonly countRole: boolean;
}

const FORMATS: Readonly<Record<Family, ChatFormat>> = {
  // OpenAI cookbook: <|start|>{role}<|message|>{content}<|end|> = 3 + role; reply primed with 3.
  openai: { perMessage: 3, reply: 3, countRole: true },
  // Fits Anthropic's billed counts for single-turn recordings (claude-3-opus 15, claude-sonnet-4-5 20).
  claude: { perMessage: 3, reply: 3, countRole: true },
  // Gemini bills the text only (gemini-2.0-flash: system + user = 6 + 7 = 13 billed).
  gemini: { perMessage: 0, reply: 0, countRole: false },
  // <bos><start_of_turn>{role}\n{content}<end_of_turn>\n … <start_of_turn>model\n (gemma3:1b: 16 billed for 7 text tokens).
  gemma: { perMessage: 4, reply: 4, countRole: true },
  // <|begin_of_text|><|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|> … assistant header.
  llama: { perMessage: 4, reply: 5, countRole: true },
  // <|im_start|>{role}\n{content}<|im_end|>\n … <|im_start|>assistant\n (Qwen, Mistral and most open models).
  chatml: { perMessage: 4, reply: 3, countRole: true },
};

/**
 * Input tokens of a chat request, counted with `counter` — synchronously, for operators that
 * already hold a counter. The rules, per chat format:
 *
 * - **OpenAI** (the cookbook's documented rule): 3 tokens per message + its role + its text
 *   (+ 1 and the name for a `name`), + 3 priming the reply. Tools follow the cookbook's
 *   `num_tokens_for_tools` (per function 7 on o200k / 10 on cl100k, `name:description`, per
 *   property 3 + `key:type:description`, enums −3 + 3 per value; 3 per parameter list; 12 at the
 *   end), except that an empty description adds no `:` and `integer` counts as `number`, as
 *   OpenAI renders both (these two rules make the recorded 53 exact). An assistant tool call
 *   costs `functions.{name}` + its arguments + 4, and a tool result is addressed from
 *   `functions.{name}` (calibrated on one recorded exchange: 78 billed, 78 counted). A
 *   `responseFormat` schema adds its JSON text + 8 (approximation, not checked against bills).
 * - **Claude** (estimate): the same message rule; tools add Anthropic's tool-use system prompt
 *   (346 tokens, 313 when `toolChoice` forces a tool) plus each tool's JSON.
 * - **Gemini** (estimate): the text only; tools: names, descriptions and property names.
 * - **Gemma, Llama, ChatML** (estimate): the model's chat template tokens per message; tools as JSON.
 *
 * A counter that did not come from `tokenCounter` / `loadTokenCounter` is counted with the OpenAI rule.
 * Not counted: images and audio (rxllm requests carry text only), the Responses API's hidden
 * preamble for gpt-4o with tools (one recording: 255 billed, 45 counted; none for gpt-5), and the
 * default system message hosts add to gpt-oss's harmony format.
 *
 * @example
 * const counter = await loadTokenCounter('gpt-4o-mini');
 * requestTokens(event.request, counter); // 53 for the recorded get_capital request
 */
export function requestTokens(request: LlmRequest, counter: TokenCounter): number {
  // rateLimit, route and budget in one pipe each count the same request with the same counter:
  // the last answer is kept (a request is parsed once per stream() call and never mutated).
  if (request === lastCount.request && counter === lastCount.counter) return lastCount.tokens;
  const tokens = countRequest(request, counter);
  lastCount = { request, counter, tokens };
  return tokens;
}

let lastCount: { readonly request: LlmRequest | undefined; readonly counter: TokenCounter | undefined; readonly tokens: number } = { request: undefined, counter: undefined, tokens: 0 };

function countRequest(request: LlmRequest, counter: TokenCounter): number {
  const fam = familyOf.get(counter) ?? 'openai';
  const format = FORMATS[fam];
  const count = (text: string): number => counter.count(text);
  const partsTokens = (parts: ReadonlyArray<TextPart> | undefined): number => {
    let n = 0;
    for (const part of parts ?? []) n += count(part.text);
    return n;
  };
  const toolNames = new Map<string, string>();
  let tokens = format.reply;
  for (const message of request.messages) {
    tokens += format.perMessage + partsTokens(message.content);
    tokens += format.countRole ? roleTokens(message, toolNames, count) : 0;
    if (message.role === 'user' && message.name !== undefined) tokens += 1 + count(message.name);
    if (message.role === 'assistant') {
      for (const call of message.toolCalls ?? []) {
        toolNames.set(call.id, call.name);
        const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
        tokens += count(`functions.${call.name}`) + count(args) + 4;
      }
    }
  }
  if (request.tools?.length) tokens += toolsTokens(request, fam, counter.encoding, count);
  const format_ = request.responseFormat;
  if (format_?.type === 'json' && format_.schema) tokens += count(JSON.stringify(format_.schema)) + 8;
  return tokens;
}

/** The author of a message as the model sees it: its role, or for a tool result the tool that answered. */
function roleTokens(message: Message, toolNames: ReadonlyMap<string, string>, count: (text: string) => number): number {
  if (message.role !== 'tool') return count(message.role);
  const name = toolNames.get(message.toolCallId);
  return count(name === undefined ? 'tool' : `functions.${name}`);
}

type JsonSchema = Readonly<Record<string, unknown>>;

function toolsTokens(request: LlmRequest, fam: Family, encoding: EncodingName | undefined, count: (text: string) => number): number {
  const tools = request.tools ?? [];
  if (fam === 'openai') return openaiToolsTokens(tools, encoding === 'cl100k_base' ? 10 : 7, count);
  if (fam === 'gemini') {
    let n = 0;
    for (const tool of tools) {
      n += count(tool.name) + count(tool.description ?? '') + 2;
      for (const [key, prop] of Object.entries(properties(tool.parameters))) n += count(key) + count(stringField(prop, 'description')) + 1;
    }
    return n;
  }
  let n = 0;
  for (const tool of tools) n += count(JSON.stringify(tool));
  if (fam === 'claude') n += claudeToolPrompt(request);
  return n;
}

/** The OpenAI cookbook's `num_tokens_for_tools`, with the two rendering fixes described on `requestTokens`. */
function openaiToolsTokens(tools: ReadonlyArray<ToolDefinition>, perFunction: number, count: (text: string) => number): number {
  let n = 12;
  for (const tool of tools) {
    const description = (tool.description ?? '').replace(/\.$/, '');
    n += perFunction + count(description === '' ? tool.name : `${tool.name}:${description}`);
    const props = Object.entries(properties(tool.parameters));
    if (props.length > 0) n += 3;
    for (const [key, prop] of props) {
      n += 3;
      const values = (prop as JsonSchema)['enum'];
      if (Array.isArray(values)) {
        n -= 3;
        for (const value of values) n += 3 + count(String(value));
      }
      const type = stringField(prop, 'type');
      n += count(`${key}:${type === 'integer' ? 'number' : type}:${stringField(prop, 'description').replace(/\.$/, '')}`);
    }
  }
  return n;
}

function properties(schema: JsonSchema): Readonly<Record<string, unknown>> {
  const props = schema['properties'];
  return typeof props === 'object' && props !== null ? (props as Record<string, unknown>) : {};
}

function stringField(value: unknown, key: string): string {
  const field = typeof value === 'object' && value !== null ? (value as JsonSchema)[key] : undefined;
  return typeof field === 'string' ? field : Array.isArray(field) ? field.join('|') : '';
}

/**
 * Anthropic adds a tool-use system prompt whenever `tools` are sent: 346 tokens for `auto` /
 * `none`, 313 for `any` / a named tool (the figures for current models; Claude 3 models use
 * 159–530, listed on https://docs.anthropic.com/en/docs/tool-use-pricing-and-tokens).
 */
function claudeToolPrompt(request: LlmRequest): number {
  const forced = request.toolChoice === 'required' || typeof request.toolChoice === 'object';
  return forced ? 313 : 346;
}
