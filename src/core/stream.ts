import { Observable, Subscriber, type OperatorFunction, type Subscription, type TeardownLogic } from 'rxjs';
import type { LlmEvent, ModelInfo, RequestEvent } from './events';
import { LlmError } from './errors';
import { isPromise, type MaybePromise } from './promise';
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
 * Where an operator sends the events of a call it lets through, after the `request` event. The
 * downstream subscriber is one: the call passes through untouched.
 */
export interface CallObserver {
  next(event: LlmEvent): void;
  error(error: unknown): void;
  complete(): void;
}

/** How `RequestHold.proceed` goes on. */
export interface ProceedOptions {
  /** Subscribe this (another model's call) instead of the source, which is released. @defaultValue the source */
  readonly events?: Observable<LlmEvent>;
  /**
   * Hands the call's subscription to an owner that outlives this subscriber (a shared cache
   * flight): downstream leaving no longer releases it; the owner gets it before it is subscribed.
   * @defaultValue none: the call is released with downstream
   */
  readonly detach?: (call: Subscription) => void;
}

/**
 * An operator's hold on its source while it decides on the `request` event (see `holdRequest`).
 * The source's first subscription is open until the operator waits, releases it or proceeds elsewhere.
 */
export interface RequestHold {
  /**
   * Runs `then(value)` at once when `value` is not a Promise (the source's subscription is still
   * open). A Promise is awaited with the source unsubscribed, so it sends nothing meanwhile; `then`
   * runs when it resolves, and only if downstream is still there (so unsubscribing cancels the
   * wait). A rejection, or a throw in `then`, errors the stream.
   */
  wait<T>(value: MaybePromise<T>, then: (value: T) => void): void;
  /**
   * `then` guarded as `wait` guards it, for a wait that calls back instead of resolving (a
   * rate-limit permit): it runs only while downstream is there, a throw in it errors the stream.
   * Release the source while such a wait is pending, and cancel the wait in the operator's teardown.
   */
  resume<A extends unknown[]>(then: (...args: A) => void): (...args: A) => void;
  /**
   * Lets the call go on, its events to `observer` (default: the one given to `holdRequest`): the
   * source's first subscription while it is open, else the source subscribed again — or
   * `options.events` instead, the source released. A resubscription's repeated `request` is
   * swallowed by the gate. Nothing is subscribed once downstream has left.
   */
  proceed(observer?: CallObserver, options?: ProceedOptions): void;
  /** Unsubscribes the source: the operator answers without it (a hit, a refusal) or waits. Idempotent. */
  release(): void;
}

/**
 * Subscribes `source` for an operator that decides on the `request` event: the "forward the
 * request, decide, wait with upstream unsubscribed, resubscribe behind the gate" pattern, once.
 *
 * - Every event goes through a `requestGate`: downstream sees one `request`, however many times
 *   the source (or the call that replaces it) is subscribed.
 * - The first event, a `request`, goes downstream first; then, only if downstream is still there
 *   (an outer operator may have answered or left on it), `decide(event, hold)` runs — within the
 *   event, so a synchronous decision can release the source before its I/O starts. The operator
 *   then waits (`hold.wait`), proceeds, or releases the source and answers itself; if it does none
 *   of these the source simply goes on, its events to `call`.
 * - A source whose first event is not a `request` goes to `call` untouched; with `requiredBy`
 *   (the operator's name, `'budget()'`) it errors the stream with a `TypeError` instead.
 * - Events after the `request` go to `call` (or the observer `proceed` named), errors and completion
 *   too. A throw in `decide`, in an observer or in a continuation goes to `subscriber.error`.
 * - Unsubscribing downstream releases whichever call runs (unless detached) and drops a pending wait.
 */
export function holdRequest(
  source: Observable<LlmEvent>,
  subscriber: Subscriber<LlmEvent>,
  decide: (event: RequestEvent, hold: RequestHold) => void,
  call: CallObserver = subscriber,
  requiredBy?: string,
): void {
  new Hold(source, subscriber, decide, call, requiredBy).subscribe(source, undefined);
}

/** The state behind `holdRequest`, one per operator subscription; its `HoldSubscriber`s feed it. */
class Hold implements RequestHold {
  readonly pass = requestGate();
  /** Where the call's events go. */
  current: CallObserver;
  /** No event came yet. */
  first = true;
  /** The source's first subscription runs: nothing waited, released or proceeded elsewhere. */
  private open = true;
  private upstream: Subscriber<LlmEvent> | undefined;

  constructor(
    private readonly source: Observable<LlmEvent>,
    readonly subscriber: Subscriber<LlmEvent>,
    private readonly decide: (event: RequestEvent, hold: RequestHold) => void,
    private readonly call: CallObserver,
    private readonly requiredBy: string | undefined,
  ) {
    this.current = call;
  }

  /** The first event past the gate: a `request` goes downstream, then to `decide` if downstream is still there. */
  onFirst(event: LlmEvent): void {
    this.first = false;
    if (event.type !== 'request') {
      if (this.requiredBy === undefined) return this.current.next(event); // not a request-first stream: nothing to decide on
      throw new TypeError(`${this.requiredBy}: expected a stream that starts with its request event (an rxllm model stream); it started with '${event.type}'`);
    }
    this.subscriber.next(event);
    // Decision order: an outer operator may have answered or left on this very event; then decide nothing.
    if (!this.subscriber.closed) this.decide(event, this);
  }

  subscribe(events: Observable<LlmEvent>, detach: ProceedOptions['detach']): void {
    // Assigned before subscribe() runs: a synchronous source may be released from inside it.
    const subscription = (this.upstream = new HoldSubscriber(this));
    this.handOver(subscription, detach);
    events.subscribe(subscription);
  }

  private handOver(subscription: Subscriber<LlmEvent>, detach: ProceedOptions['detach']): void {
    if (!detach) return;
    this.subscriber.remove(subscription);
    detach(subscription);
  }

  wait<T>(value: MaybePromise<T>, then: (value: T) => void): void {
    if (!isPromise(value)) return then(value);
    this.release(); // wait with the source unsubscribed: it sends nothing meanwhile
    value.then(this.resume(then), (error: unknown) => this.subscriber.error(error));
  }

  resume<A extends unknown[]>(then: (...args: A) => void): (...args: A) => void {
    const { subscriber } = this;
    return (...args) => {
      if (subscriber.closed) return;
      try {
        then(...args);
      } catch (error) {
        subscriber.error(error);
      }
    };
  }

  proceed(observer: CallObserver = this.call, { events, detach }: ProceedOptions = {}): void {
    this.current = observer;
    if (events === undefined && this.open) return this.handOver(this.upstream!, detach);
    this.release();
    if (!this.subscriber.closed) this.subscribe(events ?? this.source, detach);
  }

  release(): void {
    this.open = false;
    this.upstream?.unsubscribe();
  }
}

/**
 * One subscription of a held call, chained to downstream like `relay`'s: every event through the
 * gate, then the first to `Hold.onFirst` and the rest to the current observer; a throw goes to
 * `subscriber.error`. The per-event work is here, not in a closure in between (hot path).
 */
class HoldSubscriber extends Subscriber<LlmEvent> {
  constructor(private readonly hold: Hold) {
    super(hold.subscriber);
  }

  protected override _next(event: LlmEvent): void {
    const { hold } = this;
    try {
      if (!hold.pass(event)) return;
      if (hold.first) hold.onFirst(event);
      else hold.current.next(event);
    } catch (error) {
      hold.subscriber.error(error);
    }
  }

  protected override _error(error: unknown): void {
    try {
      this.hold.current.error(error);
    } catch (thrown) {
      this.hold.subscriber.error(thrown);
    } finally {
      this.unsubscribe();
    }
  }

  protected override _complete(): void {
    try {
      this.hold.current.complete();
    } catch (thrown) {
      this.hold.subscriber.error(thrown);
    } finally {
      this.unsubscribe();
    }
  }
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
