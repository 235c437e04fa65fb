import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { asyncScheduler, from, lastValueFrom, pipe, take, tap, toArray, type Observable, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BudgetExceededError,
  collect,
  costOf,
  createBreaker,
  createLedger,
  createRateLimiter,
  InvalidRequestError,
  isEvent,
  LlmError,
  memoryStore,
  openaiCompatible,
  text,
  toAsyncIterable,
  withPrices,
  type LlmEvent,
  type LlmRequestInput,
  type Model,
} from 'rxllm';
import { budget, cache, circuitBreaker, deadline, fallback, meter, rateLimit, retryBackoff, route } from 'rxllm/operators';
import { jsonReply, openaiTextReply, startMockServer, type MockServer } from 'rxllm/testing';

/**
 * The pipelines the README (and the operator pages) show, run over real HTTP against the mock
 * server, asserting what their comments claim. The code between `// <doc: FILE>` and `// </doc>`
 * is copied from that file, and the first test checks that FILE still contains it verbatim — so a
 * pipeline edited in the docs without its test (or the other way round) fails here.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const servers: MockServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(): Promise<MockServer> {
  const started = await startMockServer();
  servers.push(started);
  return started;
}
const modelOn = (at: MockServer, name: string, id: string): Model => openaiCompatible({ name, model: id, baseURL: at.url, apiKey: `sk-test-${name}-key` });
const ask = (content: string, extra: Omit<LlmRequestInput, 'messages'> = {}): LlmRequestInput => ({ messages: [{ role: 'user', content }], ...extra });
const unavailable = () => jsonReply(503, { error: { message: 'overloaded', type: 'server_error' } });
const answer = (words = 'one two three four five six') => openaiTextReply(words, { chunkDelayMs: 2 });
const ms = (since: number): number => performance.now() - since;

/** Runs a stream to its end: every event, and the error if it failed. */
async function run(stream: Observable<LlmEvent>): Promise<{ events: LlmEvent[]; error: unknown }> {
  const events: LlmEvent[] = [];
  let error: unknown;
  await new Promise<void>((resolve) => stream.subscribe({ next: (e) => events.push(e), error: (e: unknown) => ((error = e), resolve()), complete: resolve }));
  return { events, error };
}
const textOf = async (events: readonly LlmEvent[]): Promise<string> => (await lastValueFrom(from(events).pipe(collect()))).text;
const count = (events: readonly LlmEvent[], type: LlmEvent['type']): number => events.filter((e) => e.type === type).length;

/** A scheduler that records each requested delay and runs the work at once (to see a wait without waiting it). */
function immediate(waits: number[]): SchedulerLike {
  return {
    now: () => asyncScheduler.now(),
    schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
      waits.push(delay);
      return asyncScheduler.schedule(work, 0, state);
    },
  };
}

describe('the docs still show these pipelines, as written here', () => {
  const source = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  const snippets = [...source.matchAll(/^( *)\/\/ <doc: ([^>]+)>\n([\s\S]*?)^ *\/\/ <\/doc>/gm)].flatMap(([, indent, files, code]) =>
    files!.split(', ').map((file) => ({ file, code: code!.split('\n').map((line) => line.slice(indent!.length)).join('\n').trimEnd() })),
  );

  it('has the pipelines', () => expect(snippets.length).toBeGreaterThanOrEqual(6));
  it.each(snippets.map((s, i) => [i + 1, s.file, s.code] as const))('snippet %i is in %s', (_i, file, code) => {
    expect(readFileSync(`${root}/${file}`, 'utf8')).toContain(code);
  });
});

describe('README "Retry, then fall back"', () => {
  const setup = async () => {
    const [a, b] = [await server(), await server()];
    a.setHandler(unavailable);
    b.setHandler(() => answer('hello from the backup'));
    const primary = modelOn(a, 'primary', 'primary-1');
    const backup = modelOn(b, 'backup', 'backup-1');
    // <doc: README.md>
    const breaker = createBreaker({ name: 'primary', minimumCalls: 5 });

    // Innermost first: later in the pipe = outer wrapper = decides first.
    const resilient = pipe(
      deadline({ firstToken: '2s', idle: '5s' }), // each attempt must start, and keep going, in time
      retryBackoff({ maxRetries: 2, initialDelay: '100ms' }), // 429, 5xx, resets, timeouts: try the primary again
      circuitBreaker(breaker), // counts each call once, after its retries; while open, fails at once, before any I/O
      fallback(backup), // a call that still failed, or that the open circuit refused, goes to the backup
    );
    // </doc>
    return { a, b, primary, breaker, resilient };
  };

  it('retries a 503 twice, then the backup answers: one clean stream', async () => {
    const { a, b, primary, resilient } = await setup();
    const { events, error } = await run(primary.stream(ask('Are you there?')).pipe(resilient));
    expect(error).toBeUndefined();
    expect([a.requests.length, b.requests.length]).toEqual([3, 1]);
    expect(events.filter((e) => e.type === 'retry').map((e) => e.type === 'retry' && [e.attempt, e.cause])).toEqual([[1, 'unavailable'], [2, 'unavailable']]);
    expect(events.find(isEvent('fallback'))).toMatchObject({ from: 'primary:primary-1', to: 'backup:backup-1', cause: 'unavailable' });
    expect(count(events, 'request')).toBe(1);
    expect(count(events, 'finish')).toBe(1);
    expect(await textOf(events)).toBe('hello from the backup');
  });

  it('the breaker counts each call once, after its retries; once open, a call goes to the backup at once, before any I/O to the primary', async () => {
    const { a, b, primary, breaker, resilient } = await setup();
    for (let call = 1; call <= 4; call++) await run(primary.stream(ask(`Question ${call}`)).pipe(resilient));
    // 12 failed attempts, 4 failed calls: under minimumCalls (5), so the attempts were not counted one by one.
    expect(a.requests).toHaveLength(12);
    expect(breaker.state).toBe('closed');
    await run(primary.stream(ask('Question 5')).pipe(resilient));
    expect(breaker.state).toBe('open');
    expect(a.requests).toHaveLength(15);

    const started = performance.now();
    const { events, error } = await run(primary.stream(ask('Question 6')).pipe(resilient));
    expect(ms(started)).toBeLessThan(2000); // no wait for the open circuit (it stays open 30 s)
    expect(error).toBeUndefined();
    expect(a.requests).toHaveLength(15); // nothing sent to the primary
    expect(b.requests).toHaveLength(6);
    expect(count(events, 'retry')).toBe(0);
    expect(events.find(isEvent('fallback'))).toMatchObject({ cause: 'circuit_open' });
    expect(await textOf(events)).toBe('hello from the backup');
  });

  it('why the breaker goes after retryBackoff: before it, retryBackoff waits out the open circuit (CircuitOpenError.retryAfterMs)', async () => {
    const [a, b] = [await server(), await server()];
    a.setHandler(unavailable);
    b.setHandler(() => answer());
    const breaker = createBreaker({ name: 'primary', minimumCalls: 1 });
    const waits: number[] = [];
    const perAttempt = pipe(circuitBreaker(breaker), retryBackoff({ maxRetries: 2, initialDelay: '100ms', scheduler: immediate(waits) }), fallback(modelOn(b, 'backup', 'backup-1')));
    const { events } = await run(modelOn(a, 'primary', 'primary-1').stream(ask('Hi')).pipe(perAttempt));
    expect(a.requests).toHaveLength(1); // the first 503 opened the circuit; the retry met it open
    expect(events.filter((e) => e.type === 'retry').map((e) => e.type === 'retry' && e.cause)).toEqual(['unavailable', 'circuit_open']);
    expect(waits[1]).toBeGreaterThan(29_000); // what the consumer would have waited before the next attempt
  });
});

describe('docs/operators/resilience.md "A resilient pipeline"', () => {
  it('retries and falls back, then fails fast on the open circuit, then answers a repeat from the cache', async () => {
    const [a, b] = [await server(), await server()];
    a.setHandler(unavailable);
    b.setHandler(() => answer('from the backup'));
    const primary = modelOn(a, 'primary', 'primary-1');
    const backup = modelOn(b, 'backup', 'backup-1');
    // <doc: docs/operators/resilience.md>
    const store = memoryStore({ eviction: 'lru', ttl: '1h' });
    const breaker = createBreaker({ name: 'primary', minimumCalls: 1 }); // opens after one failed call: a demo (the default is 10)

    const resilient = pipe(
      deadline({ firstToken: '2s', idle: '5s' }), // each attempt must start, and keep going, in time
      retryBackoff({ maxRetries: 2, initialDelay: '100ms' }), // 429, 5xx, resets, timeouts: try the primary again
      circuitBreaker(breaker), // counts each call once, after its retries; while open, fails at once, before any I/O
      fallback(backup), // a call that still failed, or that the open circuit refused, goes to the backup
      cache(store), // decides first: a hit runs none of the above
    );
    // </doc>
    const first = await run(primary.stream(ask('Why compose operators?')).pipe(resilient));
    expect([a.requests.length, b.requests.length]).toEqual([3, 1]);
    expect(first.events.find(isEvent('cache'))?.status).toBe('miss');
    expect(breaker.state).toBe('open');

    const started = performance.now();
    const second = await run(primary.stream(ask('What does a breaker protect?')).pipe(resilient));
    expect(ms(started)).toBeLessThan(2000);
    expect([a.requests.length, b.requests.length]).toEqual([3, 2]);
    expect(second.events.find(isEvent('fallback'))).toMatchObject({ cause: 'circuit_open' });

    const third = await run(primary.stream(ask('Why compose operators?')).pipe(resilient));
    expect(third.events.find(isEvent('cache'))?.status).toBe('hit');
    expect([a.requests.length, b.requests.length]).toEqual([3, 2]); // a hit sends nothing
    expect(await textOf(third.events)).toBe(await textOf(first.events));
  });
});

describe('README "Cache"', () => {
  it('a miss calls the model; the repeat is a hit that sends 0 requests, answered within subscribe()', async () => {
    const at = await server();
    at.setHandler(() => answer('a cache saves a call'));
    const model = modelOn(at, 'mock', 'mock-1');
    // <doc: README.md>
    const store = memoryStore({ eviction: 'lru', ttl: '10m', maxBytes: 20_000_000 });
    // </doc>
    const request = { messages: [{ role: 'user' as const, content: 'What does a cache save?' }], temperature: 0 };
    const miss = await lastValueFrom(model.stream(request).pipe(cache(store), toArray()));
    expect(miss.find(isEvent('cache'))?.status).toBe('miss');
    expect(at.requests).toHaveLength(1);

    let hit: LlmEvent[] | undefined;
    model.stream(request).pipe(cache(store), toArray()).subscribe((events) => (hit = events));
    expect(hit?.find(isEvent('cache'))?.status).toBe('hit'); // synchronously: the memory store answers at once
    expect(at.requests).toHaveLength(1);
    expect(await textOf(hit!)).toBe('a cache saves a call');
  });

  it('identical requests in flight at once share one call', async () => {
    const at = await server();
    at.setHandler(() => openaiTextReply('shared answer', { chunkDelayMs: 20 }));
    const model = modelOn(at, 'mock', 'mock-1');
    const store = memoryStore();
    const answers = await Promise.all([1, 2, 3].map(() => lastValueFrom(model.stream(ask('same')).pipe(cache(store), collect()))));
    expect(answers.map((a) => a.text)).toEqual(['shared answer', 'shared answer', 'shared answer']);
    expect(at.requests).toHaveLength(1);
  });
});

describe('README "Cap spend per user"', () => {
  const setup = async () => {
    const at = await server();
    at.setHandler(() => openaiTextReply(Array.from({ length: 60 }, (_, i) => `word${i}`).join(' '), { chunkDelayMs: 2 }));
    const model = modelOn(at, 'mock', 'sim-1');
    // <doc: README.md>
    const prices = withPrices({ 'sim-1': { input: 100, output: 300, asOf: '2025-06-01', source: 'example' } }); // USD per 1M tokens
    const ledger = createLedger(memoryStore()); // spend per scope, per UTC day and month
    const perUser = budget({ ledger, scope: 'user', limitUsd: 0.01, period: 'day', prices }); // metadata.user pays
    // </doc>
    return { at, model, ledger, perUser };
  };

  it('cuts a call at the limit (finish "budget", the HTTP request aborted), then refuses that user before any I/O; another user has their own budget', async () => {
    const { at, model, ledger, perUser } = await setup();
    const request = (user: string) => ({ messages: [{ role: 'user' as const, content: 'Explain backpressure' }], metadata: { user } });

    const cut = await lastValueFrom(model.stream(request('ann')).pipe(perUser, collect()));
    expect(cut.finishReason).toBe('budget');
    expect((await at.waitForClose(at.requests[0]!.connectionId)).closedMidResponse).toBe(true);
    expect(await ledger.spent('ann', 'day')).toBeGreaterThanOrEqual(0.01);

    const refused = await run(model.stream(request('ann')).pipe(perUser));
    expect(refused.error).toBeInstanceOf(BudgetExceededError);
    expect(refused.error).toMatchObject({ phase: 'preflight', limit: 'ledger-usd', scope: 'ann' });
    expect(refused.events.map((e) => e.type)).toEqual(['request']);
    expect(at.requests).toHaveLength(1); // never left the process

    const bob = await lastValueFrom(model.stream(request('bob')).pipe(perUser, collect()));
    expect(bob.finishReason).toBe('budget');
    expect(at.requests).toHaveLength(2);
  });

  it('a request without metadata.user is refused: a call that cannot be charged to anyone is not made', async () => {
    const { at, model, perUser } = await setup();
    const { error } = await run(model.stream(ask('Explain backpressure')).pipe(perUser));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ field: 'metadata.user' });
    expect(at.requests).toHaveLength(0);
  });
});

describe('README "All together" (and docs/operators/cost.md "A governed pipeline")', () => {
  const prices = withPrices({
    'strong-1': { input: 2.5, output: 10, asOf: '2026-11-23', source: 'example, priced like gpt-4o' },
    'cheap-1': { input: 0.15, output: 0.6, asOf: '2026-11-23', source: 'example, priced like gpt-4o-mini' },
  });
  const setup = async (limiter = createRateLimiter({ requestsPerMinute: 500, tokensPerMinute: 200_000, concurrency: 8 })) => {
    const [strongAt, cheapAt] = [await server(), await server()];
    strongAt.setHandler(() => answer('strong answer'));
    cheapAt.setHandler(() => answer('cheap answer'));
    const strong = modelOn(strongAt, 'strong', 'strong-1');
    const cheap = modelOn(cheapAt, 'cheap', 'cheap-1');
    const ledger = createLedger(memoryStore());
    // <doc: README.md, docs/operators/cost.md>
    // Innermost first: later in the pipe = outer wrapper = decides first.
    const governed = pipe(
      route({ rules: [{ name: 'short question', maxTokens: 200, model: cheap }] }), // picks the model; what follows wraps the one that answers
      deadline({ firstToken: '5s', idle: '10s' }), // times each call, not its wait for a permit
      rateLimit(limiter), // every attempt, on whichever model, waits its turn; the limiter sees every 429
      retryBackoff({ maxRetries: 2 }), // a retry is routed and queued again
      budget({ ledger, scope: 'tenant', limitUsd: 5, maxOutputTokens: 400, prices }), // refuses a spent tenant before anything inside it runs
      meter({ interval: '250ms', prices }), // live TTFT and tokens/s; the cost at the model that answered
      cache(memoryStore({ maxEntries: 1000 })), // outermost: a hit runs none of the above
    );
    // </doc>
    // The order this pipeline had before (rateLimit first, route inside retryBackoff): kept to show why it was wrong.
    const previousOrder = pipe(
      rateLimit(limiter),
      deadline({ firstToken: '5s', idle: '10s' }),
      retryBackoff({ maxRetries: 2 }),
      route({ rules: [{ name: 'short question', maxTokens: 200, model: cheap }] }),
      budget({ ledger, scope: 'tenant', limitUsd: 5, maxOutputTokens: 400, prices }),
      meter({ interval: '250ms', prices }),
      cache(memoryStore({ maxEntries: 1000 })),
    );
    return { strongAt, cheapAt, strong, ledger, governed, previousOrder };
  };
  const tenant = (content: string) => ask(content, { metadata: { tenant: 'acme' } });

  it('routes a short question to the cheap model (the strong one is never called) and prices it there', async () => {
    const { strongAt, cheapAt, strong, ledger, governed } = await setup();
    const { events, error } = await run(strong.stream(tenant('What is a ledger?')).pipe(governed));
    expect(error).toBeUndefined();
    expect([strongAt.requests.length, cheapAt.requests.length]).toEqual([0, 1]);
    expect(events.find(isEvent('route'))).toMatchObject({ model: 'cheap:cheap-1', modelId: 'cheap-1', by: 'rule', reason: 'short question' });
    const final = events.filter(isEvent('metrics')).find((m) => m.final);
    const usage = events.find(isEvent('usage'))!.usage;
    expect(final?.costUsd).toBeCloseTo(costOf(usage, 'cheap-1', prices)!, 12);
    const report = await ledger.report();
    expect(report.calls).toBe(1);
    expect(Object.keys(report.scopes['acme']!.models)).toEqual(['cheap-1']);
    expect(await textOf(events)).toBe('cheap answer');
  });

  it('with a 1-per-minute limiter, only 1 of 3 routed calls reaches a server within the window', async () => {
    const { strongAt, cheapAt, strong, governed } = await setup(createRateLimiter({ requestsPerMinute: 1 }));
    const runs = ['First question?', 'Second question?', 'Third question?'].map((q) => {
      const seen: LlmEvent[] = [];
      let ended = false;
      const subscription = strong.stream(tenant(q)).pipe(governed).subscribe({ next: (e) => seen.push(e), error: () => (ended = true), complete: () => (ended = true) });
      return { seen, subscription, ended: () => ended };
    });
    await cheapAt.waitForRequests(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(strongAt.requests.length + cheapAt.requests.length).toBe(1);
    expect(runs.filter((r) => r.ended())).toHaveLength(1);
    expect(runs.filter((r) => !r.ended()).every((r) => r.seen.map((e) => e.type).join() === 'request,cache')).toBe(true); // waiting, sending nothing
    for (const r of runs) r.subscription.unsubscribe();
  });

  it('for contrast: in the order the README used to show (rateLimit before route), 3 of 3 calls get through', async () => {
    const { strongAt, cheapAt, strong, previousOrder } = await setup(createRateLimiter({ requestsPerMinute: 1 }));
    const results = await Promise.all(['First question?', 'Second question?', 'Third question?'].map((q) => run(strong.stream(tenant(q)).pipe(previousOrder))));
    expect(results.every((r) => r.error === undefined)).toBe(true);
    expect(strongAt.requests.length + cheapAt.requests.length).toBe(3);
  });

  it('a cache hit runs none of the inner operators: no request, no route or metrics notice, no ledger record', async () => {
    const { cheapAt, strong, ledger, governed } = await setup();
    await run(strong.stream(tenant('What is a ledger?')).pipe(governed));
    const { events } = await run(strong.stream(tenant('What is a ledger?')).pipe(governed));
    expect(events.find(isEvent('cache'))?.status).toBe('hit');
    expect(cheapAt.requests).toHaveLength(1);
    expect([count(events, 'route'), count(events, 'metrics')]).toEqual([0, 0]);
    expect((await ledger.report()).calls).toBe(1);
  });

  it('a tenant whose budget is spent is refused before any I/O', async () => {
    const { strongAt, cheapAt, strong, ledger, governed } = await setup();
    await ledger.record({ scope: 'acme', costUsd: 5 });
    const { events, error } = await run(strong.stream(tenant('What is a ledger?')).pipe(governed));
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(error).toMatchObject({ phase: 'preflight', limit: 'ledger-usd', scope: 'acme' });
    expect(events.map((e) => e.type)).toEqual(['request', 'cache']);
    expect(strongAt.requests.length + cheapAt.requests.length).toBe(0);
  });

  it('a 429 from the routed model is retried on it (routed and queued again), and pauses the shared limiter for other calls', async () => {
    const { cheapAt, strong, governed } = await setup();
    cheapAt.enqueue(jsonReply(429, { error: { message: 'slow down', type: 'rate_limit_error' } }, { 'retry-after-ms': '300' }));
    const other: Array<Promise<{ events: LlmEvent[]; error: unknown }>> = [];
    const first = run(
      strong.stream(tenant('What is a ledger?')).pipe(
        governed,
        tap((event: LlmEvent) => {
          // The moment the 429 is known, another call through the same limiter must wait out the pause.
          if (event.type === 'retry') other.push(run(strong.stream(tenant('Another question?')).pipe(governed)));
        }),
      ),
    );
    const { events, error } = await first;
    expect(error).toBeUndefined();
    expect(events.find(isEvent('retry'))).toMatchObject({ attempt: 1, cause: 'rate_limited', delayMs: 300 });
    expect(count(events, 'route')).toBe(2); // the retry was routed again
    const second = await other[0]!;
    expect(second.error).toBeUndefined();
    expect(second.events.find(isEvent('throttle'))?.waitedMs).toBeGreaterThan(200);
    expect(cheapAt.requests).toHaveLength(3);
    const arrivals = cheapAt.requests.map((r) => r.receivedAt - cheapAt.requests[0]!.receivedAt);
    expect(Math.min(arrivals[1]!, arrivals[2]!)).toBeGreaterThanOrEqual(295); // nothing reached the server during the pause
  });

  it('the deadline times the call, not its wait for a permit: a call held 6 s by the limiter meets a 5 s first-token deadline', async () => {
    const { cheapAt, strong, governed } = await setup(createRateLimiter({ requestsPerMinute: 10, burst: { requests: 1 } }));
    await run(strong.stream(tenant('First question?')).pipe(governed));
    const { events, error } = await run(strong.stream(tenant('Second question?')).pipe(governed));
    expect(error).toBeUndefined();
    expect(events.find(isEvent('throttle'))?.waitedMs).toBeGreaterThan(5000);
    expect(count(events, 'retry')).toBe(0);
    expect(cheapAt.requests).toHaveLength(2);
  }, 15_000);
});

describe('README "Cancel"', () => {
  const slow = async () => {
    const at = await server();
    at.setHandler(() => openaiTextReply(Array.from({ length: 200 }, (_, i) => `w${i}`).join(' '), { chunkDelayMs: 10 }));
    return { at, model: modelOn(at, 'mock', 'mock-1') };
  };

  it('unsubscribing (take) is silent and closes the connection mid-response', async () => {
    const { at, model } = await slow();
    const deltas = await lastValueFrom(model.stream(ask('story')).pipe(text(), take(5), toArray()));
    expect(deltas).toHaveLength(5);
    expect((await at.waitForClose(at.requests[0]!.connectionId)).closedMidResponse).toBe(true);
  });

  it('leaving a for await loop closes the connection mid-response', async () => {
    const { at, model } = await slow();
    let n = 0;
    for await (const _delta of toAsyncIterable(model.stream(ask('story')).pipe(text()))) if (++n === 5) break;
    expect((await at.waitForClose(at.requests[0]!.connectionId)).closedMidResponse).toBe(true);
  });

  it("an AbortSignal errors the stream with code 'aborted' (not retryable) and closes the connection", async () => {
    const { at, model } = await slow();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const { events, error } = await run(model.stream(ask('story'), { signal: controller.signal }));
    expect(LlmError.is(error) && [error.code, error.retryable]).toEqual(['aborted', false]);
    expect(count(events, 'text')).toBeGreaterThan(0);
    expect((await at.waitForClose(at.requests[0]!.connectionId)).closedMidResponse).toBe(true);
  });

  it('a signal that has already fired: the request event, then the error, and nothing is sent', async () => {
    const { at, model } = await slow();
    const { events, error } = await run(model.stream(ask('story'), { signal: AbortSignal.abort() }));
    expect(events.map((e) => e.type)).toEqual(['request']);
    expect(error).toMatchObject({ code: 'aborted' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(at.requests).toHaveLength(0);
  });

  it("retryBackoff and fallback pass 'aborted' on", async () => {
    const { at, model } = await slow();
    const other = await server();
    other.setHandler(() => answer());
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const { error } = await run(model.stream(ask('story'), { signal: controller.signal }).pipe(retryBackoff(), fallback(modelOn(other, 'other', 'other-1'))));
    expect(error).toMatchObject({ code: 'aborted' });
    expect([at.requests.length, other.requests.length]).toEqual([1, 0]);
  });
});
