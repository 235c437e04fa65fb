import { identity, type MonoTypeOperatorFunction } from 'rxjs';
import { z } from 'zod';
import { functionSchema, parseConfig } from '../src/core/config';
import { BudgetExceededError } from '../src/core/errors';
import type { LlmEvent, RequestEvent } from '../src/core/events';
import { isLedger, scopeOf, type Ledger, type LedgerPeriod, type ScopeSelector } from '../src/cost/ledger';
import type { PriceTable } from '../src/cost/pricing';
import type { LlmRequest } from '../src/core/request';
import { holdRequest, operate, type CallObserver, type RequestHold } from '../src/core/stream';
import { preparePlan, StreamSpend, type Exceeded } from '../src/cost/budget-plan';

export type { BudgetLimit } from '../src/cost/budget-plan';

/** Options of `budget()`. Set at least one limit or a `ledger`, or the operator does nothing. */
export interface BudgetConfig {
  /** Most output tokens (text + reasoning + tool-call arguments, as counted) an answer may have; a `reset: true` notice starts a new answer. @defaultValue no limit */
  readonly maxOutputTokens?: number;
  /** Most input tokens (the request, counted with the chat format's overhead); more is refused before any I/O. @defaultValue no limit */
  readonly maxInputTokens?: number;
  /**
   * Most USD the stream may cost: input, plus output as it streams (`costOf` with `prices`), over
   * every provider call it makes — earlier attempts of a retry, fallback or escalation included.
   * @defaultValue no limit
   */
  readonly maxCostUsd?: number;
  /**
   * What a cut mid-stream looks like: `'finish'` — a `finish` with reason `'budget'`, then
   * complete; `'error'` — a `BudgetExceededError`. (A refusal before the call is always an error.)
   * @defaultValue 'finish'
   */
  readonly onExceed?: 'finish' | 'error';
  /** Counts the tokens of a text, instead of the model's tokenizer (`tokenCounter(model.id)`). A throw errors the stream. @defaultValue the model's TokenCounter */
  readonly count?: (text: string) => number;
  /** Prices for `maxCostUsd` and the ledger. @defaultValue defaultPrices */
  readonly prices?: PriceTable;
  /** Records every call's spend (and, with `limitUsd`, enforces a budget per scope and period). @defaultValue none */
  readonly ledger?: Ledger;
  /** With `ledger`: whom a call is charged to — a metadata key (`'tenant'`) or a function of the request. @defaultValue 'global' for every call */
  readonly scope?: ScopeSelector;
  /** With `ledger`: USD a scope may spend per `period`. @defaultValue no limit (spend is recorded, not limited) */
  readonly limitUsd?: number;
  /** With `limitUsd`: the UTC period the limit is for. @defaultValue 'month' */
  readonly period?: LedgerPeriod;
}

const tokens = z.custom<number>((n) => n === Infinity || (Number.isInteger(n) && (n as number) > 0), 'expected a whole number > 0 (or Infinity for no limit)');
const usd = z.custom<number>((n) => typeof n === 'number' && n >= 0 && !Number.isNaN(n), 'expected USD: a number ≥ 0 (or Infinity for no limit)');
const configSchema = z
  .strictObject({
    maxOutputTokens: tokens.optional(),
    maxInputTokens: tokens.optional(),
    maxCostUsd: usd.refine((n) => n > 0, 'expected USD > 0 (or Infinity for no limit)').optional(),
    onExceed: z.enum(['finish', 'error']).optional(),
    count: functionSchema<(text: string) => number>('a function (text) => number of tokens').optional(),
    prices: z.custom<PriceTable>((v) => typeof v === 'object' && v !== null, 'expected a price table (defaultPrices, withPrices(...))').optional(),
    ledger: z.custom<Ledger>(isLedger, 'expected a ledger from createLedger(store)').optional(),
    scope: z.union([z.string().min(1), functionSchema<(request: LlmRequest) => string>('a function (request) => string')]).optional(),
    limitUsd: usd.optional(),
    period: z.enum(['day', 'month', 'all']).optional(),
  })
  .refine((c) => c.ledger !== undefined || (c.scope === undefined && c.limitUsd === undefined && c.period === undefined), {
    message: 'expected a ledger (createLedger(store)) with scope, limitUsd and period',
    path: ['ledger'],
  });

/**
 * Puts token and cost limits on a call — per call, and per scope and period through a ledger —
 * and records what each call cost.
 *
 * **Before any I/O**, on the `request` event (forwarded first; nothing happens if that made
 * downstream leave), the request is refused with a `BudgetExceededError` (`phase: 'preflight'`)
 * and upstream released in the same step — so the source never sends it — when its input tokens
 * exceed `maxInputTokens`, its input cost alone exceeds `maxCostUsd`, or the ledger scope's
 * remaining budget (`limitUsd` − spent this `period`) is ≤ 0 or less than the input cost. Output
 * is not guessed at: a call that may end within the limit is let through and cut if it does not.
 * A cost limit for a model with no price is refused with a `ConfigurationError` (never a silent 0).
 * A tokenizer or ledger that answers with a Promise is awaited with upstream unsubscribed; the
 * source is then subscribed again and its repeated `request` swallowed.
 *
 * **Mid-stream**, output tokens are counted from every text, reasoning and tool-call-arguments
 * delta (`count`, default the model's tokenizer); the running cost is input + output at the
 * model's prices. When a delta takes the count past `maxOutputTokens`, the cost past `maxCostUsd`,
 * or the scope's spend past `limitUsd`, that delta is **not** forwarded: a `budget` notice
 * `{ limit, used, max }` is, then `finish` with reason `'budget'` and complete (or, with
 * `onExceed: 'error'`, a `BudgetExceededError`), and upstream is unsubscribed in the same frame —
 * the HTTP request is aborted. Downstream thus never gets more than the limit; the provider bills
 * at most the chunk that crossed it (plus what was in flight). A `usage` event replaces the counts
 * with the provider's own (it comes after the output, so it corrects the record but cuts nothing).
 *
 * **Several calls**: after a `retry`, `fallback` (`toId`), `route` (`modelId`) or hedge `won`
 * (`modelId`) notice another provider call answers. From then on it is priced at **its** model —
 * price, tokenizer (unless `count`; while it loads the previous one counts) and its input tokens —
 * and the previous call's spend is final: its `usage` if reported, else its counted tokens, at its
 * own model's price (a notice without the id keeps the model). Spend is spend: a call whose answer
 * was discarded (`reset: true`) was billed, so its cost still counts toward `maxCostUsd` and
 * `limitUsd` and is recorded; `maxOutputTokens` applies to the answer consumers keep, so a
 * `reset: true` notice starts the output count at 0 (without one it goes on). When the stream's
 * spend so far plus the next call's input cost passes a cost limit, the stream is cut at the notice
 * (not forwarded) — before `fallback`, `retryBackoff` or `route` start that call. A model with no
 * price, when a cost limit or the ledger needs one, errors the stream with a `ConfigurationError`.
 *
 * **Ledger**: when a call ends — the next call's notice, `finish`, cut, error, completion or
 * unsubscription — its cost is recorded once in its scope, under its own model: from `usage` if
 * reported, else from the counted tokens. A call that ended before the provider answered (no
 * `response`, output or usage: refused, an HTTP error, left early) records nothing. The refusal
 * before any I/O prices the `request` event's model (a `route` after it has not chosen yet). A
 * hedge's loser never reaches `budget` after `hedge`, so it is not recorded. A failing `record` is
 * ignored; a failing `spent` errors the call.
 *
 * In a pipe, later = outer: `pipe(retryBackoff(), budget(...))` budgets the spend of all attempts together;
 * `pipe(budget(...), retryBackoff())` each attempt (a cut `finish` is not an error, so not retried).
 * `cache` never stores a stream cut with reason `'budget'`. Each subscription starts fresh.
 *
 * ```
 * source:                              r-a-b-c-f|     (1 token each)
 * budget({ maxOutputTokens: 2 }):      r-a-b-(NB|)    c is dropped; N = budget notice, B = finish 'budget'; upstream released at c
 * onExceed: 'error':                   r-a-b-(N#)
 * maxInputTokens exceeded:             (r#)           the source is subscribed and released within its request event: no I/O
 * ```
 * @example
 * const ledger = createLedger(memoryStore());
 * const guarded = budget({ maxOutputTokens: 400, maxCostUsd: 0.05, ledger, scope: 'tenant', limitUsd: 20, period: 'day' });
 * model.stream({ messages, metadata: { tenant: 'acme' } }).pipe(guarded, text()).subscribe((t) => process.stdout.write(t));
 */
export function budget(config: BudgetConfig): MonoTypeOperatorFunction<LlmEvent> {
  const options = parseConfig('budget', configSchema, config);
  const { maxOutputTokens = Infinity, maxInputTokens = Infinity, maxCostUsd = Infinity, onExceed = 'finish', count, prices, ledger } = options;
  const { scope = (): string => 'global', limitUsd = Infinity, period = 'month' } = options;
  if (maxOutputTokens === Infinity && maxInputTokens === Infinity && maxCostUsd === Infinity && ledger === undefined) return identity;
  const limits = { maxOutputTokens, maxInputTokens, maxCostUsd, limitUsd, period, count, prices, ledger };
  const scopeFor = (request: LlmRequest): string => scopeOf(scope, request);

  return operate((source, subscriber) => {
    /** Set once the request is admitted. */
    let spend: StreamSpend | undefined;
    const settle = (): void => spend?.settle();
    const cut = ({ limit, used, max }: Exceeded): void => {
      settle();
      const scoped = limit === 'ledger-usd' ? { scope: spend!.plan.scope } : {};
      subscriber.next({ type: 'budget', limit, used, max, ...scoped });
      if (onExceed === 'error') return subscriber.error(new BudgetExceededError(limit, used, max, { phase: 'stream', ...scoped }));
      subscriber.next({ type: 'finish', reason: 'budget' });
      subscriber.complete();
    };
    const running: CallObserver = {
      next(event) {
        const over = spend!.observe(event);
        if (over) return cut(over);
        subscriber.next(event);
      },
      error(error) {
        settle();
        subscriber.error(error);
      },
      complete() {
        settle();
        subscriber.complete();
      },
    };
    /** Admits or refuses the call — at once, or once the tokenizer and the ledger have answered. */
    const admit = (event: RequestEvent, hold: RequestHold): void =>
      hold.wait(preparePlan(event, limits, scopeFor), (plan) => {
        const refusal = plan.refusal();
        if (refusal) return subscriber.error(refusal);
        spend = new StreamSpend(plan);
        hold.proceed();
      });
    holdRequest(source, subscriber, admit, running, 'budget()');
    return settle;
  });
}
