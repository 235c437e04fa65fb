/** rxllm/testing — a real loopback server that speaks the providers' wire formats, for tests. */
export { fixtureReply, jsonReply, openaiChunks, openaiTextReply, startMockServer } from './mock-server';
export type { MockHandler, MockReply, MockServer, MockServerOptions, OpenAITextReplyOptions, RecordedConnection, RecordedRequest } from './mock-server';
export { geminiChunks, geminiErrorBody } from './wire/gemini';
export type { GeminiChunksOptions, GeminiChunksUsage, GeminiErrorBody } from './wire/gemini';
export { anthropicChunks, anthropicErrorBody } from './wire/anthropic';
export type { AnthropicChunksOptions, AnthropicErrorBody, AnthropicWireUsage } from './wire/anthropic';
export { ollamaChunks, ollamaErrorBody } from './wire/ollama';
export type { OllamaChunksOptions } from './wire/ollama';
export { openaiResponsesChunks, openaiResponsesErrorBody } from './wire/openai-responses';
export type { OpenAIResponsesChunksOptions } from './wire/openai-responses';
