import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, costOf, defaultPrices, priceOf, withPrices, type ModelPrice, type Usage } from 'rxllm';
import { FIXTURES_DIR } from './helpers/fixtures';

const usage = (inputTokens: number, outputTokens: number, cachedInputTokens?: number): Usage => ({
  inputTokens, outputTokens, totalTokens: inputTokens + outputTokens, ...(cachedInputTokens !== undefined ? { cachedInputTokens } : {}),
});

describe('defaultPrices', () => {
  it('every entry is a dated, sourced price in USD per 1M tokens, keyed in lower case', () => {
    expect(Object.keys(defaultPrices).length).toBeGreaterThan(30);
    for (const [model, entry] of Object.entries(defaultPrices)) {
      expect(model).toBe(model.toLowerCase());
      expect(entry.asOf).toMatch(/^20\d\d-\d\d-\d\d$/);
      expect(entry.source).toMatch(/^https:\/\//);
      expect(entry.input).toBeGreaterThan(0);
      expect(entry.output).toBeGreaterThanOrEqual(0);
      if (entry.cachedInput !== undefined) expect(entry.cachedInput).toBeLessThan(entry.input);
      expect(Object.isFrozen(entry)).toBe(true);
    }
    expect(Object.isFrozen(defaultPrices)).toBe(true);
  });

  it('prices every real model id in the recorded fixtures except experimental, free and self-hosted ones', () => {
    const ids = new Set<string>();
    for (const dir of ['openai-chat', 'openai-responses', 'anthropic', 'gemini']) {
      for (const name of ['text-usage-count.sse', 'tool-call-usage.sse', 'text-2025-03.sse', 'reasoning-tool-call-usage.sse', 'text-short.sse', 'text-count.sse', 'thinking.sse', 'text-usage-service-tier.sse', 'tool-call-thought-signature.sse']) {
        try {
          for (const m of readFileSync(join(FIXTURES_DIR, dir, name), 'utf8').matchAll(/"(?:model|modelVersion)":\s*"([^"]+)"/g)) ids.add(m[1]!);
        } catch {
          // not in this folder
        }
      }
    }
    expect([...ids].sort()).toEqual([
      'claude-3-opus-20240229', 'claude-sonnet-4-20250514', 'claude-sonnet-4-5-20250929', 'gemini-2.5-flash', 'gemini-3-pro-preview',
      'gpt-3.5-turbo-0125', 'gpt-4o-2024-08-06', 'gpt-4o-mini-2024-07-18', 'gpt-5-2025-08-07',
    ]);
    for (const id of ids) expect(priceOf(id), id).toBeDefined();
  });
});

describe('priceOf', () => {
  it.each([
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini'],
    ['gpt-5-nano-2025-08-07', 'gpt-5-nano'],
    ['o3-mini-2025-01-31', 'o3-mini'],
    ['gpt-3.5-turbo-0125', 'gpt-3.5-turbo'],
    ['gpt-4-0613', 'gpt-4'],
    ['claude-3-5-haiku-20241022', 'claude-3-5-haiku'],
    ['claude-haiku-4-5-20251001', 'claude-haiku-4-5'],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
    ['claude-3-5-haiku-latest', 'claude-3-5-haiku'],
    ['claude-3-5-haiku@20241022', 'claude-3-5-haiku'],
    ['gemini-2.0-flash-001', 'gemini-2.0-flash'],
    ['openai/gpt-4o', 'gpt-4o'],
    ['GPT-4o', 'gpt-4o'],
  ] as const)('%s resolves to the %s entry', (id, entry) => {
    expect(priceOf(id)).toBe(defaultPrices[entry]);
  });

  it('prefers an exact entry to the snapshot rule: gpt-4o-2024-05-13 and gpt-3.5-turbo-0613 kept their own prices', () => {
    expect(priceOf('gpt-4o-2024-05-13')).toMatchObject({ input: 5, output: 15 });
    expect(priceOf('gpt-4o-2024-08-06')).toBe(defaultPrices['gpt-4o']);
    expect(priceOf('gpt-3.5-turbo-0613')).toMatchObject({ input: 1.5, output: 2 });
  });

  it.each(['llama3.2', 'gemma3:1b', 'gemini-2.0-flash-exp', 'meta-llama/llama-3.2-3b-instruct:free', 'my-finetune', 'gpt-test', 'constructor', '__proto__', 'toString', ''])(
    '%j is unknown: undefined',
    (id) => expect(priceOf(id)).toBeUndefined(),
  );
});

describe('costOf', () => {
  it('bills input and output per 1M tokens: the recorded gpt-4o-mini tool call (53 in, 15 out)', () => {
    expect(costOf(usage(53, 15), 'gpt-4o-mini-2024-07-18')).toBeCloseTo((53 * 0.15 + 15 * 0.6) / 1e6, 15);
  });

  it('bills cached input at the cached rate when the entry has one', () => {
    // 1000 input of which 600 cached, 100 output on claude-haiku-4-5 (1 / 0.1 / 5).
    expect(costOf(usage(1000, 100, 600), 'claude-haiku-4-5')).toBeCloseTo((400 * 1 + 600 * 0.1 + 100 * 5) / 1e6, 15);
    // No cached price: cached tokens cost full input.
    expect(costOf(usage(1000, 100, 600), 'gpt-4')).toBeCloseTo((1000 * 30 + 100 * 60) / 1e6, 15);
  });

  it('never bills more cached tokens than input tokens', () => {
    expect(costOf(usage(10, 0, 50), 'gpt-4o')).toBeCloseTo((10 * 1.25) / 1e6, 15);
  });

  it('is 0 for no tokens and undefined (never a silent 0) for an unknown model', () => {
    expect(costOf(usage(0, 0), 'gpt-4o')).toBe(0);
    expect(costOf(usage(1000, 1000), 'llama3.2')).toBeUndefined();
  });

  it('uses the table it is given', () => {
    const prices = withPrices({ 'llama3.2': { input: 0, output: 0, asOf: '2026-11-23', source: 'local Ollama: no per-token charge' } });
    expect(costOf(usage(1000, 1000), 'llama3.2', prices)).toBe(0);
    expect(costOf(usage(1_000_000, 0), 'gpt-4o', prices)).toBe(2.5);
  });
});

describe('withPrices', () => {
  const mine: ModelPrice = { input: 1, cachedInput: 0.5, output: 2, asOf: '2026-11-23', source: 'our contract' };

  it('adds and overrides entries, keys in lower case, and leaves the base alone', () => {
    const prices = withPrices({ 'My-Model': mine, 'gpt-4o': mine });
    expect(priceOf('my-model', prices)).toEqual(mine);
    expect(priceOf('gpt-4o-2024-11-20', prices)).toEqual(mine);
    expect(priceOf('gpt-4o-mini', prices)).toBe(defaultPrices['gpt-4o-mini']);
    expect(defaultPrices['gpt-4o']).toMatchObject({ input: 2.5 });
    expect(Object.isFrozen(prices)).toBe(true);
  });

  it('extends a given base', () => {
    const base = withPrices({ a: mine }, {});
    const both = withPrices({ b: mine }, base);
    expect(Object.keys(both).sort()).toEqual(['a', 'b']);
    expect(priceOf('gpt-4o', both)).toBeUndefined();
  });

  it("an override keyed '__proto__' cannot change what the table inherits", () => {
    const prices = withPrices(JSON.parse('{"__proto__": {"input": 1, "output": 1, "asOf": "2026-11-23", "source": "x"}}') as Record<string, ModelPrice>);
    expect(Object.getPrototypeOf(prices)).toBeNull();
    expect(priceOf('toString', prices)).toBeUndefined();
    expect(priceOf('gpt-4o', prices)).toBe(defaultPrices['gpt-4o']);
  });

  it.each([
    [{ x: { ...mine, input: -1 } }, /withPrices\(\): x\.input: .*received -1/],
    [{ x: { ...mine, output: Number.NaN } }, /withPrices\(\): x\.output/],
    [{ x: { ...mine, output: Infinity } }, /withPrices\(\): x\.output/],
    [{ x: { ...mine, cachedInput: '0.1' } }, /withPrices\(\): x\.cachedInput: .*received "0\.1"/],
    [{ x: { input: 1, output: 1, source: 'y' } }, /withPrices\(\): x\.asOf/],
    [{ x: { ...mine, asOf: 'yesterday' } }, /withPrices\(\): x\.asOf: expected a date "YYYY-MM-DD"; received "yesterday"/],
    [{ x: { ...mine, source: '' } }, /withPrices\(\): x\.source: expected where the price comes from/],
    [{ x: { ...mine, perRequest: 1 } }, /withPrices\(\): x\.perRequest/],
    [{ x: 3 }, /withPrices\(\): x/],
    ['gpt-4o', /withPrices\(\): options/],
  ])('rejects %j with a ConfigurationError at the call', (overrides, message) => {
    const call = () => withPrices(overrides as unknown as Record<string, ModelPrice>);
    expect(call).toThrow(ConfigurationError);
    expect(call).toThrow(message);
  });
});
