import { TestScheduler } from 'rxjs/testing';
import { from, identity, lastValueFrom, takeWhile, toArray, type MonoTypeOperatorFunction } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { collect, ConfigurationError, LlmError, type LlmEvent, type MetricsNotice, type Usage } from 'rxllm';
import { meter, retryBackoff } from 'rxllm/operators';
import { costOf, withPrices, type PriceTable } from '../../src/cost/pricing';
import { loadTokenCounter } from '../../src/cost/tokens';
import { parts } from '../helpers/events';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const one = (): number => 1;
const unavailable = new LlmError({ code: 'unavailable', message: 'openai 503: overloaded', retryable: true, status: 503 });

/** A `metrics` notice of `meter()`, counted with `count: one` (so never estimated). */
const metrics = (fields: Omit<MetricsNotice, 'type' | 'final' | 'estimated'> & { final?: boolean; estimated?: boolean }): MetricsNotice => ({
  type: 'metrics',
  final: false,
  estimated: false,
  ...fields,
});

const prices: PriceTable = withPrices({ 'test-model': { input: 1, output: 2, asOf: '2025-01-01', source: 'test' } });
const usage = parts.u.usage;

describe('meter()', () => {
  it('emits time to first token with the first output event, and a final notice just before finish', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r--h-a-----b-----f----|', parts);
      // The response (h) is not output: TTFT runs from subscription to the first text (frame 5).
      const m = metrics({ ttftMs: 5, outputTokens: 1, tokensPerSecond: 1000, averageTokensPerSecond: 1000, elapsedMs: 5 });
      // At 17 the rolling window (10 ms) holds b only; the average runs over the 12 ms since a.
      const M = metrics({ ttftMs: 5, outputTokens: 2, tokensPerSecond: 100, averageTokensPerSecond: (2 / 12) * 1000, elapsedMs: 17, final: true });
      expectObservable(source.pipe(meter({ count: one, window: 10, interval: Infinity }))).toBe('r--h-(am)--b-----(Mf)-|', { ...parts, m, M });
      expectSubscriptions(source.subscriptions).toBe('^---------------------!');
    });
  });

  it('emits every interval while the stream runs, the rolling rate decaying while it stalls', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('r-a-----------b---------f----|', parts);
      const values = {
        ...parts,
        m: metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 1000, averageTokensPerSecond: 1000, elapsedMs: 2 }),
        // One token so far: no token has come since the first, so no rate yet (the first has no time behind it).
        n: metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 0, averageTokensPerSecond: 200, elapsedMs: 7 }),
        o: metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 0, averageTokensPerSecond: 100, elapsedMs: 12 }),
        p: metrics({ ttftMs: 2, outputTokens: 2, tokensPerSecond: 100, averageTokensPerSecond: (2 / 15) * 1000, elapsedMs: 17 }),
        q: metrics({ ttftMs: 2, outputTokens: 2, tokensPerSecond: 100, averageTokensPerSecond: 100, elapsedMs: 22 }),
        M: metrics({ ttftMs: 2, outputTokens: 2, tokensPerSecond: 0, averageTokensPerSecond: (2 / 22) * 1000, elapsedMs: 24, final: true }),
      };
      expectObservable(source.pipe(meter({ count: one, window: 10, interval: 5 }))).toBe('r-(am)-n----o-b--p----q-(Mf)-|', values);
    });
  });

  it('keeps the rolling rate over the window: a burst, then its tokens leave the window bucket by bucket', () => {
    const seen: MetricsNotice[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      // Four tokens at 2..5, five at 12..16; notices every 3 ms from the first token.
      const source = cold('r-aaaa------aaaaa------f|', parts);
      const metered = source.pipe(meter({ count: one, window: 10, interval: 3, emit: false, sink: (m) => seen.push(m) }));
      expectObservable(metered).toBe('r-aaaa------aaaaa------f|', parts);
    });
    expect(seen.map((m) => [m.elapsedMs, m.outputTokens, m.tokensPerSecond])).toEqual([
      [2, 1, 1000], // first token, no time gone by: one token over the shortest span (one bucket)
      [5, 4, 1000], // 3 tokens in the 3 ms after the first (1 a ms: the rate between tokens)
      [8, 4, (3 / 6) * 1000],
      [11, 4, (3 / 9) * 1000],
      [14, 7, (4 / 10) * 1000], // the window (4..14] has lost three of the first burst, holds three of the second
      [17, 9, (5 / 10) * 1000], // only the second burst
      [20, 9, (5 / 10) * 1000],
      [23, 9, (3 / 10) * 1000], // final, at finish: (13..23] holds three of the burst
    ]);
    expect(seen.map((m) => m.final)).toEqual([false, false, false, false, false, false, false, true]);
  });

  it('reads a stream paced at exactly 100 tokens/s as 100/s once past the first window (not ~90: the newest bucket is only partly gone by)', () => {
    const seen: MetricsNotice[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      // r at 0, a token every 10 ms from 10 to 3000, finish at 3010; the default 1 s window, notices every 250 ms.
      const marbles = `r 9ms ${'a 9ms '.repeat(300)}f|`;
      expectObservable(cold(marbles, parts).pipe(meter({ count: one, emit: false, sink: (m) => seen.push(m) }))).toBe(marbles, parts);
    });
    const past = seen.filter((m) => m.elapsedMs > 1010); // 1010: the first token (10) plus the window
    expect(past.map((m) => m.elapsedMs)).toEqual([1260, 1510, 1760, 2010, 2260, 2510, 2760, 3010]);
    for (const m of past) expect(Math.abs(m.tokensPerSecond - 100)).toBeLessThanOrEqual(1);
    expect(past.slice(0, -1).map((m) => m.tokensPerSecond)).toEqual(Array(7).fill(100));
    // The final, at 3010: the window (2010, 3010] holds 99 tokens — the last came 10 ms before.
    expect(past.at(-1)).toMatchObject({ final: true, tokensPerSecond: 99 });
  });

  it('reads a stream younger than its window at its true rate: the tokens after the first ÷ the time since it', () => {
    const seen: MetricsNotice[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      // 40 tokens/s: one every 25 ms from 5 on, in a 10 s window; notices every 100 ms.
      const marbles = `r 4ms ${'a 24ms '.repeat(20)}f|`;
      expectObservable(cold(marbles, parts).pipe(meter({ count: one, window: '10s', interval: 100, emit: false, sink: (m) => seen.push(m) }))).toBe(marbles, parts);
    });
    // At 105, 205, 305, 405: 4, 8, 12, 16 tokens after the first, over 100, 200, 300, 400 ms.
    expect(seen.slice(1, 5).map((m) => [m.elapsedMs, m.tokensPerSecond])).toEqual([[105, 40], [205, 40], [305, 40], [405, 40]]);
    expect(seen[0]).toMatchObject({ elapsedMs: 5, outputTokens: 1 }); // the first token: no time behind it yet
  });

  it('reconciles with provider usage and prices it in the final notice', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // Two deltas counted, three tokens reported: the final says 3, with the usage and its cost.
      const source = cold('r-a---b---u-f---|', parts);
      const M = metrics({ ttftMs: 2, outputTokens: 3, tokensPerSecond: 100, averageTokensPerSecond: 300, elapsedMs: 12, final: true, usage, costUsd: costOf(usage, 'test-model', prices)! });
      const m = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 1000, averageTokensPerSecond: 1000, elapsedMs: 2 });
      expectObservable(source.pipe(meter({ count: one, window: 10, interval: Infinity, prices }))).toBe('r-(am)b---u-(Mf)|', { ...parts, m, M });
    });
    expect(costOf(usage, 'test-model', prices)).toBeGreaterThan(0);
  });

  it('leaves the cost out for a model without a price: never a silent 0', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const M = metrics({ ttftMs: 2, outputTokens: 3, tokensPerSecond: 1000, averageTokensPerSecond: 3000, elapsedMs: 2, final: true, usage });
      const m = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 1000, averageTokensPerSecond: 1000, elapsedMs: 2 });
      expectObservable(cold('r-(auf)--|', parts).pipe(meter({ count: one, window: 10, interval: Infinity }))).toBe('r-(amuMf)|', { ...parts, m, M });
    });
  });

  it('sends every notice to a sink function too, or only to the sink with emit: false', () => {
    const both: MetricsNotice[] = [];
    const only: MetricsNotice[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('r-a-----b---f---|', parts);
      const m = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 1000, averageTokensPerSecond: 1000, elapsedMs: 2 });
      const n = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 0, averageTokensPerSecond: 200, elapsedMs: 7 });
      const M = metrics({ ttftMs: 2, outputTokens: 2, tokensPerSecond: 100, averageTokensPerSecond: 200, elapsedMs: 12, final: true });
      expectObservable(source.pipe(meter({ count: one, window: 10, interval: 5, sink: (x) => both.push(x) }))).toBe('r-(am)-nb---(Mf)|', { ...parts, m, n, M });
      expectObservable(source.pipe(meter({ count: one, window: 10, interval: 5, sink: (x) => only.push(x), emit: false }))).toBe('r-a-----b---f---|', parts);
    });
    expect(both.map((x) => x.elapsedMs)).toEqual([2, 7, 12]);
    expect(only).toEqual(both);
  });

  it('tells an observer sink complete, or a final snapshot and the error', () => {
    const calls: unknown[] = [];
    const sink = { next: (m: MetricsNotice) => calls.push(['next', m.elapsedMs, m.final]), error: (e: unknown) => calls.push(['error', e]), complete: () => calls.push(['complete']) };
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('r-a-f|', parts).pipe(meter({ count: one, interval: Infinity, sink, emit: false }))).toBe('r-a-f|', parts);
    });
    expect(calls).toEqual([['next', 2, false], ['next', 4, true], ['complete']]);
    calls.length = 0;
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('r-a-#', parts, unavailable).pipe(meter({ count: one, interval: Infinity, sink, emit: false }))).toBe('r-a-#', parts, unavailable);
    });
    expect(calls).toEqual([['next', 2, false], ['next', 4, true], ['error', unavailable]]);
  });

  it('passes errors through unchanged, clearing the timer', () => {
    const seen: number[] = [];
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-a-------#', parts, unavailable);
      const m = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 1000, averageTokensPerSecond: 1000, elapsedMs: 2 });
      const n = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 0, averageTokensPerSecond: 200, elapsedMs: 7 });
      expectObservable(source.pipe(meter({ count: one, window: 10, interval: 5, sink: (x) => seen.push(x.elapsedMs) }))).toBe('r-(am)-n--#', { ...parts, m, n }, unavailable);
      expectSubscriptions(source.subscriptions).toBe('^---------!');
    });
    expect(seen).toEqual([2, 7, 10]); // the sink's final snapshot at the error; no tick after it
  });

  it('releases upstream and clears the timer in the same frame when the consumer unsubscribes', () => {
    const seen: number[] = [];
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-a---------------f|', parts);
      const m = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 1000, averageTokensPerSecond: 1000, elapsedMs: 2 });
      const n = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 0, averageTokensPerSecond: 200, elapsedMs: 7 });
      const metered = source.pipe(meter({ count: one, window: 10, interval: 5, sink: (x) => seen.push(x.elapsedMs) }));
      expectObservable(metered, '^---------!').toBe('r-(am)-n--', { ...parts, m, n });
      expectSubscriptions(source.subscriptions).toBe('^---------!');
    });
    expect(seen).toEqual([2, 7]); // nothing at 12, 17 or at the finish: the timer went with the subscription
  });

  it('emits nothing before the first output, and starts nothing when an outer operator leaves on it', () => {
    const seen: number[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const metered = cold('r-h-a-----b-f|', parts).pipe(
        meter({ count: one, interval: 2, sink: (x) => seen.push(x.elapsedMs) }),
        takeWhile((e) => e.type !== 'text', true),
      );
      expectObservable(metered).toBe('r-h-(a|)', parts);
    });
    expect(seen).toEqual([]);
  });

  it('restarts the count after a reset notice, keeping time to first token', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('r-a---b-x---c---f---|', parts); // x: retry notice with reset: true
      const m = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 1000, averageTokensPerSecond: 1000, elapsedMs: 2 });
      const M = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 0, averageTokensPerSecond: 250, elapsedMs: 16, final: true });
      expectObservable(source.pipe(meter({ count: one, window: 10, interval: Infinity }))).toBe('r-(am)b-x---c---(Mf)|', { ...parts, m, M });
    });
  });

  it('prices usage at the model a route notice switched to, and sums every call', () => {
    const strong = { ...usage, outputTokens: 10, totalTokens: 13 };
    const table = withPrices({ strong: { input: 5, output: 20, asOf: '2025-01-01', source: 'test' } }, prices);
    const route = { type: 'route', model: 'test:strong', modelId: 'strong', from: 'test:test-model', by: 'escalation', reason: 'confidence 0 < 0.5', reset: true, confidence: 0 } satisfies LlmEvent;
    const seen: MetricsNotice[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const values: Record<string, LlmEvent> = { ...parts, n: route, v: { type: 'usage', usage: strong } };
      const source = cold('r-a-u-n-b-v-f|', values);
      expectObservable(source.pipe(meter({ count: one, interval: Infinity, prices: table, emit: false, sink: (m) => seen.push(m) }))).toBe('r-a-u-n-b-v-f|', values);
    });
    const final = seen.at(-1)!;
    expect(final).toMatchObject({ final: true, usage: strong, outputTokens: 10 });
    expect(final.costUsd).toBeCloseTo(costOf(usage, 'test-model', table)! + costOf(strong, 'strong', table)!, 12);
  });

  it('counts reasoning and tool-call deltas as output', () => {
    const seen: MetricsNotice[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('r-k-t-v-f|', parts).pipe(meter({ count: one, interval: Infinity, emit: false, sink: (m) => seen.push(m) }))).toBe('r-k-t-v-f|', parts);
    });
    expect(seen.map((m) => [m.ttftMs, m.outputTokens])).toEqual([[2, 1], [2, 3]]);
  });

  it('estimates for a model without a tokenizer, and counts with the tokenizer of a known one', async () => {
    const estimate = await lastValueFrom(from([parts.r, { type: 'text', text: 'abcdefgh' }, parts.f] as LlmEvent[]).pipe(meter({ interval: Infinity }), toArray()));
    const estimated = estimate.filter((e): e is MetricsNotice => e.type === 'metrics');
    expect(estimated.map((m) => m.estimated)).toEqual([true, true]);
    expect(estimated[1]!.outputTokens).toBeGreaterThan(0);

    await loadTokenCounter('gpt-4o-mini');
    const r = { ...parts.r, model: { provider: 'openai', id: 'gpt-4o-mini', name: 'openai:gpt-4o-mini' } };
    const counted = await lastValueFrom(from([r, { type: 'text', text: 'Hello world' }, parts.f] as LlmEvent[]).pipe(meter({ interval: Infinity }), toArray()));
    expect(counted.filter((e): e is MetricsNotice => e.type === 'metrics').map((m) => [m.outputTokens, m.estimated])).toEqual([[2, false], [2, false]]);
  });

  it('starts fresh for each subscription', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const metered = cold('r-a---f---|', parts).pipe(meter({ count: one, window: 10, interval: Infinity }));
      const m = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 1000, averageTokensPerSecond: 1000, elapsedMs: 2 });
      const M = metrics({ ttftMs: 2, outputTokens: 1, tokensPerSecond: 0, averageTokensPerSecond: 250, elapsedMs: 6, final: true });
      expectObservable(metered).toBe('         r-(am)(Mf)|', { ...parts, m, M });
      expectObservable(metered, '20ms ^').toBe('20ms r-(am)(Mf)|', { ...parts, m, M });
    });
  });

  it('errors with what a throwing count or sink throws', () => {
    const thrown = new Error('user code failed');
    const fail = (): never => {
      throw thrown;
    };
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-a-f|', parts);
      expectObservable(source.pipe(meter({ count: fail }))).toBe('r-#', parts, thrown);
      expectObservable(cold('r-a-f|', parts).pipe(meter({ count: one, sink: fail }))).toBe('r-(a#)', parts, thrown);
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('works with a synchronous source, and collect() ignores its notices', async () => {
    const events = await lastValueFrom(from([parts.r, parts.a, parts.b, parts.u, parts.f] as LlmEvent[]).pipe(meter({ count: one }), toArray()));
    expect(events.map((e) => e.type)).toEqual(['request', 'text', 'metrics', 'text', 'usage', 'metrics', 'finish']);
    expect(events[5]).toMatchObject({ final: true, outputTokens: 3, usage });
    const completion = await lastValueFrom(from(events).pipe(collect()));
    expect(completion.text).toBe('Hello');
  });

  it('meters each attempt inside retryBackoff', () => {
    const seen: MetricsNotice[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('r-a-#', parts, unavailable);
      const retry = retryBackoff({ maxRetries: 1, initialDelay: 2, random: () => 0, afterOutput: 'restart' });
      const piped = source.pipe(meter({ count: one, interval: Infinity, emit: false, sink: (m) => seen.push(m) }), retry);
      expectObservable(piped).toBe('r-a-x-a-#', { ...parts, x: { type: 'retry', attempt: 1, delayMs: 0, cause: 'unavailable', reset: true } }, unavailable);
    });
    expect(seen.filter((m) => m.final)).toHaveLength(2);
  });

  it('is the identity with emit: false and no sink, and throws ConfigurationError for a bad option', () => {
    expect(meter({ emit: false })).toBe(identity);
    expect(meter()).not.toBe(identity);
    expect(() => meter({ interval: 0 })).toThrow(ConfigurationError);
    expect(() => meter({ interval: -1 })).toThrow(/meter\(\): interval: /);
    expect(() => meter({ window: Infinity })).toThrow(/meter\(\): window: /);
    expect(() => meter({ window: '0s' })).toThrow(/meter\(\): window: expected a finite duration greater than 0/);
    expect(() => meter({ interval: '1000h' })).toThrow(/meter\(\): interval: expected a duration of at most 2147483647 ms/);
    expect(() => meter({ window: 2 ** 31 })).toThrow(/meter\(\): window: expected a duration of at most 2147483647 ms/);
    expect(() => meter({ sink: 42 } as never)).toThrow(/meter\(\): sink: expected a function \(metrics\) => void or an observer/);
    expect(() => meter({ count: 'tiktoken' } as never)).toThrow(/meter\(\): count: expected a function/);
    expect(() => meter({ emit: 'yes' } as never)).toThrow(/meter\(\): emit: /);
    expect(() => meter({ every: 5 } as never)).toThrow(/meter\(\): every: /);
  });

  it('is a MonoTypeOperatorFunction<LlmEvent>', () => {
    expectTypeOf(meter()).toEqualTypeOf<MonoTypeOperatorFunction<LlmEvent>>();
    expectTypeOf<MetricsNotice['usage']>().toEqualTypeOf<Usage | undefined>();
  });
});
