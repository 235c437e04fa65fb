import { asyncScheduler, identity, type MonoTypeOperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { z } from 'zod';
import { afterOutputSchema, attemptLog, causeOf, type AfterOutput } from '../src/control/attempts';
import { LlmError } from '../src/core/errors';
import type { LlmEvent } from '../src/core/events';
import { functionSchema, parseConfig } from '../src/core/config';
import { isRetryable, operate, relay } from '../src/core/stream';
import { durationSchema, schedulerSchema, type Duration } from '../src/core/time';

/** What `shouldRetry` is told besides the error. */
export interface ShouldRetryContext {
  /** The retry this would be: 1 for the first retry. */
  readonly attempt: number;
  /** True when the failed attempt had emitted output (only asked with `afterOutput: 'restart'`). */
  readonly outputStarted: boolean;
}

/** What `onRetry` is told, once per retry, before the wait. */
export interface RetryContext {
  /** 1 for the first retry (the second attempt). */
  readonly attempt: number;
  /** How long the operator waits before resubscribing. */
  readonly delayMs: number;
  /** The error that failed the attempt. */
  readonly error: unknown;
  /** True when the failed attempt had emitted output, which consumers must now discard. */
  readonly reset: boolean;
}

/** Options of `retryBackoff()`. */
export interface RetryBackoffConfig {
  /** Retries after the first attempt (`Infinity` allowed). `0` makes the operator a no-op. @defaultValue 2 */
  readonly maxRetries?: number;
  /** The ceiling of the first retry's random delay; the ceiling doubles with each retry. @defaultValue '500ms' */
  readonly initialDelay?: Duration;
  /** The ceiling stops growing here; at most 2^31 − 1 ms (about 24.8 days). @defaultValue '30s' */
  readonly maxDelay?: Duration;
  /**
   * The longest `retryAfterMs` (the provider's `retry-after` / `retry-after-ms`) honoured. A longer
   * one is not waited out: the error is passed on at once, so a caller (or a `fallback` after this
   * operator) can go elsewhere instead of hanging for minutes. At most 2^31 − 1 ms (about 24.8
   * days, the longest a timer can wait), so a `Retry-After` of a month is always passed on.
   * @defaultValue '60s'
   */
  readonly maxRetryAfter?: Duration;
  /**
   * A failure after output went downstream: `'before-output'` passes the error on; `'restart'`
   * retries and emits the `retry` notice with `reset: true` (consumers discard the partial text).
   * @defaultValue 'before-output'
   */
  readonly afterOutput?: AfterOutput;
  /**
   * Which errors are retried. Asked only when retries are left and the after-output policy allows one.
   * A throw errors the stream with what was thrown.
   * @defaultValue (error) => LlmError.is(error) && error.retryable
   */
  readonly shouldRetry?: (error: unknown, context: ShouldRetryContext) => boolean;
  /** Called once per retry, before the `retry` notice and the wait. A throw errors the stream. @defaultValue none */
  readonly onRetry?: (context: RetryContext) => void;
  /** A number in [0, 1) for the jitter; inject a constant in tests. @defaultValue Math.random */
  readonly random?: () => number;
  /** Schedules the waits. @defaultValue asyncScheduler */
  readonly scheduler?: SchedulerLike;
}


const configSchema = z.strictObject({
  maxRetries: z.custom<number>((n) => n === Infinity || (Number.isInteger(n) && (n as number) >= 0), 'expected a whole number ≥ 0 or Infinity').optional(),
  initialDelay: durationSchema.optional(),
  maxDelay: durationSchema.optional(),
  maxRetryAfter: durationSchema.optional(),
  afterOutput: afterOutputSchema.optional(),
  shouldRetry: functionSchema<NonNullable<RetryBackoffConfig['shouldRetry']>>('a function (error, context) => boolean').optional(),
  onRetry: functionSchema<NonNullable<RetryBackoffConfig['onRetry']>>('a function (context) => void').optional(),
  random: functionSchema<() => number>('a function returning a number in [0, 1)').optional(),
  scheduler: schedulerSchema.optional(),
});

/**
 * Retries a failed call with exponential backoff and full jitter, honouring the provider's
 * `Retry-After`. The retried call is the same request on the same model: the operator
 * resubscribes its source.
 *
 * - An error is retried when `shouldRetry` says so (by default: an rxllm error with
 *   `retryable: true` — 429, 5xx, connection failures, timeouts), retries are left, and the
 *   after-output policy allows it. Anything else is passed on at once, unchanged.
 * - Delay: the error's `retryAfterMs` when it has one (if it exceeds `maxRetryAfter` the error is
 *   passed on instead of waiting); else `random() * min(maxDelay, initialDelay * 2^(attempt - 1))`,
 *   rounded to whole milliseconds. Both bounds are at most 2^31 − 1 ms (checked at construction),
 *   so no delay overflows the timer (which would fire it after 1 ms): a `Retry-After` longer than
 *   a timer can wait is never honoured, the error goes on instead.
 * - Each retry emits `{ type: 'retry', attempt, delayMs, cause: error.code, reset }` right away,
 *   then waits on `scheduler` (upstream is already released), then resubscribes. Downstream sees
 *   the first `request` event only (the repeats are swallowed) and one `finish`.
 * - When retries run out, the last error goes down the error channel.
 * - Unsubscribing releases the running attempt, or clears the pending timer during a wait.
 *
 * In a pipe, later = outer = decides first. Operators before `retryBackoff` run inside each
 * attempt (`pipe(deadline(...), retryBackoff())` retries a timed-out attempt). With `fallback`:
 * `pipe(retryBackoff(), fallback(b))` retries the primary, then falls back to `b` once without
 * retries; `pipe(fallback(b), retryBackoff())` retries the whole chain primary → `b`.
 *
 * ```
 * source (1st):   -r-#
 * source (2nd):         -r-a-f|
 * retryBackoff(): -r-x-----a-f|     x: retry notice, then a 3-frame wait; the 2nd r is swallowed
 * ```
 * @example
 * const answer = await lastValueFrom(
 *   model.stream(request).pipe(retryBackoff({ maxRetries: 3, initialDelay: '1s' }), collect()),
 * );
 */
export function retryBackoff(config: RetryBackoffConfig = {}): MonoTypeOperatorFunction<LlmEvent> {
  const {
    maxRetries = 2,
    initialDelay = 500,
    maxDelay = 30_000,
    maxRetryAfter = 60_000,
    afterOutput = 'before-output',
    shouldRetry = isRetryable,
    onRetry,
    random = Math.random,
    scheduler = asyncScheduler,
  } = parseConfig('retryBackoff', configSchema, config);
  if (maxRetries === 0) return identity;

  const delayFor = (error: unknown, attempt: number): number | undefined => {
    const retryAfter = LlmError.is(error) ? error.retryAfterMs : undefined;
    // maxRetryAfter and maxDelay are at most MAX_DELAY_MS (the schema): every delay fits a timer.
    if (retryAfter !== undefined) return retryAfter <= maxRetryAfter ? retryAfter : undefined;
    return Math.round(random() * Math.min(maxDelay, initialDelay * 2 ** (attempt - 1)));
  };

  return operate((source, subscriber) => {
    const log = attemptLog(afterOutput);
    let retries = 0;
    let wait: Subscription | undefined;
    const forward = (event: LlmEvent): void => {
      if (log.pass(event)) subscriber.next(event);
    };
    // Each attempt subscribes through a relay chained to `subscriber`: unsubscribing downstream
    // releases the running attempt (and its HTTP call) without further bookkeeping here.
    const start = (): void => {
      wait = undefined;
      source.subscribe(
        relay(subscriber, forward, (error) => {
          const next = retries + 1;
          const verdict = next <= maxRetries ? log.again(error, (e, outputStarted) => shouldRetry(e, { attempt: next, outputStarted })) : undefined;
          const delayMs = verdict && delayFor(error, next);
          if (verdict === undefined || delayMs === undefined) return subscriber.error(error);
          retries = next;
          onRetry?.({ attempt: next, delayMs, error, reset: verdict.reset });
          forward({ type: 'retry', attempt: next, delayMs, cause: causeOf(error), reset: verdict.reset });
          // The notice may have made downstream leave (take, takeWhile): then there is nothing to wait for.
          if (!subscriber.closed) wait = scheduler.schedule(start, delayMs);
        }),
      );
    };
    start();
    return () => wait?.unsubscribe();
  });
}
