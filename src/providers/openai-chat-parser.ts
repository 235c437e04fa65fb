import type { FinishReason, Usage } from '../core/events';
import { MalformedStreamError } from '../core/errors';
import { errorFromPayload } from '../http/api-error';
import { errorContext, type CallMeta, type Emit, type StreamParser } from './http-stream';
import { parseWireObject, startWhenNamed, toolArgumentsFragment, usageFromCounts, type HeldToolCall } from './parser-helpers';

/** Chat Completions finish reasons → rxllm's. */
export function mapOpenAIFinish(raw: string): FinishReason {
  switch (raw) {
    case 'stop':
      return 'stop';
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool-calls';
    case 'content_filter':
      return 'content-filter';
    default:
      return 'other';
  }
}

interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

/** Chat Completions usage → rxllm's, with cached and reasoning tokens when reported. */
export function mapOpenAIUsage(wire: WireUsage): Usage {
  return usageFromCounts(wire.prompt_tokens, wire.completion_tokens, wire.total_tokens, wire.prompt_tokens_details?.cached_tokens, wire.completion_tokens_details?.reasoning_tokens);
}

interface WireToolCallDelta {
  index?: number;
  id?: string | null;
  function?: { name?: string | null; arguments?: string | Record<string, unknown> | null } | null;
}

interface WireDelta {
  content?: string | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
  tool_calls?: WireToolCallDelta[] | null;
}

interface WireChunk {
  choices?: Array<{ index?: number; delta?: WireDelta | null; finish_reason?: string | null }> | null;
  usage?: WireUsage | null;
  error?: unknown;
}

/**
 * The Chat Completions stream parser (OpenAI and every compatible server). Pure: wire messages in,
 * events out; one instance per call.
 *
 * - `content` → `text`; `reasoning_content`, else `reasoning` → `reasoning` (never both: servers
 *   that send both repeat the same text); `refusal` is not output text and is not emitted as such.
 * - Tool calls are keyed by `index` (not id, not arrival order). A call whose first fragments
 *   lack the name is held until the name arrives; ids and names are taken once, never joined.
 *   A call that never gets a name fails the stream.
 * - Usage may come on every chunk (vLLM, cumulative) or once after the finish chunk (OpenAI with
 *   `include_usage`): the last one wins and is emitted once, before `finish`.
 * - `finish` is emitted at `[DONE]`, or at end of body if a finish reason came; a body that ends
 *   with neither is truncated and errors (retryable). Frames after `[DONE]` are ignored.
 * - An `error` object in a chunk (OpenRouter) or an `event: error` message (Groq, OpenAI) errors;
 *   usage sent beside the error is emitted first.
 */
export function openaiChatParser(meta: CallMeta): StreamParser {
  const { provider } = meta;
  let finishRaw: string | undefined;
  let usage: Usage | undefined;
  /** Tool calls being assembled, by index: held back until the name is known, then streamed. */
  const tools = new Map<number, HeldToolCall>();

  const finish = (emit: Emit): void => {
    for (const [index, call] of tools) {
      if (!call.started) throw new MalformedStreamError(`${provider}: tool call at index ${index} never received a function name`, errorContext(meta));
    }
    if (usage) emit({ type: 'usage', usage });
    emit(finishRaw === undefined ? { type: 'finish', reason: 'other' } : { type: 'finish', reason: mapOpenAIFinish(finishRaw), rawReason: finishRaw });
  };

  const toolDelta = (delta: WireToolCallDelta, position: number, emit: Emit): void => {
    const index = typeof delta.index === 'number' ? delta.index : position;
    let call = tools.get(index);
    if (!call) {
      call = { id: undefined, name: undefined, held: [], started: false };
      tools.set(index, call);
    }
    if (call.id === undefined && delta.id) call.id = delta.id;
    const fn = delta.function;
    if (call.name === undefined && fn?.name) call.name = fn.name;
    const raw = fn?.arguments;
    const args = typeof raw === 'string' ? raw : raw && typeof raw === 'object' ? JSON.stringify(raw) : '';
    toolArgumentsFragment(index, call, args, emit);
    startWhenNamed(index, call, emit);
  };

  return {
    message(data, event, emit) {
      if (event === 'error') {
        let payload: unknown = data;
        try {
          payload = JSON.parse(data);
        } catch {
          // a plain-text error message
        }
        throw errorFromPayload(payload, errorContext(meta));
      }
      if (data === '[DONE]') {
        finish(emit);
        return true;
      }
      const chunk = parseWireObject<WireChunk>(data, 'chunk', meta);
      if (chunk.error !== undefined && chunk.error !== null) {
        // OpenRouter bills the tokens of a failed generation and says so beside the error: pass
        // the usage on first, so cost tracking sees what was spent.
        if (chunk.usage) emit({ type: 'usage', usage: mapOpenAIUsage(chunk.usage) });
        throw errorFromPayload(chunk, errorContext(meta));
      }
      const choices = chunk.choices;
      if (choices) {
        for (const choice of choices) {
          // One choice per call (n = 1); some servers omit the index.
          if (choice.index !== undefined && choice.index !== 0) continue;
          const delta = choice.delta;
          if (delta) {
            const reasoning = delta.reasoning_content || delta.reasoning;
            if (typeof reasoning === 'string' && reasoning !== '') emit({ type: 'reasoning', text: reasoning });
            if (typeof delta.content === 'string' && delta.content !== '') emit({ type: 'text', text: delta.content });
            const calls = delta.tool_calls;
            if (calls) for (let i = 0; i < calls.length; i++) toolDelta(calls[i]!, i, emit);
          }
          if (choice.finish_reason) finishRaw = choice.finish_reason;
        }
      }
      if (chunk.usage) usage = mapOpenAIUsage(chunk.usage);
      return false;
    },
    end(emit) {
      if (finishRaw === undefined) {
        throw new MalformedStreamError(`${provider}: the stream ended without a finish reason or [DONE] (truncated response)`, { ...errorContext(meta), retryable: true });
      }
      finish(emit);
    },
  };
}
