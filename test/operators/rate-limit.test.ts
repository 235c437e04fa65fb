import { TestScheduler } from 'rxjs/testing';
import { defer, lastValueFrom, of, takeWhile, toArray, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { ConfigurationError, parseRequest, RateLimitError, RateLimitQueueError, type LlmEvent, type LlmRequestInput, type ThrottleNotice } from 'rxllm';
import { createRateLimiter, type RateLimiter, type RateLimiterConfig } from 'rxllm';
import { rateLimit } from 'rxllm/operators';
import { requestTokens, type TokenCounter } from '../../src/cost/tokens';
import { modelInfo, parts } from '../helpers/events';
import { MAX_DELAY_MS } from '../../src/core/time';

// The token counter rateLimit() asks for, replaceable per test (for the tokenizer-loading path).
const counterOverride = vi.hoisted(() => ({ fn: undefined as undefined | ((model: string) => unknown) }));
vi.mock('../../src/cost/tokens', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/cost/tokens')>();
  return { ...original, tokenCounter: (model: string) => (counterOverride.fn ? counterOverride.fn(model) : original.tokenCounter(model)) };
});
afterEach(() => {
  counterOverride.fn = undefined;
});

const testScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const one = (): number => 1;
const oneCounter: TokenCounter = { count: one, estimated: false, encoding: undefined };

/** A `request` event for a request with these fields (the user message is always 'Hi'). */
const requestEvent = (fields: Partial<LlmRequestInput> = {}): LlmEvent => ({
  type: 'request',
  request: parseRequest({ messages: [{ role: 'user', content: 'Hi' }], ...fields }),
  model: modelInfo,
});
const throttle = (waitedMs: number, key?: string): ThrottleNotice => ({ type: 'throttle', waitedMs, ...(key === undefined ? {} : { key }) });
/** Input tokens of the 'Hi' request when every text counts 1 (the chat format's overhead included). */
const INPUT = requestTokens(parseRequest({ messages: [{ role: 'user', content: 'Hi' }] }), oneCounter);
const usage = (inputTokens: number, outputTokens: number): LlmEvent => ({ type: 'usage', usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens } });
const w = (waitedMs: number, key?: string): Record<string, LlmEvent> => ({ ...parts, w: throttle(waitedMs, key) });

describe('rateLimit()', () => {
  it('passes a call it admits at once through unchanged, on one subscription, with no notice', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limiter = createRateLimiter({ requestsPerMinute: 10, concurrency: 2, scheduler });
      const source = cold('r-h-a-u-f|', parts);
      expectObservable(source.pipe(rateLimit(limiter))).toBe('r-h-a-u-f|', parts);
      expectSubscriptions(source.subscriptions).toBe('^--------!');
    });
  });

  describe('requests per minute', () => {
    it('lets a minute’s worth through at once, then refills continuously: 2 rpm → the 3rd at 30 s, the 4th at 60 s', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const limiter = createRateLimiter({ requestsPerMinute: 2, scheduler });
        const [s1, s2, s3, s4] = [0, 1, 2, 3].map(() => cold('r-a-f|', parts));
        expectObservable(s1!.pipe(rateLimit(limiter))).toBe('r-a-f|', parts);
        expectObservable(s2!.pipe(rateLimit(limiter))).toBe('r-a-f|', parts);
        expectObservable(s3!.pipe(rateLimit(limiter))).toBe('r 29999ms w-a-f|', w(30_000));
        expectObservable(s4!.pipe(rateLimit(limiter))).toBe('r 59999ms w-a-f|', w(60_000));
        // Waiting, the source is released inside its request event (no I/O), and subscribed again when admitted.
        expectSubscriptions(s3!.subscriptions).toBe(['(^!)', '30000ms ^----!']);
        expectSubscriptions(s4!.subscriptions).toBe(['(^!)', '60000ms ^----!']);
      });
    });

    it('burst: 1 paces calls evenly, 60 000 / rpm ms apart', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ requestsPerMinute: 4, burst: { requests: 1 }, scheduler });
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r-f|', parts);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r 14999ms w-f|', w(15_000));
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r 29999ms w-f|', w(30_000));
        // After a quiet spell the bucket holds one again.
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter)), '60s ^').toBe('60s r-f|', parts);
      });
    });
  });

  describe('tokens per minute', () => {
    const request60 = requestEvent({ maxOutputTokens: 60 }); // reserves INPUT + 60
    const v = { ...parts, r: request60, U: usage(3, 3), D: usage(3, 97) };

    it('reserves input + maxOutputTokens up front; the next waits for the refill', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const limiter = createRateLimiter({ tokensPerMinute: 100, scheduler });
        const long = cold('r 30s f|', v);
        const next = cold('r-a-f|', v);
        // 100 − (INPUT + 60) left; the next needs INPUT + 60: it waits for the difference at 100 per 60 000 ms.
        const wait = (2 * (INPUT + 60) - 100) * 600;
        expectObservable(long.pipe(rateLimit(limiter, { count: one }))).toBe('r 30s f|', v);
        expectObservable(next.pipe(rateLimit(limiter, { count: one }))).toBe(`r ${wait - 1}ms w-a-f|`, { ...v, w: throttle(wait) });
        expectSubscriptions(next.subscriptions).toBe(['(^!)', `${wait}ms ^----!`]);
      });
    });

    it('reserves defaultMaxOutputTokens for a request without maxOutputTokens', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ tokensPerMinute: 1000, defaultMaxOutputTokens: 500 - INPUT, scheduler });
        expectObservable(cold('r 1m f|', parts).pipe(rateLimit(limiter, { count: one }))).toBe('r 1m f|', parts);
        expectObservable(cold('r 1m f|', parts).pipe(rateLimit(limiter, { count: one }))).toBe('r 1m f|', parts);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter, { count: one }))).toBe('r 29999ms w-f|', w(30_000));
      });
    });

    it('reconciles at the usage event: unused tokens come back at once', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const limiter = createRateLimiter({ tokensPerMinute: 100, scheduler });
        const first = cold('r-hU-f|', v);
        const next = cold('r-a-f|', v);
        expectObservable(first.pipe(rateLimit(limiter, { count: one }))).toBe('r-hU-f|', v);
        expectObservable(next.pipe(rateLimit(limiter, { count: one }))).toBe('r--w-a-f|', { ...v, w: throttle(3) });
        expectSubscriptions(next.subscriptions).toBe(['(^!)', '---^----!']);
      });
    });

    it('a usage above the reservation leaves the bucket in debt: the next waits longer', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ tokensPerMinute: 100, scheduler });
        expectObservable(cold('r-hD-f|', v).pipe(rateLimit(limiter, { count: one }))).toBe('r-hD-f|', v);
        // At frame 3 the bucket holds 100 − 100 + 3 ms of refill; INPUT + 60 takes (INPUT + 60) × 600 − 3 ms more.
        const at = 3 + (INPUT + 60) * 600 - 3;
        expectObservable(cold('r-f|', v).pipe(rateLimit(limiter, { count: one }))).toBe(`r ${at - 1}ms w-f|`, { ...v, w: throttle(at) });
      });
    });

    it('charges nothing for a call that failed before the response, and input + output chars ÷ 4 for one cut after it', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const refused = new RateLimitError({ message: 'openai 429: slow down', status: 429 }); // no retry-after: no pause
        const limiter = createRateLimiter({ tokensPerMinute: 100, scheduler });
        expectObservable(cold('r-#', v, refused).pipe(rateLimit(limiter, { count: one }))).toBe('r-#', v, refused);
        expectObservable(cold('r-a-f|', v).pipe(rateLimit(limiter, { count: one }))).toBe('r-w-a-f|', { ...v, w: throttle(2) });

        const limiter2 = createRateLimiter({ tokensPerMinute: 100, scheduler });
        const broken = new Error('reset');
        const big = { ...parts, r: requestEvent({ maxOutputTokens: 90 }) };
        // Cut after 'Hel' (3 chars → 1 token) at frame 4: charged INPUT + 1, the rest comes back then.
        expectObservable(cold('r-ha#', v, broken).pipe(rateLimit(limiter2, { count: one }))).toBe('r-ha#', v, broken);
        // Left at frame 4: 100 − INPUT − 1 tokens and 4 ms of refill; the next needs INPUT + 90.
        const at = 4 + Math.ceil(((INPUT + 90) * 60_000 - ((100 - INPUT - 1) * 60_000 + 4 * 100)) / 100);
        expectObservable(cold('r-f|', big).pipe(rateLimit(limiter2, { count: one }))).toBe(`r ${at - 1}ms w-f|`, { ...big, w: throttle(at) });
      });
    });

    it('a big request leaving the queue lets a smaller one behind it go at once', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const limiter = createRateLimiter({ tokensPerMinute: 100, scheduler });
        const small = { ...parts, r: requestEvent({ maxOutputTokens: 10 }) };
        const big = { ...parts, r: requestEvent({ maxOutputTokens: 90 }) };
        const behind = cold('r-f|', small);
        expectObservable(cold('r 1m f|', small).pipe(rateLimit(limiter, { count: one }))).toBe('r 1m f|', small);
        expectObservable(cold('r-f|', big).pipe(rateLimit(limiter, { count: one })), '^--!').toBe('r', big);
        expectObservable(behind.pipe(rateLimit(limiter, { count: one }))).toBe('r--w-f|', { ...small, w: throttle(3) });
        expectSubscriptions(behind.subscriptions).toBe(['(^!)', '---^--!']);
      });
    });

    it('waits for a tokenizer that loads with the source unsubscribed, then resubscribes once', async () => {
      let resolve!: (counter: TokenCounter) => void;
      counterOverride.fn = () => new Promise<TokenCounter>((r) => (resolve = r));
      let subscriptions = 0;
      const source = defer(() => (subscriptions++, of(parts.r, parts.a, parts.f)));
      const limiter = createRateLimiter({ tokensPerMinute: 1000 });
      const done = lastValueFrom(source.pipe(rateLimit(limiter), toArray()));
      expect(subscriptions).toBe(1);
      resolve(oneCounter);
      expect(await done).toEqual([parts.r, parts.a, parts.f]);
      expect(subscriptions).toBe(2);
      expect(limiter.inFlight).toBe(0);
    });

    it('sends nothing when unsubscribed while the tokenizer loads', async () => {
      let resolve!: (counter: TokenCounter) => void;
      counterOverride.fn = () => new Promise<TokenCounter>((r) => (resolve = r));
      let subscriptions = 0;
      const limiter = createRateLimiter({ tokensPerMinute: 1000 });
      const seen: LlmEvent[] = [];
      const subscription = defer(() => (subscriptions++, of(parts.r, parts.a, parts.f))).pipe(rateLimit(limiter)).subscribe((e) => seen.push(e));
      subscription.unsubscribe();
      resolve(oneCounter);
      await new Promise((r) => setTimeout(r, 0));
      expect([subscriptions, seen, limiter.queued, limiter.inFlight]).toEqual([1, [parts.r], 0, 0]);
    });
  });

  describe('concurrency', () => {
    it('holds the slot until finish; the next is let through then, with a throttle notice', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const limiter = createRateLimiter({ concurrency: 1, scheduler });
        const next = cold('r-a-f|', parts);
        expectObservable(cold('r-h-a-f|', parts).pipe(rateLimit(limiter))).toBe('r-h-a-f|', parts);
        expectObservable(next.pipe(rateLimit(limiter))).toBe('r-----w-a-f|', w(6));
        expectSubscriptions(next.subscriptions).toBe(['(^!)', '------^----!']);
      });
    });

    it('gives the slot back on an error', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ concurrency: 1, scheduler });
        const broken = new Error('reset');
        expectObservable(cold('r-a-#', parts, broken).pipe(rateLimit(limiter))).toBe('r-a-#', parts, broken);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r---w-f|', w(4));
      });
    });

    it('gives the slot back when downstream unsubscribes, releasing upstream in the same frame', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const limiter = createRateLimiter({ concurrency: 1, scheduler });
        const first = cold('r-a-b-f|', parts);
        expectObservable(first.pipe(rateLimit(limiter)), '^--!').toBe('r-a', parts);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r--w-f|', w(3));
        expectSubscriptions(first.subscriptions).toBe('^--!');
      });
    });

    it('passes a synchronous source through when admitted, and replays it whole when let through later', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ concurrency: 1, scheduler });
        expectObservable(of(parts.r, parts.a, parts.f).pipe(rateLimit(limiter))).toBe('(raf|)', parts);
        let subscriptions = 0;
        const sync = defer(() => (subscriptions++, of(parts.r, parts.a, parts.f)));
        expectObservable(cold('r--f|', parts).pipe(rateLimit(limiter))).toBe('r--f|', parts);
        // Unsubscribed inside its request, the synchronous source sends nothing more; then all of it at frame 3.
        expectObservable(sync.pipe(rateLimit(limiter)), '-^').toBe('-r-(waf|)', w(2));
        scheduler.schedule(() => expect(subscriptions).toBe(2), 10);
      });
    });
  });

  describe('queue', () => {
    it('priority: higher leaves first, FIFO within a priority; from the option (number or function) or metadata', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ concurrency: 1, scheduler });
        const meta = { ...parts, r: requestEvent({ metadata: { priority: '7' } }) };
        expectObservable(cold('r---f|', parts).pipe(rateLimit(limiter))).toBe('r---f|', parts);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r---------w-f|', w(10)); // 0
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter, { priority: 5 }))).toBe('r-----w-f|', w(6));
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter, { priority: () => 5 }))).toBe('r-------w-f|', w(8));
        expectObservable(cold('r-f|', meta).pipe(rateLimit(limiter))).toBe('r---w-f|', { ...meta, w: throttle(4) }); // 7
      });
    });

    it('a queued call that is unsubscribed leaves the queue at once and never subscribes again', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const limiter = createRateLimiter({ concurrency: 1, scheduler });
        const leaving = cold('r-f|', parts);
        const behind = cold('r-f|', parts);
        expectObservable(cold('r-----f|', parts).pipe(rateLimit(limiter))).toBe('r-----f|', parts);
        expectObservable(leaving.pipe(rateLimit(limiter)), '^--!').toBe('r', parts);
        expectObservable(behind.pipe(rateLimit(limiter))).toBe('r-----w-f|', w(6));
        expectSubscriptions(leaving.subscriptions).toBe('(^!)');
        const queued: number[] = [];
        for (const frame of [2, 3]) scheduler.schedule(() => queued.push(limiter.queued), frame);
        scheduler.schedule(() => expect(queued).toEqual([2, 1]), 4);
      });
    });

    it('maxWait: errors with a retryable RateLimitQueueError when the wait runs out', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const limiter = createRateLimiter({ concurrency: 1, maxWait: '5ms', scheduler });
        const late = cold('r-f|', parts);
        const error = new RateLimitQueueError('max-wait', 5, 5);
        expectObservable(cold('r 10ms f|', parts).pipe(rateLimit(limiter))).toBe('r 10ms f|', parts);
        expectObservable(late.pipe(rateLimit(limiter))).toBe('r----#', parts, error);
        expectSubscriptions(late.subscriptions).toBe('(^!)');
        expect(error).toMatchObject({ code: 'rate_limit_wait_exceeded', retryable: true, reason: 'max-wait', waitedMs: 5 });
      });
    });

    it('maxQueue: a newcomer to a full queue fails at once, unless it outranks the last in line, which then fails', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ concurrency: 1, maxQueue: 1, scheduler });
        const full = new RateLimitQueueError('queue-full', 1, 0);
        const bumped = new RateLimitQueueError('queue-full', 1, 2);
        expectObservable(cold('r---f|', parts).pipe(rateLimit(limiter))).toBe('r---f|', parts);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r-#', parts, bumped);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('(r#)', parts, full);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter, { priority: 1 })), '--^').toBe('--r-w-f|', w(2));
        expect(full).toMatchObject({ code: 'rate_limit_queue_full', retryable: true, reason: 'queue-full' });
      });
    });

    it('maxQueue 0: never waits', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ concurrency: 1, maxQueue: 0, scheduler });
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r-f|', parts);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('(r#)', parts, new RateLimitQueueError('queue-full', 0, 0));
      });
    });
  });

  describe('per key', () => {
    it('limits each key apart, on top of the global limits; a key that waits does not hold up others', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ concurrency: 2, key: 'tenant', perKey: { concurrency: 1 }, scheduler });
        const tenant = (t: string): Record<string, LlmEvent> => ({ ...parts, r: requestEvent({ metadata: { tenant: t } }) });
        expectObservable(cold('r---f|', tenant('x')).pipe(rateLimit(limiter))).toBe('r---f|', tenant('x'));
        expectObservable(cold('r-f|', tenant('x')).pipe(rateLimit(limiter))).toBe('r---w-f|', { ...tenant('x'), w: throttle(4, 'x') });
        expectObservable(cold('r-f|', tenant('y')).pipe(rateLimit(limiter))).toBe('r-f|', tenant('y'));
        // Global concurrency 2 is taken by x and y: z waits for y's finish, passing x's queued call.
        expectObservable(cold('r-f|', tenant('z')).pipe(rateLimit(limiter))).toBe('r-w-f|', { ...tenant('z'), w: throttle(2, 'z') });
      });
    });

    it('a key function; requests without a key share one group', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ key: (r) => r.metadata?.['user'], perKey: { requestsPerMinute: 1, burst: { requests: 1 } }, scheduler });
        const user = { ...parts, r: requestEvent({ metadata: { user: 'u1' } }) };
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r-f|', parts);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r 59999ms w-f|', w(60_000));
        expectObservable(cold('r-f|', user).pipe(rateLimit(limiter))).toBe('r-f|', user);
      });
    });
  });

  describe('provider signals', () => {
    it('remaining requests 0 in the response pauses everyone sharing the limiter until the reset', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ scheduler });
        const v = { ...parts, h: { type: 'response', status: 200, headers: {}, rateLimit: { remainingRequests: 0, resetRequestsMs: 20 } } } satisfies Record<string, LlmEvent>;
        expectObservable(cold('r-h-f|', v).pipe(rateLimit(limiter))).toBe('r-h-f|', v);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter)), '5ms ^').toBe('5ms r 16ms w-f|', w(17));
      });
    });

    it('remaining tokens 0 pauses likewise', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ scheduler });
        const v = { ...parts, h: { type: 'response', status: 200, headers: {}, rateLimit: { remainingTokens: 0, resetTokensMs: 10, remainingRequests: 5 } } } satisfies Record<string, LlmEvent>;
        expectObservable(cold('r-h-f|', v).pipe(rateLimit(limiter))).toBe('r-h-f|', v);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter)), '3ms ^').toBe('3ms r 8ms w-f|', w(9));
      });
    });

    it('a 429 with retryAfterMs pauses the limiter that long — before the slot is given back', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ concurrency: 1, scheduler });
        const slowDown = new RateLimitError({ message: 'openai 429: slow down', status: 429, retryAfterMs: 30 });
        expectObservable(cold('r-#', parts, slowDown).pipe(rateLimit(limiter))).toBe('r-#', parts, slowDown);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r 31ms w-f|', w(32));
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter)), '5ms ^').toBe('5ms r 28ms w-f|', w(29));
      });
    });
  });

  describe('waits longer than a timer can make', () => {
    const MONTH = 30 * 24 * 3_600_000;

    it('a pause of 30 days holds the queue 30 days: the timer is re-armed, never asked for more than 2^31 − 1 ms', () => {
      const scheduler = testScheduler();
      const delays: number[] = [];
      // The TestScheduler does not clamp delays as Node does; record what the limiter asks of it.
      const recording: SchedulerLike = {
        now: () => scheduler.now(),
        schedule: (work, delay, state) => (delays.push(delay ?? 0), scheduler.schedule(work as never, delay, state)),
      };
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ scheduler: recording });
        limiter.pause(MONTH);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe(`r ${MONTH - 1}ms w-f|`, w(MONTH));
      });
      expect(delays.length).toBeGreaterThan(1);
      expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_DELAY_MS);
    });

    it('with asyncScheduler, a request queued behind a 30-day pause is not let through at once', async () => {
      const limiter = createRateLimiter();
      limiter.pause(MONTH);
      let sent = 0;
      const source = defer(() => {
        sent++;
        return of(parts.r, parts.f);
      });
      const seen: LlmEvent[] = [];
      const subscription = source.pipe(rateLimit(limiter)).subscribe((e) => seen.push(e));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen.map((e) => e.type)).toEqual(['request']);
      expect(limiter.queued).toBe(1);
      subscription.unsubscribe();
      expect(limiter.queued).toBe(0);
      expect(sent).toBe(1); // the first subscription, released inside its request event
    });
  });

  describe('user code, state, options', () => {
    it('a throwing priority, key or count function errors the stream after the request, releasing upstream', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const boom = new Error('boom');
        const thrower = (): never => {
          throw boom;
        };
        const s1 = cold('r-f|', parts);
        const s2 = cold('r-f|', parts);
        const s3 = cold('r-f|', parts);
        expectObservable(s1.pipe(rateLimit(createRateLimiter({ scheduler }), { priority: thrower }))).toBe('(r#)', parts, boom);
        expectObservable(s2.pipe(rateLimit(createRateLimiter({ key: thrower, perKey: { concurrency: 1 }, scheduler })))).toBe('(r#)', parts, boom);
        expectObservable(s3.pipe(rateLimit(createRateLimiter({ tokensPerMinute: 100, scheduler }), { count: thrower }))).toBe('(r#)', parts, boom);
        for (const s of [s1, s2, s3]) expectSubscriptions(s.subscriptions).toBe('(^!)');
        const nan = new TypeError('rateLimit(): priority() must return a finite number; it returned NaN');
        expectObservable(cold('r-f|', parts).pipe(rateLimit(createRateLimiter({ scheduler }), { priority: () => NaN }))).toBe('(r#)', parts, nan);
      });
    });

    it('starts fresh for each subscription; only the limiter is shared', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ requestsPerMinute: 1, scheduler });
        const limited = cold('r-a-f|', parts).pipe(rateLimit(limiter));
        expectObservable(limited).toBe('r-a-f|', parts);
        expectObservable(limited, '10ms ^').toBe('10ms r 59989ms w-a-f|', w(59_990));
        expectObservable(limited, '60s ^').toBe('60s r 59999ms w-a-f|', w(60_000));
      });
    });

    it('passes a stream that does not start with a request through unlimited', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        const limiter = createRateLimiter({ concurrency: 1, scheduler });
        expectObservable(cold('r---f|', parts).pipe(rateLimit(limiter))).toBe('r---f|', parts);
        expectObservable(cold('a-f|', parts).pipe(rateLimit(limiter))).toBe('a-f|', parts);
      });
    });

    it('a subscriber that leaves on the throttle notice gives the request back: it was never sent', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const limiter = createRateLimiter({ requestsPerMinute: 1, scheduler });
        const unsent = cold('r-f|', parts);
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter))).toBe('r-f|', parts);
        expectObservable(unsent.pipe(rateLimit(limiter), takeWhile((e) => e.type !== 'throttle'))).toBe('r 59999ms |', parts);
        expectSubscriptions(unsent.subscriptions).toBe('(^!)');
        // The refunded request lets the next one through at once instead of at 120 s.
        expectObservable(cold('r-f|', parts).pipe(rateLimit(limiter)), '61s ^').toBe('61s r-f|', parts);
        scheduler.schedule(() => expect([limiter.queued, limiter.inFlight]).toEqual([0, 0]), 70_000);
      });
    });

    it('has the types of an operator and a shared limiter', () => {
      expectTypeOf(createRateLimiter).parameter(0).toEqualTypeOf<RateLimiterConfig | undefined>();
      expectTypeOf(createRateLimiter()).toEqualTypeOf<RateLimiter>();
      expectTypeOf(rateLimit(createRateLimiter())).toEqualTypeOf<MonoTypeOperatorFunction<LlmEvent>>();
      expectTypeOf<ThrottleNotice['key']>().toEqualTypeOf<string | undefined>();
      // @ts-expect-error a priority is a number or a function, not a string
      expect(() => rateLimit(createRateLimiter(), { priority: 'high' })).toThrow(ConfigurationError);
    });

    it('rejects bad options at construction with what was expected and what came', () => {
      const bad = (config: unknown): (() => unknown) => () => createRateLimiter(config as RateLimiterConfig);
      expect(bad({ requestsPerMinute: 0 })).toThrow(ConfigurationError);
      expect(bad({ requestsPerMinute: -1 })).toThrow(/requestsPerMinute: expected a number > 0 .*received -1/);
      expect(bad({ concurrency: 1.5 })).toThrow(/concurrency: expected a whole number ≥ 1/);
      expect(bad({ burst: { requests: 5 } })).toThrow(/burst: expected burst.requests with requestsPerMinute/);
      expect(bad({ key: 'tenant' })).toThrow(/perKey: expected key and perKey together/);
      expect(bad({ maxWait: '5 parsecs' })).toThrow(/maxWait: expected a duration/);
      expect(bad({ maxWait: '1000h' })).toThrow(/maxWait: expected a duration of at most 2147483647 ms .*or Infinity for no limit/);
      expect(bad({ rpm: 5 })).toThrow(/rpm/);
      expect(() => rateLimit({} as never)).toThrow(/rateLimit\(\): expected a limiter from createRateLimiter/);
      expect(() => rateLimit(createRateLimiter(), { priority: Infinity })).toThrow(/priority/);
      expect(() => rateLimit(createRateLimiter(), { count: 4 as never })).toThrow(/count: expected a function/);
    });
  });
});
