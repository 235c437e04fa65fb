/**
 * Anthropic Messages edge cases from vercel/ai's Anthropic streaming tests, in
 * ../shared/fixtures/peer-cases (`anthropic-vercel-*`): each `<name>.sse` is served by the mock
 * server, whole and one byte per write, through `anthropic()`, and the result is compared with
 * `<name>.expected.json` under the conventions of peer-cases/SOURCES.md (the same as
 * test/openai-peer-cases.test.ts):
 *
 * - `null` is not compared; `error: null` means the stream must complete normally;
 * - text / reasoning are the joined deltas (for error cases, those delivered before the error);
 * - toolCalls in index order with `id`, `name`, `arguments` (parsed JSON, or the raw string when
 *   it is not JSON; `""` also accepts `{}` or no arguments);
 * - usage numbers: a list accepts any of its values; an expected 0 also accepts an absent field.
 *   rxllm reports Anthropic's input as input_tokens + cache_read + cache_creation (the first value
 *   of such a list) and `cachedInputTokens` = cache_read; this suite demands exactly that;
 * - `error: { messageIncludes }`: exactly one error whose message contains the substring.
 *
 * A case file added to the folder is picked up without touching this file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { anthropic, collect, LlmError, type Usage } from 'rxllm';
import { afterRequest, errorFacts, joined, servedWholeAndByteSplitBy, type RoutingKeyOf, type StreamOutcome, type WireOutcome } from './helpers/wire';
import { FIXTURES_DIR } from './helpers/fixtures';

const DIR = `${FIXTURES_DIR}/peer-cases`;
const ANTHROPIC_CASE = /^anthropic-.+\.sse$/;

type UsageKey = 'inputTokens' | 'outputTokens' | 'cachedInputTokens' | 'reasoningTokens';
type Expected = {
  readonly text: string | null;
  readonly reasoning: string | null;
  readonly toolCalls: ReadonlyArray<{ readonly id: string | null; readonly name: string | null; readonly arguments: unknown }> | null;
  readonly finishReason: string | null;
  readonly usage: Readonly<Record<UsageKey, number | readonly number[] | null>> | null;
  readonly error: { readonly messageIncludes: string } | null;
};

const cases = readdirSync(DIR)
  .filter((name) => ANTHROPIC_CASE.test(name))
  .sort()
  .map((name) => {
    const base = name.slice(0, -'.sse'.length);
    return { name: base, sse: join(DIR, name), expected: JSON.parse(readFileSync(join(DIR, `${base}.expected.json`), 'utf8')) as Expected };
  });

/** Anthropic bodies carry the routing key as the first user turn's content (a string for one text block). */
const keyOf: RoutingKeyOf = (request) => {
  const content = (request.json as { messages?: Array<{ content?: unknown }> } | undefined)?.messages?.[0]?.content;
  return typeof content === 'string' ? content : undefined;
};

/** What a run produced, in the terms of expected.json. */
interface Observed {
  readonly text: string;
  readonly reasoning: string;
  readonly toolCalls: ReadonlyArray<{ readonly id: string | undefined; readonly name: string; readonly arguments: string; readonly input: unknown }>;
  readonly finishReason: string | undefined;
  readonly usage: Usage | undefined;
}

/**
 * A completed run is read with `collect()`; an errored one from its raw events (what reached the
 * consumer before the error), since `collect()` passes only the error on.
 */
async function observe(outcome: WireOutcome): Promise<Observed> {
  if (outcome.completed) {
    const done = await lastValueFrom(from(outcome.events).pipe(collect()));
    return { text: done.text, reasoning: done.reasoning, toolCalls: done.toolCalls, finishReason: done.finishReason, usage: done.usage };
  }
  let usage: Usage | undefined;
  const calls = new Map<number, { id: string | undefined; name: string; args: string[] }>();
  for (const event of outcome.events) {
    if (event.type === 'usage') usage = event.usage;
    if (event.type !== 'tool-call') continue;
    const call = calls.get(event.index);
    if (call) call.args.push(event.argumentsDelta);
    else calls.set(event.index, { id: event.id, name: event.name ?? '', args: [event.argumentsDelta] });
  }
  const toolCalls = [...calls.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, call]) => {
      const args = call.args.join('');
      return { id: call.id, name: call.name, arguments: args, input: args.trim() === '' ? {} : parsedOrUndefined(args) };
    });
  return { text: joined(outcome.events, 'text'), reasoning: joined(outcome.events, 'reasoning'), toolCalls, finishReason: undefined, usage };
}

function parsedOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Compares one run with the case's expectation, following peer-cases/SOURCES.md. */
async function check(outcome: StreamOutcome, expected: Expected, run: string): Promise<void> {
  const got = await observe(outcome);

  if (expected.error === null) {
    expect(outcome.error === undefined ? null : errorFacts(outcome.error), `${run}: must complete normally`).toBeNull();
    expect(outcome.completed, run).toBe(true);
  } else {
    expect(outcome.completed, `${run}: must error, not complete`).toBe(false);
    expect(outcome.errors, `${run}: exactly one error`).toBe(1);
    expect(LlmError.is(outcome.error), `${run}: a typed LlmError`).toBe(true);
    expect((outcome.error as Error).message, `${run}: error message`).toContain(expected.error.messageIncludes);
  }

  if (expected.text !== null) expect(got.text, `${run}: text`).toBe(expected.text);
  if (expected.reasoning !== null) expect(got.reasoning, `${run}: reasoning`).toBe(expected.reasoning);
  if (expected.finishReason !== null) expect(got.finishReason, `${run}: finishReason`).toBe(expected.finishReason);

  if (expected.toolCalls !== null) {
    expect(got.toolCalls.length, `${run}: number of tool calls`).toBe(expected.toolCalls.length);
    expected.toolCalls.forEach((want, i) => {
      const call = got.toolCalls[i]!;
      if (want.id !== null) expect(call.id, `${run}: toolCalls[${i}].id`).toBe(want.id);
      if (want.name !== null) expect(call.name, `${run}: toolCalls[${i}].name`).toBe(want.name);
      if (want.arguments === null) return;
      if (want.arguments === '') {
        expect(call.arguments === '' || JSON.stringify(parsedOrUndefined(call.arguments)) === '{}', `${run}: toolCalls[${i}].arguments empty or {} (got ${JSON.stringify(call.arguments)})`).toBe(true);
      } else if (typeof want.arguments === 'string') {
        expect(call.arguments, `${run}: toolCalls[${i}].arguments (raw)`).toBe(want.arguments);
      } else {
        expect(call.input, `${run}: toolCalls[${i}].arguments (parsed)`).toEqual(want.arguments);
      }
    });
  }

  if (expected.usage !== null) {
    for (const key of ['inputTokens', 'outputTokens', 'cachedInputTokens', 'reasoningTokens'] as const) {
      const want = expected.usage[key];
      if (want === null) continue;
      // rxllm's convention is the first value of a list (input incl. cache read and creation).
      const accepted = typeof want === 'number' ? [want] : [want[0]!];
      const value = got.usage?.[key];
      const ok = value === undefined ? accepted.includes(0) : accepted.includes(value);
      expect(ok, `${run}: usage.${key} = ${String(value)}, expected one of ${JSON.stringify(accepted)}`).toBe(true);
    }
  }
}

const outcomes = servedWholeAndByteSplitBy(
  cases.map(({ name, sse }) => ({ key: name, file: sse })),
  { model: (server) => anthropic({ model: 'claude-test', baseURL: server.url, apiKey: 'test-key-anthropic-peer-cases' }), keyOf },
);

describe('Anthropic Messages peer cases', () => {
  it('finds the anthropic cases (13 at the time of writing), each with its expectation', () => {
    expect(cases.length).toBeGreaterThanOrEqual(13);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (name, { expected }) => {
    const outcome = outcomes.get(name);
    if (!outcome) throw new Error(`no outcome for ${name}`);
    const { whole, byte } = outcome;
    await check(whole, expected, 'whole');
    await check(byte, expected, 'byte-split');
    // Chunking must not change anything.
    expect(afterRequest(byte.events), 'byte-split events = whole events').toEqual(afterRequest(whole.events));
    expect(byte.error === undefined ? null : errorFacts(byte.error)).toEqual(whole.error === undefined ? null : errorFacts(whole.error));
  });

  it('the overloaded cases are retryable ApiErrors with code overloaded; the generic error chunk is not retryable', () => {
    for (const name of ['anthropic-vercel-overloaded-first-chunk', 'anthropic-vercel-overloaded-midstream']) {
      expect(errorFacts(outcomes.get(name)!.whole.error), name).toMatchObject({ name: 'ApiError', code: 'overloaded', retryable: true, provider: 'anthropic', providerCode: 'overloaded_error' });
    }
    expect(errorFacts(outcomes.get('anthropic-vercel-error-chunk-after-ping')!.whole.error)).toMatchObject({ name: 'ApiError', retryable: false, message: 'anthropic error: test error' });
  });
});
