/**
 * Vercel AI SDK (`ai` + `@ai-sdk/openai-compatible`): `streamText({ model })` with
 * `createOpenAICompatible({ baseURL }).chatModel('bench')`, read with `for await` over
 * `textStream`. It calls the global `fetch` (keep-alive by default). Retries off (`maxRetries: 0`).
 *
 * Leaving: `break` out of the `textStream` loop is what its docs show for reading; it cancels only
 * the reader's branch of the SDK's internal stream, not the HTTP request (the abort section shows
 * the socket staying open). `signal` (`abortSignal` + `AbortController.abort()`) is the SDK's way
 * to cancel the request.
 */
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { streamText } from 'ai';
import { nowNs, unsupported, type BenchClient, type ConsumeHooks, type LeaveResult, type LeaveVia, type StreamResult } from './types';

// The SDK prints warnings (e.g. for unsupported settings) to the console unless told not to.
(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

export function aiSdkClient(baseURL: string): BenchClient {
  const provider = createOpenAICompatible({ name: 'bench', baseURL, includeUsage: true });
  const model = provider.chatModel('bench');
  const start = (tokens: number, abortSignal?: AbortSignal) => {
    const failure: { error?: unknown } = {};
    const result = streamText({
      model,
      prompt: 'bench',
      maxOutputTokens: tokens,
      maxRetries: 0,
      ...(abortSignal ? { abortSignal } : {}),
      // textStream does not throw; errors come here (the default handler only logs them).
      onError: ({ error }) => void (failure.error ??= error),
    });
    return { textStream: result.textStream, failure };
  };
  return {
    async consume(tokens: number, hooks?: ConsumeHooks): Promise<StreamResult> {
      const first = hooks?.onFirstDelta;
      const { textStream, failure } = start(tokens);
      let deltas = 0;
      let chars = 0;
      for await (const delta of textStream) {
        if (delta === '') continue;
        if (deltas++ === 0) first?.();
        chars += delta.length;
      }
      if (failure.error !== undefined) throw failure.error;
      return { deltas, chars };
    },
    leaveVia: ['break', 'signal'],
    async leave(after: number, via: LeaveVia): Promise<LeaveResult> {
      if (via !== 'break' && via !== 'signal') unsupported('ai-sdk', via);
      const controller = via === 'signal' ? new AbortController() : undefined;
      const { textStream, failure } = start(1_000_000, controller?.signal);
      let deltas = 0;
      let leftNs = 0;
      let leaveMs = 0;
      for await (const delta of textStream) {
        if (delta === '' || ++deltas !== after) continue;
        leftNs = nowNs();
        if (!controller) break;
        controller.abort();
        leaveMs = (nowNs() - leftNs) / 1e6;
      }
      if (!controller) leaveMs = (nowNs() - leftNs) / 1e6;
      if (!leftNs) throw new Error(`ai-sdk: the stream ended after ${deltas} deltas, before the ${after}th${failure.error ? `: ${String(failure.error)}` : ''}`);
      return { leftNs, deltas: after, leaveMs };
    },
    close: async () => {},
  };
}
