import { identity, type MonoTypeOperatorFunction, type Subscriber } from 'rxjs';
import { z } from 'zod';
import type { Completion } from '../src/core/consume';
import type { LlmEvent, ModelInfo, RequestEvent, RouteNotice } from '../src/core/events';
import { functionSchema, modelSchema, parseConfig } from '../src/core/config';
import type { Model } from '../src/core/model';
import type { LlmRequest } from '../src/core/request';
import { chooseRoute, completionOf, routeBudgetSchema, routeRuleSchema, verdictOf, type RouteBudget, type RouteRule, type RouteTier } from '../src/control/routing';
import { holdRequest, operate, type CallObserver, type RequestHold } from '../src/core/stream';

export type { RouteBudget, RouteRule, RouteTier };

/** What `evaluate` is told besides the answer. */
export interface EscalationContext {
  readonly request: LlmRequest;
  /** The model that gave the answer. */
  readonly model: ModelInfo;
}

/** Escalation: judge the finished answer; when confidence is low, ask the stronger `model` instead. */
export interface RouteEscalation {
  /** The strong model. Its own answers are not evaluated. */
  readonly model: Model;
  /**
   * Judges a finished answer: `true`/`false` (accept/escalate) or a confidence in [0, 1]; may be
   * async (an LLM judge). A throw or rejection errors the stream.
   */
  readonly evaluate: (answer: Completion, context: EscalationContext) => number | boolean | Promise<number | boolean>;
  /** A confidence below this escalates. @defaultValue 0.5 */
  readonly minConfidence?: number;
  /**
   * `true`: hold the answer back until it is judged (consumers never see a replaced answer);
   * `false`: stream it, and on escalation emit the `route` notice with `reset: true`.
   * @defaultValue false
   */
  readonly buffer?: boolean;
}

/** Options of `route()`. Give at least one of `rules`, `budget`, `escalate`, or it is a no-op. */
export interface RoutePolicy {
  /** Tried in order; the first that matches picks the model. @defaultValue none */
  readonly rules?: readonly RouteRule[];
  /** When no rule matched: pick a tier by the budget utilization. @defaultValue none */
  readonly budget?: RouteBudget;
  /** Judge answers and escalate weak ones. @defaultValue none */
  readonly escalate?: RouteEscalation;
  /** Tokens in a text, for `minTokens`/`maxTokens`. A throw errors the stream. @defaultValue the request model's tokenizer */
  readonly count?: (text: string) => number;
}

const escalateSchema = z.strictObject({
  model: modelSchema,
  evaluate: functionSchema<RouteEscalation['evaluate']>('a function (answer, context) => number | boolean | Promise<…>'),
  minConfidence: z.number().gt(0).lte(1).optional(),
  buffer: z.boolean().optional(),
});
const policySchema = z.strictObject({
  rules: z.array(routeRuleSchema).optional(),
  budget: routeBudgetSchema.optional(),
  escalate: escalateSchema.optional(),
  count: functionSchema<(text: string) => number>('a function (text) => number').optional(),
});

/**
 * Picks the model for each request — by rules, by budget utilization — and escalates weak answers
 * to a stronger model. The source is `model.stream(request)`; on its `request` event (forwarded
 * first; nothing more happens if that unsubscribed) the choice is made:
 *
 * - **rules**, in order, the first match wins: `minTokens`/`maxTokens` (the request's input tokens,
 *   counted with the request model's tokenizer or `count`), `match` (keywords or regexes over the
 *   last user message), `when(request, model)`.
 * - else **budget**: `ledger.spent(scope, period) ÷ limitUsd` picks the first tier whose `below`
 *   exceeds it — cheaper tiers as the budget is consumed, then a free or local model.
 * - A match emits `{ type: 'route', model, modelId, from, by, reason, reset: false }` (`utilization`,
 *   `requestTokens` when known). For another model, the source is unsubscribed inside its `request`
 *   event — its I/O never starts — and `chosen.stream(request)` runs; its `request` is swallowed.
 *   When the decision needs a Promise (a tokenizer loading, a Redis ledger), the source is
 *   unsubscribed while it waits and the chosen stream (or the source again) subscribed after.
 * - **escalate**: the answering model's finished answer (at its `complete`) goes to
 *   `evaluate(completion, { request, model })`. Accepted: its `finish` and `complete` follow.
 *   Rejected (`false`, or a confidence below `minConfidence`): a `route` notice (`by:
 *   'escalation'`, `confidence`) and `escalate.model.stream(request)` answers. Streamed (default),
 *   the weak answer went downstream and the notice says `reset: true` — `collect()` discards it,
 *   `text()` does not; with `buffer: true` it is held back and dropped, except its `usage` events
 *   (the call is billed: meters and ledgers downstream should see it), so `reset` is true when one
 *   was sent. Its `finish` is held until the verdict either way. Exactly one or two calls.
 * - A source whose first event is not `request` passes through untouched. Errors pass through
 *   (use `fallback`/`retryBackoff` for failures); a throw in a rule, `count`, `scope` or
 *   `evaluate`, or a failing ledger, errors the stream. Unsubscribing releases whichever call runs;
 *   a pending decision or evaluation is then dropped.
 *
 * In a pipe, later = outer = decides first: operators before `route` wrap the source model's call
 * only (a deadline on the primary); put per-call operators after `route` to cover the chosen model.
 *
 * ```
 * source:               (r!)               a rule picks strong: released inside its request event
 * strong:               s----b-f|          its request event (s) is swallowed
 * route({ rules }):     (rn)-b-f|          n: route notice
 *
 * source:               r-a-f|
 * strong:                    s-b-f|
 * route({ escalate }):  r-a--n-b-f|        f held for the verdict; n: route notice, reset: true
 * ```
 * @example
 * const routed = route({
 *   rules: [{ name: 'long context', minTokens: 50_000, model: gemini({ model: 'gemini-2.0-flash' }) }],
 *   budget: { ledger, scope: 'tenant', limitUsd: 100, tiers: [{ below: 0.8 }, { below: 1, model: mini }, { model: local }] },
 *   escalate: { model: strong, evaluate: (answer) => answer.text.length > 20 },
 * });
 * const answer = await lastValueFrom(cheap.stream(request).pipe(routed, collect()));
 */
export function route(policy: RoutePolicy): MonoTypeOperatorFunction<LlmEvent> {
  // The schema checks the shape; the parsed value is the policy itself (Models and functions kept as given).
  const { rules = [], budget, escalate, count }: RoutePolicy = parseConfig('route', policySchema, policy) as RoutePolicy;
  if (rules.length === 0 && !budget && !escalate) return identity;

  return operate((source, subscriber) => {
    /** The observer of one answering call: downstream itself, or one that holds the answer for the verdict. */
    const answering = (event: RequestEvent, info: ModelInfo, hold: RequestHold): CallObserver =>
      !escalate || info.name === escalate.model.info.name ? subscriber : escalating(subscriber, hold, event, info, escalate);
    /** Chooses the model — at once, or once the tokenizer and the ledger have answered — and runs it. */
    const choose = (event: RequestEvent, hold: RequestHold): void =>
      hold.wait(chooseRoute(event, rules, budget, count), (choice) => {
        const to = choice?.model?.info ?? event.model;
        if (choice?.model) hold.release(); // another model answers: the source's I/O never starts
        if (choice) {
          const { by, reason, utilization, requestTokens } = choice;
          notice(subscriber, { from: event.model.name, by, reason, reset: false, ...(utilization !== undefined ? { utilization } : {}), ...(requestTokens !== undefined ? { requestTokens } : {}) }, to);
        }
        if (subscriber.closed) return;
        hold.proceed(answering(event, to, hold), choice?.model ? { events: choice.model.stream(event.request) } : {});
      });
    holdRequest(source, subscriber, choose);
  });
}

function notice(subscriber: Subscriber<LlmEvent>, fields: Omit<RouteNotice, 'type' | 'model' | 'modelId'>, to: ModelInfo): void {
  subscriber.next({ type: 'route', model: to.name, modelId: to.id, ...fields });
}

/**
 * The observer of an answer to judge: forwards it (or, with `buffer`, holds it) and holds its
 * `finish`; at `complete` asks `evaluate`, then lets the answer end, or emits the escalation notice
 * and runs the strong model (its `request` swallowed by the gate).
 */
function escalating(subscriber: Subscriber<LlmEvent>, hold: RequestHold, event: RequestEvent, info: ModelInfo, escalate: RouteEscalation): CallObserver {
  const { buffer = false, minConfidence = 0.5, evaluate, model: strong } = escalate;
  const seen: LlmEvent[] = [];
  const held: LlmEvent[] = [];
  let sent = false;
  const accept = (): void => {
    for (const e of held.splice(0)) subscriber.next(e);
    subscriber.complete();
  };
  const reject = (confidence: number, reason: string): void => {
    // The dropped answer was billed: its usage still goes downstream, to meters and ledgers.
    for (const e of held.splice(0)) {
      if (e.type !== 'usage') continue;
      sent = true;
      subscriber.next(e);
    }
    notice(subscriber, { from: info.name, by: 'escalation', reason, reset: sent, confidence }, strong.info);
    if (!subscriber.closed) hold.proceed(subscriber, { events: strong.stream(event.request) });
  };
  return {
    next(e) {
      seen.push(e);
      if (buffer || e.type === 'finish') return void held.push(e);
      sent = true;
      subscriber.next(e);
    },
    error: (error) => subscriber.error(error),
    complete() {
      // No finish: nothing whole to judge; pass on what came (collect() will call it malformed).
      if (!seen.some((e) => e.type === 'finish')) return accept();
      hold.wait(evaluate(completionOf(event, seen), { request: event.request, model: info }), (verdict) => {
        const { confidence, reason } = verdictOf(verdict, minConfidence);
        if (reason === undefined) accept();
        else reject(confidence, reason);
      });
    },
  };
}
