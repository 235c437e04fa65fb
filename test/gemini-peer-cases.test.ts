/**
 * Gemini edge cases from the streaming tests of the Vercel AI SDK (`@ai-sdk/google`), in
 * ../shared/fixtures/peer-cases (`gemini-vercel-*`): each `<name>.sse` is served by the mock
 * server, whole and one byte per write, through `gemini()`, and the result is compared with
 * `<name>.expected.json` under the conventions of peer-cases/SOURCES.md (the same comparison as
 * test/openai-peer-cases.test.ts):
 *
 * - `null` is not compared; `error: null` means the stream must complete normally;
 * - text / reasoning are the joined deltas; toolCalls in index order (`id: null` here: Gemini
 *   sends none, rxllm makes `call_<index>`), arguments compared parsed;
 * - usage numbers: a list accepts any of its values; an expected 0 also accepts an absent field.
 *   For Gemini the lists offer both output conventions; rxllm reports the peer's (strict) one,
 *   output = candidatesTokenCount + thoughtsTokenCount, and this suite pins that choice too.
 *
 * A case file added to the folder is picked up without touching this file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { collect, gemini, LlmError, type Usage } from 'rxllm';
import { afterRequest, errorFacts, joined, servedWholeAndByteSplitBy, type RoutingKeyOf, type WireOutcome } from './helpers/wire';
import { FIXTURES_DIR } from './helpers/fixtures';

const DIR = `${FIXTURES_DIR}/peer-cases`;
const GEMINI_CASE = /^gemini-vercel-.+\.sse$/;

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
  .filter((name) => GEMINI_CASE.test(name))
  .sort()
  .map((name) => {
    const base = name.slice(0, -'.sse'.length);
    return { name: base, sse: join(DIR, name), expected: JSON.parse(readFileSync(join(DIR, `${base}.expected.json`), 'utf8')) as Expected };
  });

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
async function check(outcome: WireOutcome & { readonly errors: number }, expected: Expected, run: string): Promise<void> {
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
        // No-argument call: "" as sent, or the parsed {} collect() gives for it.
        expect(call.arguments === '' || JSON.stringify(parsedOrUndefined(call.arguments)) === '{}', `${run}: toolCalls[${i}].arguments empty or {} (got ${JSON.stringify(call.arguments)})`).toBe(true);
      } else if (typeof want.arguments === 'string') {
        // Not JSON: the raw text as the model wrote it.
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
      const accepted = typeof want === 'number' ? [want] : [...want];
      const value = got.usage?.[key];
      const ok = value === undefined ? accepted.includes(0) : accepted.includes(value);
      expect(ok, `${run}: usage.${key} = ${String(value)}, expected one of ${JSON.stringify(accepted)}`).toBe(true);
    }
  }
}

/** Gemini puts the first user text at `contents[0].parts[0].text`. */
const keyOf: RoutingKeyOf = (request) => {
  const first = (request.json as { contents?: Array<{ parts?: Array<{ text?: unknown }> }> } | undefined)?.contents?.[0]?.parts?.[0]?.text;
  return typeof first === 'string' ? first : undefined;
};

const outcomes = servedWholeAndByteSplitBy(
  cases.map(({ name, sse }) => ({ key: name, file: sse })),
  { model: (server) => gemini({ model: 'gemini-test', apiKey: 'AIzaSyTEST-peer-cases-000000000000000', baseURL: server.url }), keyOf },
);

describe('Gemini peer cases', () => {
  it('finds the Gemini cases (7 at the time of writing), each with its expectation', () => {
    expect(cases.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'gemini-vercel-reasoning',
        'gemini-vercel-reasoning-thought-signature',
        'gemini-vercel-safety-ratings',
        'gemini-vercel-text',
        'gemini-vercel-text-crlf',
        'gemini-vercel-tool-call',
        'gemini-vercel-tool-call-thought-signature',
      ]),
    );
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
    // The convention rxllm states for Gemini: thoughts are output tokens (and reasoning tokens).
    const usage = whole.events.find((e) => e.type === 'usage');
    const want = expected.usage;
    if (usage?.type === 'usage' && Array.isArray(want?.outputTokens)) expect(usage.usage.outputTokens, 'output = candidates + thoughts').toBe(Math.max(...want.outputTokens));
  });

  it('usage is reported once per stream, before finish, even though every chunk carries usageMetadata', () => {
    for (const [name, { whole }] of outcomes) {
      const types = whole.events.map((e) => e.type);
      expect(types.filter((t) => t === 'usage').length, name).toBeLessThanOrEqual(1);
      if (types.includes('usage')) expect(types.slice(-2), name).toEqual(['usage', 'finish']);
    }
  });
});
