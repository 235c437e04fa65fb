import { TestScheduler } from 'rxjs/testing';
import { from, type Observable } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { ConfigurationError, createLedger, LlmError, memoryStore, withPrices, type Ledger, type LedgerEntry, type LlmEvent, type MetricsNotice, type ModelInfo, type Usage } from 'rxllm';
import { requestTokens } from 'rxllm/providers';
import { budget, fallback, hedge, meter, route } from 'rxllm/operators';
import { loadTokenCounter } from '../../src/cost/tokens';
import { fakeModel, request } from '../helpers/events';
import { clockAt } from '../helpers/stores';

/**
 * budget() and meter() after an operator that switches models (route, fallback, hedge) price each
 * call at the model that answered it. Prices are whole dollars per token and every count is 1 per
 * delta, so each expected amount below is worked out by hand from the prices, not by costOf.
 */

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const one = (): number => 1;
/** Input tokens of the test request with every text counted as 1 token (plus the chat overhead). */
const INPUT = requestTokens(request, { count: one, estimated: false, encoding: undefined });

const info = (id: string): ModelInfo => ({ provider: 'test', id, name: `test:${id}` });
const big = info('big');
const small = info('small');
/** Per token: big $16 in / $32 out; small (16× cheaper) $1 / $2. USD per 1M tokens in the table. */
const PRICE = { big: { input: 16, output: 32 }, small: { input: 1, output: 2 } } as const;
const prices = withPrices({
  big: { input: PRICE.big.input * 1e6, output: PRICE.big.output * 1e6, asOf: '2025-01-01', source: 'test' },
  small: { input: PRICE.small.input * 1e6, output: PRICE.small.output * 1e6, asOf: '2025-01-01', source: 'test' },
});
const usd = (model: keyof typeof PRICE, input: number, output: number): number => input * PRICE[model].input + output * PRICE[model].output;

const usage: Usage = { inputTokens: 3, outputTokens: 3, totalTokens: 6 };
const values = {
  r: { type: 'request', request, model: big },
  s: { type: 'request', request, model: small },
  h: { type: 'response', status: 200, headers: {} },
  a: { type: 'text', text: 'Hel' },
  b: { type: 'text', text: 'lo' },
  c: { type: 'text', text: '!' },
  u: { type: 'usage', usage },
  f: { type: 'finish', reason: 'stop' },
  B: { type: 'finish', reason: 'budget' },
} satisfies Record<string, LlmEvent>;

const unavailable = new LlmError({ code: 'unavailable', message: 'big 503: overloaded', retryable: true, status: 503 });


/** A fixed clock: TestScheduler.run() makes asyncScheduler.now() virtual (frame 0 is 1970). */
const clock = clockAt('2025-06-15T12:00:00Z');
/** A ledger on a memory store whose `record` is spied on. */
const spiedLedger = (): Ledger & { record: ReturnType<typeof vi.fn> } => {
  const ledger = createLedger(memoryStore({ scheduler: clock }), { scheduler: clock });
  return Object.assign(Object.create(null) as object, ledger, { record: vi.fn(ledger.record) }) as Ledger & { record: ReturnType<typeof vi.fn> };
};
const entries = (ledger: { record: ReturnType<typeof vi.fn> }): Array<{ model: string | undefined; costUsd: number }> =>
  ledger.record.mock.calls.map(([entry]) => ({ model: (entry as LedgerEntry).model, costUsd: (entry as LedgerEntry).costUsd }));

const routeTo = (model: ModelInfo, reset = false): LlmEvent => ({ type: 'route', model: model.name, modelId: model.id, from: big.name, by: 'rule', reason: 'cheap', reset });

describe('budget() prices each call at the model that answered it', () => {
  it('route() to a cheaper model: the ledger records the cheap price (usage, or counted tokens)', async () => {
    const ledger = spiedLedger();
    const counted = spiedLedger();
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-h-a-u-f|', values);
      const cheap = cold('s---h-a-b-u-f|', values);
      const routed = () => route({ rules: [{ name: 'cheap', model: fakeModel(small, () => cheap) }] });
      const expected = { ...values, n: routeTo(small) };
      expectObservable(source.pipe(routed(), budget({ ledger, count: one, prices }))).toBe('(rn)h-a-b-u-f|', expected);
      expectSubscriptions(source.subscriptions).toBe('(^!)');
      // Without usage: the counted input and output, at the small model's price.
      const noUsage = cold('s---h-a-b-f|', values);
      const routedNoUsage = route({ rules: [{ name: 'cheap', model: fakeModel(small, () => noUsage) }] });
      expectObservable(cold('r-h-a-f|', values).pipe(routedNoUsage, budget({ ledger: counted, count: one, prices }))).toBe('(rn)h-a-b-f|', expected);
    });
    expect(entries(ledger)).toEqual([{ model: 'small', costUsd: usd('small', 3, 3) }]); // $9, not big's $144
    expect(ledger.spent('global', 'month')).toBe(9);
    expect(await ledger.report()).toMatchObject({ calls: 1, scopes: { global: { costUsd: 9, models: { small: 9 } } } });
    expect(entries(counted)).toEqual([{ model: 'small', costUsd: usd('small', INPUT, 2) }]);
  });

  it('route() to a cheaper model: maxCostUsd cuts at the cheap model’s running cost', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // The input at big's price is the whole limit (the refusal before I/O prices the request's model).
      const max = usd('big', INPUT, 0);
      const cheap = cold('s---h-a-b-c-f|', values);
      const routed = route({ rules: [{ name: 'cheap', model: fakeModel(small, () => cheap) }] });
      // At small's price, INPUT + 3 × $2 fits (INPUT ≥ 1); at big's, the first delta would have passed it.
      expect(usd('small', INPUT, 3)).toBeLessThanOrEqual(max);
      expect(usd('big', INPUT, 1)).toBeGreaterThan(max);
      expectObservable(cold('r-f|', values).pipe(routed, budget({ maxCostUsd: max, count: one, prices }))).toBe('(rn)h-a-b-c-f|', { ...values, n: routeTo(small) });
    });
  });

  it('fallback() from A to B with reset: A’s partial at A’s price + B’s usage at B’s; maxOutputTokens counts the new answer', async () => {
    const ledger = spiedLedger();
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold('r-h-a-b-#', values, unavailable);
      const backup = cold('s-h-c-u-f|', values);
      const n = { type: 'fallback', from: big.name, to: small.name, toId: 'small', cause: 'unavailable', reset: true } satisfies LlmEvent;
      const chain = fallback({ models: [fakeModel(small, () => backup)], afterOutput: 'restart' });
      // Three output tokens in all, but the answer kept has one: a limit of 2 does not cut.
      expectObservable(primary.pipe(chain, budget({ ledger, maxOutputTokens: 2, count: one, prices }))).toBe('r-h-a-b-n-h-c-u-f|', { ...values, n });
      expectSubscriptions(backup.subscriptions).toBe('--------^--------!');
    });
    // The discarded attempt was billed: counted input + 2 output tokens at big's price; then small's usage.
    expect(entries(ledger)).toEqual([
      { model: 'big', costUsd: usd('big', INPUT, 2) },
      { model: 'small', costUsd: usd('small', 3, 3) },
    ]);
    const total = usd('big', INPUT, 2) + usd('small', 3, 3);
    expect(ledger.spent('global', 'month')).toBe(total);
    expect(await ledger.report()).toMatchObject({ totalUsd: total, calls: 2, scopes: { global: { models: { big: usd('big', INPUT, 2), small: 9 } } } });
  });

  it('cuts at the switch when the spend so far plus the next call’s input passes maxCostUsd: the next call never starts', () => {
    const ledger = spiedLedger();
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold('r-h-a-#', values, unavailable);
      const backup = cold('s-h-c-u-f|', values);
      const chain = fallback({ models: [fakeModel(big, () => backup)], afterOutput: 'restart' });
      // Spent after a: INPUT×16 + 32; the backup's input adds INPUT×16.
      const max = usd('big', INPUT, 1) + usd('big', INPUT, 0) - 0.5;
      const N = { type: 'budget', limit: 'cost-usd', used: usd('big', INPUT, 1) + usd('big', INPUT, 0), max } satisfies LlmEvent;
      expectObservable(primary.pipe(chain, budget({ ledger, maxCostUsd: max, count: one, prices }))).toBe('r-h-a-(NB|)', { ...values, N });
      expectSubscriptions(backup.subscriptions).toBe([]);
    });
    expect(entries(ledger)).toEqual([{ model: 'big', costUsd: usd('big', INPUT, 1) }]);
  });

  it('route() escalation with buffer: the weak call’s forwarded usage and the strong call’s, each at its price', () => {
    const ledger = spiedLedger();
    const seen: MetricsNotice[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const weakUsage = { type: 'usage', usage: { inputTokens: 5, outputTokens: 7, totalTokens: 12 } } satisfies LlmEvent;
      const weak = cold('s-h-a-w-f|', { ...values, w: weakUsage });
      const strong = cold('r---h-b-u-f|', values);
      const n = { type: 'route', model: big.name, modelId: 'big', from: small.name, by: 'escalation', reason: 'evaluate() rejected the answer', reset: true, confidence: 0 } satisfies LlmEvent;
      const escalate = route({ escalate: { model: fakeModel(big, () => strong), evaluate: () => false, buffer: true } });
      const metered = meter({ count: one, interval: Infinity, prices, emit: false, sink: (m) => seen.push(m) });
      expectObservable(weak.pipe(escalate, budget({ ledger, count: one, prices }), metered)).toBe('s--------(wn)h-b-u-f|', { ...values, w: weakUsage, n });
    });
    const expected = [{ model: 'small', costUsd: usd('small', 5, 7) }, { model: 'big', costUsd: usd('big', 3, 3) }];
    expect(entries(ledger)).toEqual(expected);
    expect(seen.at(-1)).toMatchObject({ final: true, usage, costUsd: usd('small', 5, 7) + usd('big', 3, 3) });
  });

  it('hedge() won by another model: priced at the winner’s', () => {
    const ledger = spiedLedger();
    scheduler().run(({ cold, expectObservable }) => {
      const primary = cold('r---------a-f|', values);
      const backup = cold('    s-a---u-f|', values);
      const notice = (phase: 'started' | 'won', afterMs: number): LlmEvent => ({ type: 'hedge', phase, attempt: 'hedge', model: small.name, modelId: 'small', afterMs });
      const hedged = hedge({ after: 3, model: fakeModel(small, () => backup) });
      expectObservable(primary.pipe(hedged, budget({ ledger, count: one, prices }))).toBe('r--s-(wa)u-f|', { ...values, s: notice('started', 3), w: notice('won', 5) });
    });
    expect(entries(ledger)).toEqual([{ model: 'small', costUsd: usd('small', 3, 3) }]);
  });

  it('a retry is another call at the same model; a notice without a model id keeps the model', () => {
    const ledger = spiedLedger();
    scheduler().run(({ cold, expectObservable }) => {
      const x = { type: 'retry', attempt: 1, delayMs: 2, cause: 'unavailable', reset: true } satisfies LlmEvent;
      const n = { type: 'fallback', from: big.name, to: 'elsewhere', cause: 'unavailable', reset: false } satisfies LlmEvent;
      const source = cold('r-h-a-x-h-b-n-h-u-f|', { ...values, x, n });
      expectObservable(source.pipe(budget({ ledger, count: one, prices }))).toBe('r-h-a-x-h-b-n-h-u-f|', { ...values, x, n });
    });
    expect(entries(ledger)).toEqual([
      { model: 'big', costUsd: usd('big', INPUT, 1) },
      { model: 'big', costUsd: usd('big', INPUT, 1) },
      { model: 'big', costUsd: usd('big', 3, 3) },
    ]);
  });

  it('a switch to a model with no price errors the stream (never a silent 0), after recording the call before it', () => {
    const ledger = spiedLedger();
    scheduler().run(({ cold, expectObservable }) => {
      const n = { type: 'fallback', from: big.name, to: 'test:free', toId: 'free', cause: 'unavailable', reset: false } satisfies LlmEvent;
      const error = new ConfigurationError("budget(): no price for model 'free', which maxCostUsd and the ledger need; pass prices: withPrices({ 'free': { input, output, asOf, source } })");
      expectObservable(cold('r-h-n-a-f|', { ...values, n }).pipe(budget({ ledger, count: one, prices }))).toBe('r-h-#', values, error);
    });
    expect(entries(ledger)).toEqual([{ model: 'big', costUsd: usd('big', INPUT, 0) }]);
  });
});

describe('meter() prices usage at the model that answered it', () => {
  const final = (run: (sink: (m: MetricsNotice) => void) => void): MetricsNotice => {
    const seen: MetricsNotice[] = [];
    run((m) => seen.push(m));
    return seen.at(-1)!;
  };

  it('after route() to a cheaper model', () => {
    const last = final((sink) =>
      scheduler().run(({ cold, expectObservable }) => {
        const cheap = cold('s---h-a-u-f|', values);
        const routed = route({ rules: [{ name: 'cheap', model: fakeModel(small, () => cheap) }] });
        const metered = meter({ count: one, interval: Infinity, prices, emit: false, sink });
        expectObservable(cold('r-f|', values).pipe(routed, metered)).toBe('(rn)h-a-u-f|', { ...values, n: routeTo(small) });
      }),
    );
    expect(last).toMatchObject({ final: true, usage, costUsd: usd('small', 3, 3) });
  });

  it('after fallback(): the backup’s usage at the backup’s price', () => {
    const last = final((sink) =>
      scheduler().run(({ cold, expectObservable }) => {
        const primary = cold('r-#', values, unavailable);
        const backup = cold('s-h-a-u-f|', values);
        const n = { type: 'fallback', from: big.name, to: small.name, toId: 'small', cause: 'unavailable', reset: false } satisfies LlmEvent;
        const metered = meter({ count: one, interval: Infinity, prices, emit: false, sink });
        expectObservable(primary.pipe(fallback(fakeModel(small, () => backup)), metered)).toBe('r-n-h-a-u-f|', { ...values, n });
      }),
    );
    expect(last).toMatchObject({ final: true, usage, costUsd: usd('small', 3, 3) });
  });

  it('after hedge(): the winner’s usage at the winner’s price', () => {
    const last = final((sink) =>
      scheduler().run(({ cold, expectObservable }) => {
        const primary = cold('r---------a-f|', values);
        const backup = cold('    s-a---u-f|', values);
        const notice = (phase: 'started' | 'won', afterMs: number): LlmEvent => ({ type: 'hedge', phase, attempt: 'hedge', model: small.name, modelId: 'small', afterMs });
        const metered = meter({ count: one, interval: Infinity, prices, emit: false, sink });
        expectObservable(primary.pipe(hedge({ after: 3, model: fakeModel(small, () => backup) }), metered)).toBe('r--s-(wa)u-f|', {
          ...values,
          s: notice('started', 3),
          w: notice('won', 5),
        });
      }),
    );
    expect(last).toMatchObject({ final: true, usage, costUsd: usd('small', 3, 3) });
  });
});

describe('the tokenizer follows the model too (no `count`)', () => {
  const claude = info('claude-x');
  const gpt = info('gpt-4o');
  const table = withPrices({
    'claude-x': { input: 4e6, output: 8e6, asOf: '2025-01-01', source: 'test' },
    'gpt-4o': { input: 1e6, output: 2e6, asOf: '2025-01-01', source: 'test' },
  });
  const events = (): Observable<LlmEvent> =>
    from([
      { type: 'request', request, model: claude },
      { type: 'fallback', from: claude.name, to: gpt.name, toId: gpt.id, cause: 'unavailable', reset: false },
      { type: 'response', status: 200, headers: {} },
      { type: 'text', text: 'Hello, world' },
      { type: 'finish', reason: 'stop' },
    ] satisfies LlmEvent[]);

  it('meter(): an estimate for a model without a tokenizer, the exact count after a fallback to gpt-4o', async () => {
    const exact = await loadTokenCounter('gpt-4o');
    const seen: MetricsNotice[] = [];
    events().pipe(meter({ interval: Infinity, emit: false, sink: (m) => seen.push(m) })).subscribe();
    expect(seen.at(-1)).toMatchObject({ final: true, outputTokens: exact.count('Hello, world'), estimated: false });
  });

  it('budget(): the call after the fallback is counted (input and output) with gpt-4o’s tokenizer, at its price', async () => {
    const exact = await loadTokenCounter('gpt-4o');
    const ledger = spiedLedger();
    events().pipe(budget({ ledger, prices: table })).subscribe();
    // $1 per input token, $2 per output token.
    expect(entries(ledger)).toEqual([{ model: 'gpt-4o', costUsd: requestTokens(request, exact) + 2 * exact.count('Hello, world') }]);
  });
});
