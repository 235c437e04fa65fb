/**
 * Random valid provider streams for the parser fuzz suite: an answer (text deltas and tool calls)
 * rendered in each wire format by the wire builders of `rxllm/testing` (tool-call frames, which
 * the builders do not make, are inserted by hand in each format's own shape), then re-framed —
 * line endings, SSE comments, blank lines, a UTF-8 byte order mark — without changing what it says.
 */
import fc from 'fast-check';
import { anthropicChunks, geminiChunks, ollamaChunks, openaiChunks, openaiResponsesChunks } from 'rxllm/testing';
import { anthropicParser, geminiParser, ollamaParser, openaiChatParser, openaiResponsesParser, type CallMeta, type StreamParser } from 'rxllm/providers';
import { splitAt } from '../../helpers/wire';

export type WireFormat = 'openai-chat' | 'openai-responses' | 'anthropic' | 'gemini' | 'ollama';
export const WIRE_FORMATS: readonly WireFormat[] = ['openai-chat', 'openai-responses', 'anthropic', 'gemini', 'ollama'];

export const PARSERS: Readonly<Record<WireFormat, { readonly parser: (meta: CallMeta) => StreamParser; readonly framing: 'sse' | 'ndjson'; readonly provider: string }>> = {
  'openai-chat': { parser: openaiChatParser, framing: 'sse', provider: 'openai-compatible' },
  'openai-responses': { parser: openaiResponsesParser, framing: 'sse', provider: 'openai' },
  anthropic: { parser: anthropicParser, framing: 'sse', provider: 'anthropic' },
  gemini: { parser: geminiParser, framing: 'sse', provider: 'gemini' },
  ollama: { parser: ollamaParser, framing: 'ndjson', provider: 'ollama' },
};

/** A tool call: its arguments as a JSON object, streamed (where the format streams them) in `pieces` of its JSON text. */
export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly args: Record<string, unknown>;
  /** Cut points into `JSON.stringify(args)`, ascending. */
  readonly cuts: readonly number[];
}

export interface Answer {
  readonly deltas: readonly string[];
  readonly tools: readonly ToolCall[];
}

/** Pieces of text a tokenizer could hand out, chosen to be awkward on the wire. */
const AWKWARD = [
  '😀', '👍🏽', '👨‍👩‍👧‍👦', '🇫🇷', '🏳️‍🌈', '漢', '字', '日本語', '한국어', 'é', 'e\u0301', '\u0301', 'ñ', 'Ω', 'ｱ', '\u200d', '\ufeff',
  'Z\u0351\u0364\u0337', 'ß', 'ﬃ', '"', '\\', '\n', '\r\n', '\r', '\t', '\u2028', '\u2029', '\u0000', '\u0085', 'data: x', ': ping',
  '[DONE]', 'event: error', '{"a":1}', ' ', '  ', 'word',
];

/** One text delta: mixed ASCII, any grapheme, and the awkward pieces. */
export const deltaArb: fc.Arbitrary<string> = fc.string({
  unit: fc.oneof({ arbitrary: fc.constantFrom(...AWKWARD), weight: 3 }, { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }), weight: 2 }, { arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), weight: 3 }),
  maxLength: 12,
});

const jsonValueArb: fc.Arbitrary<unknown> = fc.oneof(deltaArb, fc.integer(), fc.boolean(), fc.constant(null), fc.array(deltaArb, { maxLength: 3 }));

const toolArb = (index: number): fc.Arbitrary<ToolCall> =>
  fc
    .record({
      name: fc.constantFrom('get_weather', 'lookup', 'search_docs', 'run_sql'),
      args: fc.dictionary(fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'é', '日', '_'), minLength: 1, maxLength: 6 }), jsonValueArb, { maxKeys: 4 }),
      cutSeeds: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
    })
    .map(({ name, args, cutSeeds }) => {
      const length = JSON.stringify(args).length;
      const cuts = [...new Set(cutSeeds.map((s) => Math.floor(s * length)))].filter((c) => c > 0 && c < length).sort((a, b) => a - b);
      return { id: `call_${index}_fz`, name: `${name}_${index}`, args, cuts };
    });

export const answerArb: fc.Arbitrary<Answer> = fc.record({
  deltas: fc.array(deltaArb, { maxLength: 12 }),
  tools: fc.integer({ min: 0, max: 2 }).chain((count): fc.Arbitrary<readonly ToolCall[]> => (count === 0 ? fc.constant([]) : fc.tuple(...Array.from({ length: count }, (_, i) => toolArb(i))))),
});

/** The argument text of a call cut at its cut points. */
export function argumentPieces(tool: ToolCall): string[] {
  const text = JSON.stringify(tool.args);
  const out: string[] = [];
  let start = 0;
  for (const cut of tool.cuts) {
    out.push(text.slice(start, cut));
    start = cut;
  }
  out.push(text.slice(start));
  return out;
}

const sse = (payload: unknown, event?: string): string => `${event === undefined ? '' : `event: ${event}\n`}data: ${JSON.stringify(payload)}\n\n`;

/**
 * The frames of `answer` in `format` (one string per SSE event or NDJSON line, `\n` line ends;
 * Gemini's builder writes `\r\n`, kept): the builder's frames, with the tool calls' frames
 * inserted before the finish.
 */
export function framesFor(format: WireFormat, answer: Answer): string[] {
  const { deltas, tools } = answer;
  switch (format) {
    case 'openai-chat': {
      const frames = openaiChunks(deltas, { finishReason: tools.length > 0 ? 'tool_calls' : 'stop', usage: { prompt_tokens: 7, completion_tokens: deltas.length } });
      const base = { id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'mock-model' };
      const calls = tools.flatMap((tool, index) => [
        sse({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, id: tool.id, type: 'function', function: { name: tool.name, arguments: '' } }] }, finish_reason: null }] }),
        ...argumentPieces(tool).map((piece) => sse({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, function: { arguments: piece } }] }, finish_reason: null }] })),
      ]);
      frames.splice(deltas.length, 0, ...calls);
      return frames;
    }
    case 'openai-responses': {
      const frames = openaiResponsesChunks(deltas);
      const calls = tools.flatMap((tool, i) => {
        const outputIndex = i + 1;
        const item = { id: `fc_${i}`, type: 'function_call', status: 'in_progress', call_id: tool.id, name: tool.name, arguments: '' };
        const text = JSON.stringify(tool.args);
        return [
          sse({ type: 'response.output_item.added', output_index: outputIndex, item }, 'response.output_item.added'),
          ...argumentPieces(tool).map((delta) => sse({ type: 'response.function_call_arguments.delta', item_id: item.id, output_index: outputIndex, delta }, 'response.function_call_arguments.delta')),
          sse({ type: 'response.function_call_arguments.done', item_id: item.id, output_index: outputIndex, arguments: text }, 'response.function_call_arguments.done'),
          sse({ type: 'response.output_item.done', output_index: outputIndex, item: { ...item, status: 'completed', arguments: text } }, 'response.output_item.done'),
        ];
      });
      frames.splice(frames.length - 1, 0, ...calls);
      return frames;
    }
    case 'anthropic': {
      const frames = anthropicChunks(deltas, { finishReason: tools.length > 0 ? 'tool_use' : 'end_turn', usage: { input_tokens: 7, output_tokens: deltas.length } });
      const first = deltas.length > 0 ? 1 : 0;
      const calls = tools.flatMap((tool, i) => [
        sse({ type: 'content_block_start', index: first + i, content_block: { type: 'tool_use', id: tool.id, name: tool.name, input: {} } }, 'content_block_start'),
        ...argumentPieces(tool).map((partial_json) => sse({ type: 'content_block_delta', index: first + i, delta: { type: 'input_json_delta', partial_json } }, 'content_block_delta')),
        sse({ type: 'content_block_stop', index: first + i }, 'content_block_stop'),
      ]);
      frames.splice(frames.length - 2, 0, ...calls);
      return frames;
    }
    case 'gemini': {
      const frames = geminiChunks(deltas, { usage: { promptTokenCount: 7, candidatesTokenCount: deltas.length } });
      const calls = tools.map((tool) => `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ functionCall: { id: tool.id, name: tool.name, args: tool.args } }], role: 'model' }, index: 0 }] })}\r\n\r\n`);
      frames.splice(frames.length - 1, 0, ...calls);
      return frames;
    }
    case 'ollama': {
      const lines = ollamaChunks(deltas);
      const calls = tools.map((tool) => `${JSON.stringify({ model: 'mock-model', created_at: '2025-01-01T00:00:00Z', message: { role: 'assistant', content: '', tool_calls: [{ id: tool.id, function: { name: tool.name, arguments: tool.args } }] }, done: false })}\n`);
      lines.splice(lines.length - 1, 0, ...calls);
      return lines;
    }
  }
}

/** How the same frames may be written on the wire. */
export interface Reframing {
  readonly eol: '\n' | '\r\n' | '\r';
  /** Before which frames (indexes) a filler goes: an SSE comment (`: ping`), or a blank line in NDJSON. */
  readonly fillers: readonly number[];
  readonly bom: boolean;
}

export const reframingArb = (format: WireFormat): fc.Arbitrary<Reframing> =>
  fc.record({
    // NDJSON has no CR-only line end.
    eol: format === 'ollama' ? fc.constantFrom<Reframing['eol']>('\n', '\r\n') : fc.constantFrom<Reframing['eol']>('\n', '\r\n', '\r'),
    fillers: fc.array(fc.nat({ max: 40 }), { maxLength: 6 }),
    bom: fc.boolean(),
  });

/** The whole body of `frames` re-framed. */
export function reframe(format: WireFormat, frames: readonly string[], how: Reframing): string {
  const filler = format === 'ollama' ? '\n' : `: ping\n`;
  const parts: string[] = [];
  frames.forEach((frame, i) => {
    for (const at of how.fillers) if (at === i) parts.push(filler);
    parts.push(frame);
  });
  for (const at of how.fillers) if (at >= frames.length) parts.push(filler);
  // JSON never holds a raw CR or LF, so every CR and LF in the body is a line end.
  const body = parts.join('').replace(/\r\n/g, '\n').replace(/\n/g, how.eol);
  return (how.bom ? '\ufeff' : '') + body;
}

/** `bytes` cut at `cuts` (any order, duplicates and out-of-range ones ignored). */
export function splitBytes(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  return splitAt(bytes, ...[...new Set(cuts)].filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b));
}
