import { TestScheduler } from 'rxjs/testing';
import {
  asyncScheduler, concat, defer, firstValueFrom, identity, lastValueFrom, map, of, queueScheduler, takeWhile, throwError, toArray,
  type MonoTypeOperatorFunction, type Observable, type SchedulerAction, type SchedulerLike, type Subscription,
} from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { collect, ConfigurationError, LlmError, type LlmEvent } from 'rxllm';
import { retryBackoff, type RetryContext, type ShouldRetryContext } from 'rxllm/operators';
import { parts, retryNotice } from '../helpers/events';
import { MAX_DELAY_MS } from '../../src/core/time';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const unavailable = new LlmError({ code: 'unavailable', message: 'openai 503: overloaded', retryable: true, status: 503 });
const badRequest = new LlmError({ code: 'bad_request', message: 'openai 400: no', retryable: false, status: 400 });
const rateLimited = (retryAfterMs: number): LlmError =>
  new LlmError({ code: 'rate_limited', message: 'openai 429: slow down', retryable: true, status: 429, retryAfterMs });

/** Each subscription gets the next observable of the list: attempt 1, attempt 2, … */
const attempts = (...list: Observable<LlmEvent>[]): Observable<LlmEvent> => {
  let n = 0;
  return defer(() => list[Math.min(n++, list.length - 1)]!);
};

/** random() = 0.5 makes every delay half of its ceiling: 5, 10, 20 ms for initialDelay 10. */
const half = (): number => 0.5;

describe('retryBackoff()', () => {
  it('passes a successful stream through unchanged', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-h-a-b-u-f|', parts);
      expectObservable(source.pipe(retryBackoff())).toBe('-r-h-a-b-u-f|', parts);
      expectSubscriptions(source.subscriptions).toBe('^-----------!');
    });
  });

  it('waits random() × min(maxDelay, initialDelay × 2^(attempt − 1)) before each retry', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('   -r-#                        ', parts, unavailable);
      const second = cold('          -r-#              ', parts, unavailable);
      const third = cold('                        -r-a-f|', parts);
      const values = { ...parts, x: retryNotice(1, 5), y: retryNotice(2, 10) };
      expectObservable(attempts(first, second, third).pipe(retryBackoff({ initialDelay: 10, random: half }))).toBe(
        '                   -r-x-------y------------a-f|',
        values,
      );
      expectSubscriptions(first.subscriptions).toBe('^--!                        ');
      expectSubscriptions(second.subscriptions).toBe('--------^--!              ');
      expectSubscriptions(third.subscriptions).toBe('---------------------^-----!');
    });
  });

  it('caps the delay ceiling at maxDelay', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const failing = cold('-r-#', parts, unavailable);
      const values = { ...parts, x: retryNotice(1, 10), y: retryNotice(2, 15), z: retryNotice(3, 15) };
      const retried = failing.pipe(retryBackoff({ maxRetries: 3, initialDelay: '10ms', maxDelay: '15ms', random: () => 1 }));
      // Ceilings 10, 20 → 15, 40 → 15: waits of 10, 15 and 15 frames after each failure at 3 frames.
      expectObservable(retried).toBe('-r-x 12ms y 17ms z 17ms #', values, unavailable);
    });
  });

  it('emits the last error when the retries run out', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const lastError = new LlmError({ code: 'unavailable', message: 'openai 503: still overloaded', retryable: true, status: 503 });
      const first = cold('   -r-#            ', parts, unavailable);
      const second = cold('          -r-#     ', parts, rateLimited(0));
      const third = cold('              -r-# ', parts, lastError);
      const values = { ...parts, x: retryNotice(1, 5), y: retryNotice(2, 0, 'rate_limited') };
      const retried = attempts(first, second, third).pipe(retryBackoff({ initialDelay: 10, random: half }));
      expectObservable(retried).toBe('-r-x-------y--#', values, lastError);
      expectSubscriptions(third.subscriptions).toBe('  -----------^--!');
    });
  });

  it('passes a non-retryable error on at once', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-#', parts, badRequest);
      expectObservable(source.pipe(retryBackoff())).toBe('-r-#', parts, badRequest);
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('waits what Retry-After asks instead of the backoff', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('   -r-#                           ', parts, rateLimited(40));
      const second = cold('                                           -r-a-f|', parts);
      const values = { ...parts, x: retryNotice(1, 40, 'rate_limited') };
      expectObservable(attempts(first, second).pipe(retryBackoff({ initialDelay: 10, random: half }))).toBe(
        '                   -r-x 39ms ---a-f|',
        values,
      );
      expectSubscriptions(second.subscriptions).toBe('43ms ^-----!');
    });
  });

  it('passes the error on at once when Retry-After exceeds maxRetryAfter', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const tooLong = rateLimited(120_000);
      const source = cold('-r-#', parts, tooLong);
      expectObservable(source.pipe(retryBackoff())).toBe('-r-#', parts, tooLong);
      expectObservable(cold('-r-#', parts, rateLimited(2000)).pipe(retryBackoff({ maxRetryAfter: '1s' }))).toBe('-r-#', parts, rateLimited(2000));
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('never retries a Retry-After longer than a timer can wait: maxRetryAfter stops at 2^31 − 1 ms', () => {
    expect(() => retryBackoff({ maxRetryAfter: '1000h' })).toThrow(ConfigurationError);
    expect(() => retryBackoff({ maxRetryAfter: Infinity })).toThrow(/retryBackoff\(\): maxRetryAfter: /);
    expect(() => retryBackoff({ maxDelay: 2 ** 31 })).toThrow(/maxDelay: expected a duration of at most 2147483647 ms/);
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // 30 days: over the largest maxRetryAfter there is, so it is passed on — not retried after 1 ms.
      const month = rateLimited(30 * 24 * 3_600_000);
      const source = cold('-r-#', parts, month);
      expectObservable(source.pipe(retryBackoff({ maxRetryAfter: MAX_DELAY_MS }))).toBe('-r-#', parts, month);
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('with asyncScheduler, a Retry-After of 30 days is passed on at once, the source called once', async () => {
    let calls = 0;
    const month = rateLimited(30 * 24 * 3_600_000);
    const source = defer(() => {
      calls++;
      return concat(of(parts.r), throwError(() => month));
    });
    await expect(lastValueFrom(source.pipe(retryBackoff({ maxRetryAfter: MAX_DELAY_MS, scheduler: asyncScheduler })))).rejects.toBe(month);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(1);
  });

  it("passes an error after output on with afterOutput 'before-output' (the default)", () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-a-#', parts, unavailable);
      expectObservable(source.pipe(retryBackoff({ random: half }))).toBe('-r-a-#', parts, unavailable);
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it("retries an error after output with afterOutput 'restart', marking the notice reset", () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('   -r-a-#                ', parts, unavailable);
      const second = cold('            -r-b-f|    ', parts);
      const values = { ...parts, x: retryNotice(1, 5, 'unavailable', true) };
      const retried = attempts(first, second).pipe(retryBackoff({ initialDelay: 10, random: half, afterOutput: 'restart' }));
      expectObservable(retried).toBe('   -r-a-x-------b-f|', values);
      expectSubscriptions(second.subscriptions).toBe('----------^-----!');
    });
  });

  it("marks reset only for an attempt that emitted output, so collect() keeps the last attempt's text", async () => {
    const source = attempts(
      concat(of(parts.r, parts.a), throwError(() => unavailable)), // output, then failure: reset
      concat(of(parts.r), throwError(() => unavailable)), // no output: no reset
      of(parts.r, parts.b, parts.f),
    );
    const events = await lastValueFrom(source.pipe(retryBackoff({ afterOutput: 'restart', random: () => 0 }), toArray()));
    expect(events.filter((e) => e.type === 'retry')).toEqual([retryNotice(1, 0, 'unavailable', true), retryNotice(2, 0, 'unavailable', false)]);
    const completion = await lastValueFrom(source.pipe(retryBackoff({ afterOutput: 'restart', random: () => 0 }), collect()));
    expect(completion.text).toBe('lo');
  });

  it('emits the retry notice before the wait and calls onRetry with attempt, delayMs, error and reset', () => {
    const seen: RetryContext[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const source = attempts(cold('-r-#', parts, unavailable), cold('-r-f|', parts));
      const values = { ...parts, x: retryNotice(1, 5) };
      expectObservable(source.pipe(retryBackoff({ initialDelay: 10, random: half, onRetry: (c) => seen.push(c) }))).toBe('-r-x-------f|', values);
    });
    expect(seen).toEqual([{ attempt: 1, delayMs: 5, error: unavailable, reset: false }]);
    expect(seen[0]!.error).toBe(unavailable);
  });

  it('retries what shouldRetry chooses, telling it the attempt number', () => {
    const asked: unknown[] = [];
    const plain = new Error('socket hang up');
    scheduler().run(({ cold, expectObservable }) => {
      const source = attempts(cold('-r-#', parts, plain), cold('-r-f|', parts));
      const shouldRetry = (error: unknown, context: ShouldRetryContext): boolean => {
        asked.push([error, context]);
        return error === plain;
      };
      const values = { ...parts, x: retryNotice(1, 5, 'Error') };
      expectObservable(source.pipe(retryBackoff({ initialDelay: 10, random: half, shouldRetry }))).toBe('-r-x-------f|', values);
      expectObservable(cold('-r-#', parts, unavailable).pipe(retryBackoff({ shouldRetry: () => false }))).toBe('-r-#', parts, unavailable);
    });
    expect(asked).toEqual([[plain, { attempt: 1, outputStarted: false }]]);
  });

  it('forwards only the first request event of all attempts', async () => {
    const source = attempts(concat(of(parts.r), throwError(() => unavailable)), concat(of(parts.r), throwError(() => unavailable)), of(parts.r, parts.a, parts.f));
    const events = await lastValueFrom(source.pipe(retryBackoff({ random: () => 0 }), toArray()));
    expect(events.map((e) => e.type)).toEqual(['request', 'retry', 'retry', 'text', 'finish']);
  });

  it('clears the timer and resubscribes nothing when unsubscribed during the wait', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const timers: Subscription[] = [];
      const spy: SchedulerLike = {
        now: () => asyncScheduler.now(),
        schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
          const timer = asyncScheduler.schedule(work, delay, state);
          timers.push(timer);
          return timer;
        },
      };
      const source = cold('-r-#', parts, unavailable);
      const values = { ...parts, x: retryNotice(1, 10) };
      // The retry is due at frame 13; the consumer leaves at frame 6.
      expectObservable(source.pipe(retryBackoff({ initialDelay: 10, random: () => 1, scheduler: spy })), '^-----!').toBe('-r-x--', values);
      expectSubscriptions(source.subscriptions).toBe('^--!');
      let clearedAtUnsubscribe: boolean | undefined;
      testScheduler.schedule(() => (clearedAtUnsubscribe = timers[0]?.closed), 7);
      testScheduler.flush();
      expect(timers).toHaveLength(1);
      expect(clearedAtUnsubscribe).toBe(true);
    });
  });

  it('releases the running attempt in the same frame when the consumer unsubscribes', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('   -r-#         ', parts, unavailable);
      const second = cold('        -r-a-b-f|', parts);
      const values = { ...parts, x: retryNotice(1, 5) };
      expectObservable(attempts(first, second).pipe(retryBackoff({ initialDelay: 10, random: half })), '^-----------!').toBe('-r-x-------a-', values);
      expectSubscriptions(second.subscriptions).toBe('--------^---!');
    });
  });

  it('stops when the consumer leaves on the retry notice', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-#', parts, unavailable);
      const retried = source.pipe(retryBackoff({ random: half }), takeWhile((e) => e.type !== 'retry'));
      expectObservable(retried).toBe('-r-|', parts);
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('starts with fresh retries for each subscription', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const retried = cold('-r-#', parts, unavailable).pipe(retryBackoff({ maxRetries: 1, initialDelay: 10, random: half }));
      const values = { ...parts, x: retryNotice(1, 5) };
      expectObservable(retried).toBe('            -r-x-------#', values, unavailable);
      expectObservable(retried, '20ms ^').toBe('20ms -r-x-------#', values, unavailable);
    });
  });

  it('errors with what a user callback throws, and releases upstream', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const thrown = new Error('hook failed');
      const fail = (): never => {
        throw thrown;
      };
      const first = cold('-r-#', parts, unavailable);
      expectObservable(first.pipe(retryBackoff({ onRetry: fail }))).toBe('-r-#', parts, thrown);
      expectObservable(cold('-r-#', parts, unavailable).pipe(retryBackoff({ shouldRetry: fail }))).toBe('-r-#', parts, thrown);
      expectObservable(cold('-r-#', parts, unavailable).pipe(retryBackoff({ random: fail }))).toBe('-r-#', parts, thrown);
      expectSubscriptions(first.subscriptions).toBe('^--!');
    });
  });

  it('works with a synchronous source', () => {
    scheduler().run(({ expectObservable }) => {
      const source = attempts(concat(of(parts.r, parts.a), throwError(() => unavailable)), of(parts.r, parts.b, parts.f));
      const values = { ...parts, x: retryNotice(1, 5, 'unavailable', true) };
      expectObservable(source.pipe(retryBackoff({ initialDelay: 10, random: half, afterOutput: 'restart' }))).toBe('(rax)(bf|)', values);
    });
  });

  it('works with a synchronous source on a synchronous scheduler', () => {
    const events: LlmEvent[] = [];
    const source = attempts(
      concat(of(parts.r), throwError(() => unavailable)),
      concat(of(parts.r), throwError(() => unavailable)),
      of(parts.r, parts.a, parts.f),
    );
    source.pipe(retryBackoff({ random: () => 0, scheduler: queueScheduler })).subscribe((e) => events.push(e));
    expect(events.map((e) => e.type)).toEqual(['request', 'retry', 'retry', 'text', 'finish']);
  });

  it('throws ConfigurationError at construction for a bad option', () => {
    expect(() => retryBackoff({ maxRetries: -1 })).toThrow(ConfigurationError);
    expect(() => retryBackoff({ maxRetries: 1.5 })).toThrow(/retryBackoff\(\): maxRetries: expected a whole number/);
    expect(() => retryBackoff({ initialDelay: '5 minutes' as never })).toThrow(/retryBackoff\(\): initialDelay: expected a duration/);
    expect(() => retryBackoff({ afterOutput: 'always' as never })).toThrow(/afterOutput: expected "before-output" or "restart"; received "always"/);
    expect(() => retryBackoff({ onRetry: 'log' as never })).toThrow(/onRetry: expected a function/);
    expect(() => retryBackoff({ scheduler: {} as never })).toThrow(/scheduler: expected a SchedulerLike/);
    expect(() => retryBackoff({ retries: 3 } as never)).toThrow(/retryBackoff\(\): retries: /);
  });

  it('is the identity with maxRetries: 0', async () => {
    expect(retryBackoff({ maxRetries: 0 })).toBe(identity);
    await expect(firstValueFrom(throwError(() => unavailable).pipe(retryBackoff({ maxRetries: 0 })))).rejects.toBe(unavailable);
  });

  it('keeps retrying up to Infinity retries until success', async () => {
    let calls = 0;
    const source = defer(() => (++calls < 6 ? concat(of(parts.r), throwError(() => unavailable)) : of(parts.r, parts.f)));
    const events = await lastValueFrom(source.pipe(retryBackoff({ maxRetries: Infinity, random: () => 0 }), map((e) => e.type), toArray()));
    expect(events.filter((t) => t === 'retry')).toHaveLength(5);
    expect(calls).toBe(6);
  });

  it('is a MonoTypeOperatorFunction<LlmEvent>', () => {
    expectTypeOf(retryBackoff()).toEqualTypeOf<MonoTypeOperatorFunction<LlmEvent>>();
    expectTypeOf(retryBackoff).parameter(0).toEqualTypeOf<import('rxllm/operators').RetryBackoffConfig | undefined>();
  });
});
