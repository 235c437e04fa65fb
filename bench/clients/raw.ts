/**
 * The raw floor: what a careful hand-written Node client does, and nothing more. undici
 * `request()` on a keep-alive Agent, the body read with `for await`, a streaming `TextDecoder`,
 * `eventsource-parser`, `JSON.parse` per event, `choices[0].delta.content` collected.
 * Every other contender's figure is a ratio to this one.
 */
import { createParser } from 'eventsource-parser';
import { Agent, request } from 'undici';
import { chatBody, type BenchClient, type StreamResult } from './types';

interface WireChunk {
  choices?: Array<{ delta?: { content?: string | null } | null }> | null;
}

export function rawClient(baseURL: string): BenchClient {
  const agent = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  const url = `${baseURL.replace(/\/+$/, '')}/chat/completions`;
  const headers = { 'content-type': 'application/json', accept: 'text/event-stream' };
  return {
    async consume(tokens: number): Promise<StreamResult> {
      const response = await request(url, { method: 'POST', headers, body: chatBody(tokens), dispatcher: agent });
      if (response.statusCode !== 200) {
        throw new Error(`raw: HTTP ${response.statusCode}: ${await response.body.text()}`);
      }
      let deltas = 0;
      let chars = 0;
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
          if (typeof content === 'string' && content !== '') {
            deltas++;
            chars += content.length;
          }
        },
      });
      const utf8 = new TextDecoder();
      for await (const chunk of response.body) parser.feed(utf8.decode(chunk as Uint8Array, { stream: true }));
      parser.feed(utf8.decode());
      return { deltas, chars };
    },
    close: () => agent.close(),
  };
}
