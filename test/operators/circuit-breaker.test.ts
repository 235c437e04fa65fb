import { TestScheduler, type RunHelpers } from 'rxjs/testing';
import { concat, from, NEVER, take, type Observable } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, CircuitOpenError, ConfigurationError, InvalidRequestError, LlmError, openaiCompatible, type LlmEvent, type LlmRequestInput } from 'rxllm';
import { createEventStream } from 'rxllm/providers';
import { createBreaker, type Breaker, type BreakerConfig, type BreakerStateChange } from 'rxllm';
import { circuitBreaker } from 'rxllm/operators';
import { jsonReply, startMockServer, type MockServer } from 'rxllm/testing';
import { modelInfo, parts } from '../helpers/events';
import { pause, record } from '../helpers/observe';

const testScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A synchronous source of these events. */
const events = (...list: LlmEvent[]): Observable<LlmEvent> => from(list);

const unavailable = new LlmError({ code: 'unavailable', message: 'openai 503', retryable: true, status: 503 });

/** A state change as `state$` reports it. */
const change = (state: BreakerStateChange['state'], at: number, failureRate: number): BreakerStateChange => ({ state, at, failureRate });

/** Two failing calls (at 0 and 5, failing at 2 and 7) open a breaker with minimumCalls 2 at frame 7. */
const tripAtSeven = ({ cold, expectObservable }: RunHelpers, breaker: Breaker): void => {
  expectObservable(cold('r-#', parts, unavailable).pipe(circuitBreaker(breaker))).toBe('r-#', parts, unavailable);
  expectObservable(cold('r-#', parts, unavailable).pipe(circuitBreaker(breaker)), '5ms ^').toBe('5ms r-#', parts, unavailable);
};

describe('circuitBreaker()', () => {
  it('passes calls through unchanged while closed', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const breaker = createBreaker({ name: 'p', scheduler });
      const source = cold('r-h-a-u-f|', parts);
      expectObservable(source.pipe(circuitBreaker(breaker))).toBe('r-h-a-u-f|', parts);
      expectSubscriptions(source.subscriptions).toBe('^--------!');
    });
  });

  it('opens at the failure rate, fails fast before any I/O, lets a probe through after openFor, and closes on its success', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const { cold, expectObservable, expectSubscriptions } = helpers;
      const breaker = createBreaker({ name: 'p', failureRate: 0.5, minimumCalls: 2, window: 100, openFor: 50, scheduler });
      const states = { a: change('closed', 0, 0), b: change('open', 7, 1), c: change('half-open', 57, 1), d: change('closed', 64, 0) };
      expectObservable(breaker.state$).toBe('a------b 52ms c---d', states);

      tripAtSeven(helpers, breaker);
      const refused = cold('r-a-f|', parts);
      expectObservable(refused.pipe(circuitBreaker(breaker)), '10ms ^').toBe('10ms (r#)', parts, new CircuitOpenError('p', 47));
      expectSubscriptions(refused.subscriptions).toBe('10ms (^!)');

      // openFor ran out at 57; the first call after it is the probe (state$ reports the change then, at: 57).
      const probe = cold('r-a-f|', parts);
      expectObservable(probe.pipe(circuitBreaker(breaker)), '60ms ^').toBe('60ms r-a-f|', parts);
      expectSubscriptions(probe.subscriptions).toBe('60ms ^----!');
    });
  });

  it('while open, a source that emits its request synchronously (as every rxllm stream does) never reaches its I/O', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const { cold, expectObservable, expectSubscriptions } = helpers;
      const breaker = createBreaker({ name: 'p', minimumCalls: 2, openFor: 50, scheduler });
      tripAtSeven(helpers, breaker);
      // The request at subscription, then the "I/O" — subscribed only if nobody left on the request.
      const io = cold('-a-f|', parts);
      expectObservable(concat(events(parts.r), io).pipe(circuitBreaker(breaker)), '10ms ^').toBe('10ms (r#)', parts, new CircuitOpenError('p', 47));
      expectSubscriptions(io.subscriptions).toBe([]);
    });
  });

  it('re-opens for another openFor when the probe fails', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const { cold, expectObservable } = helpers;
      const breaker = createBreaker({ name: 'p', minimumCalls: 2, openFor: 50, scheduler });
      const states = { a: change('closed', 0, 0), b: change('open', 7, 1), c: change('half-open', 57, 1), d: change('open', 62, 1) };
      expectObservable(breaker.state$).toBe('a------b 52ms c-d', states);
      tripAtSeven(helpers, breaker);
      expectObservable(cold('r-#', parts, unavailable).pipe(circuitBreaker(breaker)), '60ms ^').toBe('60ms r-#', parts, unavailable);
      expectObservable(cold('r-f|', parts).pipe(circuitBreaker(breaker)), '70ms ^').toBe('70ms (r#)', parts, new CircuitOpenError('p', 42));
    });
  });

  it('allows halfOpenProbes probes at once, refuses the rest (retryAfterMs 0), and closes when all succeed', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const { cold, expectObservable } = helpers;
      const breaker = createBreaker({ name: 'p', minimumCalls: 2, openFor: 50, halfOpenProbes: 2, scheduler });
      const states = { a: change('closed', 0, 0), b: change('open', 7, 1), c: change('half-open', 57, 1), d: change('closed', 67, 0) };
      expectObservable(breaker.state$).toBe('a------b 52ms c------d', states);
      tripAtSeven(helpers, breaker);
      expectObservable(cold('r---f|', parts).pipe(circuitBreaker(breaker)), '60ms ^').toBe('60ms r---f|', parts);
      expectObservable(cold('r-----f|', parts).pipe(circuitBreaker(breaker)), '61ms ^').toBe('61ms r-----f|', parts);
      expectObservable(cold('r-f|', parts).pipe(circuitBreaker(breaker)), '62ms ^').toBe('62ms (r#)', parts, new CircuitOpenError('p', 0));
    });
  });

  it('counts only calls that ended within the rolling window', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const breaker = createBreaker({ name: 'p', minimumCalls: 2, window: 10, scheduler });
      expectObservable(cold('r-#', parts, unavailable).pipe(circuitBreaker(breaker))).toBe('r-#', parts, unavailable);
      // The first failure (frame 2) has left the window by frame 22: one call in the window, below minimumCalls.
      expectObservable(cold('r-#', parts, unavailable).pipe(circuitBreaker(breaker)), '20ms ^').toBe('20ms r-#', parts, unavailable);
      expectObservable(cold('r-f|', parts).pipe(circuitBreaker(breaker)), '30ms ^').toBe('30ms r-f|', parts);
      flush();
      expect(breaker.state).toBe('closed');
    });
  });

  it('opens only when failures / calls reach failureRate, with at least minimumCalls', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const breaker = createBreaker({ name: 'p', failureRate: 0.6, minimumCalls: 2, scheduler });
      expectObservable(breaker.state$).toBe('a--------b', { a: change('closed', 0, 0), b: change('open', 9, 2 / 3) });
      const call = (at: number, marbles: string): void =>
        expectObservable(cold(marbles, parts, unavailable).pipe(circuitBreaker(breaker)), `${at}ms ^`).toBe(`${at}ms ${marbles}`, parts, unavailable);
      call(0, 'r-f|'); // success at 2
      call(3, 'r-#'); //  failure at 5: 1 / 2 = 0.5 < 0.6
      call(7, 'r-#'); //  failure at 9: 2 / 3 ≥ 0.6 → open
    });
  });

  it('does not count non-retryable errors (the caller’s fault) as failures by default', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const breaker = createBreaker({ name: 'p', minimumCalls: 1, scheduler });
      const invalid = new InvalidRequestError('messages', 'expected at least one message');
      const badRequest = new ApiError({ code: 'bad_request', message: 'openai 400', status: 400 });
      expectObservable(cold('r-#', parts, invalid).pipe(circuitBreaker(breaker))).toBe('r-#', parts, invalid);
      expectObservable(cold('r-#', parts, badRequest).pipe(circuitBreaker(breaker)), '3ms ^').toBe('3ms r-#', parts, badRequest);
      flush();
      expect(breaker.state).toBe('closed');
    });
  });

  it('uses isFailure to decide what counts', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const isFailure = vi.fn((error: unknown) => LlmError.is(error) && error.code === 'bad_request');
      const breaker = createBreaker({ name: 'p', minimumCalls: 1, isFailure, scheduler });
      const badRequest = new ApiError({ code: 'bad_request', message: 'openai 400', status: 400 });
      const states: string[] = [];
      expectObservable(cold('r-#', parts, unavailable).pipe(circuitBreaker(breaker))).toBe('r-#', parts, unavailable);
      scheduler.schedule(() => states.push(breaker.state), 3);
      expectObservable(cold('r-#', parts, badRequest).pipe(circuitBreaker(breaker)), '5ms ^').toBe('5ms r-#', parts, badRequest);
      scheduler.schedule(() => states.push(breaker.state), 8);
      flush();
      expect(states).toEqual(['closed', 'open']);
      expect(isFailure.mock.calls).toEqual([[unavailable], [badRequest]]);
    });
  });

  it('a throwing isFailure errors the call with what was thrown, and the call counts as a failure', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const breaker = createBreaker({
        name: 'p',
        minimumCalls: 1,
        scheduler,
        isFailure: () => {
          throw new TypeError('isFailure broke');
        },
      });
      expectObservable(cold('r-#', parts, unavailable).pipe(circuitBreaker(breaker))).toBe('r-#', parts, new TypeError('isFailure broke'));
      flush();
      expect(breaker.state).toBe('open');
    });
  });

  it('passes errors through unchanged', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-a-#', parts, unavailable);
      expectObservable(source.pipe(circuitBreaker(createBreaker({ name: 'p', scheduler })))).toBe('r-a-#', parts, unavailable);
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('releases upstream in the same frame on unsubscribe, and counts a cancelled call as neither', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const breaker = createBreaker({ name: 'p', minimumCalls: 1, scheduler });
      const source = cold('r-a-b-#', parts, unavailable);
      expectObservable(source.pipe(circuitBreaker(breaker)), '^--!').toBe('r-a', parts);
      expectSubscriptions(source.subscriptions).toBe('^--!');
      flush();
      expect(breaker.state).toBe('closed');
    });
  });

  it('gives a cancelled probe’s slot back', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const { cold, expectObservable } = helpers;
      const breaker = createBreaker({ name: 'p', minimumCalls: 2, openFor: 50, scheduler });
      tripAtSeven(helpers, breaker);
      expectObservable(cold('r---f|', parts).pipe(circuitBreaker(breaker)), '60ms ^-!').toBe('60ms r-', parts);
      expectObservable(cold('r-f|', parts).pipe(circuitBreaker(breaker)), '65ms ^').toBe('65ms r-f|', parts);
    });
  });

  it('ignores the outcome of a call admitted before the circuit changed state', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const { cold, expectObservable, flush } = helpers;
      const breaker = createBreaker({ name: 'p', minimumCalls: 2, openFor: 50, scheduler });
      // Admitted while closed at 0, finishes at 9 — after the circuit opened at 7: it closes nothing.
      expectObservable(cold('r--------f|', parts).pipe(circuitBreaker(breaker))).toBe('r--------f|', parts);
      tripAtSeven(helpers, breaker);
      flush();
      expect(breaker.state).toBe('open');
    });
  });

  it('counts every subscription as its own call (fresh state per subscription)', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const breaker = createBreaker({ name: 'p', minimumCalls: 2, scheduler });
      const guarded = cold('r-#', parts, unavailable).pipe(circuitBreaker(breaker));
      expectObservable(guarded).toBe('r-#', parts, unavailable);
      expectObservable(guarded, '5ms ^').toBe('5ms r-#', parts, unavailable);
      expectObservable(guarded, '10ms ^').toBe('10ms (r#)', parts, new CircuitOpenError('p', 30_000 - 3));
    });
  });

  it('a synchronous source is admitted and counted', () => {
    const scheduler = testScheduler();
    scheduler.run(({ expectObservable, flush }) => {
      const breaker = createBreaker({ name: 'p', minimumCalls: 1, failureRate: 1, scheduler });
      expectObservable(events(parts.r, parts.a, parts.f).pipe(circuitBreaker(breaker))).toBe('(raf|)', parts);
      flush();
      expect(breaker.state).toBe('closed');
    });
  });

  it('while open, a real event stream never starts its I/O, and the error arrives synchronously', () => {
    const breaker = createBreaker({ name: 'p', minimumCalls: 1 });
    record(createEventStream({ messages: [{ role: 'user', content: 'Hi' }] }, modelInfo, (subscriber) => subscriber.error(unavailable)).pipe(circuitBreaker(breaker)));
    expect(breaker.state).toBe('open');
    let started = 0;
    const stream = createEventStream({ messages: [{ role: 'user', content: 'Hi' }] }, modelInfo, () => {
      started++;
    });
    const seen = record(stream.pipe(circuitBreaker(breaker)));
    expect(seen.values.map((e) => e.type)).toEqual(['request']);
    expect(seen.errors[0]).toBeInstanceOf(CircuitOpenError);
    expect(started).toBe(0);
  });

  it('does not ask the breaker when an outer operator leaves on the request event (decision order)', () => {
    const acquire = vi.fn<Breaker['acquire']>();
    const breaker: Breaker = { name: 'spy', state: 'closed', state$: NEVER, acquire };
    record(events(parts.r, parts.a, parts.f).pipe(circuitBreaker(breaker), take(1)));
    expect(acquire).not.toHaveBeenCalled();
  });

  it('replays the current state to a late state$ subscriber, and `state` reads half-open after openFor', () => {
    const scheduler = testScheduler();
    scheduler.run((helpers) => {
      const { expectObservable, flush } = helpers;
      const breaker = createBreaker({ name: 'p', minimumCalls: 2, openFor: 50, scheduler });
      tripAtSeven(helpers, breaker);
      expectObservable(breaker.state$, '20ms ^').toBe('20ms b 36ms c', { b: change('open', 7, 1), c: change('half-open', 57, 1) });
      // Reading `state` is what moves the circuit to half-open when no call comes.
      const states: string[] = [];
      scheduler.schedule(() => states.push(breaker.state), 56);
      scheduler.schedule(() => states.push(breaker.state), 57);
      flush();
      expect(states).toEqual(['open', 'half-open']);
    });
  });

  it('throws a ConfigurationError at construction for bad options', () => {
    const bad = (config: unknown): (() => unknown) => () => createBreaker(config as BreakerConfig);
    expect(bad({})).toThrow(ConfigurationError);
    expect(bad({ name: 'p', failureRate: 0 })).toThrow(/createBreaker\(\): failureRate: expected a rate in \(0, 1\]/);
    expect(bad({ name: 'p', failureRate: 1.5 })).toThrow(/failureRate/);
    expect(bad({ name: 'p', window: '1 week' })).toThrow(/window: expected a duration/);
    expect(bad({ name: 'p', openFor: '1000h' })).toThrow(/createBreaker\(\): openFor: expected a duration of at most 2147483647 ms/);
    expect(bad({ name: 'p', minimumCalls: 0.5 })).toThrow(/minimumCalls: expected a whole number/);
    expect(bad({ name: 'p', halfOpenProbes: 0 })).toThrow(/halfOpenProbes/);
    expect(bad({ name: 'p', isFailure: true })).toThrow(/isFailure: expected a function/);
    expect(bad({ name: 'p', threshold: 0.5 })).toThrow(/threshold/);
    expect(() => circuitBreaker({} as Breaker)).toThrow(/circuitBreaker\(\): expected a breaker/);
  });
});

describe('circuitBreaker() against the mock server', () => {
  let server: MockServer;
  beforeEach(async () => {
    server = await startMockServer();
  });
  afterEach(async () => {
    await server.close();
  });

  const input: LlmRequestInput = { messages: [{ role: 'user', content: 'Are you up?' }] };

  it('once open, a call fails with CircuitOpenError and the server sees no request at all', async () => {
    const model = openaiCompatible({ model: 'mock-model', baseURL: server.url });
    const breaker = createBreaker({ name: 'mock', minimumCalls: 2, openFor: '30s' });
    const overloaded = () => jsonReply(503, { error: { message: 'overloaded', type: 'server_error' } });
    server.enqueue(overloaded(), overloaded());
    for (let i = 0; i < 2; i++) {
      const failed = record(model.stream(input).pipe(circuitBreaker(breaker)));
      await failed.terminal;
      expect(failed.errors[0]).toMatchObject({ status: 503, retryable: true });
    }
    expect(breaker.state).toBe('open');
    server.clearRecords();

    const refused = record(model.stream(input).pipe(circuitBreaker(breaker)));
    // Synchronous: the error was delivered inside subscribe(), before any I/O could start.
    expect(refused.errors).toHaveLength(1);
    expect(refused.errors[0]).toBeInstanceOf(CircuitOpenError);
    expect(refused.errors[0]).toMatchObject({ code: 'circuit_open', retryable: true });
    expect((refused.errors[0] as CircuitOpenError).retryAfterMs).toBeGreaterThan(29_000);
    expect(refused.values.map((e) => e.type)).toEqual(['request']);
    // Give a request every chance to arrive before asserting that none did.
    await pause(100);
    expect(server.requests).toHaveLength(0);
  });
});
