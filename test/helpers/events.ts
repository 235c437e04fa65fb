import type { Observable } from 'rxjs';
import type { FallbackNotice, HedgeNotice, LlmEvent, LlmRequestInput, Model, ModelInfo, RetryNotice } from 'rxllm';
import { parseRequest } from 'rxllm';

/** Shared event factories for marble tests: one letter per event, the same everywhere. */
export const modelInfo: ModelInfo = { provider: 'test', id: 'test-model', name: 'test:test-model' };
export const request = parseRequest({ messages: [{ role: 'user', content: 'Hi' }] });

export const parts = {
  r: { type: 'request', request, model: modelInfo },
  h: { type: 'response', status: 200, requestId: 'req_1', headers: { 'x-request-id': 'req_1' } },
  a: { type: 'text', text: 'Hel' },
  b: { type: 'text', text: 'lo' },
  c: { type: 'text', text: '!' },
  k: { type: 'reasoning', text: 'thinking' },
  t: { type: 'tool-call', index: 0, id: 'call_1', name: 'lookup', argumentsDelta: '{"q":' },
  v: { type: 'tool-call', index: 0, argumentsDelta: '"x"}' },
  u: { type: 'usage', usage: { inputTokens: 3, outputTokens: 3, totalTokens: 6 } },
  f: { type: 'finish', reason: 'stop', rawReason: 'stop' },
  x: { type: 'retry', attempt: 1, delayMs: 10, cause: 'server_error', reset: true },
} satisfies Record<string, LlmEvent>;

/** A `retry` notice (retryBackoff): `retryNotice(1, 5)`, `retryNotice(2, 10, 'rate_limited', true)`. */
export const retryNotice = (attempt: number, delayMs: number, cause = 'unavailable', reset = false): RetryNotice => ({ type: 'retry', attempt, delayMs, cause, reset });

/** The model id of a test model name: `'test:b'` → `'b'`. */
const idOf = (name: string): string => name.slice(name.indexOf(':') + 1);

/** A `fallback` notice: `fallbackNotice('test:a', 'test:b')`; `toId` defaults to the name after its `provider:`. */
export const fallbackNotice = (from: string, to: string, cause = 'unavailable', reset = false, toId = idOf(to)): FallbackNotice => ({ type: 'fallback', from, to, toId, cause, reset });

/** A `hedge` notice: `hedgeNotice('started', 'hedge', 3)`; the model defaults to the parts' model, its id to the name after its `provider:`. */
export const hedgeNotice = (phase: HedgeNotice['phase'], attempt: HedgeNotice['attempt'], afterMs: number, model = modelInfo.name, modelId = idOf(model)): HedgeNotice => ({
  type: 'hedge',
  phase,
  attempt,
  model,
  modelId,
  afterMs,
});

/** A `cache` notice (cache): `cacheNotice('hit', key)`. */
export const cacheNotice = (status: 'hit' | 'miss', key: string): Extract<LlmEvent, { type: 'cache' }> => ({ type: 'cache', status, key });

/** A stand-in model for operator tests: `stream()` records the request it got and returns `events`. */
export interface FakeModel extends Model {
  readonly requests: LlmRequestInput[];
}

/**
 * A `FakeModel`. `model`: its info, or an id (provider 'test', name `test:<id>`). `events`: the
 * observable every call returns, or a function called per call. `requests` collects what it was sent.
 */
export function fakeModel(model: string | ModelInfo, events: Observable<LlmEvent> | (() => Observable<LlmEvent>), requests: LlmRequestInput[] = []): FakeModel {
  const info: ModelInfo = typeof model === 'string' ? { provider: 'test', id: model, name: `test:${model}` } : model;
  return {
    info,
    requests,
    stream(input) {
      requests.push(input);
      return typeof events === 'function' ? events() : events;
    },
  };
}
