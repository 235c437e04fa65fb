import { TestScheduler } from 'rxjs/testing';
import { concat, defer, from, identity, lastValueFrom, NEVER, of, take, toArray, type Observable } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigurationError, LlmError, openaiCompatible, type LlmEvent, type LlmRequest, type LlmRequestInput, type Model, type ModelInfo,
} from 'rxllm';
import { hedge } from 'rxllm/operators';
import { openaiTextReply, startMockServer, type MockServer } from 'rxllm/testing';
import { fakeModel, hedgeNotice, parts, request } from '../helpers/events';
import { afterRequests } from '../helpers/schedulers';
import { MAX_DELAY_MS } from '../../src/core/time';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A synchronous source of these events. */
const events = (...list: LlmEvent[]): Observable<LlmEvent> => from(list);

/** Each subscription gets the next observable of the list (the primary, then the hedge); `count` says how many were made. */
const attempts = (...list: Observable<LlmEvent>[]): Observable<LlmEvent> & { readonly count: number } => {
  let n = 0;
  const source = defer(() => list[Math.min(n++, list.length - 1)]!);
  return Object.defineProperty(source, 'count', { get: () => n }) as Observable<LlmEvent> & { readonly count: number };
};

const backupInfo: ModelInfo = { provider: 'test', id: 'backup', name: 'test:backup' };


const unavailable = new LlmError({ code: 'unavailable', message: 'openai 503', retryable: true, status: 503 });
const overloaded = new LlmError({ code: 'overloaded', message: 'backup 529', retryable: true, status: 529 });

describe('hedge()', () => {
  it('starts the same source again after `after`; the hedge answers first and the primary is released', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold('r---------a-f|', parts);
      const backup = cold('    r-a-----f|', parts);
      const values = { ...parts, s: hedgeNotice('started', 'hedge', 3), w: hedgeNotice('won', 'hedge', 5) };
      expectObservable(attempts(primary, backup).pipe(hedge({ after: 3 }))).toBe('r--s-(wa)--f|', values);
      expectSubscriptions(primary.subscriptions).toBe('^----!       ');
      expectSubscriptions(backup.subscriptions).toBe(' ---^--------!');
    });
  });

  it('the primary answers first after the hedge started: the hedge is released, only the winner’s held events are emitted', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold('r-h------a-----f|', parts);
      const backup = cold('     r-h---------a|', parts);
      const values = { ...parts, s: hedgeNotice('started', 'hedge', 4), w: hedgeNotice('won', 'primary', 9) };
      // The primary's response (h, frame 2) is held until it wins; the hedge's (frame 6) is dropped.
      expectObservable(attempts(primary, backup).pipe(hedge({ after: 4 }))).toBe('r---s----(wha)-f|', values);
      expectSubscriptions(primary.subscriptions).toBe('^---------------!');
      expectSubscriptions(backup.subscriptions).toBe(' ----^----!       ');
    });
  });

  it('calls `model` with the request from the request event, and names it in the notices', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const primary = cold('r---------a-f|', parts);
      const backup = cold('    r-a-----f|', { ...parts, r: { ...parts.r, model: backupInfo } });
      const seen: LlmRequestInput[] = [];
      const values = { ...parts, s: hedgeNotice('started', 'hedge', 3, 'test:backup'), w: hedgeNotice('won', 'hedge', 5, 'test:backup') };
      expectObservable(primary.pipe(hedge({ after: '3ms', model: fakeModel(backupInfo, backup, seen) }))).toBe('r--s-(wa)--f|', values);
      expectSubscriptions(primary.subscriptions).toBe('^----!       ');
      expectSubscriptions(backup.subscriptions).toBe(' ---^--------!');
      flush();
      expect(seen).toEqual([request satisfies LlmRequest]);
    });
  });

  it('does not hedge when output arrives in time: no notices, held events come with the first output', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const primary = cold('r-h-a---f|', parts);
      const source = attempts(primary);
      expectObservable(source.pipe(hedge({ after: 5 }))).toBe('r---(ha)f|', parts);
      expectSubscriptions(primary.subscriptions).toBe('^--------!');
      flush();
      expect(source.count).toBe(1);
    });
  });

  it('decides the race on a finish without output (an empty answer is an answer)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('r-h-f---|', parts).pipe(hedge({ after: 5 }))).toBe('r---(hf)|', parts);
    });
  });

  it('passes a failure of the primary on at once when the hedge has not started', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const primary = cold('r-#', parts, unavailable);
      const source = attempts(primary);
      expectObservable(source.pipe(hedge({ after: 5 }))).toBe('r-#', parts, unavailable);
      expectSubscriptions(primary.subscriptions).toBe('^-!');
      flush();
      expect(source.count).toBe(1);
    });
  });

  it('keeps waiting on the hedge when the primary fails after the hedge started', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold('r-----#', parts, unavailable);
      const backup = cold('    r-----a-----f|', parts);
      const values = { ...parts, s: hedgeNotice('started', 'hedge', 3), w: hedgeNotice('won', 'hedge', 9) };
      expectObservable(attempts(primary, backup).pipe(hedge({ after: 3 }))).toBe('r--s-----(wa)--f|', values);
      expectSubscriptions(primary.subscriptions).toBe('^-----!          ');
      expectSubscriptions(backup.subscriptions).toBe(' ---^------------!');
    });
  });

  it('keeps waiting on the primary when the hedge fails first', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const primary = cold('r-------a---f|', parts);
      const backup = cold('    r-#', parts, overloaded);
      const values = { ...parts, s: hedgeNotice('started', 'hedge', 3), w: hedgeNotice('won', 'primary', 8) };
      expectObservable(attempts(primary, backup).pipe(hedge({ after: 3 }))).toBe('r--s----(wa)f|', values);
    });
  });

  it('emits the last error when both attempts fail', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold('r-----#    ', parts, unavailable);
      const backup = cold('    r-------#', parts, overloaded);
      const values = { ...parts, s: hedgeNotice('started', 'hedge', 3) };
      expectObservable(attempts(primary, backup).pipe(hedge({ after: 3 }))).toBe('r--s-------#', values, overloaded);
      expectSubscriptions(primary.subscriptions).toBe('^-----!     ');
      expectSubscriptions(backup.subscriptions).toBe(' ---^-------!');
    });
  });

  it('passes the winner’s errors through after the race is decided', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('r-a-#', parts, unavailable).pipe(hedge({ after: 5 }))).toBe('r-a-#', parts, unavailable);
    });
  });

  it('releases both attempts and the timer when downstream unsubscribes', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold('r---------a-f|', parts);
      const backup = cold('    r-------a-f|', parts);
      const values = { ...parts, s: hedgeNotice('started', 'hedge', 3) };
      expectObservable(attempts(primary, backup).pipe(hedge({ after: 3 })), '^-----!').toBe('r--s--', values);
      expectSubscriptions(primary.subscriptions).toBe('^-----!');
      expectSubscriptions(backup.subscriptions).toBe(' ---^--!');
    });
  });

  it('releases the primary before the hedge starts, and never starts it', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const primary = cold('r---------a-f|', parts);
      const source = attempts(primary);
      expectObservable(source.pipe(hedge({ after: 3 })), '^-!').toBe('r-', parts);
      expectSubscriptions(primary.subscriptions).toBe('^-!');
      flush();
      expect(source.count).toBe(1);
    });
  });

  it('starts fresh for each subscription', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // The same cold source hedges itself: the hedge starts 3 frames late, so the primary wins.
      const source = cold('r-----a----f|', parts);
      const hedged = source.pipe(hedge({ after: 3 }));
      const first = { ...parts, s: hedgeNotice('started', 'hedge', 3), w: hedgeNotice('won', 'primary', 6) };
      expectObservable(hedged).toBe('          r--s--(wa)-f|', first);
      expectObservable(hedged, '10ms ^').toBe('10ms r--s--(wa)-f|', first);
      expectSubscriptions(source.subscriptions).toBe(['^-----------!', '---^--!', '10ms ^-----------!', '13ms ^--!']);
    });
  });

  it('errors with what `model.stream()` throws when the hedge starts, and releases the primary', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold('r------a|', parts);
      const broken: Model = {
        info: backupInfo,
        stream() {
          throw new TypeError('backup misconfigured');
        },
      };
      expectObservable(primary.pipe(hedge({ after: 3, model: broken }))).toBe('r--#', parts, new TypeError('backup misconfigured'));
      expectSubscriptions(primary.subscriptions).toBe('^--!');
    });
  });

  it('passes a synchronous source through with no hedge', () => {
    scheduler().run(({ expectObservable }) => {
      expectObservable(events(parts.r, parts.h, parts.a, parts.f).pipe(hedge({ after: 3 }))).toBe('(rhaf|)', parts);
    });
  });

  it('a hedge that answers synchronously wins inside its own subscribe and releases the primary', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold('r---------a-f|', parts);
      const instant = events({ ...parts.r, model: backupInfo }, parts.a, parts.f);
      const values = { ...parts, s: hedgeNotice('started', 'hedge', 3, 'test:backup'), w: hedgeNotice('won', 'hedge', 3, 'test:backup') };
      expectObservable(primary.pipe(hedge({ after: 3, model: fakeModel(backupInfo, instant) }))).toBe('r--(swaf|)', values);
      expectSubscriptions(primary.subscriptions).toBe('^--!');
    });
  });

  it('starts no timer when an outer operator leaves on the request event (decision order)', () => {
    scheduler().run(({ cold, expectObservable, flush }) => {
      const source = attempts(cold('r---------a-f|', parts));
      expectObservable(source.pipe(hedge({ after: 3 }), take(1))).toBe('(r|)', parts);
      flush();
      expect(source.count).toBe(1);
    });
  });

  it('returns identity for after: Infinity', () => {
    expect(hedge({ after: Infinity })).toBe(identity);
  });

  it('throws a ConfigurationError at construction for a bad option', () => {
    expect(() => hedge({} as never)).toThrow(ConfigurationError);
    expect(() => hedge({ after: 'soon' as never })).toThrow(/hedge\(\): after: expected a duration/);
    expect(() => hedge({ after: 100, model: { stream: 'x' } as never })).toThrow(/hedge\(\): model: expected a Model/);
    expect(() => hedge({ after: 100, delay: 5 } as never)).toThrow(/delay/);
  });

  it('refuses at construction an after longer than a timer can wait: no second, billed call after 1 ms', () => {
    expect(() => hedge({ after: Number.MAX_SAFE_INTEGER })).toThrow(ConfigurationError);
    expect(() => hedge({ after: Number.MAX_SAFE_INTEGER })).toThrow(/hedge\(\): after: expected a duration of at most 2147483647 ms .*received 9007199254740991/);
    expect(() => hedge({ after: '600h' })).toThrow(/at most 2147483647 ms/);
  });

  it('with asyncScheduler, the longest after it accepts starts no second attempt at once', async () => {
    let subscriptions = 0;
    const source = defer(() => {
      subscriptions++;
      return concat(of(parts.r), NEVER);
    });
    const subscription = source.pipe(hedge({ after: MAX_DELAY_MS })).subscribe();
    await new Promise((resolve) => setTimeout(resolve, 50));
    subscription.unsubscribe();
    expect(subscriptions).toBe(1);
  });
});

describe('hedge() against the mock server', () => {
  let slow: MockServer;
  let fast: MockServer;
  beforeEach(async () => {
    [slow, fast] = await Promise.all([startMockServer(), startMockServer()]);
  });
  afterEach(async () => {
    await Promise.all([slow.close(), fast.close()]);
  });

  const input: LlmRequestInput = { messages: [{ role: 'user', content: 'Race me.' }] };
  // The hedge timer (30 ms, real time) starts once the stalled server has the first request, so the
  // first request is always the primary's, whatever the machine's load.
  const textOf = (events: LlmEvent[]): string => events.map((e) => (e.type === 'text' ? e.text : '')).join('');

  it('a stalled first model loses to a second model; the stalled connection is closed', async () => {
    slow.enqueue(openaiTextReply('never sent', { stallAfterChunks: 0 }));
    fast.enqueue(openaiTextReply('the backup answers'));
    const primary = openaiCompatible({ name: 'slow', model: 'm', baseURL: slow.url });
    const backup = openaiCompatible({ name: 'fast', model: 'm', baseURL: fast.url });

    const events = await lastValueFrom(primary.stream(input).pipe(hedge({ after: 30, model: backup, scheduler: afterRequests(slow) }), toArray()));

    expect(textOf(events)).toBe('the backup answers');
    expect(events.filter((e) => e.type === 'request')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'hedge')).toMatchObject([
      { phase: 'started', attempt: 'hedge', model: 'fast:m' },
      { phase: 'won', attempt: 'hedge', model: 'fast:m' },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'finish', reason: 'stop' });
    const stalled = await slow.waitForClose();
    expect(stalled.closedMidResponse).toBe(true);
    expect(fast.requests[0]!.json).toEqual(slow.requests[0]!.json);
  });

  it('same model: the source is called again, the second call wins and the first connection is closed', async () => {
    slow.enqueue(openaiTextReply('never sent', { stallAfterChunks: 0 }), openaiTextReply('second try wins'));
    const model = openaiCompatible({ name: 'one', model: 'm', baseURL: slow.url });

    const events = await lastValueFrom(model.stream(input).pipe(hedge({ after: 30, scheduler: afterRequests(slow) }), toArray()));

    expect(textOf(events)).toBe('second try wins');
    expect(events.filter((e) => e.type === 'hedge')).toMatchObject([
      { phase: 'started', attempt: 'hedge', model: 'one:m' },
      { phase: 'won', attempt: 'hedge', model: 'one:m' },
    ]);
    expect(slow.requests).toHaveLength(2);
    const stalled = await slow.waitForClose(slow.requests[0]!.connectionId);
    expect(stalled.closedMidResponse).toBe(true);
  });
});
