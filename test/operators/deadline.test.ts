import { TestScheduler } from 'rxjs/testing';
import { asyncScheduler, concat, from, identity, lastValueFrom, NEVER, retry, take, throwError, toArray, type Observable } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, isOutput, LlmError, openaiCompatible, TimeoutError, type LlmEvent, type LlmRequestInput } from 'rxllm';
import { deadline } from 'rxllm/operators';
import { openaiTextReply, startMockServer, type MockServer } from 'rxllm/testing';
import { parts } from '../helpers/events';
import { record } from '../helpers/observe';
import { afterRequests } from '../helpers/schedulers';
import { MAX_DELAY_MS } from '../../src/core/time';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A synchronous source of these events. */
const events = (...list: LlmEvent[]): Observable<LlmEvent> => from(list);

describe('deadline()', () => {
  it('passes a stream that keeps every limit through unchanged', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-h-a-b-u-f|', parts);
      const subs = '        ^----------!';
      expectObservable(source.pipe(deadline({ firstToken: 5, idle: 3, total: 12 }))).toBe('r-h-a-b-u-f|', parts);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('errors with kind first-token when no output arrives in time, releasing upstream in that frame', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-h------a-f|', parts);
      const subs = '        ^----!       ';
      // The response event (h) is not output: it does not stop the first-token clock.
      expectObservable(source.pipe(deadline({ firstToken: 5 }))).toBe('r-h--#', parts, new TimeoutError('first-token', 5));
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('counts reasoning and tool-call deltas as the first token', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const thinking = cold('r---k-----a-f|', parts);
      const calling = cold(' r---t-v-u-f|  ', parts);
      expectObservable(thinking.pipe(deadline({ firstToken: 5 }))).toBe('r---k-----a-f|', parts);
      expectObservable(calling.pipe(deadline({ firstToken: 5 }))).toBe(' r---t-v-u-f|  ', parts);
    });
  });

  it('errors with kind idle when the stream goes quiet after the first output', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-a-b------c-f|', parts);
      const subs = '        ^------!       ';
      expectObservable(source.pipe(deadline({ idle: 3 }))).toBe('r-a-b--#', parts, new TimeoutError('idle', 3));
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('does not apply idle before the first output, and restarts it on every event after', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // 6 frames before the first token, then gaps of 3 (usage and finish restart the clock too).
      const source = cold('r-----a--u--f|', parts);
      expectObservable(source.pipe(deadline({ idle: 3 }))).toBe('r-----a--u--f|', parts);
    });
  });

  it('errors with kind total when the finish does not come in time', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-a-b-c-a-b-f|', parts);
      const subs = '        ^--------!    ';
      expectObservable(source.pipe(deadline({ total: 9, idle: 5 }))).toBe('r-a-b-c-a#', parts, new TimeoutError('total', 9));
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('reports first-token, not total, when both are due in the same frame', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('r------a-f|', parts);
      expectObservable(source.pipe(deadline({ total: 4, firstToken: 4 }))).toBe('r---#', parts, new TimeoutError('first-token', 4));
    });
  });

  it('stops every clock at finish', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // The source lingers after finish (a slow [DONE]); neither idle nor total may fire.
      const source = cold('r-a-f--------|', parts);
      expectObservable(source.pipe(deadline({ idle: 2, total: 5 }))).toBe('r-a-f--------|', parts);
    });
  });

  it('passes a source error through unchanged, and no deadline fires after it', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const failure = new LlmError({ code: 'server_error', message: 'boom', retryable: true });
      const source = cold('r-a-#', parts, failure);
      expectObservable(source.pipe(deadline({ firstToken: 3, idle: 3, total: 6 }))).toBe('r-a-#', parts, failure);
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('releases upstream in the same frame when downstream unsubscribes', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-a-b-c-f|', parts);
      const unsub = '      ^---!     ';
      expectObservable(source.pipe(deadline({ idle: 3, total: 10 })), unsub).toBe('r-a-', parts);
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('gives every subscription fresh clocks (deadline before retry times each attempt)', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('r-----a|', parts);
      const timed = source.pipe(deadline({ firstToken: 3 }), retry(1));
      expectObservable(timed).toBe('r--r--#', parts, new TimeoutError('first-token', 3));
      expectSubscriptions(source.subscriptions).toBe(['^--!', '---^--!']);
    });
  });

  it('times from subscription a source that emits no request synchronously', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const late = cold('--r----a|', parts);
      expectObservable(late.pipe(deadline({ firstToken: 4 }))).toBe('--r-#', parts, new TimeoutError('first-token', 4));
    });
  });

  it('an error thrown by the source at subscribe (there is no user callback) goes through', () => {
    scheduler().run(({ expectObservable }) => {
      const broken = throwError(() => new TypeError('source setup failed'));
      expectObservable(broken.pipe(deadline({ total: 2 }))).toBe('#', undefined, new TypeError('source setup failed'));
    });
  });

  it('returns identity when no limit is set', () => {
    expect(deadline({})).toBe(identity);
    expect(deadline({ firstToken: Infinity, idle: undefined as never })).toBe(identity);
  });

  it('throws a ConfigurationError at construction for a bad option', () => {
    expect(() => deadline({ idle: '2 parsecs' as never })).toThrow(ConfigurationError);
    expect(() => deadline({ idle: '2 parsecs' as never })).toThrow(/deadline\(\): idle: expected a duration/);
    expect(() => deadline({ firstToken: 0 })).toThrow(/firstToken: expected a duration greater than 0/);
    expect(() => deadline({ total: 5, overall: 5 } as never)).toThrow(/overall/);
    expect(() => deadline({ total: 5, scheduler: {} as never })).toThrow(/scheduler: expected a SchedulerLike/);
  });

  it('refuses at construction a limit longer than a timer can wait (Node would fire it after 1 ms)', () => {
    expect(() => deadline({ total: '600h' })).toThrow(ConfigurationError);
    expect(() => deadline({ total: '600h' })).toThrow(/deadline\(\): total: expected a duration of at most 2147483647 ms .*or Infinity for no limit; that is 2160000000 ms; received "600h"/);
    expect(() => deadline({ idle: 2 ** 31 })).toThrow(/idle: expected a duration of at most 2147483647 ms/);
    expect(() => deadline({ firstToken: MAX_DELAY_MS })).not.toThrow();
    expect(deadline({ total: Infinity })).toBe(identity);
  });

  it('with asyncScheduler, the longest limit it accepts does not fire at once', async () => {
    const seen = record(concat(events(parts.r), NEVER).pipe(deadline({ total: MAX_DELAY_MS, firstToken: '596h' })));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen.errors).toEqual([]);
    expect(seen.values).toEqual([parts.r]);
    seen.subscription.unsubscribe();
  });

  describe('with real timers (faked), no timer outlives the stream', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('a synchronous source: events pass and every clock is cleared', () => {
      const seen = record(events(parts.r, parts.a, parts.u, parts.f).pipe(deadline({ firstToken: 50, idle: 50, total: 50 })));
      expect(seen.values).toEqual([parts.r, parts.a, parts.u, parts.f]);
      expect(seen.completes).toBe(1);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('an outer operator that leaves on the request event: no clock is armed (decision order)', () => {
      const seen = record(events(parts.r, parts.a, parts.f).pipe(deadline({ total: 50, scheduler: asyncScheduler }), take(1)));
      expect(seen.values).toEqual([parts.r]);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('an early unsubscribe clears the clocks', () => {
      const seen = record(concat(events(parts.r), NEVER).pipe(deadline({ firstToken: 50, total: 80 })));
      expect(vi.getTimerCount()).toBe(2);
      seen.subscription.unsubscribe();
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});

describe('deadline() against the mock server', () => {
  let server: MockServer;
  beforeEach(async () => {
    server = await startMockServer();
  });
  afterEach(async () => {
    await server.close();
  });

  const request: LlmRequestInput = { messages: [{ role: 'user', content: 'Say something.' }] };
  const model = () => openaiCompatible({ model: 'mock-model', baseURL: server.url });

  it('a stream that sends headers and then nothing: first-token error, connection closed', async () => {
    server.enqueue(openaiTextReply('never sent', { stallAfterChunks: 0 }));
    // Real timers, started once the server has the request (else, on a loaded machine, the limit
    // could fire before the request was sent, and there would be no connection to see closed).
    const seen = record(model().stream(request).pipe(deadline({ firstToken: 40, scheduler: afterRequests(server) })));
    await seen.terminal;
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toBeInstanceOf(TimeoutError);
    expect(seen.errors[0]).toMatchObject({ code: 'timeout', kind: 'first-token', limitMs: 40, retryable: true });
    expect(seen.values.filter(isOutput)).toEqual([]);
    const connection = await server.waitForClose();
    expect(connection.closedMidResponse).toBe(true);
  });

  it('a stream that stalls mid-answer: idle error, connection closed', async () => {
    server.enqueue(openaiTextReply('one two three four', { stallAfterChunks: 1 }));
    const seen = record(model().stream(request).pipe(deadline({ firstToken: 5000, idle: 40 })));
    await seen.terminal;
    expect(seen.errors[0]).toMatchObject({ code: 'timeout', kind: 'idle', limitMs: 40 });
    expect(seen.values.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text)).toEqual(['one']);
    const connection = await server.waitForClose();
    expect(connection.closedMidResponse).toBe(true);
  });

  it('a stream within its limits completes as usual', async () => {
    server.enqueue(openaiTextReply('quick and complete'));
    const events = await lastValueFrom(model().stream(request).pipe(deadline({ firstToken: 5000, idle: 5000, total: 10_000 }), toArray()));
    expect(events.at(-1)).toMatchObject({ type: 'finish', reason: 'stop' });
  });
});
