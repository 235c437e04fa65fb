import { TestScheduler } from 'rxjs/testing';
import { retry, take, type MonoTypeOperatorFunction } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type LlmEvent } from 'rxllm';
import { operate, relay, requestGate } from 'rxllm/operators';
import { createEventStream } from 'rxllm/providers';
import { modelInfo, parts } from './helpers/events';

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
