import { TestScheduler } from 'rxjs/testing';
import { defer, lastValueFrom, retry, take, toArray, type MonoTypeOperatorFunction, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type LlmEvent, type RequestEvent } from 'rxllm';
import { operate, relay, requestGate } from 'rxllm/operators';
import { createEventStream } from 'rxllm/providers';
import { holdRequest, type RequestHold } from '../src/core/stream';
import { modelInfo, parts, request } from './helpers/events';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A resubscribing operator built the way every rxllm operator is: operate + relay + gate. */
function gated(): MonoTypeOperatorFunction<LlmEvent> {
  return operate((source, subscriber) => {
    const pass = requestGate();
    return source.pipe(retry(1)).subscribe(relay(subscriber, (event: LlmEvent) => pass(event) && subscriber.next(event)));
  });
}

describe('createEventStream()', () => {
  it('emits the request first, synchronously, before start runs', () => {
    const order: string[] = [];
    const stream = createEventStream({ messages: [{ role: 'user', content: 'Hi' }] }, modelInfo, (subscriber) => {
      order.push('start');
      subscriber.next(parts.f);
      subscriber.complete();
    });
    stream.subscribe((event) => order.push(event.type));
    expect(order).toEqual(['request', 'start', 'finish']);
  });

  it('never starts the I/O when the subscriber leaves on the request event', () => {
    let started = 0;
    const stream = createEventStream({ messages: [{ role: 'user', content: 'Hi' }] }, modelInfo, () => {
      started++;
    });
    stream.pipe(take(1)).subscribe();
    // An operator built on operate + relay that completes on sight of the request.
    stream.pipe(operate<LlmEvent, LlmEvent>((source, subscriber) => source.subscribe(relay(subscriber, () => subscriber.complete())))).subscribe();
    expect(started).toBe(0);
  });

  it('errors with InvalidRequestError, before any request event, for a bad request', () => {
    const seen: unknown[] = [];
    createEventStream({ messages: [] }, modelInfo, () => {
      throw new Error('must not start');
    }).subscribe({ next: (e) => seen.push(e), error: (e: unknown) => seen.push(e) });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ code: 'invalid_request', field: 'messages' });
  });

  it('normalizes string content into text parts', () => {
    let request: unknown;
    createEventStream({ messages: [{ role: 'user', content: 'Hi' }] }, modelInfo, () => undefined).subscribe((e) => {
      if (e.type === 'request') request = e.request;
    });
    expect(request).toEqual({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] });
  });
});

describe('requestGate()', () => {
  it('forwards the first request and swallows the repeats of a resubscribed source', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-a-#', parts);
      expectObservable(source.pipe(gated())).toBe('-r-a----a-#', parts);
      expectSubscriptions(source.subscriptions).toBe(['^----!', '-----^----!']);
    });
  });

  it('starts fresh for each subscription of the operator', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const piped = cold('-r-f|', parts).pipe(gated());
      expectObservable(piped).toBe('-r-f|', parts);
      expectObservable(piped).toBe('-r-f|', parts);
    });
  });
});

describe('operate() and relay()', () => {
  it('turns a throw in user code into an error notification', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-a-b|', parts);
      const failing = operate<LlmEvent, LlmEvent>((src, subscriber) =>
        src.subscribe(
          relay(subscriber, (event: LlmEvent) => {
            if (event.type === 'text') throw new Error('user callback failed');
            subscriber.next(event);
          }),
        ),
      );
      expectObservable(source.pipe(failing)).toBe('-r-#', parts, new Error('user callback failed'));
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('turns a throw at subscribe time into an error notification', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const failing = operate<LlmEvent, LlmEvent>(() => {
        throw new Error('bad setup');
      });
      expectObservable(cold('-r|', parts).pipe(failing)).toBe('#', undefined, new Error('bad setup'));
    });
  });
});

describe('holdRequest() (the wait-then-resubscribe helper behind cache, budget, route and rateLimit)', () => {
  /** A request-first source that counts its subscriptions and starts of I/O, and answers a b f. */
  function countingSource(): { source: Observable<LlmEvent>; subscriptions: () => number; starts: () => number } {
    let subscriptions = 0;
    let starts = 0;
    const source = defer(() => {
      subscriptions++;
      return createEventStream(request, modelInfo, (subscriber) => {
        starts++;
        for (const event of [parts.a, parts.b, parts.f]) subscriber.next(event);
        subscriber.complete();
      });
    });
    return { source, subscriptions: () => subscriptions, starts: () => starts };
  }
  const held = (decide: (event: RequestEvent, hold: RequestHold) => void): MonoTypeOperatorFunction<LlmEvent> =>
    operate<LlmEvent, LlmEvent>((source, subscriber) => holdRequest(source, subscriber, decide));
  const types = (events: LlmEvent[]): string[] => events.map((event) => event.type);

  it('a synchronous decision keeps the first subscription: one call, the request once', async () => {
    const { source, subscriptions, starts } = countingSource();
    const seen: string[] = [];
    const events = await lastValueFrom(source.pipe(held((event, hold) => hold.wait(event.request.messages.length, () => seen.push('decided'))), toArray()));
    expect(types(events)).toEqual(['request', 'text', 'text', 'finish']);
    expect([subscriptions(), starts(), seen]).toEqual([1, 1, ['decided']]);
  });

  it('a Promise is awaited with the source unsubscribed before its I/O, then the call resubscribes behind the gate', async () => {
    const { source, subscriptions, starts } = countingSource();
    const events = await lastValueFrom(source.pipe(held((_event, hold) => hold.wait(Promise.resolve('ok'), () => hold.proceed())), toArray()));
    expect(types(events)).toEqual(['request', 'text', 'text', 'finish']);
    expect(subscriptions()).toBe(2); // the first was released on its request, before start()
    expect(starts()).toBe(1);
  });

  it('unsubscribing while it waits drops the wait: no resubscription, no I/O', async () => {
    const { source, subscriptions, starts } = countingSource();
    let resolve!: (value: string) => void;
    let continued = false;
    const subscription = source.pipe(held((_event, hold) => hold.wait(new Promise<string>((r) => (resolve = r)), () => ((continued = true), hold.proceed())))).subscribe();
    subscription.unsubscribe();
    resolve('late');
    await Promise.resolve();
    await Promise.resolve();
    expect([continued, subscriptions(), starts()]).toEqual([false, 1, 0]);
  });

  it('a rejected wait, or a throw in decide, errors the stream once', async () => {
    const { source, starts } = countingSource();
    await expect(lastValueFrom(source.pipe(held((_event, hold) => hold.wait(Promise.reject(new Error('store down')), () => hold.proceed()))))).rejects.toThrow('store down');
    await expect(
      lastValueFrom(source.pipe(held(() => {
        throw new Error('bad key function');
      }))),
    ).rejects.toThrow('bad key function');
    expect(starts()).toBe(0);
  });

  it('decides nothing when an outer operator leaves on the request event', () => {
    const { source, starts } = countingSource();
    let decided = 0;
    source.pipe(held(() => decided++), take(1)).subscribe();
    expect([decided, starts()]).toEqual([0, 0]);
  });

  it('release() lets the operator answer itself: the source never starts', async () => {
    const { source, starts } = countingSource();
    const events = await lastValueFrom(
      source.pipe(
        operate<LlmEvent, LlmEvent>((upstream, subscriber) =>
          holdRequest(upstream, subscriber, (_event, hold) => {
            hold.release();
            subscriber.next(parts.c);
            subscriber.next(parts.f);
            subscriber.complete();
          }),
        ),
        toArray(),
      ),
    );
    expect(types(events)).toEqual(['request', 'text', 'finish']);
    expect(starts()).toBe(0);
  });
});
