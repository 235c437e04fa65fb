import { asyncScheduler, identity, type MonoTypeOperatorFunction, type Observer, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import { z } from 'zod';
import type { LlmEvent, MetricsNotice } from '../src/core/events';
import { functionSchema, parseConfig } from '../src/core/config';
import { StreamMeter } from '../src/cost/metering';
import type { PriceTable } from '../src/cost/pricing';
import { operate, relay } from '../src/core/stream';
import { schedulerSchema, unboundedDurationSchema, durationSchema, type Duration } from '../src/core/time';

/** Where `meter()` also sends its notices: a function, or an observer (`error`/`complete` follow the stream's). */
export type MeterSink = ((metrics: MetricsNotice) => void) | Partial<Observer<MetricsNotice>>;

/** Options of `meter()`. Every field is optional. */
export interface MeterConfig {
  /**
   * How often a notice is emitted while the answer streams (from the first output event on).
   * `Infinity`: only the first-token notice and the final one. A finite interval is at most
   * 2^31 − 1 ms (about 24.8 days, the longest a timer can wait).
   * @defaultValue '250ms'
   */
  readonly interval?: Duration;
  /**
   * The rolling window of `tokensPerSecond` (kept in 10 buckets): the tokens in it ÷ the time it
   * really covers (from its oldest bucket's start, or from the first output while the stream is
   * younger than the window, to now).
   * @defaultValue '1s'
   */
  readonly window?: Duration;
  /** Prices for `costUsd` (see `withPrices`). @defaultValue defaultPrices */
  readonly prices?: PriceTable;
  /**
   * Tokens in a delta. A throw errors the stream.
   * @defaultValue the model's tokenizer (`tokenCounter(model.id)`); an estimate while it loads or when none is known
   */
  readonly count?: (text: string) => number;
  /** Also gets every notice (then `complete`, or a final snapshot and `error`). A throw errors the stream. @defaultValue none */
  readonly sink?: MeterSink;
  /** Whether notices go downstream too. `false` without a `sink` makes the operator a no-op. @defaultValue true */
  readonly emit?: boolean;
  /** Where time comes from: every timestamp and the interval timer. @defaultValue asyncScheduler */
  readonly scheduler?: SchedulerLike;
}

const sinkSchema = z.custom<MeterSink>(
  (s) => typeof s === 'function' || (typeof s === 'object' && s !== null && ['next', 'error', 'complete'].some((k) => typeof (s as Record<string, unknown>)[k] === 'function')),
  'expected a function (metrics) => void or an observer { next?, error?, complete? }',
);

const configSchema = z.strictObject({
  interval: unboundedDurationSchema.refine((ms) => ms > 0, 'expected a duration greater than 0 (or Infinity)').optional(),
  window: durationSchema.refine((ms) => ms > 0 && ms !== Infinity, 'expected a finite duration greater than 0').optional(),
  prices: z.custom<PriceTable>((p) => typeof p === 'object' && p !== null, 'expected a price table { [model]: { input, output, asOf, source } }').optional(),
  count: functionSchema<(text: string) => number>('a function (text) => number').optional(),
  sink: sinkSchema.optional(),
  emit: z.boolean().optional(),
  scheduler: schedulerSchema.optional(),
});

/**
 * Measures a call while it runs and emits `metrics` notices: time to first token, output tokens so
 * far, tokens per second over a rolling `window` and on average since the first token, elapsed
 * time — and a final notice with the provider's usage and the cost in USD.
 *
 * - **When**: one notice right after the first output event (`text`, `reasoning`, `tool-call`),
 *   with `ttftMs` (subscription → first output); then one every `interval` from a timer while the
 *   stream runs — also while it stalls, so a UI sees the rate decay; then `final: true` just
 *   **before** the `finish` event, so `finish` stays the last event before `complete` (or before
 *   `complete` when a stream ends without `finish`). Nothing is emitted before the first output.
 * - **Tokens** are counted per delta with the model's tokenizer (from the `request` event's model
 *   id), or `count`; while it loads, or for a model without a known tokenizer, a tokenizer-free estimate
 *   (`estimated: true`). The final notice reconciles with provider usage: `outputTokens` =
 *   `usage.outputTokens`, and `costUsd` = `costOf(usage, modelId, prices)` summed over every
 *   `usage` event at the model that answered that call (an escalated or restarted call is billed
 *   too); absent when a model has no price.
 * - A `retry`/`fallback`/`route` notice with `reset: true` restarts the answer's token count and
 *   rates. A `route` (`modelId`), `fallback` (`toId`) or hedge `won` (`modelId`) notice switches the
 *   model used for prices and counting from then on: each call's `usage` is priced at the model
 *   that answered it (source gpt-4o routed to gpt-4o-mini: the mini's price).
 * - `sink` gets every notice (before downstream does); with `emit: false` only the sink does. It
 *   always gets one final snapshot — on an error too, followed by its `error` (downstream gets the
 *   error unchanged) — and its `complete` when the stream completes. Unsubscribing clears the
 *   timer and tells the sink nothing more.
 * - In a pipe, put `meter()` last to measure what the consumer sees (retries, waits and all);
 *   inside `retryBackoff` it meters each attempt.
 *
 * ```
 * source:                 r-a-----------b---------f----|
 * meter({ interval: 5 }):  r-(am)-m----m-b--m----m-(Mf)-|    m: metrics; M: final (usage, cost)
 * ```
 * @example
 * model.stream(request).pipe(
 *   meter({ interval: '500ms', sink: (m) => console.log(m.ttftMs, m.tokensPerSecond.toFixed(1), m.costUsd) }),
 *   text(),
 * ).subscribe((delta) => process.stdout.write(delta));
 */
export function meter(config: MeterConfig = {}): MonoTypeOperatorFunction<LlmEvent> {
  const options = parseConfig('meter', configSchema, config);
  const { interval = 250, window = 1000, prices, count, sink, emit = true, scheduler = asyncScheduler } = options;
  if (!emit && sink === undefined) return identity;
  const observer: Partial<Observer<MetricsNotice>> | undefined = typeof sink === 'function' ? { next: sink } : sink;

  return operate((source, subscriber) => {
    const stream = new StreamMeter({ now: () => scheduler.now(), windowMs: window, count, prices });
    let timer: Subscription | undefined;
    let ended = false;

    const notify = (final: boolean): void => {
      const metrics = stream.snapshot(final);
      observer?.next?.(metrics);
      if (emit && !subscriber.closed) subscriber.next(metrics);
    };
    const end = (): void => {
      ended = true;
      timer?.unsubscribe();
    };
    const tick = function (this: SchedulerAction<unknown>): void {
      try {
        notify(false);
      } catch (error) {
        return subscriber.error(error);
      }
      if (!subscriber.closed && !ended) this.schedule(undefined, interval);
    };

    source.subscribe(
      relay(
        subscriber,
        (event: LlmEvent) => {
          if (ended) return subscriber.next(event);
          if (event.type === 'finish') {
            end();
            notify(true);
            if (!subscriber.closed) subscriber.next(event);
            return;
          }
          const first = stream.observe(event);
          subscriber.next(event);
          // Decision order: an outer operator may have left on this very event; then start nothing.
          if (!first || subscriber.closed) return;
          notify(false);
          if (interval !== Infinity && !subscriber.closed) timer = scheduler.schedule(tick, interval);
        },
        (error) => {
          const last = !ended;
          end();
          if (last) observer?.next?.(stream.snapshot(true));
          observer?.error?.(error);
          subscriber.error(error);
        },
        () => {
          if (!ended) {
            end();
            notify(true);
          }
          observer?.complete?.();
          subscriber.complete();
        },
      ),
    );
    return end;
  });
}
