import { Observable, Subscriber, type OperatorFunction, type TeardownLogic } from 'rxjs';
import type { LlmEvent, ModelInfo, RequestEvent } from './events';
import { LlmError } from './errors';
import { parseRequest } from './request';

/**
 * Builds a stream that honours the contract: validate the request (an invalid one errors before
 * any I/O), emit the `request` event synchronously, and call `start` only if the subscriber is
 * still there after that `next()` returns — so an operator can answer or drop a request without a
 * byte leaving the process. `start` returns the teardown that aborts the I/O.
 */
export function createEventStream(
  input: unknown,
  model: ModelInfo,
  start: (subscriber: Subscriber<LlmEvent>, request: RequestEvent['request']) => TeardownLogic,
): Observable<LlmEvent> {
  let requestEvent: RequestEvent | undefined;
  let invalid: unknown;
  try {
    requestEvent = { type: 'request', request: parseRequest(input), model };
  } catch (error) {
    invalid = error;
  }
  return new Observable<LlmEvent>((subscriber) => {
    if (requestEvent === undefined) return subscriber.error(invalid);
    subscriber.next(requestEvent);
    if (subscriber.closed) return;
    return start(subscriber, requestEvent.request);
  });
}

/**
 * The gate for operators that resubscribe their source (retry, rate limit, async cache miss):
 * each subscription of the operator forwards the first `request` event and swallows the repeats.
 * Returns a predicate: `if (!pass(event)) return;`. Create one per operator subscription.
 */
export function requestGate(): (event: LlmEvent) => boolean {
  let seen = false;
  return (event) => {
    if (event.type !== 'request') return true;
    if (seen) return false;
    seen = true;
    return true;
  };
}

/**
 * Builds an operator from a function that subscribes to the source and returns its teardown.
 * A throw inside `init` (user code run at subscribe time) goes to `subscriber.error`.
 */
export function operate<T, R>(init: (source: Observable<T>, subscriber: Subscriber<R>) => TeardownLogic): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      try {
        return init(source, subscriber);
      } catch (error) {
        subscriber.error(error);
        return undefined;
      }
    });
}

/**
 * A subscriber that forwards to `subscriber`, running `onNext` (and the optional `onError` /
 * `onComplete`) for each notification. A throw in any of them — user callbacks, token counters,
 * key functions — becomes `subscriber.error`, so no throw escapes into the producer.
 *
 * It is a `Subscriber` chained to the downstream one (not a plain observer): when downstream
 * unsubscribes — even synchronously, inside the source's first `next()` — this one is closed at
 * once, so a source that checks `closed` after emitting `request` really starts no I/O.
 */
export function relay<T, R>(
  subscriber: Subscriber<R>,
  onNext: (value: T) => void,
  onError?: (error: unknown) => void,
  onComplete?: () => void,
): Subscriber<T> {
  return new RelaySubscriber(subscriber, onNext, onError, onComplete);
}

class RelaySubscriber<T, R> extends Subscriber<T> {
  constructor(
    private readonly downstream: Subscriber<R>,
    private readonly onNext: (value: T) => void,
    private readonly onErrorHook: ((error: unknown) => void) | undefined,
    private readonly onCompleteHook: (() => void) | undefined,
  ) {
    // Subscriber's constructor adds this subscriber to `downstream`, which is the chaining we want.
    super(downstream);
  }

  protected override _next(value: T): void {
    try {
      this.onNext(value);
    } catch (error) {
      this.downstream.error(error);
    }
  }

  protected override _error(error: unknown): void {
    try {
      if (this.onErrorHook) this.onErrorHook(error);
      else this.downstream.error(error);
    } catch (thrown) {
      this.downstream.error(thrown);
    } finally {
      this.unsubscribe();
    }
  }

  protected override _complete(): void {
    try {
      if (this.onCompleteHook) this.onCompleteHook();
      else this.downstream.complete();
    } catch (thrown) {
      this.downstream.error(thrown);
    } finally {
      this.unsubscribe();
    }
  }
}

/** True when `error` is an rxllm error marked retryable. */
export function isRetryable(error: unknown): boolean {
  return LlmError.is(error) && error.retryable;
}
