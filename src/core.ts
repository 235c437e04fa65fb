// Everything the browser build and the Node build share.
export type {
  BudgetNotice, CacheNotice, FallbackNotice, FinishEvent, HedgeNotice, FinishReason, LlmEvent, LlmEventType, MetricsNotice, ModelInfo,
  Notice, RateLimitInfo, ReasoningEvent, RequestEvent, ResponseEvent, RetryNotice, RouteNotice, TextEvent, ThrottleNotice, ToolCallEvent,
  Usage, UsageEvent,
} from './events';
export { isEvent, isOutput } from './events';
export { durationMs } from './time';
export type { Duration } from './time';
export type { Store, StoreSetOptions, MaybePromise } from './stores/store';
export { memoryStore } from './stores/memory';
export type { EvictionPolicy, MemoryStore, MemoryStoreOptions, StoreStats } from './stores/memory';
export { createLedger } from './ledger';
export type { Ledger, LedgerEntry, LedgerOptions, LedgerPeriod, LedgerReport, LedgerScopeTotals, ScopeSelector } from './ledger';
export {
  ApiError, BudgetExceededError, CircuitOpenError, ConfigurationError, ConnectionError, InvalidRequestError, LlmError,
  MalformedStreamError, RateLimitError, RateLimitQueueError, TimeoutError, redact, registerSecret,
} from './errors';
export type { BudgetPhase, LlmErrorOptions, RateLimitQueueReason, TimeoutKind } from './errors';
export { parseRequest, requestSchema } from './request';
export type { LlmRequest, LlmRequestInput, Message, TextPart, ToolDefinition } from './request';
export type { Model, StreamOptions } from './model';
export { countRequestTokens, countTokens, encodingOf, loadTokenCounter, loadedEncodings, requestTokens, tokenCounter } from './tokens';
export type { EncodingName, TokenCount, TokenCounter } from './tokens';
export { costOf, defaultPrices, priceOf, withPrices } from './pricing';
export type { ModelPrice, PriceTable } from './pricing';
export { createEventStream, isRetryable, operate, relay, requestGate } from './stream';
export { collect, SSE_HEADERS, sseFrame, text, toAsyncIterable, toReadableStream, toSSE } from './consume';
export type { Completion, SseResponseTarget, ToolCall, ToSSEOptions } from './consume';
export { fetchTransport } from './http/fetch';
export type { FetchTransportOptions } from './http/fetch';
export type { HeaderLookup, HttpCall, HttpRequestSpec, HttpSink, Transport } from './http/transport';
export { openai, openaiCompatible, toOpenAIChatBody } from './providers/openai';
export type { OpenAICompatibleConfig, OpenAIConfig } from './providers/openai';
export { gemini, toGeminiBody, toGeminiSchema } from './providers/gemini';
export type { GeminiConfig } from './providers/gemini';
export { geminiParser, mapGeminiFinish, mapGeminiUsage } from './providers/gemini-parser';
export type { GeminiWireUsage } from './providers/gemini-parser';
export { openaiChatParser } from './providers/openai-chat-parser';
export { anthropic, toAnthropicBody } from './providers/anthropic';
export type { AnthropicBodyOptions, AnthropicCacheControl, AnthropicConfig } from './providers/anthropic';
export { anthropicParser, mapAnthropicFinish, mapAnthropicUsage } from './providers/anthropic-parser';
export { ollama, toOllamaBody } from './providers/ollama';
export type { OllamaBodyOptions, OllamaConfig } from './providers/ollama';
export { mapOllamaFinish, mapOllamaUsage, ollamaParser } from './providers/ollama-parser';
export { openaiResponses, toResponsesBody } from './providers/openai-responses';
export type { OpenAIResponsesConfig } from './providers/openai-responses';
export { mapResponsesIncomplete, mapResponsesUsage, openaiResponsesParser } from './providers/openai-responses-parser';
export { runHttpStream } from './providers/http-stream';
export type { CallMeta, Emit, HttpStreamSpec, StreamParser } from './providers/http-stream';
