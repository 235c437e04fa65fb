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
  /** `code` of the error that caused the fallback. */
  readonly cause: string;
  /** True when output had started and consumers must discard the partial response. */
  readonly reset: boolean;
}
export interface ThrottleNotice {
  readonly type: 'throttle';
  readonly waitedMs: number;
}
export interface MetricsNotice {
  readonly type: 'metrics';
  /** Time to first token, once known. */
  readonly ttftMs?: number;
  readonly outputTokens: number;
  readonly tokensPerSecond: number;
  readonly elapsedMs: number;
  readonly final: boolean;
  readonly usage?: Usage;
  readonly costUsd?: number;
}
export interface HedgeNotice {
  readonly type: 'hedge';
  /** `'started'`: the backup attempt began; `'won'`: this attempt produced text first, the other was released. */
  readonly phase: 'started' | 'won';
  readonly attempt: 'primary' | 'hedge';
  /** `name` of the model of that attempt. */
  readonly model: string;
  /** Time since subscription. */
  readonly afterMs: number;
}
export interface BudgetNotice {
  readonly type: 'budget';
  readonly limit: string;
  readonly used: number;
  readonly max: number;
}

/** Every notice an operator may add to a stream. */
export type Notice = CacheNotice | RetryNotice | FallbackNotice | HedgeNotice | ThrottleNotice | MetricsNotice | BudgetNotice;

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
