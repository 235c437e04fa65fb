import { from } from 'rxjs';
import { z } from 'zod';
import { collect, type Completion } from '../core/consume';
import { functionSchema, modelSchema } from '../core/config';
import type { LlmEvent, RequestEvent, ModelInfo } from '../core/events';
import { scopeOf, type Ledger, type LedgerPeriod, type ScopeSelector } from '../cost/ledger';
import type { Model } from '../core/model';
import { andThen, type MaybePromise } from '../core/promise';
import type { LlmRequest } from '../core/request';
import { requestTokens, tokenCounter, type TokenCounter } from '../cost/tokens';

/**
 * A routing rule of `route({ rules })`. Every condition given must hold (a rule without any
 * matches every request: a default at the end of the list).
 */
export interface RouteRule {
  /** The model that answers when the rule matches. @defaultValue the request's own model (the source) */
  readonly model?: Model;
  /** Names the rule in the `route` notice's `reason`. @defaultValue `'rule <index>'` */
  readonly name?: string;
  /** The request has at least this many input tokens (messages, chat overhead and tools). @defaultValue no minimum */
  readonly minTokens?: number;
  /** The request has at most this many input tokens. @defaultValue no maximum */
  readonly maxTokens?: number;
  /**
   * The last user message contains one of these keywords (a string: case-insensitive substring) or
   * matches one of these patterns. @defaultValue no text condition
   */
  readonly match?: string | RegExp | ReadonlyArray<string | RegExp>;
  /** Your own condition on the request and the model it came for. A throw errors the stream. @defaultValue no condition */
  readonly when?: (request: LlmRequest, model: ModelInfo) => boolean;
}

/** A tier of `route({ budget })`: applies while utilization is below `below`. */
export interface RouteTier {
  /** Utilization (spent ÷ `limitUsd`) up to which this tier applies; tiers go up. @defaultValue Infinity (only the last tier) */
  readonly below?: number;
  /** The model of the tier. @defaultValue the request's own model (the source) */
  readonly model?: Model;
}

/** Routing by budget utilization: a ledger scope's spend in `period` ÷ `limitUsd` picks a tier. */
export interface RouteBudget {
  /** Where the spend is read: `createLedger(store)`, the same one `budget()` records to. */
  readonly ledger: Pick<Ledger, 'spent'>;
  /** Whose spend: a metadata key (`'tenant'`) or a function of the request; as in `budget()`, a request without it errors. */
  readonly scope: ScopeSelector;
  /** @defaultValue 'month' */
  readonly period?: LedgerPeriod;
  /** The spend at utilization 1, in USD. */
  readonly limitUsd: number;
  /** Ascending by `below`; the first whose `below` exceeds the utilization is used. Give the last no `below` (a free or local model) to catch all. */
  readonly tiers: readonly RouteTier[];
}

/** What the rules or the budget chose for a request. */
export interface RouteChoice {
  /** `undefined`: the request's own model. */
  readonly model: Model | undefined;
  readonly by: 'rule' | 'budget';
  readonly reason: string;
  readonly utilization?: number;
  readonly requestTokens?: number;
}

const tokens = z.number().int().nonnegative();
const pattern = z.union([z.string().min(1), z.instanceof(RegExp)], { error: 'expected a keyword (non-empty string) or a RegExp' });

/** Zod schema of a `RouteRule`. */
export const routeRuleSchema = z.strictObject({
  model: modelSchema.optional(),
  name: z.string().optional(),
  minTokens: tokens.optional(),
  maxTokens: tokens.optional(),
  match: z.union([pattern, z.array(pattern).min(1)]).optional(),
  when: functionSchema<NonNullable<RouteRule['when']>>('a function (request, model) => boolean').optional(),
});

const tierSchema = z.strictObject({ below: z.number().positive().optional(), model: modelSchema.optional() });

/** Zod schema of a `RouteBudget`. */
export const routeBudgetSchema = z.strictObject({
  ledger: z.custom<RouteBudget['ledger']>((l) => typeof (l as RouteBudget['ledger'] | null)?.spent === 'function', 'expected a Ledger (createLedger(store))'),
  scope: z.union([z.string().min(1), functionSchema<(request: LlmRequest) => string>('a function (request) => string')]),
  period: z.enum(['day', 'month', 'all'], { error: 'expected "day", "month" or "all"' }).optional(),
  limitUsd: z.number().positive().finite(),
  tiers: z
    .array(tierSchema)
    .min(1)
    .refine(
      (tiers) => tiers.every((t, i) => (t.below === undefined ? i === tiers.length - 1 : i === 0 || (tiers[i - 1]!.below ?? Infinity) < t.below)),
      'expected tiers in ascending order of `below`, only the last without one',
    ),
});

const PERIOD_WORDS: Readonly<Record<LedgerPeriod, string>> = { day: 'today', month: 'this month', all: 'in total' };

/** The text of the last user message (its text parts joined). */
function lastUserText(request: LlmRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i]!;
    if (message.role === 'user') return message.content.map((part) => part.text).join('');
  }
  return '';
}

function matchesText(patterns: ReadonlyArray<string | RegExp>, text: string): boolean {
  let lower: string | undefined;
  return patterns.some((pattern) => {
    if (typeof pattern === 'string') return (lower ??= text.toLowerCase()).includes(pattern.toLowerCase());
    pattern.lastIndex = 0; // a /g or /y pattern keeps state between calls
    return pattern.test(text);
  });
}

/**
 * Picks the model for a request: the first matching rule, else the budget tier, else nothing
 * (`undefined`: the request's own model). Synchronous when the tokenizer is loaded (or `count`
 * given) and the ledger answers synchronously; otherwise a Promise. User code may throw.
 */
export function chooseRoute(
  event: RequestEvent,
  rules: readonly RouteRule[],
  budget: RouteBudget | undefined,
  count: ((text: string) => number) | undefined,
): MaybePromise<RouteChoice | undefined> {
  const counter = (): TokenCounter | Promise<TokenCounter> => (count ? { count, estimated: false, encoding: undefined } : tokenCounter(event.model.id));
  let text: string | undefined;
  const byRule = (from: number, tokens: number | undefined): MaybePromise<RouteChoice | undefined> => {
    for (let i = from; i < rules.length; i++) {
      const rule = rules[i]!;
      const { minTokens, maxTokens, match, when } = rule;
      if (tokens === undefined && (minTokens !== undefined || maxTokens !== undefined)) {
        // Count once, and only when a rule needs it; a tokenizer still loading makes this async.
        return andThen(counter(), (c) => byRule(i, requestTokens(event.request, c)));
      }
      if (minTokens !== undefined && tokens! < minTokens) continue;
      if (maxTokens !== undefined && tokens! > maxTokens) continue;
      if (match !== undefined && !matchesText(typeof match === 'string' || match instanceof RegExp ? [match] : match, (text ??= lastUserText(event.request)))) continue;
      if (when && !when(event.request, event.model)) continue;
      return { model: rule.model, by: 'rule', reason: rule.name ?? `rule ${i}`, ...(tokens !== undefined ? { requestTokens: tokens } : {}) };
    }
    return undefined;
  };
  return andThen(byRule(0, undefined), (chosen) => chosen ?? byBudget(event.request, budget));
}

function byBudget(request: LlmRequest, budget: RouteBudget | undefined): MaybePromise<RouteChoice | undefined> {
  if (!budget) return undefined;
  const { ledger, scope, period = 'month', limitUsd, tiers } = budget;
  return andThen(ledger.spent(scopeOf(scope, request), period), (spent): RouteChoice | undefined => {
    const utilization = spent / limitUsd;
    const tier = tiers.find((t) => utilization < (t.below ?? Infinity));
    if (!tier) return undefined;
    return { model: tier.model, by: 'budget', reason: `${Math.round(utilization * 100)}% of the budget used ${PERIOD_WORDS[period]}`, utilization };
  });
}

/** An escalation verdict as read: the confidence, and why the answer escalates (`undefined`: accepted). */
export interface Verdict {
  readonly confidence: number;
  readonly reason: string | undefined;
}

/**
 * Reads what `evaluate()` returned: `true`/`false` are confidence 1/0; a confidence below
 * `minConfidence` escalates. Anything but a boolean or a number (NaN included) throws a `TypeError`.
 */
export function verdictOf(verdict: unknown, minConfidence: number): Verdict {
  if (typeof verdict !== 'boolean' && (typeof verdict !== 'number' || Number.isNaN(verdict))) {
    throw new TypeError(`route(): evaluate() must return a boolean or a number; it returned ${typeof verdict}`);
  }
  const confidence = typeof verdict === 'boolean' ? (verdict ? 1 : 0) : verdict;
  if (confidence >= minConfidence) return { confidence, reason: undefined };
  return { confidence, reason: typeof verdict === 'boolean' ? 'evaluate() rejected the answer' : `confidence ${confidence} < ${minConfidence}` };
}

/** A finished answer as `collect()` gives it, from its `request` event and the events after it (synchronous: they are all here). */
export function completionOf(request: RequestEvent, events: readonly LlmEvent[]): Completion {
  let completion: Completion | undefined;
  from([request, ...events]).pipe(collect()).subscribe((c) => (completion = c));
  return completion!;
}
