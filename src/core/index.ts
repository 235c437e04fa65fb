// What applications call, in the browser build and the Node build alike. Provider authors' pieces
// (parsers, body builders, runHttpStream) are in `src/providers/index.ts` (`rxllm/providers`).
export type {
  BudgetNotice, CacheNotice, FallbackNotice, FinishEvent, HedgeNotice, FinishReason, LlmEvent, LlmEventType, MetricsNotice, ModelInfo,
  Notice, RateLimitInfo, ReasoningEvent, RequestEvent, ResponseEvent, RetryNotice, RouteNotice, TextEvent, ThrottleNotice, ToolCallEvent,
  Usage, UsageEvent,
} from './events';
export { isEvent, isOutput } from './events';
export { durationMs } from './time';
export type { Duration } from './time';
export {
  ApiError, BudgetExceededError, CircuitOpenError, ConfigurationError, ConnectionError, InvalidRequestError, LlmError,
  MalformedStreamError, RateLimitError, RateLimitQueueError, TimeoutError,
} from './errors';
export type { BudgetPhase, LlmErrorOptions, RateLimitQueueReason, TimeoutKind } from './errors';
export { isRetryable } from './stream';
export { parseRequest } from './request';
export type { LlmRequest, LlmRequestInput, Message, TextPart, ToolDefinition } from './request';
export type { Model, StreamOptions } from './model';
export { collect, SSE_HEADERS, text, toAsyncIterable, toReadableStream, toSSE } from './consume';
export type { Completion, SseResponseTarget, ToolCall, ToSSEOptions } from './consume';

// Shared state: every object that outlives a call and is passed to an operator is made here.
export type { Store, StoreSetOptions, MaybePromise } from '../stores/store';
export { memoryStore } from '../stores/memory';
export type { EvictionPolicy, MemoryStore, MemoryStoreOptions, StoreStats } from '../stores/memory';
export { createLedger } from '../cost/ledger';
export type { Ledger, LedgerEntry, LedgerOptions, LedgerPeriod, LedgerReport, LedgerScopeTotals, ScopeSelector } from '../cost/ledger';
export { createBreaker } from '../control/breaker';
export type { Breaker, BreakerConfig, BreakerPermit, BreakerState, BreakerStateChange } from '../control/breaker';
export { createRateLimiter } from '../control/rate-limiter';
export type { RateLimitDemand, RateLimiter, RateLimiterConfig, RateLimitKey, RateLimits, RateLimitTicket, RateLimitWaiter } from '../control/rate-limiter';

// Tokens and prices.
export { countRequestTokens, countTokens, loadTokenCounter, tokenCounter } from '../cost/tokens';
export type { EncodingName, TokenCount, TokenCounter } from '../cost/tokens';
export { costOf, defaultPrices, priceOf, withPrices } from '../cost/pricing';
export type { ModelPrice, PriceTable } from '../cost/pricing';

// Providers and the transport they share.
export { fetchTransport } from '../http/fetch';
export type { FetchTransportOptions } from '../http/fetch';
export { openai, openaiCompatible } from '../providers/openai';
export type { OpenAICompatibleConfig, OpenAIConfig } from '../providers/openai';
export { gemini } from '../providers/gemini';
export type { GeminiConfig } from '../providers/gemini';
export { anthropic } from '../providers/anthropic';
export type { AnthropicCacheControl, AnthropicConfig } from '../providers/anthropic';
export { ollama } from '../providers/ollama';
export type { OllamaConfig } from '../providers/ollama';
export { openaiResponses } from '../providers/openai-responses';
export type { OpenAIResponsesConfig } from '../providers/openai-responses';
