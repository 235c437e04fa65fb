import { z } from 'zod';
import { parseConfig } from '../core/config';
import type { Usage } from '../core/events';

/**
 * Prices, to turn provider-reported usage into dollars. The table is a dated snapshot: every
 * entry says when and where its price was read. Prices change; check the `source` before you
 * bill anyone, and override with `withPrices`.
 */

/** USD per 1M tokens, with where and when the price was read. */
export interface ModelPrice {
  /** USD per 1M input tokens. */
  readonly input: number;
  /** USD per 1M input tokens read from the provider's prompt cache; absent: cached tokens cost `input`. */
  readonly cachedInput?: number;
  /** USD per 1M output tokens (reasoning tokens are output tokens). */
  readonly output: number;
  /** When the price was read, `YYYY-MM-DD`. */
  readonly asOf: string;
  /** Where it was read. */
  readonly source: string;
}

/** Prices by model id (lower case). */
export type PriceTable = Readonly<Record<string, ModelPrice>>;

// Most prices were read from the providers' pricing pages by pydantic/genai-prices, whose
// maintainers record the date they checked each one; this table copies them from its snapshot
// at commit 47df840 (2026-08-21), keeping their check date as `asOf`.
const GENAI_PRICES = 'via github.com/pydantic/genai-prices @47df840';
const OPENAI = `https://developers.openai.com/api/docs/pricing (${GENAI_PRICES})`;
const ANTHROPIC = `https://www.anthropic.com/pricing#api (${GENAI_PRICES})`;
const GOOGLE = `https://ai.google.dev/gemini-api/docs/pricing (${GENAI_PRICES})`;

const price = (input: number, cachedInput: number | undefined, output: number, asOf: string, source: string): ModelPrice =>
  Object.freeze(cachedInput === undefined ? { input, output, asOf, source } : { input, cachedInput, output, asOf, source });

/**
 * The built-in price table (standard tier, text tokens, USD per 1M tokens):
 * OpenAI gpt-4o / 4o-mini / 4.1 (mini, nano) / 5 (mini, nano), o1, o3, o3-mini, o4-mini, gpt-4-turbo,
 * gpt-4, gpt-3.5-turbo, text-embedding-3; Anthropic Claude 3, 3.5, 3.7, 4, 4.1, 4.5, 4.6; Google
 * Gemini 2.0 Flash (Lite), 2.5 Flash (Lite) / Pro, 3 Pro / Flash preview.
 *
 * Not modelled: long-context tiers (Claude Sonnet 4.5 and Gemini Pro above 200k input tokens
 * cost more; these entries are the ≤ 200k price), Anthropic's cache writes (1.25× input; `Usage`
 * carries no cache-write count, so they are billed at `input`), audio and image tokens, batch and
 * priority tiers. Local models (Ollama, llama.cpp) have no entry: a model id does not say where it
 * runs. Add them with `withPrices({ 'llama3.2': { input: 0, output: 0, … } })`.
 */
export const defaultPrices: PriceTable = Object.freeze({
  // OpenAI
  'gpt-4o': price(2.5, 1.25, 10, '2025-07-04', OPENAI),
  // The first gpt-4o snapshot kept its launch price.
  'gpt-4o-2024-05-13': price(5, undefined, 15, '2026-05-08', 'https://llmcloudhub.com/openai/gpt-4o-2024-05-13 (OpenAI list price for this snapshot)'),
  'gpt-4o-mini': price(0.15, 0.075, 0.6, '2025-07-04', OPENAI),
  'gpt-4.1': price(2, 0.5, 8, '2025-07-04', OPENAI),
  'gpt-4.1-mini': price(0.4, 0.1, 1.6, '2025-07-04', OPENAI),
  'gpt-4.1-nano': price(0.1, 0.025, 0.4, '2025-07-04', OPENAI),
  'gpt-5': price(1.25, 0.125, 10, '2025-11-13', OPENAI),
  'gpt-5-mini': price(0.25, 0.025, 2, '2025-11-13', OPENAI),
  'gpt-5-nano': price(0.05, 0.005, 0.4, '2025-11-13', OPENAI),
  'o1': price(15, 7.5, 60, '2025-07-04', OPENAI),
  // o3's price was cut on 2025-06-10; this is the price since then.
  'o3': price(2, 0.5, 8, '2025-07-12', OPENAI),
  'o3-mini': price(1.1, 0.55, 4.4, '2025-07-04', OPENAI),
  'o4-mini': price(1.1, 0.275, 4.4, '2025-07-04', OPENAI),
  'gpt-4-turbo': price(10, undefined, 30, '2025-07-04', OPENAI),
  'gpt-4': price(30, undefined, 60, '2025-07-04', OPENAI),
  'gpt-3.5-turbo': price(0.5, undefined, 1.5, '2025-07-04', OPENAI),
  'gpt-3.5-turbo-0613': price(1.5, undefined, 2, '2025-11-07', OPENAI),
  'gpt-3.5-turbo-1106': price(1, undefined, 2, '2025-11-07', OPENAI),
  // Embeddings have no output tokens.
  'text-embedding-3-small': price(0.02, undefined, 0, '2025-07-04', OPENAI),
  'text-embedding-3-large': price(0.13, undefined, 0, '2025-07-04', OPENAI),
  // Anthropic (cachedInput = cache read)
  'claude-3-haiku': price(0.25, 0.03, 1.25, '2026-07-29', ANTHROPIC),
  'claude-3-opus': price(15, 1.5, 75, '2026-07-29', ANTHROPIC),
  'claude-3-5-haiku': price(0.8, 0.08, 4, '2026-07-29', ANTHROPIC),
  'claude-3-5-sonnet': price(3, 0.3, 15, '2026-07-29', ANTHROPIC),
  'claude-3-7-sonnet': price(3, 0.3, 15, '2026-07-29', ANTHROPIC),
  'claude-sonnet-4': price(3, 0.3, 15, '2026-07-29', ANTHROPIC),
  'claude-sonnet-4-0': price(3, 0.3, 15, '2026-07-29', ANTHROPIC),
  'claude-opus-4': price(15, 1.5, 75, '2026-07-29', ANTHROPIC),
  'claude-opus-4-0': price(15, 1.5, 75, '2026-07-29', ANTHROPIC),
  'claude-opus-4-1': price(15, 1.5, 75, '2026-07-29', ANTHROPIC),
  'claude-sonnet-4-5': price(3, 0.3, 15, '2026-07-29', ANTHROPIC),
  'claude-haiku-4-5': price(1, 0.1, 5, '2026-07-29', ANTHROPIC),
  'claude-opus-4-5': price(5, 0.5, 25, '2026-07-29', ANTHROPIC),
  'claude-sonnet-4-6': price(3, 0.3, 15, '2026-07-29', ANTHROPIC),
  'claude-opus-4-6': price(5, 0.5, 25, '2026-07-29', ANTHROPIC),
  // Google (cachedInput = context-cache read)
  'gemini-2.0-flash': price(0.1, 0.025, 0.4, '2025-07-04', GOOGLE),
  'gemini-2.0-flash-lite': price(0.075, undefined, 0.3, '2025-07-04', GOOGLE),
  'gemini-2.5-flash': price(0.3, 0.03, 2.5, '2025-10-31', GOOGLE),
  'gemini-2.5-flash-lite': price(0.1, 0.01, 0.4, '2025-10-31', GOOGLE),
  'gemini-2.5-pro': price(1.25, 0.125, 10, '2025-10-31', GOOGLE),
  'gemini-3-pro-preview': price(2, 0.2, 12, '2025-11-18', GOOGLE),
  'gemini-3-flash-preview': price(0.5, 0.05, 3, '2025-12-19', GOOGLE),
});

const usd = z.number().finite().nonnegative();
const modelPriceSchema = z.strictObject({
  input: usd,
  cachedInput: usd.optional(),
  output: usd,
  asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}/, 'expected a date "YYYY-MM-DD"'),
  source: z.string().min(1, 'expected where the price comes from'),
});
const overridesSchema = z.record(z.string().min(1, 'expected a model id'), modelPriceSchema, {
  error: 'expected { [modelId]: { input, output, cachedInput?, asOf, source } } in USD per 1M tokens',
});

/**
 * A price table with `overrides` added to (or replacing entries of) `base`. Model ids are
 * stored in lower case. Every override is validated: a price that is not a finite number ≥ 0, a
 * missing `asOf` date or `source` throws `ConfigurationError` naming the model and the field.
 *
 * @defaultValue base: `defaultPrices`
 * @example
 * const prices = withPrices({
 *   'llama3.2': { input: 0, output: 0, asOf: '2026-11-23', source: 'local Ollama, no per-token charge' },
 *   'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6, asOf: '2026-11-23', source: 'our Azure contract' },
 * });
 * costOf(usage, 'llama3.2', prices); // 0
 */
export function withPrices(overrides: Record<string, ModelPrice>, base: PriceTable = defaultPrices): PriceTable {
  const valid = parseConfig('withPrices', overridesSchema, overrides);
  // No prototype, so an id such as '__proto__' is an ordinary key.
  const table: Record<string, ModelPrice> = Object.assign(Object.create(null) as Record<string, ModelPrice>, base);
  for (const [model, entry] of Object.entries(valid)) {
    table[model.trim().toLowerCase()] = price(entry.input, entry.cachedInput, entry.output, entry.asOf, entry.source);
  }
  return Object.freeze(table);
}

/**
 * The price of a model, or `undefined` when the table has none. The lookup, first match wins:
 * 1. the id as given, then in lower case (`'gpt-4o-2024-05-13'` has its own entry);
 * 2. without a `vendor/` prefix (OpenRouter's `'openai/gpt-4o'`, `'anthropic/claude-3-5-haiku'`),
 *    so resold models are priced at their maker's list price;
 * 3. without one dated-snapshot suffix: `-YYYY-MM-DD` (`gpt-4o-mini-2024-07-18`), `-YYYYMMDD`
 *    (`claude-3-5-haiku-20241022`), `@YYYYMMDD` (Vertex), `-NNNN` (`gpt-3.5-turbo-0125`),
 *    `-NNN` (`gemini-2.0-flash-001`) or `-latest`.
 * Nothing else is guessed: `gemini-2.0-flash-exp`, `llama3.2` and `meta-llama/…:free` are unknown.
 *
 * @example
 * priceOf('claude-3-5-haiku-20241022'); // the 'claude-3-5-haiku' entry
 * priceOf('llama3.2');                  // undefined
 */
export function priceOf(model: string, prices: PriceTable = defaultPrices): ModelPrice | undefined {
  const id = model.trim().toLowerCase();
  const bare = id.slice(id.lastIndexOf('/') + 1);
  for (const candidate of [model, id, bare, bare.replace(SNAPSHOT, '')]) {
    // Own keys only: 'constructor' or '__proto__' is no model.
    if (Object.prototype.hasOwnProperty.call(prices, candidate)) return prices[candidate];
  }
  return undefined;
}

const SNAPSHOT = /(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-\d{3,4}|-latest)$/;

/**
 * What a call cost in USD, from provider-reported usage: uncached input at `input`,
 * `cachedInputTokens` at `cachedInput` (at `input` when the entry has no cached price), output
 * (reasoning included) at `output`. `undefined` for a model with no price — never a silent 0.
 *
 * @example
 * costOf({ inputTokens: 53, outputTokens: 15, totalTokens: 68 }, 'gpt-4o-mini-2024-07-18'); // 0.00001695
 * costOf(usage, 'my-finetune'); // undefined
 */
export function costOf(usage: Usage, model: string, prices: PriceTable = defaultPrices): number | undefined {
  const entry = priceOf(model, prices);
  return entry ? costAt(usage, entry) : undefined;
}

/** `costOf` with the price already looked up: what operators use per call, so a delta costs no lookup. */
export function costAt(usage: Usage, entry: ModelPrice): number {
  const cached = entry.cachedInput === undefined ? 0 : Math.min(Math.max(usage.cachedInputTokens ?? 0, 0), usage.inputTokens);
  return tokensCost(entry, usage.inputTokens, usage.outputTokens, cached);
}

/** USD for token counts at a price: `cached` of the `input` tokens at the cached rate. No object per call: for per-delta use. */
export function tokensCost(entry: ModelPrice, input: number, output: number, cached = 0): number {
  return ((input - cached) * entry.input + cached * (entry.cachedInput ?? entry.input) + output * entry.output) / 1_000_000;
}
