import type { FinishReason, Usage } from '../core/events';
import { MalformedStreamError } from '../core/errors';
import { errorFromPayload, retryAfterFromBody } from '../http/api-error';
import { errorContext, type CallMeta, type Emit, type StreamParser } from './http-stream';
import { parseWireObject, usageFromCounts } from './parser-helpers';

/**
 * Gemini finish reasons → rxllm's. `STOP` after a function call is `'tool-calls'` (Gemini has no
 * reason of its own for it); the safety family and recitation are `'content-filter'`; reasons with
 * no counterpart (`OTHER`, `LANGUAGE`, `MALFORMED_FUNCTION_CALL`, …) are `'other'`.
 *
 * @example
 * mapGeminiFinish('MAX_TOKENS', false); // 'length'
 * mapGeminiFinish('STOP', true);        // 'tool-calls'
 */
export function mapGeminiFinish(raw: string, sawToolCall: boolean): FinishReason {
  switch (raw) {
    case 'STOP':
      return sawToolCall ? 'tool-calls' : 'stop';
    case 'MAX_TOKENS':
      return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
    case 'IMAGE_PROHIBITED_CONTENT':
      return 'content-filter';
    default:
      return 'other';
  }
}

/** `usageMetadata` as Gemini sends it (every field optional: early chunks omit the output counts). */
export interface GeminiWireUsage {
  readonly promptTokenCount?: number;
  readonly candidatesTokenCount?: number;
  readonly thoughtsTokenCount?: number;
  readonly cachedContentTokenCount?: number;
  readonly totalTokenCount?: number;
}

/**
 * Gemini `usageMetadata` → rxllm's `Usage`, under the convention rxllm reports for Gemini (the
 * Vercel AI SDK's): `inputTokens` = `promptTokenCount` (cached tokens included),
 * `outputTokens` = `candidatesTokenCount + thoughtsTokenCount` (so `reasoningTokens` is a subset of
 * it, as for OpenAI), `reasoningTokens` = `thoughtsTokenCount`, `cachedInputTokens` =
 * `cachedContentTokenCount`, `totalTokens` = `totalTokenCount` when sent.
 *
 * @example
 * mapGeminiUsage({ promptTokenCount: 9, candidatesTokenCount: 23, thoughtsTokenCount: 185, totalTokenCount: 217 });
 * // { inputTokens: 9, outputTokens: 208, totalTokens: 217, reasoningTokens: 185 }
 */
export function mapGeminiUsage(wire: GeminiWireUsage): Usage {
  const thoughts = num(wire.thoughtsTokenCount);
  const outputTokens = (num(wire.candidatesTokenCount) ?? 0) + (thoughts ?? 0);
  return usageFromCounts(num(wire.promptTokenCount), outputTokens, num(wire.totalTokenCount), num(wire.cachedContentTokenCount), thoughts);
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

interface WirePart {
  text?: unknown;
  thought?: unknown;
  functionCall?: { id?: unknown; name?: unknown; args?: unknown } | null;
}

interface WireChunk {
  candidates?: Array<{ index?: number; content?: { parts?: WirePart[] | null } | null; finishReason?: unknown } | null> | null;
  promptFeedback?: { blockReason?: unknown } | null;
  usageMetadata?: GeminiWireUsage | null;
  error?: unknown;
}

/**
 * The Gemini `streamGenerateContent?alt=sse` parser. Pure: wire messages in, events out; one
 * instance per call. Each SSE message is a whole `GenerateContentResponse` chunk.
 *
 * - `candidates[0].content.parts[]`: `text` → `text`, or → `reasoning` when the part has
 *   `thought: true` (thought summaries, sent when `thinkingConfig.includeThoughts` is on); empty
 *   text parts (Gemini 3 sends one to carry a `thoughtSignature`) emit nothing.
 * - `functionCall { name, args }` arrives whole: one `tool-call` event with `index` (counted over
 *   the response), `id` = the call's own `id` if Gemini sent one, else `call_<index>`, `name`,
 *   and `argumentsDelta` = `JSON.stringify(args)` (`'{}'` without args).
 * - `thoughtSignature` is not emitted: the event union has no place for it (see `toGeminiBody`
 *   for how history is replayed without it). `executableCode`, `inlineData` and other part kinds
 *   are skipped.
 * - `usageMetadata` comes on every chunk; the last one wins and is emitted once, before `finish`.
 * - There is no end marker: the body ends. Then `usage` and `finish` are emitted if a
 *   `finishReason` (or a prompt `blockReason`) came; otherwise the response was truncated and the
 *   stream errors (`malformed_stream`, retryable).
 * - `promptFeedback.blockReason` (the prompt itself was blocked, no candidates) finishes with
 *   `'content-filter'` and the block reason as `rawReason` — like a blocked answer, not an error:
 *   the request was valid and a retry would be blocked again.
 * - An `error` object in a chunk errors the stream with the typed error for it (a
 *   `RetryInfo.retryDelay` becomes `retryAfterMs`).
 *
 * @example
 * const model = httpModel({ ..., framing: 'sse', parser: geminiParser });
 */
export function geminiParser(meta: CallMeta): StreamParser {
  const { provider } = meta;
  let finishRaw: string | undefined;
  let blockReason: string | undefined;
  let usage: Usage | undefined;
  let toolCalls = 0;

  const part = (p: WirePart, emit: Emit): void => {
    if (typeof p.text === 'string') {
      if (p.text !== '') emit({ type: p.thought === true ? 'reasoning' : 'text', text: p.text });
      return;
    }
    const call = p.functionCall;
    if (call === undefined || call === null) return;
    if (typeof call.name !== 'string' || call.name === '') {
      throw new MalformedStreamError(`${provider}: a functionCall part without a function name`, errorContext(meta));
    }
    const index = toolCalls++;
    emit({
      type: 'tool-call',
      index,
      id: typeof call.id === 'string' && call.id !== '' ? call.id : `call_${index}`,
      name: call.name,
      argumentsDelta: call.args === undefined || call.args === null ? '{}' : JSON.stringify(call.args),
    });
  };

  return {
    message(data, event, emit) {
      const chunk = parseWireObject<WireChunk>(data, 'chunk', meta, { errorEvent: event === 'error', rejectArrays: true });
      if ((chunk.error !== undefined && chunk.error !== null) || event === 'error') {
        const retryAfterMs = retryAfterFromBody(chunk);
        throw errorFromPayload(chunk, retryAfterMs === undefined ? errorContext(meta) : { ...errorContext(meta), retryAfterMs });
      }
      const candidates = chunk.candidates;
      if (Array.isArray(candidates)) {
        for (const candidate of candidates) {
          // One candidate per call (candidateCount 1); older responses omit the index.
          if (!candidate || (candidate.index !== undefined && candidate.index !== 0)) continue;
          const parts = candidate.content?.parts;
          if (Array.isArray(parts)) for (const p of parts) if (p) part(p, emit);
          if (typeof candidate.finishReason === 'string' && candidate.finishReason !== '') finishRaw = candidate.finishReason;
        }
      }
      const blocked = chunk.promptFeedback?.blockReason;
      if (typeof blocked === 'string' && blocked !== '' && blocked !== 'BLOCK_REASON_UNSPECIFIED') blockReason = blocked;
      if (chunk.usageMetadata && typeof chunk.usageMetadata === 'object') usage = mapGeminiUsage(chunk.usageMetadata);
      // No end marker: the stream ends with the body, and usage may still follow a finishReason.
      return false;
    },
    end(emit) {
      if (finishRaw === undefined && blockReason === undefined) {
        throw new MalformedStreamError(`${provider}: the stream ended without a finishReason (truncated response)`, { ...errorContext(meta), retryable: true });
      }
      if (usage) emit({ type: 'usage', usage });
      emit(
        finishRaw !== undefined
          ? { type: 'finish', reason: mapGeminiFinish(finishRaw, toolCalls > 0), rawReason: finishRaw }
          : { type: 'finish', reason: 'content-filter', rawReason: blockReason! },
      );
    },
  };
}
