import type { LlmRequest } from './request';

/**
 * What a stream says about the model serving it. Carried by the first (`request`) event, so
 * operators downstream know which provider and model they are wrapping without holding a
 * reference to the `Model` object. Never carries credentials.
 */
export interface ModelInfo {
  /** Provider family: `'openai'`, `'openai-compatible'`, `'simulated'`, … */
  readonly provider: string;
  /** The model id sent to the provider, e.g. `'gpt-4o-mini'`. */
  readonly id: string;
  /** A display name; for `openaiCompatible({ name })` the name given, else `provider:id`. */
  readonly name: string;
  /** Base URL of the API (no credentials), when the model talks HTTP. */
  readonly baseURL?: string;
}

/** Token counts as the provider reported them. Absent fields were not reported. */
export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
  /** Input tokens served from the provider's prompt cache (a subset of `inputTokens`). */
  readonly cachedInputTokens?: number;
  /** Output tokens spent on reasoning (a subset of `outputTokens`). */
  readonly reasoningTokens?: number;
}

/**
 * Why a response ended. `'budget'` is set by the budget operator when it cuts a stream;
 * `'other'` covers provider reasons with no counterpart (the raw reason is on the event).
 */
export type FinishReason = 'stop' | 'length' | 'tool-calls' | 'content-filter' | 'budget' | 'other';

/** Rate-limit state read from response headers (OpenAI and OpenRouter header families). */
export interface RateLimitInfo {
  readonly limitRequests?: number;
  readonly remainingRequests?: number;
  /** Milliseconds until the request window resets. */
  readonly resetRequestsMs?: number;
  readonly limitTokens?: number;
  readonly remainingTokens?: number;
  /** Milliseconds until the token window resets. */
  readonly resetTokensMs?: number;
}

/** The first event of every stream, emitted synchronously on subscribe, before any I/O. */
export interface RequestEvent {
  readonly type: 'request';
  /** The validated, normalized request (defaults applied, content as parts). */
  readonly request: LlmRequest;
  readonly model: ModelInfo;
}

/** The provider accepted the request: status and the headers that matter downstream. */
export interface ResponseEvent {
  readonly type: 'response';
  readonly status: number;
  readonly requestId?: string;
  readonly rateLimit?: RateLimitInfo;
  /** Selected response headers (request ids, rate-limit family, processing time), lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
}

/** A piece of output text. Concatenate the deltas for the full text. */
export interface TextEvent {
  readonly type: 'text';
  readonly text: string;
}

/** A piece of reasoning ("thinking") text, kept apart from the output text. */
export interface ReasoningEvent {
  readonly type: 'reasoning';
  readonly text: string;
}

/**
 * A piece of a tool call. The first event for an `index` carries `id` and `name`; later ones
 * carry only `argumentsDelta`. Concatenate `argumentsDelta` per index for the JSON arguments.
 */
export interface ToolCallEvent {
  readonly type: 'tool-call';
  readonly index: number;
  readonly id?: string;
  readonly name?: string;
  readonly argumentsDelta: string;
}

/** Provider-reported token usage; emitted once, before `finish`. */
export interface UsageEvent {
  readonly type: 'usage';
  readonly usage: Usage;
}

/** The last event of a successful stream; `complete` follows. */
export interface FinishEvent {
  readonly type: 'finish';
  readonly reason: FinishReason;
  /** The provider's own word for it, e.g. `'end_turn'`, `'tool_calls'`. */
  readonly rawReason?: string;
}

// Notices: emitted by operators so a UI or a log can watch the pipeline work.
// `text()` and `collect()` ignore them.

export interface CacheNotice {
  readonly type: 'cache';
  readonly status: 'hit' | 'miss';
  readonly key: string;
}
export interface RetryNotice {
  readonly type: 'retry';
  /** Which retry this is: 1 for the first retry (the second attempt). */
  readonly attempt: number;
  /** How long the operator waits before the attempt starts. */
  readonly delayMs: number;
  /** `code` of the error that caused the retry. */
  readonly cause: string;
  /** True when output had started and consumers must discard the partial response. */
  readonly reset: boolean;
}
export interface FallbackNotice {
  readonly type: 'fallback';
  /** `name` of the model that failed. */
  readonly from: string;
  /** `name` of the model tried next. */
  readonly to: string;
  /**
   * Its provider model id (`ModelInfo.id`): what `budget()` and `meter()` price the next call at.
   * Set by `fallback()`; a notice without it leaves their pricing on the previous model.
   */
  readonly toId?: string;
  /** `code` of the error that caused the fallback. */
  readonly cause: string;
  /** True when output had started and consumers must discard the partial response. */
  readonly reset: boolean;
}
/** `rateLimit()` held the request in its queue; emitted once it is let through, only when it waited (> 0 ms). */
export interface ThrottleNotice {
  readonly type: 'throttle';
  /** Time from joining the limiter's queue to being let through (scheduler time). */
  readonly waitedMs: number;
  /** The limiter key the request was limited under (`perKey` limiters, requests with a key). */
  readonly key?: string;
}
/**
 * Timing and throughput of a stream: emitted by `meter()` while it runs and once at the end, or
 * by a provider that reports its own timing (Ollama: one, `final: true`).
 */
export interface MetricsNotice {
  readonly type: 'metrics';
  /** Time to first token (subscription to the first output event), once known. */
  readonly ttftMs?: number;
  /** Output tokens so far: counted from the deltas; in a final notice after `usage`, the provider's count. */
  readonly outputTokens: number;
  /** Output tokens per second; from `meter()`, over its rolling window. */
  readonly tokensPerSecond: number;
  /** Output tokens per second since the first token (`meter()`). */
  readonly averageTokensPerSecond?: number;
  /** Time since subscription. */
  readonly elapsedMs: number;
  /** True for the last notice of the stream. */
  readonly final: boolean;
  readonly usage?: Usage;
  /** USD for every call the stream made (`meter()`, from its price table); absent for an unknown model. */
  readonly costUsd?: number;
  /** `meter()`: true when `outputTokens` is an estimate (no tokenizer known for the model, or not loaded yet). */
  readonly estimated?: boolean;
}
export interface HedgeNotice {
  readonly type: 'hedge';
  /** `'started'`: the backup attempt began; `'won'`: this attempt produced text first, the other was released. */
  readonly phase: 'started' | 'won';
  readonly attempt: 'primary' | 'hedge';
  /** `name` of the model of that attempt. */
  readonly model: string;
  /**
   * Its provider model id (`ModelInfo.id`). On `'won'`, what `budget()` and `meter()` price the
   * answer at. Set by `hedge()`; a notice without it leaves their pricing on the previous model.
   */
  readonly modelId?: string;
  /** Time since subscription. */
  readonly afterMs: number;
}
/** `budget()` cut the stream: emitted just before its `finish` (reason `'budget'`) or its error. */
export interface BudgetNotice {
  readonly type: 'budget';
  /** Which limit was passed: `'output-tokens'`, `'cost-usd'` or `'ledger-usd'`. */
  readonly limit: string;
  /** Output tokens, or USD, counted with the chunk that passed the limit (that chunk is not forwarded). */
  readonly used: number;
  readonly max: number;
  /** The ledger scope, for `'ledger-usd'`. */
  readonly scope?: string;
}

/** `route()` chose the model that answers, or replaced an answer with a stronger model's. */
export interface RouteNotice {
  readonly type: 'route';
  /** `name` of the model that answers from here on. */
  readonly model: string;
  /** Its provider model id (`ModelInfo.id`), e.g. for pricing. */
  readonly modelId: string;
  /** `name` of the model the request came with, or (escalation) of the one whose answer is replaced. */
  readonly from: string;
  /** What decided: a rule, budget utilization, or a low-confidence answer. */
  readonly by: 'rule' | 'budget' | 'escalation';
  /** Why, in words: the rule's name, `'82% of the budget used this month'`, `'confidence 0.3 < 0.5'`. */
  readonly reason: string;
  /** True when output of the replaced answer went downstream and consumers must discard it. */
  readonly reset: boolean;
  /** Budget: the scope's spend in the period ÷ `limitUsd` when the choice was made. */
  readonly utilization?: number;
  /** Escalation: what the evaluation returned (`true` as 1, `false` as 0). */
  readonly confidence?: number;
  /** Token rules: the request's input tokens, as counted. */
  readonly requestTokens?: number;
}

/** Every notice an operator may add to a stream. */
export type Notice = CacheNotice | RetryNotice | FallbackNotice | HedgeNotice | ThrottleNotice | MetricsNotice | BudgetNotice | RouteNotice;

/** Every event a stream carries, discriminated on `type`. */
export type LlmEvent =
  | RequestEvent
  | ResponseEvent
  | TextEvent
  | ReasoningEvent
  | ToolCallEvent
  | UsageEvent
  | FinishEvent
  | Notice;

export type LlmEventType = LlmEvent['type'];

/** True for events that are model output: text, reasoning and tool-call deltas. */
export function isOutput(event: LlmEvent): event is TextEvent | ReasoningEvent | ToolCallEvent {
  return event.type === 'text' || event.type === 'reasoning' || event.type === 'tool-call';
}

/** Narrows an event by its `type`: `events.pipe(filter(isEvent('text')))`. */
export function isEvent<K extends LlmEventType>(type: K): (event: LlmEvent) => event is Extract<LlmEvent, { type: K }> {
  return (event): event is Extract<LlmEvent, { type: K }> => event.type === type;
}

/** What a notice says about the provider call behind a stream: another call answers from here on. */
export interface CallSwitch {
  /** Its model id; `undefined`: the same model as before (a retry, or a notice that does not say). */
  readonly modelId: string | undefined;
  /** Consumers discard the answer so far (`retry`, `fallback`, `route` with `reset: true`). */
  readonly reset: boolean;
}

/**
 * The call switch a notice announces — `retry`, `fallback`, `route`, and the winner of a `hedge`
 * race — or `undefined` for any other event. The one place that knows which notices start another
 * call and which make consumers discard the answer so far (`collect()`, `cache`, `meter`, `budget`).
 */
export function callSwitch(event: LlmEvent): CallSwitch | undefined {
  switch (event.type) {
    case 'retry':
      return { modelId: undefined, reset: event.reset };
    case 'fallback':
      return { modelId: event.toId, reset: event.reset };
    case 'route':
      return { modelId: event.modelId, reset: event.reset };
    case 'hedge':
      return event.phase === 'won' ? { modelId: event.modelId, reset: false } : undefined;
    default:
      return undefined;
  }
}

/** True for a notice after which consumers discard the answer so far (a switch with `reset: true`). */
export function discardsAnswer(event: LlmEvent): boolean {
  return callSwitch(event)?.reset === true;
}
