/**
 * rxllm/providers — what a provider author needs to put another vendor behind rxllm's contract:
 * the request-first stream (`createEventStream`, `httpModel`, `runHttpStream`), the request
 * schema, each shipped provider's pure wire parser and body builder (to reuse or wrap), the
 * transport interface, and secret registration for redaction.
 * @packageDocumentation
 */
export { createEventStream } from '../core/stream';
export { requestSchema } from '../core/request';
export { redact, registerSecret } from '../core/errors';
export { sseFrame } from '../core/consume';
export { encodingOf, requestTokens } from '../cost/tokens';
export type { HeaderLookup, HttpCall, HttpRequestSpec, HttpSink, Transport } from '../http/transport';
export { httpModel } from './http-model';
export type { HttpModelSetup } from './http-model';
export { runHttpStream } from './http-stream';
export type { CallMeta, Emit, HttpStreamSpec, StreamParser } from './http-stream';
export { toOpenAIChatBody } from './openai';
export { openaiChatParser } from './openai-chat-parser';
export { toGeminiBody, toGeminiSchema } from './gemini';
export { geminiParser, mapGeminiFinish, mapGeminiUsage } from './gemini-parser';
export type { GeminiWireUsage } from './gemini-parser';
export { toAnthropicBody } from './anthropic';
export type { AnthropicBodyOptions } from './anthropic';
export { anthropicParser, mapAnthropicFinish, mapAnthropicUsage } from './anthropic-parser';
export { toOllamaBody } from './ollama';
export type { OllamaBodyOptions } from './ollama';
export { mapOllamaFinish, mapOllamaUsage, ollamaParser } from './ollama-parser';
export { toResponsesBody } from './openai-responses';
export { mapResponsesIncomplete, mapResponsesUsage, openaiResponsesParser } from './openai-responses-parser';
