import type { MonoTypeOperatorFunction } from 'rxjs';
import { z } from 'zod';
import { functionSchema, parseConfig } from '../src/core/config';
import { ConfigurationError, LlmError, RateLimitQueueError } from '../src/core/errors';
import type { LlmEvent, ModelInfo, RequestEvent } from '../src/core/events';
import { isRateLimiter, LimitedCall, priorityOf, type RateLimiter, type RequestPriority } from '../src/control/rate-limiter';
import type { LlmRequest } from '../src/core/request';
import { holdRequest, operate, type CallObserver, type RequestHold } from '../src/core/stream';
import { tokenCounter, type TokenCounter } from '../src/cost/tokens';

/** Options of `rateLimit()`: how this pipeline's requests queue on the shared limiter. */
export interface RateLimitConfig {
  /**
   * Queue priority: higher leaves the queue first; equal ones in arrival order. A number, or a
   * function of the request (a throw, or a result that is not a finite number, errors the stream).
   * @defaultValue `request.metadata.priority` as a number when it is one, else 0
   */
  readonly priority?: RequestPriority;
  /** Counts the tokens of a text, for the token reservation. @defaultValue the model's tokenizer (`tokenCounter(model.id)`) */
  readonly count?: (text: string) => number;
}

const configSchema = z.strictObject({
  priority: z.union([z.number().refine(Number.isFinite, 'expected a finite number'), functionSchema<(r: LlmRequest, m: ModelInfo) => number>('a number or a function (request, model) => number')]).optional(),
  count: functionSchema<(text: string) => number>('a function (text) => number').optional(),
});

/**
 * Lets a call start only when the shared `limiter` (`createRateLimiter()`) admits it: requests
 * and tokens per minute, concurrency, per-key limits, a priority queue, and the provider's
 * rate-limit headers and 429s — shared by every pipeline using the same limiter.
 *
 * - The `request` event is forwarded at once; then (if downstream is still there) the request
 *   joins the limiter's queue. Admitted at once: the source goes on, its I/O starts as usual.
 *   Must wait: the source is unsubscribed inside its `request` event (no byte leaves) and
 *   resubscribed when admitted — its repeated `request` swallowed — after a
 *   `{ type: 'throttle', waitedMs, key? }` notice (only when it waited, `waitedMs > 0`).
 * - Tokens (limiters with a token limit): the reservation is the input tokens (the model's
 *   tokenizer, or `count`; while a tokenizer loads, the source is unsubscribed) plus
 *   `maxOutputTokens` or the limiter's `defaultMaxOutputTokens`. At `usage` it is set to
 *   `inputTokens + outputTokens`. Ended without `usage`: before the `response` event (refused,
 *   429, connection failure, left early) nothing is charged; after it, the input estimate plus
 *   output characters ÷ 4, at most the reservation.
 * - The concurrency slot is held from admission until `finish`, an error, completion or
 *   unsubscription, and given back before that event goes downstream.
 * - A `response` with `remainingRequests` / `remainingTokens` 0 pauses the limiter until its
 *   reset; a `RateLimitError` with `retryAfterMs` pauses it that long — for everyone sharing it.
 * - Priority: higher leaves the queue first (see `RateLimitConfig.priority`). Unsubscribing while
 *   queued leaves the queue at once. `maxQueue` / `maxWait` errors with a
 *   retryable `RateLimitQueueError`; a throwing `priority` or key function errors the stream.
 *   Each subscription acquires afresh; only the limiter is shared. A first event that is not a
 *   `request` (not an rxllm stream) passes everything through unlimited.
 *
 * In a pipe, later = outer = decides first: `pipe(rateLimit(l), retryBackoff(), cache(s))` —
 * a cache hit never queues, and every retry queues again (so a 429 pauses the limiter first).
 *
 * ```
 * limiter busy until frame 4:
 * source:        (r!)            1st subscription: released inside its request, no I/O
 * source:            r-a-f|      2nd, when admitted at frame 4; its request is swallowed
 * rateLimit(l):  r---w-a-f|      w = { type: 'throttle', waitedMs: 4 }
 * ```
 * @example
 * const limiter = createRateLimiter({ requestsPerMinute: 60, tokensPerMinute: 90_000, concurrency: 4 });
 * const urgent = rateLimit(limiter, { priority: 10 });
 * model.stream(request).pipe(urgent, retryBackoff(), text()).subscribe((t) => process.stdout.write(t));
 */
export function rateLimit(limiter: RateLimiter, config: RateLimitConfig = {}): MonoTypeOperatorFunction<LlmEvent> {
  if (!isRateLimiter(limiter)) {
    const received = limiter === null ? 'null' : typeof limiter === 'object' ? 'an object without acquire(), keyOf(), pause() and observe()' : typeof limiter;
    throw new ConfigurationError(`rateLimit(): expected a limiter from createRateLimiter({ ... }); received ${received}`);
  }
  const { priority, count } = parseConfig('rateLimit', configSchema, config);
  const counted: TokenCounter | undefined = count && { count, estimated: false, encoding: undefined };

  return operate((source, subscriber) => {
    const call = new LimitedCall(limiter);
    const end = (): void => call.end();
    const observer: CallObserver = {
      next(event) {
        call.watch(event);
        subscriber.next(event);
      },
      error(error) {
        // Pause first, then give the slot back: the next in line must not slip out before the pause.
        if (LlmError.is(error) && error.code === 'rate_limited' && error.retryAfterMs !== undefined) limiter.pause(error.retryAfterMs);
        end();
        subscriber.error(error);
      },
      complete() {
        end();
        subscriber.complete();
      },
    };
    /** Queues the request — once counted: a tokenizer still loading is awaited with the source unsubscribed. */
    const enqueue = ({ request, model }: RequestEvent, hold: RequestHold): void => {
      const order = priorityOf(priority, request, model);
      const key = limiter.keyOf(request);
      hold.wait(limiter.countsTokens ? (counted ?? tokenCounter(model.id)) : undefined, (counter) => {
        const start = (): void => {
          call.sent = true;
          hold.proceed();
        };
        const admitted = hold.resume((waitedMs: number) => {
          if (waitedMs > 0) subscriber.next({ type: 'throttle', waitedMs, ...(key === undefined ? {} : { key }) });
          start();
        });
        const ticket = limiter.acquire(call.demand(request, counter, key, order), { admitted, rejected: (e) => subscriber.error(e) });
        if (ticket instanceof RateLimitQueueError) return subscriber.error(ticket);
        call.ticket = ticket;
        if (ticket.state === 'admitted') start();
        else hold.release(); // wait for the permit with the source unsubscribed; `end` leaves the queue on unsubscribe
      });
    };
    holdRequest(source, subscriber, enqueue, observer);
    return end;
  });
}
