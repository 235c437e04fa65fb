import { TestScheduler } from 'rxjs/testing';
import { from, identity, lastValueFrom, Observable, of, takeWhile, toArray, type MonoTypeOperatorFunction } from 'rxjs';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  collect, ConfigurationError, InvalidRequestError, LlmError, memoryStore, openaiCompatible, parseRequest, text,
  type Completion, type LlmEvent, type LlmRequestInput, type Model, type ModelInfo, type RouteNotice,
} from 'rxllm';
import { cache, meter, route, type EscalationContext, type RouteBudget } from 'rxllm/operators';
import { openaiTextReply, startMockServer, type MockServer } from 'rxllm/testing';
import { createLedger } from '../../src/cost/ledger';
import { requestTokens, tokenCounter, type TokenCounter } from '../../src/cost/tokens';
import { fakeModel, modelInfo, parts, request, type FakeModel } from '../helpers/events';
import { pause } from '../helpers/observe';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const unavailable = new LlmError({ code: 'unavailable', message: 'openai 503: overloaded', retryable: true, status: 503 });


const strongInfo: ModelInfo = { provider: 'test', id: 'strong', name: 'test:strong' };
const s = { type: 'request', request, model: strongInfo } satisfies LlmEvent;
const values = { ...parts, s };

/** A `route` notice from the source's model (test:test-model) to `to`. */
const routeNotice = (to: ModelInfo, by: RouteNotice['by'], reason: string, extra: Partial<RouteNotice> = {}): RouteNotice => ({
  type: 'route',
  model: to.name,
  modelId: to.id,
  from: modelInfo.name,
  by,
  reason,
  reset: false,
  ...extra,
});

/** A request event for `input`, as the source model would emit it. */
const requestEvent = (input: LlmRequestInput): LlmEvent => ({ type: 'request', request: parseRequest(input), model: modelInfo });

/** A ledger whose spend per scope is fixed. */
const fixedLedger = (spent: Record<string, number>): RouteBudget['ledger'] => ({ spent: (scope) => spent[scope] ?? 0 });

describe('route() by rules', () => {
  it('runs the request on the model of the first matching rule; the source is released on its request', () => {
    let strong: FakeModel | undefined;
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-a-f|', values);
      const chosen = cold('s----b-f|', values);
      strong = fakeModel('strong', chosen);
      const routed = source.pipe(route({ rules: [{ name: 'greeting', match: ['hello', 'hi'], model: strong }] }));
      expectObservable(routed).toBe('(rn)-b-f|', { ...values, n: routeNotice(strongInfo, 'rule', 'greeting') });
      expectSubscriptions(source.subscriptions).toBe('(^!)');
      expectSubscriptions(chosen.subscriptions).toBe('^-------!');
    });
    expect(strong!.requests).toEqual([request]);
  });

  it('matches a regex over the last user message, and a user function of the request', () => {
    const seen: unknown[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const strong = fakeModel('strong', cold('s----b-f|', values));
      const byRegex = route({ rules: [{ match: /^h[aeiou]$/i, model: strong }] });
      expectObservable(cold('r-a-f|', values).pipe(byRegex)).toBe('(rn)-b-f|', { ...values, n: routeNotice(strongInfo, 'rule', 'rule 0') });
      const byFunction = route({
        rules: [
          { name: 'never', when: () => false, model: strong },
          { name: 'asked', when: (req, model) => (seen.push([req, model]), true), model: strong },
        ],
      });
      expectObservable(cold('r-a-f|', values).pipe(byFunction)).toBe('(rn)-b-f|', { ...values, n: routeNotice(strongInfo, 'rule', 'asked') });
    });
    expect(seen).toEqual([[request, modelInfo]]);
  });

  it('routes on the request’s input tokens (minTokens / maxTokens), naming the count', () => {
    const count = (t: string): number => t.length;
    const counter: TokenCounter = { count, estimated: false, encoding: undefined };
    const long = { messages: [{ role: 'user' as const, content: 'x'.repeat(500) }] };
    const short = { messages: [{ role: 'user' as const, content: 'Hi' }] };
    const tokensOf = (input: LlmRequestInput): number => requestTokens(parseRequest(input), counter);
    scheduler().run(({ cold, expectObservable }) => {
      const strong = fakeModel('strong', cold('s----b-f|', values));
      const policy = route({ count, rules: [{ name: 'long', minTokens: 100, model: strong }, { name: 'short', maxTokens: 99 }] });
      const rl = requestEvent(long);
      const rs = requestEvent(short);
      expectObservable(cold('r-a-f|', { ...values, r: rl }).pipe(policy)).toBe('(rn)-b-f|', { ...values, r: rl, n: routeNotice(strongInfo, 'rule', 'long', { requestTokens: tokensOf(long) }) });
      // A rule without a model keeps the source's model: a notice, and the source runs on.
      expectObservable(cold('r----a-f|', { ...values, r: rs }).pipe(policy)).toBe('(rn)-a-f|', { ...values, r: rs, n: routeNotice(modelInfo, 'rule', 'short', { requestTokens: tokensOf(short) }) });
    });
    expect(tokensOf(long)).toBeGreaterThan(500);
  });

  it('passes the stream through untouched, without a notice, when no rule matches', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-a-f|', values);
      const strong = fakeModel('strong', cold('s-b-f|', values));
      expectObservable(source.pipe(route({ rules: [{ match: 'weather', model: strong }] }))).toBe('r-a-f|', values);
      expectSubscriptions(source.subscriptions).toBe('^----!');
      expect(strong.requests).toEqual([]);
    });
  });

  it('waits for a tokenizer that is still loading with the source unsubscribed, then runs the chosen model', async () => {
    const gpt: ModelInfo = { provider: 'openai', id: 'gpt-4o-mini', name: 'openai:gpt-4o-mini' };
    let started = 0;
    const source = new Observable<LlmEvent>((subscriber) => {
      subscriber.next({ type: 'request', request, model: gpt });
      if (subscriber.closed) return;
      started++; // stands for the I/O a real stream starts here
      subscriber.next(parts.a);
      subscriber.next(parts.f);
      subscriber.complete();
    });
    const strong = fakeModel('strong', of(s, parts.b, parts.f));
    const loading = tokenCounter('gpt-4o-mini');
    const events = await lastValueFrom(source.pipe(route({ rules: [{ maxTokens: 1000, model: strong }] }), toArray()));
    expect(events.map((e) => e.type)).toEqual(['request', 'route', 'text', 'finish']);
    expect(events[1]).toMatchObject({ model: 'test:strong', requestTokens: expect.any(Number) });
    expect(started).toBe(0);
    expect(loading).toBeInstanceOf(Promise); // the first call for this encoding in this file: it was loading
  });
});

describe('route() by budget', () => {
  const tenant = (name: string): LlmEvent => requestEvent({ messages: [{ role: 'user', content: 'Hi' }], metadata: { tenant: name } });

  it('moves to cheaper tiers as the budget is consumed, then to the free model', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const miniInfo: ModelInfo = { provider: 'test', id: 'mini', name: 'test:mini' };
      const localInfo: ModelInfo = { provider: 'test', id: 'local', name: 'test:local' };
      const mini = fakeModel('mini', cold('m----b-f|', { ...values, m: { ...s, model: miniInfo } }));
      const local = fakeModel('local', cold('l----c-f|', { ...values, l: { ...s, model: localInfo } }));
      const ledger = fixedLedger({ low: 20, mid: 70, high: 150 });
      const policy = route({ budget: { ledger, scope: 'tenant', limitUsd: 100, tiers: [{ below: 0.5 }, { below: 1, model: mini }, { model: local }] } });
      const at = (name: string, source: string, out: string, u: number, to: ModelInfo, reason: string): void => {
        const v = { ...values, r: tenant(name), n: routeNotice(to, 'budget', reason, { utilization: u }) };
        const stream = cold(source, v);
        expectObservable(stream.pipe(policy)).toBe(out, v);
        if (to !== modelInfo) expectSubscriptions(stream.subscriptions).toBe('(^!)');
      };
      at('low', 'r----a-f|', '(rn)-a-f|', 0.2, modelInfo, '20% of the budget used this month');
      at('mid', 'r-a-f|', '(rn)-b-f|', 0.7, miniInfo, '70% of the budget used this month');
      at('high', 'r-a-f|', '(rn)-c-f|', 1.5, localInfo, '150% of the budget used this month');
    });
  });

  it('reads the spend of the period it is given from a ledger', () => {
    const ledger = createLedger(memoryStore());
    const asked: string[] = [];
    const spy: RouteBudget['ledger'] = { spent: (scope, period) => (asked.push(`${scope}/${period}`), ledger.spent(scope, period)) };
    scheduler().run(({ cold, expectObservable }) => {
      ledger.record({ scope: 'acme', costUsd: 9 }); // in virtual time, like the lookup: the same UTC day
      const strong = fakeModel('strong', cold('s----b-f|', values));
      const policy = route({ budget: { ledger: spy, scope: (r) => r.metadata?.['tenant'] ?? 'nobody', period: 'day', limitUsd: 10, tiers: [{ below: 0.8 }, { model: strong }] } });
      const v = { ...values, r: tenant('acme'), n: routeNotice(strongInfo, 'budget', '90% of the budget used today', { utilization: 0.9 }) };
      expectObservable(cold('r-a-f|', v).pipe(policy)).toBe('(rn)-b-f|', v);
    });
    expect(asked).toEqual(['acme/day']);
  });

  it('waits for a ledger that answers with a Promise with the source unsubscribed, then resubscribes it', async () => {
    let subscribed = 0;
    let started = 0;
    const source = new Observable<LlmEvent>((subscriber) => {
      subscribed++;
      subscriber.next(tenant('acme'));
      if (subscriber.closed) return;
      started++;
      subscriber.next(parts.a);
      subscriber.next(parts.f);
      subscriber.complete();
    });
    const ledger: RouteBudget['ledger'] = { spent: () => Promise.resolve(1) };
    const events = await lastValueFrom(source.pipe(route({ budget: { ledger, scope: 'tenant', limitUsd: 10, tiers: [{ below: 0.5 }, { model: fakeModel('x', of(s)) }] } }), toArray()));
    expect(events.map((e) => e.type)).toEqual(['request', 'route', 'text', 'finish']);
    expect([subscribed, started]).toEqual([2, 1]); // the first subscription never started its I/O
  });

  it('errors before any I/O when the request has no scope value, or the ledger fails', async () => {
    const policy = (ledger: RouteBudget['ledger']): MonoTypeOperatorFunction<LlmEvent> => route({ budget: { ledger, scope: 'tenant', limitUsd: 1, tiers: [{ model: fakeModel('x', of(s)) }] } });
    await expect(lastValueFrom(of(parts.r, parts.a, parts.f).pipe(policy(fixedLedger({}))))).rejects.toBeInstanceOf(InvalidRequestError);
    const down = new Error('redis down');
    await expect(lastValueFrom(of(tenant('acme'), parts.f).pipe(policy({ spent: () => Promise.reject(down) })))).rejects.toBe(down);
  });
});

describe('route() escalation', () => {
  const escalation = (strong: Model, evaluate: (answer: Completion, context: EscalationContext) => number | boolean | Promise<number | boolean>, buffer = false): MonoTypeOperatorFunction<LlmEvent> =>
    route({ escalate: { model: strong, evaluate, buffer } });

  it('streams the answer, and on low confidence emits a reset notice and asks the strong model', () => {
    let strong: FakeModel | undefined;
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-a-f|', values);
      const next = cold('     s-b-f|', values);
      strong = fakeModel('strong', next);
      const n = routeNotice(strongInfo, 'escalation', 'confidence 0.2 < 0.5', { reset: true, confidence: 0.2 });
      expectObservable(source.pipe(escalation(strong, () => 0.2))).toBe('r-a--n-b-f|', { ...values, n });
      expectSubscriptions(source.subscriptions).toBe('^----!');
      expectSubscriptions(next.subscriptions).toBe('-----^----!');
    });
    expect(strong!.requests).toEqual([request]);
  });

  it('keeps an answer judged good enough: its finish follows the verdict, the strong model is never called', () => {
    const strong = fakeModel('strong', of(s, parts.b, parts.f));
    const judged: unknown[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const evaluate = (answer: Completion, context: EscalationContext): number => (judged.push([answer.text, context]), 0.9);
      expectObservable(cold('r-a-b-u-f|', values).pipe(escalation(strong, evaluate))).toBe('r-a-b-u--(f|)', values);
    });
    expect(strong.requests).toEqual([]);
    expect(judged).toEqual([['Hello', { request, model: modelInfo }]]);
  });

  it('holds the answer back with buffer: true — dropped on escalation but for its usage, released whole when kept', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const strong = fakeModel('strong', cold('s---b-f|', values));
      const n = routeNotice(strongInfo, 'escalation', 'evaluate() rejected the answer', { reset: true, confidence: 0 });
      expectObservable(cold('r-h-a-u-f|', values).pipe(escalation(strong, () => false, true))).toBe('r--------(un)b-f|', { ...values, n });
      expectObservable(cold('r-h-a-u-f|', values).pipe(escalation(strong, () => true, true))).toBe('r--------(hauf|)', values);
    });
  });

  it('says reset: false when nothing of the buffered answer went downstream', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const strong = fakeModel('strong', cold('s---b-f|', values));
      const n = routeNotice(strongInfo, 'escalation', 'confidence 0.1 < 0.5', { confidence: 0.1 });
      expectObservable(cold('r-a-f|', values).pipe(escalation(strong, () => 0.1, true))).toBe('r----n---b-f|', { ...values, n });
    });
  });

  it('lets collect() keep only the strong answer, and a meter after route bill both calls', async () => {
    const strong = fakeModel('strong', from<LlmEvent[]>([s, parts.c, { type: 'usage', usage: { inputTokens: 3, outputTokens: 1, totalTokens: 4 } }, parts.f]));
    const events = await lastValueFrom(from<LlmEvent[]>([parts.r, parts.a, parts.b, parts.u, parts.f]).pipe(escalation(strong, () => 0), meter({ count: () => 1 }), toArray()));
    const completion = await lastValueFrom(from(events).pipe(collect()));
    expect(completion.text).toBe('!');
    expect(completion.usage).toEqual({ inputTokens: 3, outputTokens: 1, totalTokens: 4 });
    expect(events.filter((e) => e.type === 'usage')).toHaveLength(2);
    expect(events.at(-2)).toMatchObject({ type: 'metrics', final: true, outputTokens: 1 });
  });

  it('waits for an async evaluation, and errors with what evaluate throws or rejects with', async () => {
    const strong = fakeModel('strong', of(s, parts.c, parts.f));
    const slow = await lastValueFrom(of(parts.r, parts.a, parts.f).pipe(escalation(strong, () => pause(5).then(() => 0.1)), collect()));
    expect(slow.text).toBe('!');
    const thrown = new Error('judge failed');
    await expect(lastValueFrom(of(parts.r, parts.a, parts.f).pipe(escalation(strong, () => Promise.reject(thrown))))).rejects.toBe(thrown);
    scheduler().run(({ cold, expectObservable }) => {
      const fail = (): never => {
        throw thrown;
      };
      expectObservable(cold('r-a-f|', values).pipe(escalation(strong, fail))).toBe('r-a--#', values, thrown);
      expectObservable(cold('r-a-f|', values).pipe(escalation(strong, () => 'yes' as never))).toBe('r-a--#', values, new TypeError('route(): evaluate() must return a boolean or a number; it returned string'));
    });
  });

  it('does not judge the strong model’s own answers, nor a stream without finish', () => {
    const asked: string[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const strong = fakeModel('strong', cold('s----b-f|', values));
      const policy = route({ rules: [{ model: strong }], escalate: { model: strong, evaluate: (a) => (asked.push(a.text), 0) } });
      expectObservable(cold('r-a-f|', values).pipe(policy)).toBe('(rn)-b-f|', { ...values, n: routeNotice(strongInfo, 'rule', 'rule 0') });
      expectObservable(cold('r-a-|', values).pipe(escalation(fakeModel('x', of(s)), (a) => (asked.push(a.text), 0)))).toBe('r-a-|', values);
    });
    expect(asked).toEqual([]);
  });

  it('passes errors through unchanged, before and after escalating', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const failing = fakeModel('strong', cold('s-b-#', values, unavailable));
      expectObservable(cold('r-a-#', values, unavailable).pipe(escalation(failing, () => 0))).toBe('r-a-#', values, unavailable);
      const n = routeNotice(strongInfo, 'escalation', 'confidence 0 < 0.5', { reset: true, confidence: 0 });
      expectObservable(cold('r-a-f|', values).pipe(escalation(failing, () => 0))).toBe('r-a--n-b-#', { ...values, n }, unavailable);
    });
  });

  it('starts fresh for each subscription', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const strong = fakeModel('strong', cold('s-b-f|', values));
      const n = routeNotice(strongInfo, 'escalation', 'confidence 0 < 0.5', { reset: true, confidence: 0 });
      const piped = cold('r-a-f|', values).pipe(escalation(strong, () => 0));
      expectObservable(piped).toBe('         r-a--n-b-f|', { ...values, n });
      expectObservable(piped, '20ms ^').toBe('20ms r-a--n-b-f|', { ...values, n });
    });
  });
});

describe('route() mechanics', () => {
  it('releases the chosen model in the same frame when the consumer unsubscribes', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-a-f|', values);
      const chosen = cold('s----a-b-c-f|', values);
      const policy = route({ rules: [{ match: 'hi', model: fakeModel('strong', chosen) }] });
      expectObservable(source.pipe(policy), '^-------!').toBe('(rn)-a-b', { ...values, n: routeNotice(strongInfo, 'rule', 'rule 0') });
      expectSubscriptions(source.subscriptions).toBe('(^!)');
      expectSubscriptions(chosen.subscriptions).toBe('^-------!');
    });
  });

  it('starts no call when the consumer leaves on the request event or the notice', () => {
    const strong = fakeModel('strong', of(s, parts.b, parts.f));
    const policy = route({ rules: [{ match: 'hi', model: strong }] });
    scheduler().run(({ cold, expectObservable }) => {
      const stopAt = (type: LlmEvent['type']): MonoTypeOperatorFunction<LlmEvent> => takeWhile((e) => e.type !== type, true);
      expectObservable(cold('r-a-f|', values).pipe(policy, stopAt('request'))).toBe('(r|)', values);
      expectObservable(cold('r-a-f|', values).pipe(policy, stopAt('route'))).toBe('(rn|)', { ...values, n: routeNotice(strongInfo, 'rule', 'rule 0') });
    });
    expect(strong.requests).toEqual([]);
  });

  it('works with synchronous sources: the source that is not chosen starts no I/O', async () => {
    let started = 0;
    const source = new Observable<LlmEvent>((subscriber) => {
      subscriber.next(parts.r);
      if (subscriber.closed) return;
      started++;
      subscriber.next(parts.a);
      subscriber.next(parts.f);
      subscriber.complete();
    });
    const strong = fakeModel('strong', of(s, parts.b, parts.f));
    const events = await lastValueFrom(source.pipe(route({ rules: [{ match: 'hi', model: strong }] }), toArray()));
    expect(events).toEqual([parts.r, routeNotice(strongInfo, 'rule', 'rule 0'), parts.b, parts.f]);
    expect(started).toBe(0);
  });

  it('passes a stream that does not start with a request event through', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const strong = fakeModel('strong', cold('s-b-f|', values));
      expectObservable(cold('a-f|', values).pipe(route({ rules: [{ model: strong }] }))).toBe('a-f|', values);
    });
  });

  it('errors with what a rule, count or a model throws', () => {
    const thrown = new Error('user code failed');
    const fail = (): never => {
      throw thrown;
    };
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('r-a-f|', values).pipe(route({ rules: [{ when: fail }] }))).toBe('(r#)', values, thrown);
      expectObservable(cold('r-a-f|', values).pipe(route({ count: fail, rules: [{ minTokens: 1 }] }))).toBe('(r#)', values, thrown);
      const broken: Model = { info: strongInfo, stream: fail };
      expectObservable(cold('r-a-f|', values).pipe(route({ rules: [{ model: broken }] }))).toBe('(rn#)', { ...values, n: routeNotice(strongInfo, 'rule', 'rule 0') }, thrown);
    });
  });

  it('is the identity without rules, budget or escalation, and throws ConfigurationError for a bad policy', () => {
    const m = fakeModel('m', of(s));
    expect(route({})).toBe(identity);
    expect(route({ rules: [] })).toBe(identity);
    expect(() => route(undefined as never)).toThrow(ConfigurationError);
    expect(() => route({ rules: [{ model: {} as Model }] })).toThrow(/route\(\): rules\.0\.model: expected a Model/);
    expect(() => route({ rules: [{ minTokens: -1 }] })).toThrow(/route\(\): rules\.0\.minTokens: /);
    expect(() => route({ rules: [{ match: '' }] })).toThrow(/route\(\): rules\.0\.match: /);
    expect(() => route({ rules: [{ when: true as never }] })).toThrow(/rules\.0\.when: expected a function/);
    const budget = { ledger: fixedLedger({}), scope: 'tenant', limitUsd: 10, tiers: [{ below: 0.5 }, { model: m }] };
    expect(() => route({ budget: { ...budget, ledger: {} as never } })).toThrow(/budget\.ledger: expected a Ledger/);
    expect(() => route({ budget: { ...budget, limitUsd: 0 } })).toThrow(/budget\.limitUsd: /);
    expect(() => route({ budget: { ...budget, tiers: [{ below: 0.8 }, { below: 0.5 }] } })).toThrow(/budget\.tiers: expected tiers in ascending order/);
    expect(() => route({ budget: { ...budget, tiers: [{ model: m }, { below: 0.5 }] } })).toThrow(/budget\.tiers: expected tiers in ascending order/);
    expect(() => route({ budget: { ...budget, period: 'week' as never } })).toThrow(/budget\.period: expected "day", "month" or "all"/);
    expect(() => route({ escalate: { model: m, evaluate: () => 1, minConfidence: 2 } })).toThrow(/escalate\.minConfidence: /);
    expect(() => route({ escalate: { model: m } as never })).toThrow(/escalate\.evaluate: expected a function/);
    expect(() => route({ fallback: m } as never)).toThrow(/route\(\): fallback: /);
  });

  it('is a MonoTypeOperatorFunction<LlmEvent>, and RouteNotice is part of LlmEvent', () => {
    expectTypeOf(route({ rules: [] })).toEqualTypeOf<MonoTypeOperatorFunction<LlmEvent>>();
    expectTypeOf<RouteNotice>().toMatchTypeOf<LlmEvent>();
  });
});

describe('route() over HTTP', () => {
  let a: MockServer;
  let b: MockServer;
  beforeEach(async () => {
    [a, b] = await Promise.all([startMockServer(), startMockServer()]);
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });
  const cheap = (id = 'a'): Model => openaiCompatible({ name: 'cheap', model: id, baseURL: a.url, apiKey: 'test-key-a' });
  const strong = (): Model => openaiCompatible({ name: 'strong', model: 'b', baseURL: b.url, apiKey: 'test-key-b' });
  const ask = (content: string, metadata?: Record<string, string>): LlmRequestInput => ({ messages: [{ role: 'user', content }], ...(metadata ? { metadata } : {}) });

  it('sends a request that a rule routes to the chosen server only', async () => {
    b.enqueue(openaiTextReply('Proof follows.'));
    const policy = route({ rules: [{ name: 'math', match: /prove|theorem/i, model: strong() }] });
    const events = await lastValueFrom(cheap().stream(ask('Prove the theorem')).pipe(policy, toArray()));
    expect((await lastValueFrom(from(events).pipe(collect()))).text).toBe('Proof follows.');
    expect(events.find((e) => e.type === 'route')).toEqual({ type: 'route', model: 'strong:b', modelId: 'b', from: 'cheap:a', by: 'rule', reason: 'math', reset: false });
    await pause(50); // room for a request to A that must not come
    expect([a.requests.length, b.requests.length]).toEqual([0, 1]);
    expect(b.requests[0]!.json).toMatchObject({ model: 'b', messages: [{ role: 'user', content: 'Prove the theorem' }] });
  });

  it('counts tokens with the model’s tokenizer: a long request goes to B, a short one stays on A', async () => {
    a.enqueue(openaiTextReply('short answer'));
    b.enqueue(openaiTextReply('long answer'));
    const policy = route({ rules: [{ name: 'long', minTokens: 200, model: strong() }] });
    const long = await lastValueFrom(cheap('gpt-4o-mini').stream(ask('word '.repeat(400))).pipe(policy, text(), toArray()));
    const short = await lastValueFrom(cheap('gpt-4o-mini').stream(ask('Hi')).pipe(policy, text(), toArray()));
    expect([long.join(''), short.join('')]).toEqual(['long answer', 'short answer']);
    await pause(50);
    expect([a.requests.length, b.requests.length]).toEqual([1, 1]);
  });

  it('moves a tenant whose budget is spent to the cheaper server', async () => {
    const ledger = createLedger(memoryStore());
    ledger.record({ scope: 'acme', costUsd: 95 });
    a.setHandler(() => openaiTextReply('from A'));
    b.setHandler(() => openaiTextReply('from B'));
    // The source is the strong model (B); over 90 % the tenant goes to A.
    const policy = route({ budget: { ledger, scope: 'tenant', limitUsd: 100, tiers: [{ below: 0.9 }, { model: cheap() }] } });
    const acme = await lastValueFrom(strong().stream(ask('Hi', { tenant: 'acme' })).pipe(policy, collect()));
    const other = await lastValueFrom(strong().stream(ask('Hi', { tenant: 'other' })).pipe(policy, collect()));
    expect([acme.text, other.text]).toEqual(['from A', 'from B']);
    await pause(50);
    expect([a.requests.length, b.requests.length]).toEqual([1, 1]);
  });

  it('escalation makes exactly two calls when confidence is low, one when it is high', async () => {
    a.setHandler(() => openaiTextReply('maybe'));
    b.setHandler(() => openaiTextReply('certainly'));
    const policy = route({ escalate: { model: strong(), evaluate: (answer) => (answer.text === 'maybe' ? 0.2 : 1) } });
    const low = await lastValueFrom(cheap().stream(ask('Is it so?')).pipe(policy, collect()));
    expect(low.text).toBe('certainly');
    await pause(50);
    expect([a.requests.length, b.requests.length]).toEqual([1, 1]);

    const sure = route({ escalate: { model: strong(), evaluate: () => 0.8 } });
    const high = await lastValueFrom(cheap().stream(ask('Is it so?')).pipe(sure, collect()));
    expect(high.text).toBe('maybe');
    await pause(50);
    expect([a.requests.length, b.requests.length]).toEqual([2, 1]);
  });

  it('with buffer: true a text() consumer sees only the answer that was kept', async () => {
    a.enqueue(openaiTextReply('weak answer'));
    b.enqueue(openaiTextReply('strong answer'));
    const policy = route({ escalate: { model: strong(), evaluate: () => false, buffer: true } });
    const deltas = await lastValueFrom(cheap().stream(ask('Explain')).pipe(policy, text(), toArray()));
    expect(deltas.join('')).toBe('strong answer');
    expect([a.requests.length, b.requests.length]).toEqual([1, 1]);
  });
});

describe('route() with cache', () => {
  it('stores only the escalated answer when cache wraps route', async () => {
    const store = memoryStore();
    const strong = fakeModel('strong', from<LlmEvent[]>([s, parts.c, parts.f]));
    const routed = (): Observable<LlmEvent> => from<LlmEvent[]>([parts.r, parts.a, parts.f]).pipe(route({ escalate: { model: strong, evaluate: () => 0 } }), cache(store));
    expect((await lastValueFrom(routed().pipe(collect()))).text).toBe('!');
    const hit = await lastValueFrom(routed().pipe(toArray()));
    expect(hit.map((e) => e.type)).toEqual(['request', 'cache', 'text', 'finish']);
    expect((await lastValueFrom(from(hit).pipe(collect()))).text).toBe('!');
    expect(strong.requests).toHaveLength(1);
  });
});
