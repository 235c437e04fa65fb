/**
 * The three wire framings the fault matrix runs through — OpenAI-compatible Chat Completions
 * (SSE), Anthropic Messages (SSE with `event:` names) and Ollama (NDJSON) — as models pointed at a
 * server and as the frames of an answer, so a fault row can be written once for all three.
 */
import { anthropic, ollama, openaiCompatible, type Model } from 'rxllm';
import type { Transport } from 'rxllm/providers';
import { anthropicChunks, ollamaChunks, openaiChunks, type MockReply } from 'rxllm/testing';

export type Provider = 'openai' | 'anthropic' | 'ollama';
export const PROVIDERS: readonly Provider[] = ['openai', 'anthropic', 'ollama'];

/** Fake keys, key-shaped only at run time (see test/helpers/fixtures.ts for the convention). */
export const FAKE_KEY = `sk-${'reliability'}-0000000000000000`;

/** Where a model sends its calls: `url` is a `baseURL` with `/v1`, `origin` one without (Ollama's). */
export interface Target {
  readonly url: string;
  readonly origin: string;
}

/** A model of `provider` pointed at `target`, on `transport`. */
export function modelFor(provider: Provider, target: Target, transport: Transport, name = 'primary'): Model {
  switch (provider) {
    case 'openai':
      return openaiCompatible({ name, model: `${name}-model`, baseURL: target.url, apiKey: FAKE_KEY, transport });
    case 'anthropic':
      return anthropic({ model: `claude-${name}`, baseURL: target.url, apiKey: FAKE_KEY, transport });
    case 'ollama':
      return ollama({ model: `${name}:1b`, baseURL: target.origin, transport });
  }
}

/** `['p0', ' p1', …]`: distinct words, so a repeated or lost delta shows in the joined text. */
export function answerWords(tag: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => (i === 0 ? `${tag}0` : ` ${tag}${i}`));
}

export const CONTENT_TYPE: Readonly<Record<Provider, string>> = {
  openai: 'text/event-stream',
  anthropic: 'text/event-stream',
  ollama: 'application/x-ndjson',
};

/** The frames (one string per SSE message or NDJSON line) of a whole answer saying `deltas`. */
export function framesOf(provider: Provider, deltas: readonly string[]): string[] {
  switch (provider) {
    case 'openai':
      return openaiChunks(deltas, { usage: { prompt_tokens: 5, completion_tokens: deltas.length } });
    case 'anthropic':
      return anthropicChunks(deltas, { usage: { input_tokens: 5, output_tokens: deltas.length } });
    case 'ollama':
      return ollamaChunks(deltas);
  }
}

/** How many frames come before the first text delta (Anthropic: message_start, content_block_start, ping). */
export function framesBeforeText(provider: Provider): number {
  return provider === 'anthropic' ? 3 : 0;
}

/** The frames of an answer up to and including its last text delta: no finish, no end marker. */
export function framesWithoutEnd(provider: Provider, deltas: readonly string[]): string[] {
  return framesOf(provider, deltas).slice(0, framesBeforeText(provider) + deltas.length);
}

/** The frame right after the last text delta (the one a truncation cuts into). */
export function frameAfterText(provider: Provider, deltas: readonly string[]): string {
  return framesOf(provider, deltas)[framesBeforeText(provider) + deltas.length]!;
}

/** A 200 streaming `deltas` in `provider`'s framing, one frame per write. */
export function answerReply(provider: Provider, deltas: readonly string[], extra: Partial<MockReply> = {}): MockReply {
  return { status: 200, headers: { 'content-type': CONTENT_TYPE[provider], 'x-request-id': `req_${provider}` }, chunks: framesOf(provider, deltas), ...extra };
}
