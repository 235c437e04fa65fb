import { createHash } from 'node:crypto';
import { TestScheduler } from 'rxjs/testing';
import { defer, delay, lastValueFrom, of, takeWhile, tap, toArray, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, ConfigurationError, memoryStore, openaiCompatible, parseRequest, type LlmEvent, type LlmRequestInput, type MemoryStore, type ModelInfo, type Store } from 'rxllm';
import { createEventStream } from 'rxllm/providers';
import { cache, cacheKey } from 'rxllm/operators';
import { openaiTextReply, startMockServer, type MockServer } from 'rxllm/testing';
import { canonicalJson, sha256HexJs } from '../../src/cache/key';
import { cacheNotice, modelInfo, parts, request, retryNotice } from '../helpers/events';
import { asyncStore } from '../helpers/stores';
import { pause, record, waitFor } from '../helpers/observe';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const key = `rxllm:cache:${cacheKey(request, modelInfo)}`;
const values = { ...parts, M: cacheNotice('miss', key), H: cacheNotice('hit', key), B: { type: 'finish', reason: 'budget' } } satisfies Record<string, LlmEvent>;
const { r, a, b, u, f } = parts;

/** Each subscription gets the next observable of the list. */
const attempts = (...list: Observable<LlmEvent>[]): Observable<LlmEvent> => {
  let n = 0;
  return defer(() => list[Math.min(n++, list.length - 1)]!);
};

/** A memory store that also counts its calls. */
const spied = (inner: MemoryStore = memoryStore()): Store & { calls: string[] } => {
  const calls: string[] = [];
  return {
    calls,
    get: (k) => (calls.push('get'), inner.get(k)),
    set: (k, v, o) => (calls.push('set'), inner.set(k, v, o)),
    delete: (k) => (calls.push('delete'), inner.delete(k)),
    increment: (k, by, o) => (calls.push('increment'), inner.increment(k, by, o)),
  };
};


/** Fills `store` with the answer a·b·u·f to `request` (a synchronous miss). */
const prefill = (store: Store): void => void of(r, a, b, u, f).pipe(cache(store)).subscribe();

describe('cache()', () => {
  describe('miss, hit, replay', () => {
    it('on a miss: request, a miss notice, the source’s events — and stores the answer', () => {
      const store = memoryStore();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-r---a-b-u-f|', parts);
        expectObservable(source.pipe(cache(store))).toBe('-(rM)a-b-u-f|', values);
        expectSubscriptions(source.subscriptions).toBe('^-----------!');
      });
      // Recorded as offsets from the request (frame 1): a at 5, b 7, u 9, f 11.
      expect(store.get(key)).toEqual({ v: 1, e: [a, b, u, f], t: [4, 2, 2, 2] });
    });

    it('on a hit: unsubscribes the source on its request (no I/O) and replays within the subscribe', () => {
      const store = memoryStore();
      prefill(store);
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-r-a-f|', parts);
        expectObservable(source.pipe(cache(store))).toBe('-(rHabuf|)', values);
        expectSubscriptions(source.subscriptions).toBe('^!');
      });
    });

    it('never starts a real source’s I/O on a hit', () => {
      const store = memoryStore();
      prefill(store);
      let started = 0;
      const source = createEventStream({ messages: [{ role: 'user', content: 'Hi' }] }, modelInfo, () => {
        started++;
      });
      const seen: LlmEvent[] = [];
      source.pipe(cache(store)).subscribe((event) => seen.push(event));
      expect(started).toBe(0);
      expect(seen).toEqual([r, values.H, a, b, u, f]);
    });

    it('works with a synchronous source: a miss, then a hit', () => {
      const store = memoryStore();
      scheduler().run(({ cold, expectObservable }) => {
        const source = cold('(rabuf|)', parts);
        const cached = source.pipe(cache(store));
        expectObservable(cached).toBe('(rMabuf|)', values);
        expectObservable(cached).toBe('(rHabuf|)', values);
      });
    });

    it("replay: 'timed' plays the recorded gaps on the scheduler", () => {
      const store = memoryStore();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold('-r 9ms a 19ms b 9ms f|', parts);
        const second = cold('-r-a-f|', parts);
        const cached = attempts(first, second).pipe(cache(store, { replay: 'timed' }));
        expectObservable(cached).toBe('-(rM) 6ms a 19ms b 9ms f|', values);
        // Subscribed at 50, the hit at 51: a 10 ms later, b 20 after that, f 10 after that.
        expectObservable(cached, '50ms ^').toBe('51ms (rH) 6ms a 19ms b 9ms (f|)', values);
        expectSubscriptions(second.subscriptions).toBe('50ms ^!');
      });
    });

    it('timed replay honours speed, and unsubscribing drops the pending events', () => {
      const store = memoryStore();
      scheduler().run(({ cold, expectObservable }) => {
        const first = cold('-r 9ms a 19ms b 9ms f|', parts);
        const cached = attempts(first, cold('-r|', parts)).pipe(cache(store, { replay: 'timed', speed: 2 }));
        expectObservable(cached).toBe('-(rM) 6ms a 19ms b 9ms f|', values);
        expectObservable(cached, '50ms ^').toBe('51ms (rH) - a 9ms b 4ms (f|)', values);
        expectObservable(cached, '50ms ^ 10ms !').toBe('51ms (rH) - a', values);
      });
    });

    it('instant replay stops at once when downstream leaves mid-replay', () => {
      const store = memoryStore();
      prefill(store);
      const emitted: LlmEvent[] = [];
      of(r).pipe(cache(store), tap((event) => emitted.push(event)), takeWhile((event) => event !== a, true)).subscribe();
      expect(emitted).toEqual([r, values.H, a]);
    });

    it('leaves out notices and a failed attempt before a reset', () => {
      const store = memoryStore();
      scheduler().run(({ cold, expectObservable }) => {
        const x = retryNotice(1, 5, 'unavailable', true);
        const source = cold('-r---a-x--b-u-f|', { ...parts, x });
        expectObservable(source.pipe(cache(store))).toBe('-(rM)a-x--b-u-f|', { ...values, x });
      });
      // Timed from the reset notice (frame 7): b at 10, u 12, f 14.
      expect(store.get(key)).toEqual({ v: 1, e: [b, u, f], t: [3, 2, 2] });
    });
  });

  describe('what is not stored', () => {
    it('an error: passes it through and stores nothing', () => {
      const store = memoryStore();
      const failure = new Error('boom');
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-r---a-#', parts, failure);
        expectObservable(source.pipe(cache(store))).toBe('-(rM)a-#', values, failure);
        expectSubscriptions(source.subscriptions).toBe('^------!');
      });
      expect(store.stats().entries).toBe(0);
    });

    it('a cancelled stream: upstream released in the same frame, nothing stored', () => {
      const store = memoryStore();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-r---a-b-u-f|', parts);
        expectObservable(source.pipe(cache(store)), '^------!').toBe('-(rM)a-', values);
        expectSubscriptions(source.subscriptions).toBe('^------!');
      });
      expect(store.stats().entries).toBe(0);
    });

    it("a stream cut with finish reason 'budget'", () => {
      const store = memoryStore();
      scheduler().run(({ cold, expectObservable }) => {
        expectObservable(cold('-r---a-B|', values).pipe(cache(store))).toBe('-(rM)a-B|', values);
      });
      expect(store.stats().entries).toBe(0);
    });

    it('a stream that completes without a finish', () => {
      const store = memoryStore();
      of(r, a, b).pipe(cache(store)).subscribe();
      expect(store.stats().entries).toBe(0);
    });

    it('state is per subscription: after a failed attempt the next one misses and stores', () => {
      const store = memoryStore();
      const failure = new Error('boom');
      scheduler().run(({ cold, expectObservable }) => {
        const cached = attempts(cold('-r---a-#', parts, failure), cold('-r---b-f|', parts)).pipe(cache(store));
        expectObservable(cached).toBe('-(rM)a-#', values, failure);
        expectObservable(cached, '20ms ^').toBe('21ms (rM)b-f|', values);
      });
      expect(store.get(key)).toMatchObject({ e: [b, f] });
    });

    it('a store whose get throws errors the stream after the request, releasing upstream', () => {
      const failure = new Error('store broken');
      const store: Store = { ...memoryStore(), get: () => { throw failure; } };
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-r-a-f|', parts);
        expectObservable(source.pipe(cache(store))).toBe('-(r#)', parts, failure);
        expectSubscriptions(source.subscriptions).toBe('^!');
      });
    });

    it('a store whose set throws or rejects does not fail the stream', async () => {
      for (const set of [() => { throw new Error('full'); }, () => Promise.reject(new Error('down'))]) {
        const store: Store = { ...memoryStore(), set };
        const events = await lastValueFrom(of(r, a, f).pipe(cache(store), toArray()));
        expect(events).toEqual([r, values.M, a, f]);
      }
    });
  });

  describe('bypass, when, scope, key', () => {
    it('bypass → the stream passes through untouched, no notice, no store call', () => {
      const store = spied();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-r-a-f|', parts);
        expectObservable(source.pipe(cache(store, { bypass: (req) => req.messages.length === 1 }))).toBe('-r-a-f|', parts);
        expectSubscriptions(source.subscriptions).toBe('^-----!');
      });
      expect(store.calls).toEqual([]);
    });

    it('when → caches only the requests it accepts', async () => {
      const store = spied();
      const cached = (input: LlmRequestInput): Observable<LlmEvent> =>
        of({ type: 'request', request: parseRequest(input), model: modelInfo } as LlmEvent, a, f).pipe(cache(store, { when: (req) => !req.temperature }));
      const types = async (input: LlmRequestInput): Promise<string[]> => (await lastValueFrom(cached(input).pipe(toArray()))).map((e) => e.type);
      expect(await types({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0.7 })).toEqual(['request', 'text', 'finish']);
      expect(store.calls).toEqual([]);
      expect(await types({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0 })).toEqual(['request', 'cache', 'text', 'finish']);
      expect(store.calls).toEqual(['get', 'set']);
    });

    it.each([
      ['key', { key: () => { throw new Error('key failed'); } }],
      ['when', { when: () => { throw new Error('key failed'); } }],
      ['bypass', { bypass: () => { throw new Error('key failed'); } }],
    ] as const)('a throwing %s function errors the stream after the request, releasing upstream', (_, config) => {
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-r-a-f|', parts);
        expectObservable(source.pipe(cache(memoryStore(), config))).toBe('-(r#)', parts, new Error('key failed'));
        expectSubscriptions(source.subscriptions).toBe('^!');
      });
    });

    it('a key function returning something other than a string errors; undefined skips the cache', () => {
      const bad = cache(memoryStore(), { key: () => 42 as unknown as string });
      const errors: unknown[] = [];
      of(r, a, f).pipe(bad).subscribe({ error: (e: unknown) => errors.push(e) });
      expect(errors[0]).toBeInstanceOf(TypeError);
      const events: LlmEvent[] = [];
      of(r, a, f).pipe(cache(memoryStore(), { key: () => undefined })).subscribe((e) => events.push(e));
      expect(events).toEqual([r, a, f]);
    });

    it('uses the key function’s string, behind the prefix', () => {
      const store = memoryStore();
      const events: LlmEvent[] = [];
      of(r, a, f).pipe(cache(store, { key: (req) => `by-length:${req.messages.length}`, prefix: 'app:' })).subscribe((e) => events.push(e));
      expect(events[1]).toEqual(cacheNotice('miss', 'app:by-length:1'));
      expect(store.get('app:by-length:1')).toMatchObject({ e: [a, f] });
    });

    it('scope: the scope metadata partitions entries; other metadata does not; a request without it skips the cache', async () => {
      const store = memoryStore();
      const run = async (metadata?: Record<string, string>): Promise<LlmEvent[]> => {
        const req = parseRequest({ messages: [{ role: 'user', content: 'Hi' }], ...(metadata ? { metadata } : {}) });
        return lastValueFrom(of({ type: 'request', request: req, model: modelInfo } as LlmEvent, a, f).pipe(cache(store, { scope: ['tenant', 'user'] }), toArray()));
      };
      const status = (events: LlmEvent[]): string => (events[1]?.type === 'cache' ? events[1].status : 'none');
      expect(status(await run({ tenant: 't1', user: 'ann' }))).toBe('miss');
      expect(status(await run({ tenant: 't1', user: 'ann', feature: 'chat' }))).toBe('hit');
      expect(status(await run({ tenant: 't1', user: 'bob' }))).toBe('miss');
      expect(status(await run({ tenant: 't2', user: 'ann' }))).toBe('miss');
      expect(status(await run({ tenant: 't1' }))).toBe('none');
      expect(status(await run())).toBe('none');
    });
  });

  describe('cacheKey()', () => {
    it('the pure-JS SHA-256 (browsers) matches Node’s, at every padding boundary and for any UTF-8', () => {
      for (let n = 0; n < 300; n++) {
        const text = 'aé😀\u0000"'.repeat(n).slice(0, n) + 'x'.repeat(n % 67);
        expect(sha256HexJs(text)).toBe(createHash('sha256').update(text).digest('hex'));
      }
      for (const text of ['', 'abc', '\ud800 lone surrogate', 'q'.repeat(100_000)]) {
        expect(sha256HexJs(text)).toBe(createHash('sha256').update(text).digest('hex'));
      }
    });

    it('canonicalJson sorts keys at every level and writes what JSON.stringify would', () => {
      const value = { b: [3, { y: 1, x: undefined, w: null }], a: 'é"\n', c: -0, d: Number.NaN, e: true };
      expect(canonicalJson(value)).toBe('{"a":"é\\"\\n","b":[3,{"w":null,"y":1}],"c":0,"d":null,"e":true}');
      expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
    });

    const model: ModelInfo = { provider: 'openai', id: 'gpt-4o-mini', name: 'openai:gpt-4o-mini', baseURL: 'https://api.openai.com/v1' };
    const keyOf = (input: LlmRequestInput, info: ModelInfo = model): string => cacheKey(parseRequest(input), info);
    const base: LlmRequestInput = {
      messages: [{ role: 'user', content: 'Hi' }],
      tools: [{ name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } }],
      providerOptions: { openai: { reasoning_effort: 'low', store: false } },
    };

    it('is a SHA-256 hex digest, the same for equal requests whatever their key order', () => {
      const reordered: LlmRequestInput = {
        providerOptions: { openai: { store: false, reasoning_effort: 'low' } },
        tools: [{ parameters: { required: ['q'], properties: { q: { type: 'string' } }, type: 'object' }, name: 'lookup' }],
        messages: [{ content: 'Hi', role: 'user' }],
      };
      expect(keyOf(base)).toMatch(/^[0-9a-f]{64}$/);
      expect(keyOf(reordered)).toBe(keyOf(base));
      expect(keyOf({ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] })).toBe(keyOf(base)); // normalized content
      // Parts and messages written in any key order; tool-call arguments given as objects in any order.
      expect(keyOf({ ...base, messages: [{ content: [{ text: 'Hi', type: 'text' }], role: 'user' }] })).toBe(keyOf(base));
      const withCall = (args: Record<string, unknown>): LlmRequestInput => ({
        ...base,
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', toolCalls: [{ id: 'c1', name: 'lookup', arguments: args }] },
          { role: 'tool', toolCallId: 'c1', content: 'ok' },
        ],
      });
      expect(keyOf(withCall({ q: 'x', n: { b: 1, a: 2 } }))).toBe(keyOf(withCall({ n: { a: 2, b: 1 }, q: 'x' })));
      expect(keyOf(withCall({ q: 'x' }))).not.toBe(keyOf(withCall({ q: 'y' })));
    });

    it('changes with anything that changes the answer', () => {
      const keys = [
        keyOf(base),
        keyOf({ ...base, messages: [{ role: 'user', content: 'Hi!' }] }),
        keyOf({ ...base, temperature: 0.5 }),
        keyOf({ ...base, maxOutputTokens: 10 }),
        keyOf({ ...base, toolChoice: 'required' }),
        keyOf({ ...base, responseFormat: { type: 'json' } }),
        keyOf({ ...base, providerOptions: { openai: { reasoning_effort: 'high', store: false } } }),
        keyOf(base, { ...model, id: 'gpt-4o' }),
        keyOf(base, { ...model, provider: 'azure' }),
        keyOf(base, { ...model, baseURL: 'https://api.groq.com/openai/v1' }),
      ];
      expect(new Set(keys).size).toBe(keys.length);
    });

    it('ignores metadata and the display name; never sees API keys or headers', () => {
      expect(keyOf({ ...base, metadata: { user: 'ann', trace: 'x' } })).toBe(keyOf(base));
      expect(keyOf(base, { ...model, name: 'my-gpt' })).toBe(keyOf(base));
      const one = openaiCompatible({ model: 'm', baseURL: 'http://127.0.0.1:9/v1', apiKey: 'sk-one-aaaaaaaa', headers: { 'x-team': 'a' } });
      const two = openaiCompatible({ model: 'm', baseURL: 'http://127.0.0.1:9/v1', apiKey: 'sk-two-bbbbbbbb', headers: { 'x-team': 'b' } });
      expect(keyOf(base, one.info)).toBe(keyOf(base, two.info));
    });
  });

  describe('single flight', () => {
    it('a concurrent identical miss joins the call in flight: its own source never starts', () => {
      const store = memoryStore();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-r 9ms a 9ms b 9ms f|', parts);
        const cached = source.pipe(cache(store));
        expectObservable(cached).toBe('-(rM) 6ms a 9ms b 9ms f|', values);
        // Joins at 15: its request, the miss notice, `a` recorded so far; then b and f live.
        expectObservable(cached, '14ms ^').toBe('15ms (rMa)-b 9ms f|', values);
        expectSubscriptions(source.subscriptions).toBe(['^ 31ms !', '14ms ^!']);
      });
      expect(store.get(key)).toMatchObject({ e: [a, b, f] });
    });

    it('the shared call goes on when its first subscriber leaves, and stops when the last one does', () => {
      const store = memoryStore();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-r 9ms a 9ms b 9ms f|', parts);
        const cached = source.pipe(cache(store));
        expectObservable(cached, '^ 15ms !').toBe('-(rM) 6ms a', values);
        expectObservable(cached, '14ms ^ 10ms !').toBe('15ms (rMa)-b', values);
        // The leader left at 16; upstream stays until the follower leaves at 25.
        expectSubscriptions(source.subscriptions).toBe(['^ 24ms !', '14ms ^!']);
      });
      expect(store.stats().entries).toBe(0);
    });

    it('the shared call completes for the followers after the leader left, and is stored', () => {
      const store = memoryStore();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-r 9ms a 9ms b 9ms f|', parts);
        const cached = source.pipe(cache(store));
        expectObservable(cached, '^ 15ms !').toBe('-(rM) 6ms a', values);
        expectObservable(cached, '14ms ^').toBe('15ms (rMa)-b 9ms f|', values);
        expectSubscriptions(source.subscriptions).toBe(['^ 31ms !', '14ms ^!']);
      });
      expect(store.get(key)).toMatchObject({ e: [a, b, f] });
    });

    it('an error reaches every subscriber of the shared call', () => {
      const failure = new Error('boom');
      scheduler().run(({ cold, expectObservable }) => {
        const cached = cold('-r 9ms a 9ms #', parts, failure).pipe(cache(memoryStore()));
        expectObservable(cached).toBe('-(rM) 6ms a 9ms #', values, failure);
        expectObservable(cached, '5ms ^').toBe('6ms (rM) 1ms a 9ms #', values, failure);
      });
    });

    it('is shared across operators created apart on the same store', () => {
      const store = memoryStore();
      scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-r 9ms a 9ms f|', parts);
        expectObservable(source.pipe(cache(store))).toBe('-(rM) 6ms a 9ms f|', values);
        expectObservable(source.pipe(cache(store)), '5ms ^').toBe('6ms (rM) 1ms a 9ms f|', values);
        expectSubscriptions(source.subscriptions).toBe(['^ 21ms !', '5ms ^!']);
      });
    });
  });

  describe('async store', () => {
    /** A real source that counts how often its I/O starts. */
    const counted = (events: readonly LlmEvent[], after?: number): { source: Observable<LlmEvent>; starts: () => number } => {
      let starts = 0;
      const source = createEventStream({ messages: [{ role: 'user', content: 'Hi' }] }, modelInfo, (subscriber) => {
        starts++;
        const answer = of(...events);
        return (after === undefined ? answer : answer.pipe(delay(after))).subscribe(subscriber);
      });
      return { source, starts: () => starts };
    };

    it('waits with upstream unsubscribed; on a miss resubscribes once, swallowing the repeated request', async () => {
      const store = asyncStore();
      const { source, starts } = counted([a, b, f]);
      const pending = lastValueFrom(source.pipe(cache(store), toArray()));
      expect(starts()).toBe(0); // the lookup is pending: nothing was sent
      expect(await pending).toEqual([r, values.M, a, b, f]);
      expect(starts()).toBe(1);
      await pause(0);
      expect(await lastValueFrom(source.pipe(cache(store), toArray()))).toEqual([r, values.H, a, b, f]);
      expect(starts()).toBe(1);
    });

    it('a failing lookup errors the stream without starting the source', async () => {
      const store: Store = { ...asyncStore(), get: () => Promise.reject(new Error('redis down')) };
      const { source, starts } = counted([a, f]);
      await expect(lastValueFrom(source.pipe(cache(store)))).rejects.toThrow('redis down');
      expect(starts()).toBe(0);
    });

    it('unsubscribing while the lookup is pending sends nothing, ever', async () => {
      const { source, starts } = counted([a, f]);
      const seen: LlmEvent[] = [];
      source.pipe(cache(asyncStore())).subscribe((e) => seen.push(e)).unsubscribe();
      await pause(5);
      expect(seen).toEqual([r]);
      expect(starts()).toBe(0);
    });

    it('concurrent misses on an async store share one call', async () => {
      const store = asyncStore();
      const { source, starts } = counted([a, b, f], 20);
      const results = await Promise.all(Array.from({ length: 5 }, () => lastValueFrom(source.pipe(cache(store), toArray()))));
      expect(starts()).toBe(1);
      for (const events of results) expect(events).toEqual([r, values.M, a, b, f]);
    });
  });

  describe('options', () => {
    it.each([
      [{ replay: 'slow' }, /cache\(\): replay: /],
      [{ replay: 'timed', speed: 0 }, /cache\(\): speed: /],
      [{ speed: 2 }, /cache\(\): speed: expected replay: 'timed' with speed/],
      [{ ttl: '0ms' }, /cache\(\): ttl: expected a duration > 0/],
      [{ ttl: 'soon' }, /cache\(\): ttl: expected a duration/],
      [{ scope: 'user', key: () => 'k' }, /cache\(\): key: expected scope or key, not both/],
      [{ scope: [] }, /cache\(\): scope: /],
      [{ key: 'k' }, /cache\(\): key: expected a function/],
      [{ when: true }, /cache\(\): when: expected a function/],
      [{ scheduler: {} }, /cache\(\): scheduler: /],
      [{ tll: 5 }, /cache\(\): tll: /],
    ])('rejects %j at construction', (config, message) => {
      expect(() => cache(memoryStore(), config as never)).toThrow(ConfigurationError);
      expect(() => cache(memoryStore(), config as never)).toThrow(message);
    });

    it('rejects something that is not a Store', () => {
      expect(() => cache({ get: () => undefined } as never)).toThrow(/cache\(\): store: expected a Store/);
      expect(() => cache(undefined as never)).toThrow(ConfigurationError);
    });

    it('passes ttl to the store', () => {
      const sets: unknown[] = [];
      const store: Store = { ...memoryStore(), set: (_k, _v, options) => void sets.push(options) };
      of(r, a, f).pipe(cache(store, { ttl: '2m' })).subscribe();
      of(r, a, f).pipe(cache(store)).subscribe();
      expect(sets).toEqual([{ ttlMs: 120_000 }, undefined]);
    });

    it('takes a ttl longer than a timer can wait: nothing waits for it, it is only compared with the clock', () => {
      const sets: unknown[] = [];
      const store: Store = { ...memoryStore(), set: (_k, _v, options) => void sets.push(options) };
      of(r, a, f).pipe(cache(store, { ttl: '2000h' })).subscribe();
      expect(sets).toEqual([{ ttlMs: 2000 * 3_600_000 }]);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Against the real mock server: what the server saw.

describe('cache() against the mock server', () => {
  let server: MockServer;
  beforeAll(async () => {
    server = await startMockServer();
  });
  afterAll(() => server.close());

  const prompt = (content: string): LlmRequestInput => ({ messages: [{ role: 'user', content }] });
  const model = (): ReturnType<typeof openaiCompatible> => openaiCompatible({ model: 'test', baseURL: server.url, apiKey: 'test-key' });
  const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');

  it('a hit sends zero requests and replays the same answer', async () => {
    server.clearRecords();
    const store = memoryStore();
    const llm = model();
    server.enqueue(openaiTextReply('Hello from the cache'));
    const first = await lastValueFrom(llm.stream(prompt('hit test')).pipe(cache(store), toArray()));
    expect(server.requests).toHaveLength(1);
    const second = await lastValueFrom(llm.stream(prompt('hit test')).pipe(cache(store), toArray()));
    expect(server.requests).toHaveLength(1);
    expect(second[1]).toMatchObject({ type: 'cache', status: 'hit' });
    expect(second.slice(2)).toEqual(first.slice(2));
    expect((await lastValueFrom(llm.stream(prompt('hit test')).pipe(cache(store), collect()))).text).toBe('Hello from the cache');
  });

  it('10 concurrent identical misses send one request, and all 10 get the whole stream', async () => {
    server.clearRecords();
    const store = memoryStore();
    const llm = model();
    server.enqueue(openaiTextReply(words, { chunkDelayMs: 5 }));
    const recordings = Array.from({ length: 10 }, () => record(llm.stream(prompt('flight test')).pipe(cache(store))));
    await Promise.all(recordings.map((rec) => rec.terminal));
    expect(server.requests).toHaveLength(1);
    const answer = recordings[0]!.values.slice(2);
    expect(answer.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text).join('')).toBe(words);
    for (const rec of recordings) {
      expect(rec.errors).toEqual([]);
      expect(rec.completes).toBe(1);
      expect(rec.values[1]).toMatchObject({ type: 'cache', status: 'miss' });
      expect(rec.values.slice(2)).toEqual(answer);
    }
    expect(store.stats().entries).toBe(1);
  });

  it('when all 10 leave mid-stream the server sees the connection close; nothing is stored', async () => {
    server.clearRecords();
    const store = memoryStore();
    const llm = model();
    server.enqueue(openaiTextReply(words, { chunkDelayMs: 40 }));
    const recordings = Array.from({ length: 10 }, () => record(llm.stream(prompt('abort all')).pipe(cache(store))));
    await waitFor(() => recordings.every((rec) => rec.values.filter((e) => e.type === 'text').length >= 2), 'two tokens each');
    for (const rec of recordings) rec.subscription.unsubscribe();
    const closed = await server.waitForClose(server.requests[0]!.connectionId, 10_000);
    expect(closed.closedMidResponse).toBe(true);
    expect(server.requests).toHaveLength(1);
    expect(store.stats().entries).toBe(0);
  });

  it('when 9 of 10 leave, the call goes on for the last one and is stored', async () => {
    server.clearRecords();
    const store = memoryStore();
    const llm = model();
    server.enqueue(openaiTextReply(words, { chunkDelayMs: 15 }));
    const recordings = Array.from({ length: 10 }, () => record(llm.stream(prompt('abort nine')).pipe(cache(store))));
    await waitFor(() => recordings.every((rec) => rec.values.filter((e) => e.type === 'text').length >= 2), 'two tokens each');
    for (const rec of recordings.slice(0, 9)) rec.subscription.unsubscribe(); // the leader among them
    const connection = server.connections.find((c) => c.id === server.requests[0]!.connectionId)!;
    await pause(100);
    expect(connection.closedAt).toBeUndefined();
    const last = recordings[9]!;
    await last.terminal;
    expect(last.completes).toBe(1);
    expect(last.values.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text).join('')).toBe(words);
    expect(connection.closedMidResponse).toBe(false);
    expect(server.requests).toHaveLength(1);
    expect(store.stats().entries).toBe(1);
  });
});
