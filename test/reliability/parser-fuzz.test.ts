/**
 * Parser fuzzing with fast-check. For every wire format (OpenAI Chat Completions, OpenAI
 * Responses, Anthropic Messages, Gemini, Ollama NDJSON): a random valid answer — text deltas full
 * of multi-byte UTF-8 (emoji with modifiers and ZWJ sequences, flags, CJK, combining marks, line
 * and paragraph separators, escapes) and tool calls with streamed arguments — is rendered with the
 * wire builders, re-framed (LF / CRLF / CR line ends, `: ping` comments or blank lines between
 * frames, a UTF-8 BOM) and cut into pieces at random byte offsets, which split characters,
 * line ends and frames alike. Fed through the pure path (frame decoder + the provider's parser,
 * `parseWire`, what `runHttpStream` does without HTTP), it must give exactly the events of the
 * same body in one piece, those of the canonical rendering (LF, no comment, no BOM), the text the
 * answer says and the tool calls it makes. A smaller number of runs goes over HTTP through the
 * mock server, one write per piece with random per-write delays, through the real model.
 *
 * Reproduce a failure: fast-check prints the seed and the counterexample's path; run
 *   FUZZ_SEED=<seed> FUZZ_PATH=<path> npx vitest run test/reliability/parser-fuzz.test.ts
 * (FUZZ_RUNS / FUZZ_HTTP_RUNS change the number of runs per format).
 */
import fc from 'fast-check';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anthropic, gemini, ollama, openaiCompatible, openaiResponses, undiciTransport, type LlmEvent, type Model } from 'rxllm';
import { startMockServer, type MockServer } from 'rxllm/testing';
import { Agent } from 'undici';
import { parseWire, parserEvents } from '../helpers/wire';
import { answerArb, framesFor, PARSERS, reframe, reframingArb, splitBytes, WIRE_FORMATS, type Answer, type WireFormat } from './helpers/fuzz-wire';

const env = (name: string): number | undefined => (process.env[name] === undefined || process.env[name] === '' ? undefined : Number(process.env[name]));
const seed = env('FUZZ_SEED');
const path = process.env['FUZZ_PATH'];
/** fast-check's parameters: the runs, and a fixed seed (and path) when given to reproduce a failure. */
const params = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns,
  ...(seed !== undefined ? { seed } : {}),
  ...(path !== undefined && path !== '' ? { path } : {}),
});
const PURE_RUNS = env('FUZZ_RUNS') ?? 200;
const HTTP_RUNS = env('FUZZ_HTTP_RUNS') ?? 20;

const encoder = new TextEncoder();

/** Events of one body through the pure path; the run must complete. */
function parsePieces(format: WireFormat, pieces: Iterable<Uint8Array>): LlmEvent[] {
  const { parser, framing, provider } = PARSERS[format];
  const outcome = parseWire(pieces, { parser, framing, provider });
  if (!outcome.completed) throw outcome.error;
  return outcome.events;
}

/** What the events say: the text, and the tool calls (in order of their first event) with their joined arguments. */
function saidBy(events: readonly LlmEvent[]): { text: string; tools: Array<{ id: string | undefined; name: string | undefined; args: string }> } {
  let text = '';
  const calls = new Map<number, { id: string | undefined; name: string | undefined; args: string }>();
  for (const event of events) {
    if (event.type === 'text') text += event.text;
    if (event.type !== 'tool-call') continue;
    const call = calls.get(event.index);
    if (call) call.args += event.argumentsDelta;
    else calls.set(event.index, { id: event.id, name: event.name, args: event.argumentsDelta });
  }
  return { text, tools: [...calls.values()] };
}

function expectSays(events: readonly LlmEvent[], answer: Answer): void {
  const said = saidBy(events);
  expect(said.text).toBe(answer.deltas.join(''));
  expect(said.tools.map((t) => ({ id: t.id, name: t.name, args: JSON.parse(t.args) as unknown }))).toEqual(answer.tools.map((t) => ({ id: t.id, name: t.name, args: t.args })));
  expect(events.filter((e) => e.type === 'finish')).toHaveLength(1);
  expect(events.at(-1)?.type).toBe('finish');
}

/** Random byte offsets into a body of `length` bytes; sometimes every byte. */
const cutsArb = fc.oneof(
  { arbitrary: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }).map((seeds) => ({ every: false, seeds })), weight: 9 },
  { arbitrary: fc.constant({ every: true, seeds: [] as number[] }), weight: 1 },
);
const cutsFor = (cuts: { every: boolean; seeds: number[] }, length: number): number[] =>
  cuts.every ? Array.from({ length }, (_, i) => i) : cuts.seeds.map((s) => Math.floor(s * length));

describe('parser fuzzing: random valid streams, random chunk boundaries (pure path)', () => {
  for (const format of WIRE_FORMATS) {
    it(`${format}: split anywhere, re-framed, the events are those of the whole canonical body`, () => {
      fc.assert(
        fc.property(answerArb, reframingArb(format), cutsArb, (answer, how, cuts) => {
          const frames = framesFor(format, answer);
          const canonical = parsePieces(format, [encoder.encode(frames.join('').replace(/\r\n/g, '\n'))]);
          const body = encoder.encode(reframe(format, frames, how));
          const whole = parsePieces(format, [body]);
          const split = parsePieces(format, splitBytes(body, cutsFor(cuts, body.length)));
          expect(split).toEqual(whole);
          expect(whole).toEqual(canonical);
          expectSays(split, answer);
        }),
        params(PURE_RUNS),
      );
    });
  }
});

describe('parser fuzzing over HTTP: the mock server writes each piece with a random delay', () => {
  let server: MockServer;
  let agent: Agent;
  beforeAll(async () => {
    server = await startMockServer();
    agent = new Agent({ keepAliveTimeout: 5000 });
  });
  afterAll(async () => {
    await agent.close();
    await server.close();
  });

  const modelOf = (format: WireFormat): Model => {
    const transport = undiciTransport({ dispatcher: agent });
    const apiKey = `sk-${'fuzz'}-0000`;
    switch (format) {
      case 'openai-chat':
        return openaiCompatible({ model: 'fuzz', baseURL: server.url, apiKey, transport });
      case 'openai-responses':
        return openaiResponses({ model: 'fuzz', baseURL: server.url, apiKey, transport });
      case 'anthropic':
        return anthropic({ model: 'fuzz', baseURL: server.url, apiKey, transport });
      case 'gemini':
        return gemini({ model: 'fuzz', baseURL: server.url, apiKey, transport });
      case 'ollama':
        return ollama({ model: 'fuzz', baseURL: server.origin, transport });
    }
  };

  for (const format of WIRE_FORMATS) {
    it(`${format}: the model's events are the pure parse of the whole body`, async () => {
      const model = modelOf(format);
      await fc.assert(
        fc.asyncProperty(answerArb, reframingArb(format), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 24 }), fc.array(fc.constantFrom(0, 0, 0, 1, 2), { maxLength: 25 }), async (answer, how, seeds, delays) => {
          const body = encoder.encode(reframe(format, framesFor(format, answer), how));
          const pieces = splitBytes(body, seeds.map((s) => Math.floor(s * body.length)));
          const contentType = format === 'ollama' ? 'application/x-ndjson' : 'text/event-stream';
          server.enqueue({ status: 200, headers: { 'content-type': contentType }, chunks: pieces, chunkDelaysMs: delays });
          const events = await lastValueFrom(model.stream({ messages: [{ role: 'user', content: 'fuzz' }] }).pipe(toArray()));
          expect(parserEvents(events)).toEqual(parsePieces(format, [body]));
          expectSays(events, answer);
        }),
        params(HTTP_RUNS),
      );
    });
  }
});
