import { identity, type MonoTypeOperatorFunction, type Observable } from 'rxjs';
import { z } from 'zod';
import { afterOutputSchema, attemptLog, causeOf, type AfterOutput } from '../src/control/attempts';
import type { LlmEvent, RequestEvent } from '../src/core/events';
import type { Model } from '../src/core/model';
import { functionSchema, modelSchema, parseConfig } from '../src/core/config';
import { isRetryable, operate, relay } from '../src/core/stream';

/** What `shouldFallback` is told besides the error. */
export interface FallbackContext {
  /** `name` of the model that failed. */
  readonly from: string;
  /** `name` of the model that would be tried next. */
  readonly to: string;
  /** True when the failed attempt had emitted output (only asked with `afterOutput: 'restart'`). */
  readonly outputStarted: boolean;
}

/** Options of `fallback({ ... })`. */
export interface FallbackConfig {
  /** The models to try, in order, after the source's own model fails. None makes the operator a no-op. */
  readonly models: readonly Model[];
  /**
   * Which errors move on to the next model. Asked only when a model is left and the after-output
   * policy allows it. A throw errors the stream with what was thrown.
   * @defaultValue (error) => LlmError.is(error) && error.retryable
   */
  readonly shouldFallback?: (error: unknown, context: FallbackContext) => boolean;
  /**
   * A failure after output went downstream: `'before-output'` passes the error on; `'restart'`
   * falls back and emits the `fallback` notice with `reset: true` (consumers discard the partial text).
   * @defaultValue 'before-output'
   */
  readonly afterOutput?: AfterOutput;
}

const configSchema = z.strictObject({
  models: z.array(modelSchema),
  shouldFallback: functionSchema<NonNullable<FallbackConfig['shouldFallback']>>('a function (error, context) => boolean').optional(),
  afterOutput: afterOutputSchema.optional(),
});

/**
 * When the call fails, runs the same request on the next model — possibly another provider —
 * and so on down the list. The request is the normalized one from the stream's `request` event,
 * passed to `model.stream(request)`.
 *
 * - An error moves on when `shouldFallback` says so (by default: an rxllm error with
 *   `retryable: true`), a model is left, and the after-output policy allows it. Anything else is
 *   passed on at once, unchanged; when the last model fails, its error goes down the error channel.
 * - On a switch it emits `{ type: 'fallback', from, to, toId, cause: error.code, reset }` (`from`,
 *   `to`: model names; `toId`: the next model's provider id, which `budget()` and `meter()` after
 *   it price the next call at) and subscribes to the next model at once. The next model's own `request` event is swallowed:
 *   downstream sees one `request` (the first model's) and one `finish`.
 * - A failure before the `request` event (an invalid request) is passed on: there is nothing to resend.
 * - Unsubscribing at any time releases whichever attempt is running (its HTTP call is aborted).
 *
 * In a pipe, later = outer = decides first. `pipe(retryBackoff(), fallback(b))` retries the
 * primary, then falls back to `b` once, without retries (3 calls to the primary, 1 to `b` with
 * the default `maxRetries: 2`). `pipe(fallback(b), retryBackoff())` retries the whole chain
 * primary → `b` (3 calls to each when both keep failing). Operators before `fallback` apply to the
 * primary only; those after it apply to whichever model answers.
 *
 * ```
 * source:          -r-#
 * next model:         -r-a-f|
 * fallback(next):  -r-n--a-f|       n: fallback notice; the next model's r is swallowed
 * ```
 * @example
 * const answer = await lastValueFrom(
 *   openai({ model: 'gpt-4o' }).stream(request).pipe(retryBackoff(), fallback(anthropicModel, localModel), collect()),
 * );
 */
export function fallback(...models: Model[]): MonoTypeOperatorFunction<LlmEvent>;
export function fallback(config: FallbackConfig): MonoTypeOperatorFunction<LlmEvent>;
export function fallback(...args: unknown[]): MonoTypeOperatorFunction<LlmEvent> {
  const first = args[0];
  const given = args.length === 1 && typeof first === 'object' && first !== null && !('stream' in first) ? first : { models: args };
  const { models, shouldFallback = isRetryable, afterOutput = 'before-output' } = parseConfig('fallback', configSchema, given);
  if (models.length === 0) return identity;

  return operate((source, subscriber) => {
    const log = attemptLog(afterOutput);
    let request: RequestEvent | undefined;
    let current = '';
    let tried = 0;
    const forward = (event: LlmEvent): void => {
      if (log.pass(event)) subscriber.next(event);
    };
    // Each attempt subscribes through a relay chained to `subscriber`: unsubscribing downstream
    // releases whichever attempt is running (and aborts its HTTP call) without bookkeeping here.
    const run = (stream: Observable<LlmEvent>): void => {
      stream.subscribe(
        relay(
          subscriber,
          (event: LlmEvent) => {
            if (event.type === 'request' && request === undefined) {
              request = event;
              current = event.model.name;
            }
            forward(event);
          },
          (error) => {
            const next = models[tried];
            const from = current;
            const verdict = next && request ? log.again(error, (e, outputStarted) => shouldFallback(e, { from, to: next.info.name, outputStarted })) : undefined;
            if (!next || !request || verdict === undefined) return subscriber.error(error);
            tried++;
            current = next.info.name;
            forward({ type: 'fallback', from, to: current, toId: next.info.id, cause: causeOf(error), reset: verdict.reset });
            // The notice may have made downstream leave: then no call is started.
            if (!subscriber.closed) run(next.stream(request.request));
          },
        ),
      );
    };
    run(source);
  });
}
