import { callSwitch, isOutput, type LlmEvent, type MetricsNotice, type Usage } from '../core/events';
import { isPromise } from '../core/promise';
import { costOf, type PriceTable } from './pricing';
import { RollingCount } from '../control/rolling';
import { estimateTokens } from './token-estimate';
import { tokenCounter, type TokenCounter } from './tokens';

/** What a `StreamMeter` needs: a clock, the rolling window, and optionally a counter and prices. */
export interface StreamMeterOptions {
  readonly now: () => number;
  readonly windowMs: number;
  /** Overrides the model's tokenizer. */
  readonly count?: ((text: string) => number) | undefined;
  readonly prices?: PriceTable | undefined;
}

/**
 * The measurements of one stream subscription, fed its events in order (`meter()` keeps one per
 * subscription). O(1) per event: a running count and a `RollingCount` ring.
 *
 * - Tokens are counted from output deltas (text, reasoning, tool-call arguments) with the
 *   model's tokenizer (`tokenCounter(model.id)`, from the `request` event), `count` if given, or a
 *   tokenizer-free estimate while the tokenizer loads or when none is known (`estimated: true`).
 * - A `retry`/`fallback`/`route` notice with `reset: true` starts the answer's count and rates over
 *   (consumers discarded that output); time to first token and the cost of every call are kept.
 * - Usage is priced at the model in force when it arrives: the `request` event's, switched to the
 *   model that answers from then on by a `route` notice (`modelId`), a `fallback` notice (`toId`)
 *   or a hedge `won` notice (`modelId`) — also the tokenizer, unless `count` is given (while the new
 *   one loads, the previous counts). A notice without the id leaves the model as it was. Each
 *   `usage` event is one call's, so the cost sums every call at its own model's price. The final
 *   snapshot's `outputTokens` is the provider's when usage came after the last reset.
 */
export class StreamMeter {
  private readonly startedAt: number;
  private readonly window: RollingCount;
  private counter: ((text: string) => number) | TokenCounter = estimateTokens;
  private estimated: boolean;
  private modelId: string | undefined;
  /** Tokenizer loads started: only the latest may replace the counter. */
  private loads = 0;
  private firstAt: number | undefined;
  private rateFrom: number | undefined;
  private tokens = 0;
  private usage: Usage | undefined;
  private usageCurrent = false;
  private cost: number | undefined = 0;
  private priced = false;

  constructor(private readonly options: StreamMeterOptions) {
    this.startedAt = options.now();
    this.window = new RollingCount(options.windowMs);
    if (options.count) this.counter = options.count;
    this.estimated = options.count === undefined;
  }

  /** Feeds one event. Returns true when it is the stream's first output event. May throw (`count`). */
  observe(event: LlmEvent): boolean {
    switch (event.type) {
      case 'request':
        if (this.modelId === undefined) this.start(event.model.id);
        return false;
      case 'usage':
        this.addUsage(event.usage);
        return false;
      case 'retry':
      case 'fallback':
      case 'route':
      case 'hedge': {
        const next = callSwitch(event);
        if (next?.modelId !== undefined) this.switchModel(next.modelId);
        if (next?.reset) this.resetAnswer();
        return false;
      }
      default:
        break;
    }
    if (!isOutput(event)) return false;
    const now = this.options.now();
    const first = this.firstAt === undefined;
    if (first) this.firstAt = now;
    if (this.rateFrom === undefined) {
      this.rateFrom = now;
      this.window.reset(now);
    }
    const n = this.countOf(event.type === 'tool-call' ? event.argumentsDelta : event.text);
    this.tokens += n;
    this.window.add(now, n);
    return first;
  }

  /** The measurements now, as a `metrics` notice. */
  snapshot(final: boolean): MetricsNotice {
    const now = this.options.now();
    const reconciled = final && this.usage !== undefined && this.usageCurrent;
    const outputTokens = reconciled ? this.usage!.outputTokens : this.tokens;
    const since = this.rateFrom === undefined ? 0 : Math.max(now - this.rateFrom, 0);
    const floor = this.options.windowMs / 10;
    return {
      type: 'metrics',
      ...(this.firstAt !== undefined ? { ttftMs: this.firstAt - this.startedAt } : {}),
      outputTokens,
      // Over the time the window really covers (RollingCount.perSecond), not the nominal window.
      tokensPerSecond: this.rateFrom === undefined ? 0 : this.window.perSecond(now),
      averageTokensPerSecond: this.rateFrom === undefined ? 0 : (outputTokens / Math.max(since, floor)) * 1000,
      elapsedMs: now - this.startedAt,
      final,
      estimated: !reconciled && this.estimated,
      ...(final && this.usage !== undefined ? { usage: this.usage } : {}),
      ...(final && this.priced && this.cost !== undefined ? { costUsd: this.cost } : {}),
    };
  }

  private start(modelId: string): void {
    this.modelId = modelId;
    if (this.options.count) return;
    // A load that finishes after another switch is dropped.
    const generation = ++this.loads;
    const found = tokenCounter(modelId);
    if (!isPromise(found)) return this.useCounter(found);
    // Until the tokenizer has loaded, the counter in use (the estimate at first) counts; a failed load keeps it.
    found.then(
      (loaded) => generation === this.loads && this.useCounter(loaded),
      () => undefined,
    );
  }

  /** Another model answers from here (a `route`, `fallback` or hedge `won` notice): its prices and tokenizer. */
  private switchModel(modelId: string): void {
    if (modelId !== this.modelId) this.start(modelId);
  }

  private useCounter(counter: TokenCounter): void {
    this.counter = counter;
    this.estimated = counter.estimated;
  }

  private countOf(text: string): number {
    const counter = this.counter;
    return typeof counter === 'function' ? counter(text) : counter.count(text);
  }

  private addUsage(usage: Usage): void {
    this.usage = usage;
    this.usageCurrent = true;
    this.priced = true;
    const usd = this.modelId === undefined ? undefined : costOf(usage, this.modelId, this.options.prices);
    // One unpriced call makes the total unknown: never a silent 0.
    this.cost = usd === undefined || this.cost === undefined ? undefined : this.cost + usd;
  }

  private resetAnswer(): void {
    this.tokens = 0;
    this.rateFrom = undefined;
    this.usageCurrent = false;
  }
}
