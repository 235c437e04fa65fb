import type { MonoTypeOperatorFunction, Subscriber } from 'rxjs';
import { z } from 'zod';
import { functionSchema, parseConfig } from '../src/core/config';
import { ConfigurationError, LlmError, RateLimitQueueError } from '../src/core/errors';
import type { LlmEvent, ModelInfo, RequestEvent } from '../src/core/events';
import { isRateLimiter, type RateLimiter, type RateLimitTicket } from '../src/control/rate-limiter';
import type { LlmRequest } from '../src/core/request';
import { operate, relay, requestGate } from '../src/core/stream';
import { requestTokens, tokenCounter, type TokenCounter } from '../src/cost/tokens';

/** Options of `rateLimit()`: how this pipeline's requests queue on the shared limiter. */
export interface RateLimitConfig {
  /**
   * Queue priority: higher leaves the queue first; equal ones in arrival order. A number, or a
   * function of the request (a throw, or a result that is not a finite number, errors the stream).
   * @defaultValue `request.metadata.priority` as a number when it is one, else 0
   */
  readonly priority?: number | ((request: LlmRequest, model: ModelInfo) => number);
  /** Counts the tokens of a text, for the token reservation. @defaultValue the model's tokenizer (`tokenCounter(model.id)`) */
  readonly count?: (text: string) => number;
}

const configSchema = z.strictObject({
  priority: z.union([z.number().refine(Number.isFinite, 'expected a finite number'), functionSchema<(r: LlmRequest, m: ModelInfo) => number>('a number or a function (request, model) => number')]).optional(),
  count: functionSchema<(text: string) => number>('a function (text) => number').optional(),
});

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => typeof (v as Promise<T> | null)?.then === 'function';

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
  const priorityOf = (request: LlmRequest, model: ModelInfo): number => {
    if (typeof priority === 'number') return priority;
    if (priority === undefined) {
      const fromMetadata = Number(request.metadata?.['priority'] ?? NaN);
      return Number.isFinite(fromMetadata) ? fromMetadata : 0;
    }
    const value = priority(request, model);
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`rateLimit(): priority() must return a finite number; it returned ${String(value)}`);
    return value;
  };

  return operate((source, subscriber: Subscriber<LlmEvent>) => {
    const pass = requestGate();
    let phase: 'new' | 'through' | 'waiting' | 'running' = 'new';
    let ticket: RateLimitTicket | undefined;
    let sent = false;
    let [input, reserved, outputChars, responded, settled] = [0, 0, 0, false, false];

    /** Gives the slot back, charging what the call used if `usage` never said. Idempotent. */
    const end = (): void => {
      if (ticket?.state === 'admitted' && !settled) ticket.settle(responded ? Math.min(reserved, input + Math.ceil(outputChars / 4)) : 0);
      ticket?.release(sent);
    };
    const watch = (event: LlmEvent): void => {
      if (event.type === 'response') {
        responded = true;
        if (event.rateLimit) limiter.observe(event.rateLimit);
      } else if (event.type === 'usage') {
        settled = true;
        ticket!.settle(event.usage.inputTokens + event.usage.outputTokens);
      } else if (event.type === 'text' || event.type === 'reasoning') outputChars += event.text.length;
      else if (event.type === 'tool-call') outputChars += event.argumentsDelta.length;
      else if (event.type === 'finish') end(); // before it goes downstream: the next in line may start
    };
    const onEvent = (event: LlmEvent): void => {
      if (!pass(event)) return;
      if (phase === 'new') {
        phase = event.type === 'request' ? 'waiting' : 'through';
        subscriber.next(event);
        // Decision order: an outer operator may have answered or left on this very event.
        if (phase === 'waiting' && !subscriber.closed) decide(event as RequestEvent);
        return;
      }
      if (phase === 'running') watch(event);
      subscriber.next(event);
    };
    const onError = (error: unknown): void => {
      // Pause first, then give the slot back: the next in line must not slip out before the pause.
      if (LlmError.is(error) && error.code === 'rate_limited' && error.retryAfterMs !== undefined) limiter.pause(error.retryAfterMs);
      end();
      subscriber.error(error);
    };
    const onComplete = (): void => {
      end();
      subscriber.complete();
    };
    let upstream = relay(subscriber, onEvent, onError, onComplete);
    const listen = (): void => {
      sent = true;
      upstream = relay(subscriber, onEvent, onError, onComplete);
      source.subscribe(upstream);
    };

    const decide = ({ request, model }: RequestEvent): void => {
      const order = priorityOf(request, model);
      const key = limiter.keyOf(request);
      const output = request.maxOutputTokens ?? limiter.defaultMaxOutputTokens;
      const enqueue = (counter: TokenCounter | undefined, upstreamOpen: boolean): void => {
        input = counter ? requestTokens(request, counter) : 0;
        reserved = counter ? input + output : 0;
        const result = limiter.acquire({ key, tokens: reserved, priority: order }, { admitted: (waitedMs) => admitted(waitedMs, key), rejected: (e) => subscriber.error(e) });
        if (result instanceof RateLimitQueueError) return subscriber.error(result);
        ticket = result;
        if (ticket.state !== 'admitted') return upstream.unsubscribe(); // wait with the source unsubscribed
        phase = 'running';
        if (upstreamOpen) sent = true;
        else listen();
      };
      if (!limiter.countsTokens) return enqueue(undefined, true);
      const counter = counted ?? tokenCounter(model.id);
      if (!isPromise(counter)) return enqueue(counter, true);
      upstream.unsubscribe(); // the tokenizer loads: the source sends nothing meanwhile
      // tokenCounter() resolves (to an estimate if the tokenizer fails to load); a throw in enqueue errors the stream.
      counter
        .then((loaded) => {
          if (!subscriber.closed) enqueue(loaded, false);
        })
        .catch((error: unknown) => subscriber.error(error));
    };
    const admitted = (waitedMs: number, key: string | undefined): void => {
      try {
        phase = 'running';
        if (waitedMs > 0) subscriber.next({ type: 'throttle', waitedMs, ...(key === undefined ? {} : { key }) });
        if (!subscriber.closed) listen();
      } catch (error) {
        subscriber.error(error);
      }
    };

    source.subscribe(upstream);
    return end;
  });
}
