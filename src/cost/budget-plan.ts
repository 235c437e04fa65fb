import { BudgetExceededError, ConfigurationError } from '../core/errors';
import { callSwitch, isOutput, type CallSwitch, type LlmEvent, type RequestEvent, type Usage } from '../core/events';
import type { Ledger, LedgerPeriod } from './ledger';
import { costAt, priceOf, tokensCost, type PriceTable } from './pricing';
import type { LlmRequest } from '../core/request';
import { bestEffort, isPromise, type MaybePromise } from '../core/promise';
import { requestTokens, tokenCounter, type TokenCounter } from './tokens';

/** Which limit of `budget()` was passed. */
export type BudgetLimit = 'input-tokens' | 'output-tokens' | 'cost-usd' | 'ledger-usd';

/** A limit passed mid-stream: what was used (with the chunk that crossed it) and the maximum. */
export interface Exceeded {
  readonly limit: BudgetLimit;
  readonly used: number;
  readonly max: number;
}

/** `budget()`'s options after validation and defaults (`Infinity`: no limit). */
export interface BudgetLimits {
  readonly maxOutputTokens: number;
  readonly maxInputTokens: number;
  readonly maxCostUsd: number;
  readonly limitUsd: number;
  readonly period: LedgerPeriod;
  readonly count?: ((text: string) => number) | undefined;
  readonly prices?: PriceTable | undefined;
  readonly ledger?: Ledger | undefined;
}

/**
 * The pricing of one provider call of a stream: its model's price, tokenizer and the request's
 * input tokens as that tokenizer counts them. A stream makes more than one call when an operator
 * inside `budget()` retries, falls back, routes, escalates or hedges.
 */
export interface CallPricing {
  /** The provider model id the call is priced at (and recorded under in the ledger). */
  readonly model: string;
  /** Tokens of a delta; throws a `TypeError` when the counter returns something other than a count. */
  count(text: string): number;
  /** USD of the call after `output` output tokens (input as counted); 0 when nothing is priced. */
  cost(output: number): number;
  /** USD of the provider-reported usage of this call. */
  costOfUsage(usage: Usage): number;
}

/** One stream's budget, worked out on its `request` event. */
export interface BudgetPlan {
  /** The ledger scope ('' without a ledger). */
  readonly scope: string;
  readonly ledger: Ledger | undefined;
  /** The pricing of the request's own call (the `request` event's model). */
  readonly first: CallPricing;
  /**
   * The pricing of a further call with the same request to `modelId`: its price, and its
   * tokenizer (or `count`). While the model's tokenizer loads, `previous`'s counts stand in.
   * Throws a `ConfigurationError` when a cost limit or the ledger needs a price the table lacks.
   */
  callTo(modelId: string, previous: CallPricing): CallPricing;
  /** The refusal before any I/O, if the request alone passes a limit. */
  refusal(): BudgetExceededError | undefined;
  /**
   * The first limit passed, if any: `answer` output tokens of the answer consumers keep; `usd()`
   * what the stream's calls cost so far (asked only when a cost limit is set).
   */
  exceeded(answer: number, usd: () => number): Exceeded | undefined;
}

/**
 * Works out a call's budget from its `request` event: the scope (a throw in a scope function
 * propagates), the token counter (the model's, or `count`), the scope's spend so far. Synchronous
 * when the counter and the ledger are; else a Promise, which the operator awaits before any I/O.
 */
export function preparePlan(event: RequestEvent, limits: BudgetLimits, scopeFor: (request: LlmRequest) => string): MaybePromise<BudgetPlan> {
  const scope = limits.ledger ? scopeFor(event.request) : '';
  const own = limits.count;
  // A `count` override is checked on every call (user code); the model's own counter is not.
  const counter: MaybePromise<TokenCounter> = own ? { count: checked(own), estimated: false, encoding: undefined } : tokenCounter(event.model.id);
  const spent: MaybePromise<number> = limits.ledger && limits.limitUsd !== Infinity ? limits.ledger.spent(scope, limits.period) : 0;
  if (isPromise(counter) || isPromise(spent)) return Promise.all([counter, spent]).then(([c, s]) => buildPlan(event, limits, scope, c, s));
  return buildPlan(event, limits, scope, counter, spent);
}

function checked(count: (text: string) => number): (text: string) => number {
  return (text) => {
    const n = count(text);
    if (typeof n !== 'number' || !(n >= 0) || n === Infinity) throw new TypeError(`budget(): count() must return a number of tokens ≥ 0; it returned ${String(n)}`);
    return n;
  };
}

/** A `CallPricing` whose tokenizer may be swapped once it has loaded. */
interface Pricing extends CallPricing {
  readonly counter: TokenCounter;
  readonly inputTokens: number;
}

function buildPlan(event: RequestEvent, limits: BudgetLimits, scope: string, counter: TokenCounter, spent: number): BudgetPlan {
  const { maxOutputTokens, maxInputTokens, maxCostUsd, limitUsd, ledger } = limits;
  const priced = maxCostUsd !== Infinity || ledger !== undefined;
  const costLimited = maxCostUsd !== Infinity || limitUsd !== Infinity;
  const countsInput = priced || maxInputTokens !== Infinity;

  /** The pricing of a call to `model` counted with `initial` (a loading tokenizer replaces it when ready). */
  const pricing = (model: string, initial: TokenCounter, loading?: Promise<TokenCounter>): Pricing => {
    const price = priced ? priceOf(model, limits.prices) : undefined;
    if (priced && price === undefined) {
      throw new ConfigurationError(`budget(): no price for model '${model}', which maxCostUsd and the ledger need; pass prices: withPrices({ '${model}': { input, output, asOf, source } })`);
    }
    // The price is looked up once per call, so costing a delta is a little arithmetic.
    let current = initial;
    let inputTokens = countsInput ? requestTokens(event.request, current) : 0;
    loading?.then(
      (loaded) => {
        current = loaded;
        if (countsInput) inputTokens = requestTokens(event.request, loaded);
      },
      () => undefined, // the stand-in keeps counting
    );
    const costOfUsage = (usage: Usage): number => (price ? costAt(usage, price) : 0);
    return {
      model,
      get counter() {
        return current;
      },
      get inputTokens() {
        return inputTokens;
      },
      count: (text) => current.count(text),
      costOfUsage,
      cost: (output) => (price ? tokensCost(price, inputTokens, output) : 0),
    };
  };

  const first = pricing(event.model.id, counter);
  const { inputTokens } = first;
  const inputCost = first.cost(0);

  return {
    scope,
    ledger,
    first,
    callTo(modelId, previous) {
      if (modelId === previous.model) return previous;
      const stand = (previous as Pricing).counter;
      if (limits.count) return pricing(modelId, stand);
      const found = tokenCounter(modelId);
      return isPromise(found) ? pricing(modelId, stand, found) : pricing(modelId, found);
    },
    refusal() {
      const preflight = { phase: 'preflight' } as const;
      if (inputTokens > maxInputTokens) return new BudgetExceededError('input-tokens', inputTokens, maxInputTokens, preflight);
      if (inputCost > maxCostUsd) return new BudgetExceededError('cost-usd', inputCost, maxCostUsd, preflight);
      if (limitUsd !== Infinity && (spent >= limitUsd || spent + inputCost > limitUsd)) return new BudgetExceededError('ledger-usd', spent + inputCost, limitUsd, { ...preflight, scope });
      return undefined;
    },
    exceeded(answer, usd) {
      if (answer > maxOutputTokens) return { limit: 'output-tokens', used: answer, max: maxOutputTokens };
      if (!costLimited) return undefined;
      const used = usd();
      if (used > maxCostUsd) return { limit: 'cost-usd', used, max: maxCostUsd };
      if (spent + used > limitUsd) return { limit: 'ledger-usd', used: spent + used, max: limitUsd };
      return undefined;
    },
  };
}

/** One provider call of a budgeted stream: how it is priced and what it produced. */
interface Call {
  readonly pricing: CallPricing;
  /** Output tokens: counted from the deltas, or the provider's once `usage` came. */
  output: number;
  usage?: Usage;
  /** The provider accepted it (`response`): billed even without output. */
  answered: boolean;
  recorded: boolean;
}

const callOf = (pricing: CallPricing): Call => ({ pricing, output: 0, answered: false, recorded: false });
/** A call the provider bills: it answered, produced output or reported usage. */
const billed = (call: Call): boolean => call.usage !== undefined || call.output > 0 || call.answered;
/** USD of a call: its reported usage, else its counted input and output, at its own model's price. */
const costOfCall = (call: Call): number => (call.usage ? call.pricing.costOfUsage(call.usage) : call.pricing.cost(call.output));

/**
 * What one budgeted stream has spent, call by call (`budget()` keeps one per subscription, from
 * the admitted plan): it counts each call's output, takes its `usage`, prices a further call at
 * its own model, and records every call in the ledger once when it ends.
 */
export class StreamSpend {
  /** The provider call under way: the request's own, or the one the last switching notice started. */
  private call: Call;
  /** USD of the stream's earlier calls (each recorded when the next began). */
  private earlier = 0;
  /** Output tokens of earlier calls that are still part of the answer (no `reset` since). */
  private kept = 0;

  constructor(readonly plan: BudgetPlan) {
    this.call = callOf(plan.first);
  }

  /** What the stream has cost so far: the earlier calls, and this one at its counted tokens. */
  private readonly spent = (): number => this.earlier + this.call.pricing.cost(this.call.output);

  /**
   * Takes an event of the stream into account; returns the limit it passes, if any — then it must
   * not be forwarded. A delta counts as output; `usage` replaces the count; `finish` ends the call
   * (recorded); a switching notice ends it and starts the next call (see `budget()`).
   */
  observe(event: LlmEvent): Exceeded | undefined {
    const call = this.call;
    if (isOutput(event)) {
      call.output += call.pricing.count(event.type === 'tool-call' ? event.argumentsDelta : event.text);
      return this.plan.exceeded(this.kept + call.output, this.spent);
    }
    if (event.type === 'usage') {
      call.usage = event.usage;
      call.output = event.usage.outputTokens;
    } else if (event.type === 'response') call.answered = true;
    else if (event.type === 'finish') this.settle();
    else {
      const next = callSwitch(event);
      if (next) return this.switchCall(next);
    }
    return undefined;
  }

  /** Records the call under way, once, whatever ended it; a call the provider never answered records nothing. */
  settle(): void {
    const done = this.call;
    if (done.recorded) return;
    done.recorded = true;
    const { ledger, scope } = this.plan;
    if (!ledger || !billed(done)) return;
    const { usage } = done;
    // The answer is what it is; a ledger that fails to keep it must not fail the stream.
    bestEffort(() => ledger.record({ scope, costUsd: costOfCall(done), model: done.pricing.model, ...(usage ? { usage } : {}) }));
  }

  /** A further call answers from here: the last one's spend is final; the new one is priced at its own model. */
  private switchCall({ modelId, reset }: CallSwitch): Exceeded | undefined {
    const done = this.call;
    if (billed(done)) this.earlier += costOfCall(done);
    this.settle();
    this.kept = reset ? 0 : this.kept + done.output;
    this.call = callOf(this.plan.callTo(modelId ?? done.pricing.model, done.pricing));
    // Not enough left for the next call: the stream is cut before it starts.
    return this.plan.exceeded(this.kept, this.spent);
  }
}
