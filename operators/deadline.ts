import { asyncScheduler, identity, type MonoTypeOperatorFunction, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import { z } from 'zod';
import { TimeoutError, type TimeoutKind } from '../src/core/errors';
import { isOutput, type LlmEvent } from '../src/core/events';
import { parseConfig } from '../src/core/config';
import { operate, relay } from '../src/core/stream';
import { schedulerSchema, unboundedDurationSchema, type Duration } from '../src/core/time';

/**
 * Options of `deadline()`. Every limit is optional; set at least one, or the operator does nothing.
 * A limit is at most 2^31 − 1 ms (about 24.8 days: a timer fires a longer one after
 * 1 ms), or `Infinity` for none.
 */
export interface DeadlineConfig {
  /**
   * Longest wait from subscription to the first output event (`text`, `reasoning` or `tool-call`):
   * time to first token. `response`, `usage` and notices do not stop it.
   * @defaultValue no limit
   */
  readonly firstToken?: Duration;
  /**
   * Longest gap between two consecutive events once output has started (any event restarts it:
   * deltas, usage, notices). Catches a stream that stalls mid-answer.
   * @defaultValue no limit
   */
  readonly idle?: Duration;
  /** Longest time from subscription to the `finish` event. @defaultValue no limit */
  readonly total?: Duration;
  /** Where time comes from; a `TestScheduler` in marble tests. @defaultValue asyncScheduler */
  readonly scheduler?: SchedulerLike;
}

const limit = unboundedDurationSchema.refine((ms) => ms > 0, 'expected a duration greater than 0 (leave the option out, or Infinity, for no limit)');

const configSchema = z.strictObject({
  firstToken: limit.optional(),
  idle: limit.optional(),
  total: limit.optional(),
  scheduler: schedulerSchema.optional(),
});

/**
 * Puts time limits on a call: time to first token, the longest silence mid-stream, and the whole
 * call. When a limit is passed the stream errors with a `TimeoutError` whose `kind`
 * (`'first-token'`, `'idle'`, `'total'`) says which limit fired and `limitMs` how long it was;
 * upstream is unsubscribed in the same frame, so the HTTP request is aborted and its socket closed.
 *
 * - Events pass through unchanged. The clocks start once the `request` event has been forwarded —
 *   synchronously on subscribe — and only if downstream is still subscribed then (an outer cache
 *   hit or open circuit starts none). A source that emits no `request` synchronously is timed
 *   from subscription.
 * - `firstToken` is stopped by the first `text`, `reasoning` or `tool-call` event; `idle` runs from
 *   there, restarted by every event; `finish` stops all clocks. Source errors, completion and
 *   unsubscription clear every timer.
 * - Limits that fire in the same frame: `first-token` is reported before `total`.
 * - `TimeoutError` is retryable. Before `retryBackoff` (`pipe(deadline(...), retryBackoff())`) each
 *   attempt gets fresh clocks and a timed-out attempt is retried; after it
 *   (`pipe(retryBackoff(), deadline(...))`) the limits cover all attempts and their waits together.
 *   The same holds for `fallback`: before it, a timed-out model falls back; after it, the limits
 *   bound the whole chain.
 * - With no limit set it returns `identity`.
 *
 * ```
 * source:                      r-a-b------c-f|
 * deadline({ idle: 3 }):       r-a-b--#           # = TimeoutError('idle', 3), upstream released at #
 * ```
 * @example
 * // Error if the first token takes over 2 s or the stream goes quiet for 5 s; retry a timed-out attempt.
 * model.stream(request).pipe(deadline({ firstToken: '2s', idle: '5s' }), retryBackoff(), text())
 *   .subscribe({ next: (delta) => process.stdout.write(delta), error: (e) => console.error(e.kind, e.limitMs) });
 */
export function deadline(config: DeadlineConfig): MonoTypeOperatorFunction<LlmEvent> {
  const { firstToken = Infinity, idle = Infinity, total = Infinity, scheduler = asyncScheduler } = parseConfig('deadline', configSchema, config);
  if (firstToken === Infinity && idle === Infinity && total === Infinity) return identity;

  return operate((source, subscriber) => {
    let started = false;
    let output = false;
    let lastEventAt = 0;
    let firstTimer: Subscription | undefined;
    let idleTimer: Subscription | undefined;
    let totalTimer: Subscription | undefined;

    const fail = (kind: TimeoutKind, limitMs: number): void => subscriber.error(new TimeoutError(kind, limitMs));
    const arm = (kind: TimeoutKind, limitMs: number): Subscription | undefined =>
      limitMs === Infinity ? undefined : scheduler.schedule(() => fail(kind, limitMs), limitMs);
    const start = (): void => {
      started = true;
      // first-token is armed first so that, due in the same frame as total, it is the one reported.
      firstTimer = arm('first-token', firstToken);
      totalTimer = arm('total', total);
    };
    const clear = (): void => {
      firstTimer?.unsubscribe();
      idleTimer?.unsubscribe();
      totalTimer?.unsubscribe();
    };
    // One idle timer per stream, not one per token: each event only records its time; when the
    // timer comes due it re-schedules itself for what is left of the gap since the last event.
    const idleCheck = function (this: SchedulerAction<unknown>): void {
      const left = lastEventAt + idle - scheduler.now();
      if (left > 0) this.schedule(undefined, left);
      else fail('idle', idle);
    };

    source.subscribe(
      relay(subscriber, (event: LlmEvent) => {
        subscriber.next(event);
        // Decision order: an outer operator may have left on this very event; then start nothing.
        if (subscriber.closed) return;
        if (!started) start();
        if (event.type === 'finish') return clear();
        if (!output && isOutput(event)) {
          output = true;
          firstTimer?.unsubscribe();
        }
        if (output && idle !== Infinity) {
          lastEventAt = scheduler.now();
          idleTimer ??= scheduler.schedule(idleCheck, idle);
        }
      }),
    );
    if (!started && !subscriber.closed) start();
    return clear;
  });
}
