/**
 * LangChain.js (`@langchain/openai` on `@langchain/core`): `new ChatOpenAI({ configuration:
 * { baseURL } })` and `for await` over `model.stream(prompt)`, string `content` of each
 * `AIMessageChunk` collected. Underneath it is openai-node on the global `fetch` (keep-alive by
 * default). Retries off (`maxRetries: 0`). `maxTokens` is a constructor field, so there is one
 * model per stream size. Leaves a stream with `break` or with an `AbortSignal` (`signal` option).
 */
import { ChatOpenAI } from '@langchain/openai';
import { nowNs, unsupported, type BenchClient, type ConsumeHooks, type LeaveResult, type LeaveVia, type StreamResult } from './types';

export function langchainClient(baseURL: string): BenchClient {
  const models = new Map<number, ChatOpenAI>();
  const modelFor = (tokens: number): ChatOpenAI => {
    let model = models.get(tokens);
    if (!model) {
      model = new ChatOpenAI({ model: 'bench', apiKey: 'bench', maxTokens: tokens, maxRetries: 0, streamUsage: true, configuration: { baseURL } });
      models.set(tokens, model);
    }
    return model;
  };
  return {
    async consume(tokens: number, hooks?: ConsumeHooks): Promise<StreamResult> {
      const first = hooks?.onFirstDelta;
      let deltas = 0;
      let chars = 0;
      for await (const chunk of await modelFor(tokens).stream('bench')) {
        const content = chunk.content;
        if (typeof content === 'string' && content !== '') {
          if (deltas++ === 0) first?.();
          chars += content.length;
        }
      }
      return { deltas, chars };
    },
    leaveVia: ['break', 'signal'],
    async leave(after: number, via: LeaveVia): Promise<LeaveResult> {
      if (via !== 'break' && via !== 'signal') unsupported('langchain', via);
      const controller = via === 'signal' ? new AbortController() : undefined;
      let deltas = 0;
      let leftNs = 0;
      let leaveMs = 0;
      try {
        for await (const chunk of await modelFor(1_000_000).stream('bench', controller ? { signal: controller.signal } : {})) {
          if (typeof chunk.content !== 'string' || chunk.content === '' || ++deltas !== after) continue;
          leftNs = nowNs();
          if (!controller) break;
          controller.abort();
          leaveMs = (nowNs() - leftNs) / 1e6;
        }
      } catch (error) {
        if (!controller?.signal.aborted) throw error; // an aborted signal rejects the loop
      }
      if (!controller) leaveMs = (nowNs() - leftNs) / 1e6;
      if (!leftNs) throw new Error(`langchain: the stream ended after ${deltas} deltas, before the ${after}th`);
      return { leftNs, deltas: after, leaveMs };
    },
    close: async () => {},
  };
}
