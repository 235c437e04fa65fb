import type { Usage } from '../core/events';
import { MalformedStreamError } from '../core/errors';
import { errorFromPayload } from '../http/api-error';
import { errorContext, type CallMeta, type Emit } from './http-stream';

/** How `parseWireObject` reads a message that is not what it should be. */
export interface WireObjectOptions {
  /**
   * The message came as an SSE `error` event: text that is not JSON is then the provider's error
   * message, thrown as a typed error, rather than a malformed stream.
   */
  readonly errorEvent?: boolean;
  /** A JSON array is not an object either. @defaultValue false (an array passes) */
  readonly rejectArrays?: boolean;
}

/**
 * One wire message (`what`: `'chunk'`, `'event'` or `'line'`, for the messages) parsed as the JSON
 * object every stream message must be. Unparsable text and a non-object are a
 * `MalformedStreamError` naming the provider and quoting the message (shortened).
 */
export function parseWireObject<T>(data: string, what: string, meta: CallMeta, options: WireObjectOptions = {}): T {
  let parsed: T;
  try {
    parsed = JSON.parse(data) as T;
  } catch {
    if (options.errorEvent) throw errorFromPayload(data, errorContext(meta)); // a plain-text error message
    throw new MalformedStreamError(`${meta.provider}: unparsable stream ${what}: ${data.length > 120 ? `${data.slice(0, 117)}...` : data}`, errorContext(meta));
  }
  if (parsed === null || typeof parsed !== 'object' || (options.rejectArrays === true && Array.isArray(parsed))) {
    throw new MalformedStreamError(`${meta.provider}: expected a JSON object per ${what}, got ${data.slice(0, 40)}`, errorContext(meta));
  }
  return parsed;
}

/**
 * rxllm's `Usage` from the counts a wire format reports: a missing input or output counts 0,
 * `total` is taken as sent (else the sum), `cached` and `reasoning` are set only when numbers.
 */
export function usageFromCounts(input: number | null | undefined, output: number | null | undefined, total: number | null | undefined, cached: unknown, reasoning: unknown): Usage {
  const inputTokens = input ?? 0;
  const outputTokens = output ?? 0;
  return {
    inputTokens,
    outputTokens,
    totalTokens: total ?? inputTokens + outputTokens,
    ...(typeof cached === 'number' ? { cachedInputTokens: cached } : {}),
    ...(typeof reasoning === 'number' ? { reasoningTokens: reasoning } : {}),
  };
}

/** A streamed tool call whose argument fragments are held back until its name is known. */
export interface HeldToolCall {
  id: string | undefined;
  name: string | undefined;
  /** Argument fragments that came before the name; joined once when the call starts. */
  held: string[];
  /** Its first event (with id and name) has been emitted. */
  started: boolean;
}

/** Starts the call if it has not started and its name is known: one event with id, name and the held fragments joined. */
export function startWhenNamed(index: number, call: HeldToolCall, emit: Emit): void {
  if (call.started || call.name === undefined) return;
  call.started = true;
  const argumentsDelta = call.held.join('');
  call.held = [];
  emit({ type: 'tool-call', index, ...(call.id !== undefined ? { id: call.id } : {}), name: call.name, argumentsDelta });
}

/** An argument fragment of the call: emitted once the call has started, held until then. An empty one is dropped. */
export function toolArgumentsFragment(index: number, call: HeldToolCall, text: string, emit: Emit): void {
  if (text === '') return;
  if (call.started) emit({ type: 'tool-call', index, argumentsDelta: text });
  else call.held.push(text);
}
