/** rxllm/testing — a real loopback server that speaks the providers' wire formats, for tests. */
export { fixtureReply, jsonReply, openaiChunks, openaiTextReply, startMockServer } from './mock-server';
export type { MockHandler, MockReply, MockServer, MockServerOptions, OpenAITextReplyOptions, RecordedConnection, RecordedRequest } from './mock-server';
