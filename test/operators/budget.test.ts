import { TestScheduler } from 'rxjs/testing';
import { concat, defer, identity, lastValueFrom, Observable, of, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BudgetExceededError, collect, ConfigurationError, createLedger, InvalidRequestError, memoryStore, openaiCompatible, countTokens, parseRequest, type Ledger, type LlmEvent, type LlmRequestInput, type PriceTable, type Store } from 'rxllm';
import { createEventStream, requestTokens } from 'rxllm/providers';
import { budget, cache } from 'rxllm/operators';
import { openaiTextReply, startMockServer, type MockServer } from 'rxllm/testing';
import { modelInfo, parts, request } from '../helpers/events';
import { asyncStore, clockAt } from '../helpers/stores';
import { pause, record } from '../helpers/observe';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const one = (): number => 1;
/** Input tokens of the shared test request with every text counted as 1 token (the chat overhead on top). */
const INPUT = requestTokens(request, { count: one, estimated: false, encoding: undefined });
/** $1 per input token, $2 per output token: costs in whole dollars. */
const prices: PriceTable = { [modelInfo.id]: { input: 1_000_000, output: 2_000_000, asOf: '2025-01-01', source: 'test' } };

const acmeRequest = parseRequest({ messages: [{ role: 'user', content: 'Hi' }], metadata: { tenant: 'acme' } });
const notice = (limit: string, used: number, max: number, scope?: string): LlmEvent => ({ type: 'budget', limit, used, max, ...(scope === undefined ? {} : { scope }) });
const values = {
  ...parts,
  R: { type: 'request', request: acmeRequest, model: modelInfo },
  B: { type: 'finish', reason: 'budget' },
  N: notice('output-tokens', 3, 2),
} satisfies Record<string, LlmEvent>;
const { r, a, b, c, f } = parts;

/** A fixed clock for ledgers (TestScheduler.run() makes asyncScheduler.now() virtual: frame 0 is 1970). */
const clock = clockAt('2025-06-15T12:00:00Z');

/** A ledger on a memory store, both on the fixed clock, with `record` spied on. */
const spiedLedger = (store: Store = memoryStore({ scheduler: clock })): Ledger & { record: ReturnType<typeof vi.fn> } => {
  const ledger = createLedger(store, { scheduler: clock });
  return Object.assign(Object.create(null) as object, ledger, { record: vi.fn(ledger.record) }) as Ledger & { record: ReturnType<typeof vi.fn> };
};


describe('budget()', () => {
  describe('cutting the stream', () => {
    it('finishes with reason budget at the delta that passes maxOutputTokens, which is not forwarded; upstream released in that frame', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('r-a-b-c-f|', parts);
        expectObservable(source.pipe(budget({ maxOutputTokens: 2, count: one }))).toBe('r-a-b-(NB|)', values);
        expectSubscriptions(source.subscriptions).toBe('^-----!');
      });
    });

    it("onExceed: 'error' — the notice, then a BudgetExceededError; upstream released in that frame", () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('r-a-b-c-f|', parts);
        const error = new BudgetExceededError('output-tokens', 3, 2, { phase: 'stream' });
        expectObservable(source.pipe(budget({ maxOutputTokens: 2, onExceed: 'error', count: one }))).toBe('r-a-b-(N#)', values, error);
        expectSubscriptions(source.subscriptions).toBe('^-----!');
      });
    });

    it('a stream that reaches the limit exactly is not cut', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('r-h-a-b-c-u-f|', parts);
        expectObservable(source.pipe(budget({ maxOutputTokens: 3, count: one }))).toBe('r-h-a-b-c-u-f|', parts);
        expectSubscriptions(source.subscriptions).toBe('^------------!');
      });
    });

    it('counts reasoning and tool-call argument deltas as output', () => {
      scheduler().run(({ cold, expectObservable }) => {
        // 'thinking' 8 + '{"q":' 5 = 13 ≤ 13; + '"x"}' 4 = 17 > 13.
        const cut = { ...values, N: notice('output-tokens', 17, 13) };
        expectObservable(cold('r-k-t-v-f|', parts).pipe(budget({ maxOutputTokens: 13, count: (text) => text.length }))).toBe('r-k-t-(NB|)', cut);
      });
    });

    it('cuts when the running cost (input + output at the model’s prices) passes maxCostUsd', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('r-a-b-c-f|', parts);
        const max = INPUT + 4.5; // a: INPUT + 2, b: INPUT + 4, c: INPUT + 6
        const cut = { ...values, N: notice('cost-usd', INPUT + 6, max) };
        expectObservable(source.pipe(budget({ maxCostUsd: max, count: one, prices }))).toBe('r-a-b-(NB|)', cut);
        expectSubscriptions(source.subscriptions).toBe('^-----!');
      });
    });

    it('passes errors through unchanged', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const failure = new Error('socket hang up');
        const source = cold('r-a-#', parts, failure);
        expectObservable(source.pipe(budget({ maxOutputTokens: 5, count: one }))).toBe('r-a-#', parts, failure);
        expectSubscriptions(source.subscriptions).toBe('^---!');
      });
    });

    it('releases upstream in the same frame when unsubscribed', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('r-a-b-c-f|', parts);
        expectObservable(source.pipe(budget({ maxOutputTokens: 5, count: one })), '^--!').toBe('r-a', parts);
        expectSubscriptions(source.subscriptions).toBe('^--!');
      });
    });

    it('starts fresh for each subscription', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const operator = budget({ maxOutputTokens: 2, count: one });
        expectObservable(cold('r-a-b-c-f|', parts).pipe(operator)).toBe('r-a-b-(NB|)', values);
        expectObservable(cold('r-a-b-c-f|', parts).pipe(operator), '10ms ^').toBe('10ms r-a-b-(NB|)', values);
      });
    });

    it('a synchronous source stops at the cut: nothing after the crossing delta is pulled', () => {
      let pulled = 0;
      const source = new Observable<LlmEvent>((subscriber) => {
        for (const event of [r, a, b, c, parts.u, f]) {
          if (subscriber.closed) return;
          pulled++;
          subscriber.next(event);
        }
        subscriber.complete();
      });
      const seen: LlmEvent[] = [];
      source.pipe(budget({ maxOutputTokens: 2, count: one })).subscribe((event) => seen.push(event));
      expect(seen).toEqual([r, a, b, values.N, values.B]);
      expect(pulled).toBe(4);
    });

    it('a throwing count errors the stream with what was thrown', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const broken = new Error('count broke');
        const source = cold('r-a-f|', parts);
        const count = (): number => {
          throw broken;
        };
        expectObservable(source.pipe(budget({ maxOutputTokens: 5, count }))).toBe('r-#', parts, broken);
        expectSubscriptions(source.subscriptions).toBe('^-!');
      });
    });

    it('a count that returns something other than a number of tokens errors the stream with a TypeError', async () => {
      const error = await lastValueFrom(of(r, a, f).pipe(budget({ maxOutputTokens: 5, count: () => NaN }))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe('budget(): count() must return a number of tokens ≥ 0; it returned NaN');
    });

    it('errors a stream that does not start with its request event', async () => {
      const error = await lastValueFrom(of(a, f).pipe(budget({ maxOutputTokens: 5, count: one }))).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/budget\(\): expected a stream that starts with its request event.*'text'/);
    });

    it('a cut stream is not stored by cache (budget inside cache)', () => {
      const store = memoryStore();
      const seen: LlmEvent[] = [];
      of(r, a, b, c, f).pipe(budget({ maxOutputTokens: 2, count: one }), cache(store)).subscribe((event) => seen.push(event));
      expect(seen.at(-1)).toEqual(values.B);
      expect(store.stats().entries).toBe(0);
      // The same answer without a cut is stored.
      of(r, a, b, f).pipe(budget({ maxOutputTokens: 2, count: one }), cache(store)).subscribe();
      expect(store.stats().entries).toBe(1);
    });
  });

  describe('refusing before any I/O', () => {
    it('refuses a request whose input tokens exceed maxInputTokens: (r#), the source subscribed and released in its request', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('r-a-f|', parts);
        const error = new BudgetExceededError('input-tokens', INPUT, INPUT - 1, { phase: 'preflight' });
        expectObservable(source.pipe(budget({ maxInputTokens: INPUT - 1, count: one }))).toBe('(r#)', parts, error);
        expectSubscriptions(source.subscriptions).toBe('(^!)');
      });
    });

    it('a model stream’s I/O never starts: the request event from the gate, then the error', () => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const io = cold('-a-f|', parts);
        const error = new BudgetExceededError('input-tokens', INPUT, 1, { phase: 'preflight' });
        expectObservable(concat(of(r), io).pipe(budget({ maxInputTokens: 1, count: one }))).toBe('(r#)', parts, error);
        expectSubscriptions(io.subscriptions).toBe([]);
      });
      let started = 0;
      const stream = createEventStream({ messages: [{ role: 'user', content: 'Hi' }] }, modelInfo, () => void started++);
      const seen = record(stream.pipe(budget({ maxInputTokens: 1, count: one })));
      expect(seen.values).toEqual([r]);
      expect(seen.errors[0]).toMatchObject({ code: 'budget_exceeded', phase: 'preflight', limit: 'input-tokens' });
      expect(started).toBe(0);
    });

    it('refuses a request whose input cost alone exceeds maxCostUsd (output is not guessed at)', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const error = new BudgetExceededError('cost-usd', INPUT, INPUT - 0.5, { phase: 'preflight' });
        expectObservable(cold('r-a-f|', parts).pipe(budget({ maxCostUsd: INPUT - 0.5, count: one, prices }))).toBe('(r#)', parts, error);
        // Input within the limit: let through, whatever the output may cost.
        expectObservable(cold('r-f|', parts).pipe(budget({ maxCostUsd: INPUT + 0.5, count: one, prices }))).toBe('r-f|', parts);
      });
    });

    it('refuses a cost limit for a model with no price (never a silent 0): ConfigurationError', () => {
      scheduler().run(({ cold, expectObservable }) => {
        const error = new ConfigurationError(
          "budget(): no price for model 'test-model', which maxCostUsd and the ledger need; pass prices: withPrices({ 'test-model': { input, output, asOf, source } })",
        );
        expectObservable(cold('r-a-f|', parts).pipe(budget({ maxCostUsd: 1, count: one }))).toBe('(r#)', parts, error);
      });
    });

    it('decides nothing when an outer operator left on the request event', () => {
      const seen: LlmEvent[] = [];
      let failed = false;
      of(r, a, f).pipe(budget({ maxInputTokens: 1, count: one }), take(1)).subscribe({ next: (e) => seen.push(e), error: () => (failed = true) });
      expect(seen).toEqual([r]);
      expect(failed).toBe(false);
    });
  });

  describe('with a ledger', () => {
    const ledgerBudget = (ledger: Ledger, limitUsd?: number) =>
      budget({ ledger, scope: 'tenant', ...(limitUsd === undefined ? {} : { limitUsd }), period: 'day', count: one, prices });

    it('records the call’s cost once when it finishes — from the reported usage', () => {
      const ledger = spiedLedger();
      scheduler().run(({ cold, expectObservable }) => {
        expectObservable(cold('R-h-a-b-u-f|', values).pipe(ledgerBudget(ledger))).toBe('R-h-a-b-u-f|', values);
      });
      // usage: 3 input × $1 + 3 output × $2 (not the counted INPUT + 2 × $2).
      expect(ledger.record).toHaveBeenCalledTimes(1);
      expect(ledger.record).toHaveBeenCalledWith({ scope: 'acme', costUsd: 9, model: 'test-model', usage: parts.u.usage });
      expect(ledger.spent('acme', 'day')).toBe(9);
    });

    it('without usage, records the counted tokens: on a cut, an error, an unsubscribe; nothing when the provider never answered', () => {
      const cases: Array<[source: string, subscription: string, expected: string, usd: number | undefined]> = [
        ['R-h-a-b-f|', '^', 'R-h-a-b-f|', INPUT + 4], //              finish without usage: INPUT + 2 × $2
        ['R-h-a-#', '^', 'R-h-a-#', INPUT + 2], //                     an error after output
        ['R-h-a-b-c-f|', '^-------!', 'R-h-a-b-', INPUT + 4], //       unsubscribed after b
        ['R-h---a-f|', '^---!', 'R-h-', INPUT], //                    answered (response), no output yet
        ['R-#', '^', 'R-#', undefined], //                            an HTTP error: nothing billed
        ['R----a-f|', '^--!', 'R--', undefined], //                   left before the provider answered
      ];
      for (const [marbles, subscription, expected, usd] of cases) {
        const ledger = spiedLedger();
        scheduler().run(({ cold, expectObservable }) => {
          expectObservable(cold(marbles, values, 'boom').pipe(ledgerBudget(ledger)), subscription).toBe(expected, values, 'boom');
        });
        if (usd === undefined) expect(ledger.record, marbles).not.toHaveBeenCalled();
        else {
          expect(ledger.record, marbles).toHaveBeenCalledTimes(1);
          expect(ledger.spent('acme', 'day'), marbles).toBe(usd);
        }
      }
    });

    it('cuts when the scope’s spend passes limitUsd mid-stream, and records what the provider produced', () => {
      const ledger = spiedLedger();
      ledger.record({ scope: 'acme', costUsd: 1 });
      ledger.record.mockClear();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('R-h-a-b-c-f|', values);
        const limitUsd = 1 + INPUT + 3; // a: 1 + INPUT + 2 ≤ limit; b: 1 + INPUT + 4 > limit
        const cut = { ...values, N: notice('ledger-usd', 1 + INPUT + 4, limitUsd, 'acme') };
        expectObservable(source.pipe(ledgerBudget(ledger, limitUsd))).toBe('R-h-a-(NB|)', cut);
        expectSubscriptions(source.subscriptions).toBe('^-----!');
      });
      expect(ledger.record).toHaveBeenCalledTimes(1);
      expect(ledger.spent('acme', 'day')).toBe(1 + INPUT + 4); // the dropped delta was produced, so billed
    });

    it('refuses before any I/O when the scope has nothing left, or less than the input cost', () => {
      const ledger = spiedLedger();
      ledger.record({ scope: 'acme', costUsd: 10 });
      ledger.record.mockClear();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const spentAll = cold('R-a-f|', values);
        const refused = new BudgetExceededError('ledger-usd', 10 + INPUT, 10, { phase: 'preflight', scope: 'acme' });
        expectObservable(spentAll.pipe(ledgerBudget(ledger, 10))).toBe('(R#)', values, refused);
        expectSubscriptions(spentAll.subscriptions).toBe('(^!)');
        const tooLittle = cold('R-a-f|', values);
        const short = new BudgetExceededError('ledger-usd', 10 + INPUT, 10 + INPUT - 0.5, { phase: 'preflight', scope: 'acme' });
        expectObservable(tooLittle.pipe(ledgerBudget(ledger, 10 + INPUT - 0.5))).toBe('(R#)', values, short);
        expect(short.message).toContain('for scope "acme" (refused before the call)');
        expect(short.toJSON()).toMatchObject({ code: 'budget_exceeded', retryable: false, limit: 'ledger-usd', used: 10 + INPUT, phase: 'preflight', scope: 'acme' });
      });
      expect(ledger.record).not.toHaveBeenCalled();
      expect(ledger.spent('acme', 'day')).toBe(10);
    });

    it('without limitUsd it only records', () => {
      const ledger = spiedLedger();
      ledger.record({ scope: 'acme', costUsd: 1_000_000 });
      scheduler().run(({ cold, expectObservable }) => {
        expectObservable(cold('R-h-a-u-f|', values).pipe(ledgerBudget(ledger))).toBe('R-h-a-u-f|', values);
      });
      expect(ledger.spent('acme', 'day')).toBe(1_000_009);
    });

    it('a request without the scope’s metadata is refused with an InvalidRequestError; a throwing scope function errors the stream', () => {
      const ledger = spiedLedger();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('r-a-f|', parts);
        const missing = new InvalidRequestError('metadata.tenant', "metadata.tenant: expected a value naming whom to charge (budget scope 'tenant'); received nothing");
        expectObservable(source.pipe(ledgerBudget(ledger, 5))).toBe('(r#)', parts, missing);
        expectSubscriptions(source.subscriptions).toBe('(^!)');
        const broken = new Error('no tenant');
        const scope = (): string => {
          throw broken;
        };
        expectObservable(cold('r-a-f|', parts).pipe(budget({ ledger, scope, limitUsd: 5, count: one, prices }))).toBe('(r#)', parts, broken);
      });
      expect(ledger.record).not.toHaveBeenCalled();
    });

    it('scope as a function, and the default scope', () => {
      const ledger = spiedLedger();
      of(r, parts.h, a, parts.u, f).pipe(budget({ ledger, scope: (req) => `feature:${req.messages.length}`, count: one, prices })).subscribe();
      of(r, parts.h, a, parts.u, f).pipe(budget({ ledger, count: one, prices })).subscribe();
      expect(ledger.spent('feature:1', 'month')).toBe(9);
      expect(ledger.spent('global', 'month')).toBe(9);
    });

    it('with a ledger that answers with Promises: upstream is unsubscribed while it reads, then subscribed again; downstream sees one request', async () => {
      const ledger = createLedger(asyncStore());
      await ledger.record({ scope: 'acme', costUsd: 2 });
      let subscriptions = 0;
      let started = 0;
      const source = defer(() => {
        subscriptions++;
        return createEventStream({ messages: [{ role: 'user', content: 'Hi' }], metadata: { tenant: 'acme' } }, modelInfo, (subscriber) => {
          started++;
          subscriber.next(parts.h);
          subscriber.next(a);
          subscriber.next(parts.u);
          subscriber.next(f);
          subscriber.complete();
        });
      });
      const events = await lastValueFrom(source.pipe(budget({ ledger, scope: 'tenant', limitUsd: 100, count: one, prices }), toArray()));
      expect(events).toEqual([values.R, parts.h, a, parts.u, f]);
      expect([subscriptions, started]).toEqual([2, 1]);
      await pause(0);
      expect(await ledger.spent('acme', 'month')).toBe(11);

      // Refused: the source is never started.
      started = 0;
      const error = await lastValueFrom(source.pipe(budget({ ledger, scope: 'tenant', limitUsd: 11, count: one, prices }))).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'budget_exceeded', limit: 'ledger-usd', phase: 'preflight', scope: 'acme', used: 11 + INPUT, max: 11 });
      expect(started).toBe(0);
    });
  });

  describe('options', () => {
    it('with no limit and no ledger it is identity', () => {
      expect(budget({})).toBe(identity);
      expect(budget({ maxOutputTokens: Infinity, onExceed: 'error' })).toBe(identity);
    });

    it('a bad option throws a ConfigurationError at construction, saying what was expected and what came', () => {
      const cases: Array<[unknown, RegExp]> = [
        [{ maxOutputTokens: 0 }, /^budget\(\): maxOutputTokens: expected a whole number > 0 \(or Infinity for no limit\); received 0$/],
        [{ maxInputTokens: 1.5 }, /maxInputTokens: expected a whole number > 0/],
        [{ maxCostUsd: -1 }, /maxCostUsd: expected USD/],
        [{ onExceed: 'stop' }, /onExceed: .*received "stop"/],
        [{ count: 3 }, /count: expected a function \(text\) => number of tokens; received 3/],
        [{ ledger: {} }, /ledger: expected a ledger from createLedger\(store\)/],
        [{ limitUsd: 5 }, /ledger: expected a ledger \(createLedger\(store\)\) with scope, limitUsd and period/],
        [{ maxOutputTokens: 5, speed: 2 }, /speed: /],
      ];
      for (const [config, message] of cases) {
        expect(() => budget(config as never)).toThrow(ConfigurationError);
        expect(() => budget(config as never)).toThrow(message);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Against the real mock server: what the server saw.

describe('budget() against the mock server', () => {
  let server: MockServer;
  beforeAll(async () => {
    server = await startMockServer();
  });
  afterAll(() => server.close());

  const prompt = (content: string, tenant?: string): LlmRequestInput => ({ messages: [{ role: 'user', content }], ...(tenant ? { metadata: { tenant } } : {}) });
  const model = (id = 'gpt-4o-mini') => openaiCompatible({ model: id, baseURL: server.url, apiKey: 'test-key' });
  const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');

  it('a cut at N tokens aborts the HTTP request: the server records the connection closed mid-response', async () => {
    server.clearRecords();
    const reply = openaiTextReply(words, { chunkDelayMs: 15 });
    const bodyBytes = (reply.chunks ?? []).reduce((sum, chunk) => sum + Buffer.byteLength(chunk), 0);
    server.enqueue(reply);
    const events = await lastValueFrom(model().stream(prompt('cut me')).pipe(budget({ maxOutputTokens: 5, count: one }), toArray()));
    expect(events.filter((e) => e.type === 'text')).toHaveLength(5);
    expect(events.slice(-2)).toEqual([notice('output-tokens', 6, 5), { type: 'finish', reason: 'budget' }]);
    expect(server.requests).toHaveLength(1);
    const connection = await server.waitForClose(server.requests[0]!.connectionId, 10_000);
    expect(connection.closedMidResponse).toBe(true);
    expect(connection.bytesWritten).toBeLessThan(bodyBytes);
  });

  it('with the model’s own tokenizer (loaded on first use, before any I/O): at most maxOutputTokens reach downstream, one request', async () => {
    server.clearRecords();
    server.enqueue(openaiTextReply(words, { chunkDelayMs: 15 }));
    const done = await lastValueFrom(model().stream(prompt('tokenizer')).pipe(budget({ maxOutputTokens: 12 }), collect()));
    expect(done.finishReason).toBe('budget');
    const counted = await countTokens(done.text, 'gpt-4o-mini');
    expect(counted.estimated).toBe(false);
    expect(counted.tokens).toBeLessThanOrEqual(12);
    expect(counted.tokens).toBeGreaterThan(6);
    expect(server.requests).toHaveLength(1);
    expect((await server.waitForClose(server.requests[0]!.connectionId, 10_000)).closedMidResponse).toBe(true);
  });

  it('a request refused pre-flight sends zero requests', async () => {
    server.clearRecords();
    const tooLong = await lastValueFrom(model().stream(prompt('a rather long prompt for a tiny limit')).pipe(budget({ maxInputTokens: 3 }))).catch((e: unknown) => e);
    expect(tooLong).toMatchObject({ code: 'budget_exceeded', limit: 'input-tokens', phase: 'preflight' });
    const ledger = createLedger(memoryStore());
    ledger.record({ scope: 'acme', costUsd: 5 });
    const spent = await lastValueFrom(model().stream(prompt('hi', 'acme')).pipe(budget({ ledger, scope: 'tenant', limitUsd: 5 }))).catch((e: unknown) => e);
    expect(spent).toMatchObject({ code: 'budget_exceeded', limit: 'ledger-usd', phase: 'preflight', scope: 'acme' });
    await pause(50);
    expect(server.requests).toHaveLength(0);
  });

  it.each([
    ['memory store', (): Store => memoryStore()],
    ['store answering with Promises', (): Store => asyncStore()],
  ])('ledger totals equal the sum of provider usage × price, per tenant and per model (%s)', async (_name, makeStore) => {
    server.clearRecords();
    const table: PriceTable = {
      'cheap-model': { input: 0.15, output: 0.6, asOf: '2025-01-01', source: 'test' },
      'dear-model': { input: 2.5, output: 10, asOf: '2025-01-01', source: 'test' },
    };
    const ledger = createLedger(makeStore());
    const calls: Array<[tenant: string, model: string, promptTokens: number, completionTokens: number]> = [
      ['acme', 'cheap-model', 1200, 340],
      ['acme', 'dear-model', 800, 95],
      ['globex', 'cheap-model', 50, 7],
      ['acme', 'cheap-model', 3000, 1000],
      ['globex', 'dear-model', 123_456, 4321],
    ];
    for (const [tenant, id, prompt_tokens, completion_tokens] of calls) {
      server.enqueue(openaiTextReply('An answer with usage.', { usage: { prompt_tokens, completion_tokens } }));
      const done = await lastValueFrom(model(id).stream(prompt(`question for ${tenant}`, tenant)).pipe(budget({ ledger, scope: 'tenant', limitUsd: 1000, prices: table }), collect()));
      expect(done.finishReason).toBe('stop');
    }
    await pause(10); // a remote store's writes are not awaited by the stream
    // Independently: tokens × USD per 1M tokens from the table entries.
    const expected = { acme: { total: 0, models: {} as Record<string, number> }, globex: { total: 0, models: {} as Record<string, number> } };
    for (const [tenant, id, input, output] of calls) {
      const price = table[id]!;
      const usd = (input * price.input + output * price.output) / 1_000_000;
      const scope = expected[tenant as keyof typeof expected];
      scope.total += usd;
      scope.models[id] = (scope.models[id] ?? 0) + usd;
    }
    const report = await ledger.report('month');
    expect(Object.keys(report.scopes).sort()).toEqual(['acme', 'globex']);
    for (const tenant of ['acme', 'globex'] as const) {
      const totals = report.scopes[tenant]!;
      expect(totals.costUsd).toBeCloseTo(expected[tenant].total, 9);
      expect(await ledger.spent(tenant, 'day')).toBeCloseTo(expected[tenant].total, 9);
      for (const [id, usd] of Object.entries(expected[tenant].models)) expect(totals.models[id]).toBeCloseTo(usd, 9);
    }
    expect(report.scopes.acme!.calls).toBe(3);
    expect(report.scopes.globex!.calls).toBe(2);
    expect(report.totalUsd).toBeCloseTo(expected.acme.total + expected.globex.total, 9);
    expect(server.requests).toHaveLength(calls.length);
  });
});
