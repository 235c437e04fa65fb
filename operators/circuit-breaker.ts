import type { MonoTypeOperatorFunction } from 'rxjs';
import { isBreaker, type Breaker, type BreakerPermit } from '../src/control/breaker';
import { ConfigurationError } from '../src/core/errors';
import type { LlmEvent } from '../src/core/events';
import { operate, relay } from '../src/core/stream';

/**
 * Guards a provider or model with a shared circuit breaker (`createBreaker()`): while the circuit
 * is open, calls fail fast with a `CircuitOpenError` **before any I/O**, so a struggling provider
 * gets room to recover and callers get an answer in microseconds instead of a timeout.
 *
 * - On the `request` event the operator forwards it, then (if downstream is still subscribed)
 *   asks the breaker. Refused: it errors with `CircuitOpenError` (`retryAfterMs`: time left
 *   open; 0 when half-open and the probe slots are taken) and releases upstream in the same
 *   synchronous step, so the source never starts its request. Admitted: events pass unchanged.
 * - Outcomes: `finish` is a success; an error is a failure when the breaker's `isFailure` says so
 *   (else neither); unsubscribing before either — or a completion without `finish` — is neither
 *   (a half-open probe slot is given back). Errors pass through unchanged.
 * - The decision is taken on the first event, whenever it comes (it is the `request` event, emitted
 *   synchronously on subscribe, for every rxllm stream). A stream that fails before any event (an
 *   invalid request) is passed on and not counted: no call was made.
 * - In a pipe, later = outer: `pipe(circuitBreaker(b), retryBackoff())` counts every attempt and,
 *   once open, hands `retryBackoff` a retryable `CircuitOpenError` with `retryAfterMs`;
 *   `pipe(retryBackoff(), circuitBreaker(b))` counts a call once, however many retries it took.
 *   `pipe(circuitBreaker(b), fallback(backup))` moves to `backup` at once while `b` is open.
 *
 * ```
 * breaker open:             (r#)         # = CircuitOpenError; the source is subscribed (^!) and never sends
 * breaker closed:           r-a-f|       finish counts as a success
 * ```
 * @example
 * const breaker = createBreaker({ name: 'openai', minimumCalls: 20, openFor: '30s' });
 * const guarded = pipe(circuitBreaker(breaker), fallback(backupModel));
 * model.stream(request).pipe(guarded, text()).subscribe((t) => process.stdout.write(t));
 */
export function circuitBreaker(breaker: Breaker): MonoTypeOperatorFunction<LlmEvent> {
  if (!isBreaker(breaker)) {
    const received = breaker === null ? 'null' : typeof breaker === 'object' ? 'an object without acquire() and name' : typeof breaker;
    throw new ConfigurationError(`circuitBreaker(): expected a breaker from createBreaker({ name, ... }); received ${received}`);
  }

  return operate((source, subscriber) => {
    let decided = false;
    let permit: BreakerPermit | undefined;
    // Takes the permit out first, so that whatever reports the outcome reports it once.
    const take = (): BreakerPermit | undefined => {
      const current = permit;
      permit = undefined;
      return current;
    };
    const admit = (): void => {
      decided = true;
      const answer = breaker.acquire();
      if (answer instanceof Error) subscriber.error(answer);
      else permit = answer;
    };

    source.subscribe(
      relay(
        subscriber,
        (event: LlmEvent) => {
          subscriber.next(event);
          if (!decided) {
            // Decision order: an outer operator may have left on the request event; then ask nothing.
            if (!subscriber.closed) admit();
            return;
          }
          if (event.type === 'finish') take()?.success();
        },
        (error) => {
          take()?.failure(error);
          subscriber.error(error);
        },
        () => {
          take()?.cancel();
          subscriber.complete();
        },
      ),
    );
    return () => take()?.cancel();
  });
}
