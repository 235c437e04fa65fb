/**
 * The raw floor: what a careful hand-written Node client does, and nothing more. undici
 * `request()` on a keep-alive Agent, the body read with `for await`, a streaming `TextDecoder`,
 * `eventsource-parser`, `JSON.parse` per event, `choices[0].delta.content` collected.
 * Every other contender's figure is a ratio to this one. Leaves a stream with `AbortController`.
 */
import { createParser } from 'eventsource-parser';
import { Agent, request } from 'undici';
import { chatBody, nowNs, unsupported, type BenchClient, type ConsumeHooks, type LeaveResult, type LeaveVia, type StreamResult } from './types';

interface WireChunk {
  choices?: Array<{ delta?: { content?: string | null } | null }> | null;
}

export function rawClient(baseURL: string): BenchClient {
  // undici's Agent opens as many sockets per origin as there are requests (no cap by default).
  const agent = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  const url = `${baseURL.replace(/\/+$/, '')}/chat/completions`;
  const headers = { 'content-type': 'application/json', accept: 'text/event-stream' };

  /** One stream, `onDelta` per non-empty content delta; aborting `signal` ends it with an AbortError. */
  async function stream(tokens: number, onDelta: (content: string) => void, signal?: AbortSignal): Promise<void> {
    const response = await request(url, { method: 'POST', headers, body: chatBody(tokens), dispatcher: agent, ...(signal ? { signal } : {}) });
    if (response.statusCode !== 200) {
      throw new Error(`raw: HTTP ${response.statusCode}: ${await response.body.text()}`);
    }
    let done = false;
    const parser = createParser({
      onEvent(event) {
        if (done) return;
        if (event.data === '[DONE]') {
          done = true;
          return;
        }
        const chunk = JSON.parse(event.data) as WireChunk;
        const content = chunk.choices?.[0]?.delta?.content;
        if (typeof content === 'string' && content !== '') onDelta(content);
      },
    });
    const utf8 = new TextDecoder();
    for await (const chunk of response.body) parser.feed(utf8.decode(chunk as Uint8Array, { stream: true }));
    parser.feed(utf8.decode());
  }

  return {
    async consume(tokens: number, hooks?: ConsumeHooks): Promise<StreamResult> {
      let deltas = 0;
      let chars = 0;
      const first = hooks?.onFirstDelta;
      await stream(tokens, (content) => {
        if (deltas++ === 0) first?.();
        chars += content.length;
      });
      return { deltas, chars };
    },
    leaveVia: ['abort'],
    async leave(after: number, via: LeaveVia): Promise<LeaveResult> {
      if (via !== 'abort') unsupported('raw', via);
      const controller = new AbortController();
      let deltas = 0;
      let leftNs = 0;
      let leaveMs = 0;
      try {
        await stream(
          1_000_000,
          () => {
            if (++deltas !== after) return;
            leftNs = nowNs();
            controller.abort();
            leaveMs = (nowNs() - leftNs) / 1e6;
          },
          controller.signal,
        );
      } catch (error) {
        if (!controller.signal.aborted) throw error;
      }
      if (!leftNs) throw new Error(`raw: the stream ended after ${deltas} deltas, before the ${after}th`);
      return { leftNs, deltas: after, leaveMs };
    },
    close: () => agent.close(),
  };
}
