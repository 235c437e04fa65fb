import { TestScheduler } from 'rxjs/testing';
import { concat, defer, identity, lastValueFrom, of, takeWhile, throwError, toArray, type MonoTypeOperatorFunction } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { collect, ConfigurationError, LlmError, type LlmEvent, type Model } from 'rxllm';
import { fallback, retryBackoff, type FallbackContext } from 'rxllm/operators';
import { fakeModel, fallbackNotice, parts, request, retryNotice, type FakeModel } from '../helpers/events';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const unavailable = new LlmError({ code: 'unavailable', message: 'openai 503: overloaded', retryable: true, status: 503 });
const badRequest = new LlmError({ code: 'bad_request', message: 'openai 400: no', retryable: false, status: 400 });


/** `r` is the primary's request event (model test:test-model); `s` and `q` are the backups' own. */
const s = { type: 'request', request, model: { provider: 'test', id: 'b', name: 'test:b' } } satisfies LlmEvent;
const q = { type: 'request', request, model: { provider: 'test', id: 'c', name: 'test:c' } } satisfies LlmEvent;
const values = { ...parts, s, q, n: fallbackNotice('test:test-model', 'test:b'), m: fallbackNotice('test:b', 'test:c') };

describe('fallback()', () => {
  it('passes a successful stream through and never calls the next model', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-h-a-b-f|', values);
      const b = fakeModel('b', cold('-s-c-f|', values));
      expectObservable(source.pipe(fallback(b))).toBe('-r-h-a-b-f|', values);
      expectSubscriptions(source.subscriptions).toBe('^---------!');
    });
  });

  it("runs the request event's request on the next model, swallowing that model's request event", () => {
    let backup: FakeModel | undefined;
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-#      ', values, unavailable);
      const next = cold('     -s-a-f|', values);
      backup = fakeModel('b', next);
      expectObservable(source.pipe(fallback(backup))).toBe('-r-n--a-f|', values);
      expectSubscriptions(source.subscriptions).toBe('     ^--!      ');
      expectSubscriptions(next.subscriptions).toBe('       ---^-----!');
    });
    expect(backup!.requests).toHaveLength(1);
    expect(backup!.requests[0]).toBe(parts.r.request);
  });

  it('goes down the list, one notice per switch', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const b = fakeModel('b', cold('-s-#', values, unavailable));
      const c = fakeModel('c', cold('-q-a-f|', values));
      expectObservable(cold('-r-#', values, unavailable).pipe(fallback(b, c))).toBe('-r-n--m--a-f|', values);
    });
  });

  it('emits the last error when every model fails', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const last = new LlmError({ code: 'server_error', message: 'c 500', retryable: true, status: 500 });
      const b = fakeModel('b', cold('-s-#', values, unavailable));
      const c = fakeModel('c', cold('-q-#', values, last));
      const m = fallbackNotice('test:b', 'test:c');
      expectObservable(cold('-r-#', values, unavailable).pipe(fallback(b, c))).toBe('-r-n--m--#', { ...values, m }, last);
    });
  });

  it('passes a non-retryable error on at once', () => {
    const b = fakeModel('b', of(s, parts.f));
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-r-#', values, badRequest).pipe(fallback(b))).toBe('-r-#', values, badRequest);
    });
    expect(b.requests).toHaveLength(0);
  });

  it('passes on an error that came before any request event: there is nothing to resend', () => {
    const b = fakeModel('b', of(s, parts.f));
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('#', values, unavailable).pipe(fallback(b))).toBe('#', values, unavailable);
    });
    expect(b.requests).toHaveLength(0);
  });

  it('falls back on what shouldFallback chooses, telling it from, to and outputStarted', () => {
    const asked: unknown[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const shouldFallback = (error: unknown, context: FallbackContext): boolean => {
        asked.push([error, context]);
        return error === badRequest;
      };
      const b = fakeModel('b', cold('-s-f|', values));
      const n = fallbackNotice('test:test-model', 'test:b', 'bad_request');
      expectObservable(cold('-r-#', values, badRequest).pipe(fallback({ models: [b], shouldFallback }))).toBe('-r-n--f|', { ...values, n });
      expectObservable(cold('-r-#', values, unavailable).pipe(fallback({ models: [b], shouldFallback: () => false }))).toBe('-r-#', values, unavailable);
    });
    expect(asked).toEqual([[badRequest, { from: 'test:test-model', to: 'test:b', outputStarted: false }]]);
  });

  it("passes an error after output on with afterOutput 'before-output' (the default)", () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const next = cold('-s-b-f|', values);
      expectObservable(cold('-r-a-#', values, unavailable).pipe(fallback(fakeModel('b', next)))).toBe('-r-a-#', values, unavailable);
      expectSubscriptions(next.subscriptions).toBe([]);
    });
  });

  it("falls back after output with afterOutput 'restart', marking the notice reset", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const b = fakeModel('b', cold('-s-b-f|', values));
      const n = fallbackNotice('test:test-model', 'test:b', 'unavailable', true);
      const piped = cold('-r-a-#', values, unavailable).pipe(fallback({ models: [b], afterOutput: 'restart' }));
      expectObservable(piped).toBe('-r-a-n--b-f|', { ...values, n });
    });
  });

  it("lets collect() keep only the next model's text after a restart", async () => {
    const b = fakeModel('b', of(s, parts.b, parts.f));
    const primary = concat(of(parts.r, parts.a), throwError(() => unavailable));
    const completion = await lastValueFrom(primary.pipe(fallback({ models: [b], afterOutput: 'restart' }), collect()));
    expect(completion.text).toBe('lo');
    expect(completion.model).toEqual(parts.r.model);
  });

  it('releases the primary in the same frame when the consumer unsubscribes', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-a-b-f|', values);
      expectObservable(source.pipe(fallback(fakeModel('b', cold('-s-f|', values)))), '^---!').toBe('-r-a-', values);
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('releases the next model in the same frame when the consumer unsubscribes', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-#        ', values, unavailable);
      const next = cold('     -s-a-b-c-f|', values);
      expectObservable(source.pipe(fallback(fakeModel('b', next))), '^-------!').toBe('-r-n--a--', values);
      expectSubscriptions(source.subscriptions).toBe('^--!     ');
      expectSubscriptions(next.subscriptions).toBe('  ---^----!');
    });
  });

  it('starts no call when the consumer leaves on the fallback notice', () => {
    const b = fakeModel('b', of(s, parts.f));
    scheduler().run(({ cold, expectObservable }) => {
      const piped = cold('-r-#', values, unavailable).pipe(fallback(b), takeWhile((e) => e.type !== 'fallback'));
      expectObservable(piped).toBe('-r-|', values);
    });
    expect(b.requests).toHaveLength(0);
  });

  it('starts from the first model again for each subscription', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const piped = cold('-r-#', values, unavailable).pipe(fallback(fakeModel('b', cold('-s-f|', values))));
      expectObservable(piped).toBe('         -r-n--f|', values);
      expectObservable(piped, '20ms ^').toBe('20ms -r-n--f|', values);
    });
  });

  it('errors with what a user callback or a model throws', () => {
    const thrown = new Error('callback failed');
    const fail = (): never => {
      throw thrown;
    };
    scheduler().run(({ cold, expectObservable }) => {
      const b = fakeModel('b', cold('-s-f|', values));
      expectObservable(cold('-r-#', values, unavailable).pipe(fallback({ models: [b], shouldFallback: fail }))).toBe('-r-#', values, thrown);
      const broken: Model = { info: b.info, stream: fail };
      expectObservable(cold('-r-#', values, unavailable).pipe(fallback(broken))).toBe('-r-(n#)', values, thrown);
    });
  });

  it('works with synchronous sources', async () => {
    const c = fakeModel('c', of(q, parts.a, parts.f));
    const b = fakeModel('b', concat(of(s), throwError(() => unavailable)));
    const events = await lastValueFrom(concat(of(parts.r), throwError(() => unavailable)).pipe(fallback(b, c), toArray()));
    expect(events).toEqual([parts.r, values.n, values.m, parts.a, parts.f]);
  });

  it('with retryBackoff inside: retries the primary, then falls back once without retries', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold('-r-#', values, unavailable);
      const next = cold('-s-#', values, unavailable);
      const piped = primary.pipe(retryBackoff({ maxRetries: 2, initialDelay: 2, random: () => 1 }), fallback(fakeModel('b', next)));
      const v = { ...values, x: retryNotice(1, 2), y: retryNotice(2, 4) };
      expectObservable(piped).toBe('-r-x----y------n--#', v, unavailable);
      expectSubscriptions(primary.subscriptions).toBe(['^--!', '-----^--!', '------------^--!']);
      expectSubscriptions(next.subscriptions).toBe('---------------^--!');
    });
  });

  it('with retryBackoff outside: retries the whole chain primary → next', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold('-r-#', values, unavailable);
      const next = cold('-s-#', values, unavailable);
      const piped = primary.pipe(fallback(fakeModel('b', next)), retryBackoff({ maxRetries: 1, initialDelay: 2, random: () => 1 }));
      const v = { ...values, x: retryNotice(1, 2) };
      expectObservable(piped).toBe('-r-n--x----n--#', v, unavailable);
      expectSubscriptions(primary.subscriptions).toBe(['^--!', '--------^--!']);
      expectSubscriptions(next.subscriptions).toBe(['---^--!', '-----------^--!']);
    });
  });

  it('takes models as arguments or as { models }, and is the identity without any', () => {
    const b = fakeModel('b', defer(() => of(s, parts.f)));
    expect(fallback()).toBe(identity);
    expect(fallback({ models: [] })).toBe(identity);
    expect(fallback(b)).not.toBe(identity);
    expect(fallback({ models: [b] })).not.toBe(identity);
  });

  it('throws ConfigurationError at construction for a bad option', () => {
    expect(() => fallback({} as never)).toThrow(ConfigurationError);
    expect(() => fallback({ models: [{}] } as never)).toThrow(/fallback\(\): models\.0: expected a Model \(info and stream\(\)\)/);
    expect(() => fallback(undefined as never)).toThrow(/fallback\(\): models\.0: expected a Model/);
    expect(() => fallback({ models: [], afterOutput: 'never' } as never)).toThrow(/afterOutput: expected "before-output" or "restart"/);
    expect(() => fallback({ models: [], shouldFallback: true } as never)).toThrow(/shouldFallback: expected a function/);
    expect(() => fallback({ models: [], retries: 1 } as never)).toThrow(/fallback\(\): retries: /);
  });

  it('is a MonoTypeOperatorFunction<LlmEvent> in both call forms', () => {
    const b = fakeModel('b', of(s));
    expectTypeOf(fallback(b, b)).toEqualTypeOf<MonoTypeOperatorFunction<LlmEvent>>();
    expectTypeOf(fallback({ models: [b], afterOutput: 'restart' })).toEqualTypeOf<MonoTypeOperatorFunction<LlmEvent>>();
    // @ts-expect-error: a model id is not a model
    expect(() => fallback('gpt-4o')).toThrow(ConfigurationError);
  });
});
