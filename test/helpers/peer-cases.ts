/**
 * The peer-case checker shared by the provider suites (test/*-peer-cases.test.ts): edge cases from
 * peer SDKs' streaming tests, in test/fixtures/peer-cases. Each `<name>.sse` is served by the
 * mock server, whole and one byte per write, through a provider's model, and the result is compared
 * with `<name>.expected.json` under the conventions of peer-cases/SOURCES.md:
 *
 * - `null` is not compared; `error: null` means the stream must complete normally;
 * - text / reasoning are the joined deltas (for error cases, those delivered before the error);
 * - toolCalls in index order with `id`, `name`, `arguments` (parsed JSON, or the raw string when
 *   it is not JSON; `""` also accepts `{}` or no arguments);
 * - usage numbers: a list accepts any of its values (or, with `usageLists: 'first'`, only the first:
 *   the convention rxllm states for that provider); an expected 0 also accepts an absent field;
 * - `error: { messageIncludes }`: exactly one typed error whose message contains the substring.
 *
 * A suite keeps only what is provider-specific: its case-name pattern, its model factory and
 * routing key, its usage convention and its own further checks:
 *
 *   const cases = peerCases(/^gemini-vercel-.+\.sse$/);
 *   const outcomes = servePeerCases(cases, { model: (server) => gemini({ … baseURL: server.url }), keyOf: firstGeminiText });
 *   describe('Gemini peer cases', () => itChecksEachPeerCase(cases, outcomes));
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom } from 'rxjs';
import { expect, it } from 'vitest';
import { LlmError, collect, type Model, type Usage } from 'rxllm';
import type { MockServer } from 'rxllm/testing';
import {
  errorFactsOrNull, expectByteSplitLikeWhole, joined, outcomeIn, servedWholeAndByteSplit, servedWholeAndByteSplitBy,
  type RoutingKeyOf, type StreamOutcome, type WireOutcome,
} from './wire';
import { FIXTURES_DIR } from './fixtures';

export const PEER_CASES_DIR = `${FIXTURES_DIR}/peer-cases`;

type UsageKey = 'inputTokens' | 'outputTokens' | 'cachedInputTokens' | 'reasoningTokens';

/** A case's `<name>.expected.json`. */
export type Expected = {
  readonly text: string | null;
  readonly reasoning: string | null;
  readonly toolCalls: ReadonlyArray<{ readonly id: string | null; readonly name: string | null; readonly arguments: unknown }> | null;
  readonly finishReason: string | null;
  readonly usage: Readonly<Record<UsageKey, number | readonly number[] | null>> | null;
  readonly error: { readonly messageIncludes: string } | null;
};

export interface PeerCase {
  /** The file name without `.sse`. */
  readonly name: string;
  /** The `.sse` body's path. */
  readonly sse: string;
  readonly expected: Expected;
}

/** Every `.sse` in the peer-cases folder whose file name matches `pattern`, by name, with its expectation. */
export function peerCases(pattern: RegExp): PeerCase[] {
  return readdirSync(PEER_CASES_DIR)
    .filter((name) => pattern.test(name))
    .sort()
    .map((name) => {
      const base = name.slice(0, -'.sse'.length);
      return { name: base, sse: join(PEER_CASES_DIR, name), expected: JSON.parse(readFileSync(join(PEER_CASES_DIR, `${base}.expected.json`), 'utf8')) as Expected };
    });
}

type Outcomes = ReadonlyMap<string, { readonly whole: StreamOutcome; readonly byte: StreamOutcome }>;

/**
 * Serves every case's body whole and one byte per write, keyed by case name (a suite-wide
 * `beforeAll`; see `servedWholeAndByteSplit`): through an `openaiCompatible()` model by default,
 * else through `through.model`, with requests routed by `through.keyOf`.
 */
export function servePeerCases(
  cases: readonly PeerCase[],
  through?: { readonly model: (server: MockServer) => Model; readonly keyOf: RoutingKeyOf },
): Map<string, { whole: StreamOutcome; byte: StreamOutcome }> {
  const files = cases.map(({ name, sse }) => ({ key: name, file: sse }));
  return through === undefined ? servedWholeAndByteSplit(files) : servedWholeAndByteSplitBy(files, through);
}

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

export interface PeerCheckOptions {
  /**
   * How a list of usage numbers in expected.json is read: `'any'` accepts any of its values (the
   * SOURCES.md convention); `'first'` accepts only the first (for a suite that pins the convention
   * rxllm states, e.g. Anthropic input = input_tokens + cache_read + cache_creation).
   * @defaultValue 'any'
   */
  readonly usageLists?: 'any' | 'first';
}

/** Compares one run with the case's expectation, following peer-cases/SOURCES.md. */
export async function checkPeerRun(outcome: StreamOutcome, expected: Expected, run: string, options: PeerCheckOptions = {}): Promise<void> {
  const got = await observe(outcome);

  if (expected.error === null) {
    expect(errorFactsOrNull(outcome.error), `${run}: must complete normally`).toBeNull();
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
    const firstOnly = options.usageLists === 'first';
    for (const key of ['inputTokens', 'outputTokens', 'cachedInputTokens', 'reasoningTokens'] as const) {
      const want = expected.usage[key];
      if (want === null) continue;
      const accepted = typeof want === 'number' ? [want] : firstOnly ? [want[0]!] : [...want];
      const value = got.usage?.[key];
      const ok = value === undefined ? accepted.includes(0) : accepted.includes(value);
      expect(ok, `${run}: usage.${key} = ${String(value)}, expected one of ${JSON.stringify(accepted)}`).toBe(true);
    }
  }
}

/**
 * One case's test: both runs (whole and byte-split) checked against the expectation, and the
 * byte-split run's events and error equal to the whole run's (chunking must not change anything).
 * Returns both outcomes for a suite's own further checks.
 */
export async function checkPeerCase(
  outcomes: Outcomes,
  { name, expected }: Pick<PeerCase, 'name' | 'expected'>,
  options: PeerCheckOptions = {},
): Promise<{ readonly whole: StreamOutcome; readonly byte: StreamOutcome }> {
  const outcome = outcomeIn(outcomes, name);
  const { whole, byte } = outcome;
  await checkPeerRun(whole, expected, 'whole', options);
  await checkPeerRun(byte, expected, 'byte-split', options);
  // Chunking must not change anything.
  expectByteSplitLikeWhole(byte, whole);
  return outcome;
}

/**
 * Registers one test per case, named by the case, that runs `checkPeerCase` and then the suite's
 * own `also` checks, if any, on the outcomes.
 */
export function itChecksEachPeerCase(
  cases: readonly PeerCase[],
  outcomes: Outcomes,
  options: PeerCheckOptions & { readonly also?: (outcome: { readonly whole: StreamOutcome; readonly byte: StreamOutcome }, peerCase: PeerCase) => void } = {},
): void {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, peerCase) => {
    const outcome = await checkPeerCase(outcomes, peerCase, options);
    options.also?.(outcome, peerCase);
  });
}
