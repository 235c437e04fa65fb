import type { FinishReason, Usage } from '../core/events';
import { MalformedStreamError } from '../core/errors';
import { errorFromPayload } from '../http/api-error';
import { errorContext, type CallMeta, type Emit, type StreamParser } from './http-stream';
import { parseWireObject } from './parser-helpers';

/** One tool call as Ollama sends it: whole, with `arguments` as an object (never fragments). */
interface WireToolCall {
  id?: string | null;
  function?: { index?: number; name?: string | null; arguments?: Record<string, unknown> | string | null } | null;
}

/** One NDJSON line of `POST /api/chat` with `stream: true`. Durations are nanoseconds. */
interface WireLine {
  message?: { content?: string | null; thinking?: string | null; tool_calls?: WireToolCall[] | null } | null;
  done?: boolean;
  done_reason?: string | null;
  prompt_eval_count?: number;
  eval_count?: number;
  total_duration?: number;
  load_duration?: number;
  prompt_eval_duration?: number;
  eval_duration?: number;
  error?: unknown;
}

/**
 * Ollama's `done_reason` → rxllm's finish reason. Ollama says `stop` also when the turn ended in
 * tool calls, so `hadToolCalls` turns that into `'tool-calls'`; `load` / `unload` (a request that
 * only loaded or unloaded the model) are `'other'`.
 *
 * @example
 * mapOllamaFinish('stop', true); // 'tool-calls'
 * mapOllamaFinish('length', false); // 'length'
 */
export function mapOllamaFinish(raw: string | undefined, hadToolCalls: boolean): FinishReason {
  switch (raw) {
    case undefined:
    case 'stop':
      return hadToolCalls ? 'tool-calls' : 'stop';
    case 'length':
      return 'length';
    default:
      return 'other';
  }
}

/**
 * The usage on Ollama's final line: `prompt_eval_count` → input, `eval_count` → output (thinking
 * included), total = their sum. Undefined when neither is there; a missing one counts 0.
 *
 * @example
 * mapOllamaUsage({ prompt_eval_count: 16, eval_count: 22 }); // { inputTokens: 16, outputTokens: 22, totalTokens: 38 }
 */
export function mapOllamaUsage(line: Pick<WireLine, 'prompt_eval_count' | 'eval_count'>): Usage | undefined {
  const input = line.prompt_eval_count;
  const output = line.eval_count;
  if (typeof input !== 'number' && typeof output !== 'number') return undefined;
  const inputTokens = typeof input === 'number' ? input : 0;
  const outputTokens = typeof output === 'number' ? output : 0;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

/**
 * The parser of Ollama's native chat stream (`POST /api/chat`, NDJSON). Pure: one line in, events
 * out; one instance per call.
 *
 * - `message.content` → `text`; `message.thinking` (models run with `think: true`) → `reasoning`.
 * - `message.tool_calls`: Ollama sends each call whole, with `arguments` as a JSON object. Each
 *   becomes one `tool-call` event carrying `id` (the call's own, else `call_<index>`), `name` and
 *   `argumentsDelta` = the arguments as JSON text. The index counts calls across the whole
 *   response (0, 1, …), whatever line they arrive on.
 * - The line with `done: true` ends the response: a `metrics` notice with Ollama's own timing
 *   (`tokensPerSecond` = `eval_count / eval_duration`, `elapsedMs` = `total_duration`, server-side,
 *   `final: true`) when those fields are present, then `usage` (`prompt_eval_count` /
 *   `eval_count`), then `finish`. Lines after it are ignored.
 * - A line `{"error": "..."}` (the model runner failed mid-answer) errors the stream with an
 *   `ApiError`; an unparsable line or a body that ends before `done: true` is a
 *   `MalformedStreamError` (the latter retryable: the response was cut off).
 *
 * @example
 * const parser = ollamaParser({ provider: 'ollama' });
 * parser.message('{"message":{"content":"Hi"},"done":false}', undefined, console.log); // { type: 'text', text: 'Hi' }
 */
export function ollamaParser(meta: CallMeta): StreamParser {
  const { provider } = meta;
  let toolCalls = 0;

  const toolCall = (call: WireToolCall, emit: Emit): void => {
    const name = call.function?.name;
    if (typeof name !== 'string' || name === '') {
      throw new MalformedStreamError(`${provider}: a tool call without a function name`, errorContext(meta));
    }
    const index = toolCalls++;
    const raw = call.function?.arguments;
    // Objects (the documented shape) are serialized once; a server that sends JSON text is passed through.
    const argumentsDelta = typeof raw === 'string' ? raw : JSON.stringify(raw ?? {});
    emit({ type: 'tool-call', index, id: typeof call.id === 'string' && call.id !== '' ? call.id : `call_${index}`, name, argumentsDelta });
  };

  const done = (line: WireLine, emit: Emit): void => {
    const usage = mapOllamaUsage(line);
    const { total_duration: total, eval_duration: evalNs, eval_count: evalCount } = line;
    if (typeof total === 'number' && typeof evalNs === 'number' && evalNs > 0 && typeof evalCount === 'number') {
      emit({
        type: 'metrics',
        outputTokens: evalCount,
        tokensPerSecond: evalCount / (evalNs / 1e9),
        elapsedMs: total / 1e6,
        final: true,
        ...(usage ? { usage } : {}),
      });
    }
    if (usage) emit({ type: 'usage', usage });
    const raw = typeof line.done_reason === 'string' && line.done_reason !== '' ? line.done_reason : undefined;
    const reason = mapOllamaFinish(raw, toolCalls > 0);
    emit(raw === undefined ? { type: 'finish', reason } : { type: 'finish', reason, rawReason: raw });
  };

  return {
    message(data, _event, emit) {
      const line = parseWireObject<WireLine>(data, 'line', meta);
      if (line.error !== undefined && line.error !== null) throw errorFromPayload(line, errorContext(meta));
      const message = line.message;
      if (message) {
        if (typeof message.thinking === 'string' && message.thinking !== '') emit({ type: 'reasoning', text: message.thinking });
        if (typeof message.content === 'string' && message.content !== '') emit({ type: 'text', text: message.content });
        const calls = message.tool_calls;
        if (calls) for (const call of calls) toolCall(call, emit);
      }
      if (line.done === true) {
        done(line, emit);
        return true;
      }
      return false;
    },
    end() {
      throw new MalformedStreamError(`${provider}: the stream ended before the line with "done": true (truncated response)`, { ...errorContext(meta), retryable: true });
    },
  };
}
