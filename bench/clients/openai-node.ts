/**
 * openai-node (the `openai` package): `client.chat.completions.create({ stream: true })` read with
 * `for await`, `choices[0].delta.content` collected. It calls the global `fetch` (Node's bundled
 * undici, keep-alive by default). Retries off (`maxRetries: 0`). Leaves a stream with `break`
 * (which aborts its request) or `stream.controller.abort()`.
 */
import OpenAI from 'openai';
import { nowNs, unsupported, type BenchClient, type ConsumeHooks, type LeaveResult, type LeaveVia, type StreamResult } from './types';

export function openaiNodeClient(baseURL: string): BenchClient {
  const client = new OpenAI({ apiKey: 'bench', baseURL, maxRetries: 0, timeout: 600_000 });
  const create = (tokens: number) =>
    client.chat.completions.create({
      model: 'bench',
      messages: [{ role: 'user', content: 'bench' }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: tokens,
    });
  return {
    async consume(tokens: number, hooks?: ConsumeHooks): Promise<StreamResult> {
      const first = hooks?.onFirstDelta;
      let deltas = 0;
      let chars = 0;
      for await (const chunk of await create(tokens)) {
        const content = chunk.choices[0]?.delta?.content;
        if (typeof content === 'string' && content !== '') {
          if (deltas++ === 0) first?.();
          chars += content.length;
        }
      }
      return { deltas, chars };
    },
    leaveVia: ['break', 'abort'],
    async leave(after: number, via: LeaveVia): Promise<LeaveResult> {
      if (via !== 'break' && via !== 'abort') unsupported('openai-node', via);
      const stream = await create(1_000_000);
      let deltas = 0;
      let leftNs = 0;
      let leaveMs = 0;
      if (via === 'break') {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta?.content && ++deltas === after) {
            leftNs = nowNs();
            break;
          }
        }
        leaveMs = (nowNs() - leftNs) / 1e6; // the loop's return() has run
      } else {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta?.content && ++deltas === after) {
            leftNs = nowNs();
            stream.controller.abort();
            leaveMs = (nowNs() - leftNs) / 1e6;
          }
        }
      }
      if (!leftNs) throw new Error(`openai-node: the stream ended after ${deltas} deltas, before the ${after}th`);
      return { leftNs, deltas: after, leaveMs };
    },
    close: async () => {},
  };
}
