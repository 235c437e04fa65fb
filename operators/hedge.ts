import { asyncScheduler, identity, type MonoTypeOperatorFunction, type Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import { z } from 'zod';
import { isOutput, type HedgeNotice, type LlmEvent, type RequestEvent } from '../src/core/events';
import type { Model } from '../src/core/model';
import { modelSchema, parseConfig } from '../src/core/config';
import { operate, relay, requestGate } from '../src/core/stream';
import { schedulerSchema, unboundedDurationSchema, type Duration } from '../src/core/time';

/** Options of `hedge()`. */
export interface HedgeConfig {
  /**
   * How long to wait for the first output (`text`, `reasoning` or `tool-call`) before starting a
   * second attempt. At most 2^31 − 1 ms (about 24.8 days: a timer fires a longer
   * one after 1 ms, which would send a second, billed request at once). `Infinity` never hedges
   * (the operator is `identity`).
   */
  readonly after: Duration;
  /**
   * The model the second attempt calls, with the request from the `request` event.
   * @defaultValue the same source again: the pipeline before `hedge` is subscribed a second time
   */
  readonly model?: Model;
  /** Where time comes from; a `TestScheduler` in marble tests. @defaultValue asyncScheduler */
  readonly scheduler?: SchedulerLike;
}

const configSchema = z.strictObject({
  after: unboundedDurationSchema,
  model: modelSchema.optional(),
  scheduler: schedulerSchema.optional(),
});

/** One racing attempt: its role, its model's name, the events it holds back until it wins. */
interface Attempt {
  readonly role: HedgeNotice['attempt'];
  /** Known once the primary's `request` event names it. */
  model: string;
  /** Its provider model id (`ModelInfo.id`); known with `model`. */
  modelId: string;
  readonly held: LlmEvent[];
  failed: boolean;
  subscriber?: Subscriber<LlmEvent>;
}

/**
 * A hedged request: when no output has arrived `after` the `request` event, a second attempt
 * starts (the same source resubscribed, or `model`), and whichever produces output first wins.
 * The loser is unsubscribed at that moment — its HTTP request aborted, its socket closed.
 *
 * - The race is decided by the first output event (`text`, `reasoning` or `tool-call`, as
 *   `isOutput` says) — a reasoning model's thinking counts as being under way — or by a `finish`
 *   (an empty answer is an answer). Until then each attempt's other events (`response`, inner
 *   notices) are held back; only the winner's are emitted, in order, right after the `hedge`
 *   `won` notice. Downstream sees one `request` event: the second attempt's is swallowed.
 * - Notices: `{ type: 'hedge', phase: 'started', attempt: 'hedge', model, modelId, afterMs }` when
 *   the second attempt starts, and `{ phase: 'won', attempt, model, modelId, afterMs }` when it
 *   races and a winner is decided (`model`: name, `modelId`: provider id — `budget()` and `meter()`
 *   after `hedge` price the answer at the winner's; `afterMs`: time since subscription). No hedge,
 *   no notices.
 * - Errors: a failure of the first attempt before the second has started goes on at once (a
 *   hedge races slowness; retrying failures is `retryBackoff`'s job). Once both run, an attempt
 *   that fails before any output drops out and the other is awaited; if both fail, the last
 *   error goes on. After the race is decided, the winner's errors pass through.
 * - Unsubscribing releases both attempts and the timer. With `after: Infinity` it is `identity`.
 * - In a pipe: `pipe(hedge(...), retryBackoff())` hedges every attempt, and retries when both
 *   hedged attempts of one failed; `pipe(retryBackoff(), hedge(...))` races two retrying chains.
 *   Put `fallback` after `hedge` to go elsewhere when both attempts fail; before it, a failed
 *   primary falls back within the first attempt, and the hedge (same source) starts the whole chain again.
 * - Costs: a hedged call is billed twice up to the moment the loser is released. Nothing of the
 *   loser reaches downstream, so a `budget()` ledger after `hedge` cannot record it (put `budget`
 *   before `hedge` — same source — to record each attempt).
 *
 * ```
 * source (1st):            r---------a-f|
 * source (2nd):               r-a-----f|       its r is swallowed
 * hedge({ after: 3 }):     r--s-(wa)--f|       s: started, w: won (hedge); 1st released at w
 * ```
 * @example
 * // Ask a second provider when the first has said nothing after 800 ms.
 * model.stream(request).pipe(hedge({ after: '800ms', model: backup }), text()).subscribe((t) => process.stdout.write(t));
 */
export function hedge(config: HedgeConfig): MonoTypeOperatorFunction<LlmEvent> {
  const { after, model, scheduler = asyncScheduler } = parseConfig('hedge', configSchema, config);
  if (after === Infinity) return identity;

  return operate((source, subscriber) => {
    const startedAt = scheduler.now();
    const pass = requestGate();
    const attempts: Attempt[] = [];
    let winner: Attempt | undefined;
    let timer: Subscription | undefined;

    const notice = (phase: HedgeNotice['phase'], { role, model: name, modelId }: Pick<Attempt, 'role' | 'model' | 'modelId'>): void =>
      subscriber.next({ type: 'hedge', phase, attempt: role, model: name, modelId, afterMs: scheduler.now() - startedAt });

    const win = (attempt: Attempt): void => {
      winner = attempt;
      timer?.unsubscribe();
      for (const other of attempts) if (other !== attempt) other.subscriber?.unsubscribe();
      if (attempts.length > 1) notice('won', attempt);
      for (const event of attempt.held.splice(0)) subscriber.next(event);
    };

    const startHedge = (request: RequestEvent): void => {
      try {
        // Built before the notice: a `model.stream()` that throws errors the stream, with no notice.
        const events = model ? model.stream(request.request) : source;
        const { name, id } = model ? model.info : request.model;
        notice('started', { role: 'hedge', model: name, modelId: id });
        if (!subscriber.closed) run('hedge', name, id, events);
      } catch (error) {
        subscriber.error(error);
      }
    };

    const run = (role: Attempt['role'], name: string, modelId: string, events: Observable<LlmEvent>): void => {
      const attempt: Attempt = { role, model: name, modelId, held: [], failed: false };
      attempts.push(attempt);
      // The subscriber exists before subscribe() runs, so a loser can be released even while a
      // synchronous source is still inside its own subscribe().
      attempt.subscriber = relay(
        subscriber,
        (event: LlmEvent) => {
          if (!pass(event) || (winner !== undefined && winner !== attempt)) return;
          if (winner === attempt) return subscriber.next(event);
          if (event.type === 'request') {
            // The first request (the primary's): forward it, then start the clock if still wanted.
            attempt.model = event.model.name;
            attempt.modelId = event.model.id;
            subscriber.next(event);
            if (!subscriber.closed) timer = scheduler.schedule(() => startHedge(event), after);
            return;
          }
          if (!isOutput(event) && event.type !== 'finish') return void attempt.held.push(event);
          win(attempt);
          subscriber.next(event);
        },
        (error) => {
          attempt.failed = true;
          attempt.held.length = 0;
          // Keep waiting only while the race is open and the other attempt still runs.
          if (winner === undefined && attempts.some((other) => !other.failed)) return;
          subscriber.error(error);
        },
        () => {
          if (winner === undefined) win(attempt);
          if (winner === attempt) subscriber.complete();
        },
      );
      events.subscribe(attempt.subscriber);
    };

    run('primary', '', '', source);
    return () => timer?.unsubscribe();
  });
}
