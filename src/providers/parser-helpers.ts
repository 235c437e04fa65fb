import type { Usage } from '../core/events';
import { shortened } from '../core/config';
import { InvalidRequestError, MalformedStreamError } from '../core/errors';
import type { LlmRequest } from '../core/request';
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

/** A body field a provider's body builder owns: `providerOptions` may not set it to anything else. */
export interface OwnedField {
  /**
   * The value rxllm sends: an override equal to it (`stream: true`, the model's own id) changes
   * nothing and is accepted. Absent for fields built from the request (`messages`), which no
   * override may replace.
   */
  readonly sends?: string | number | boolean;
  /** Other overrides that are accepted, e.g. an object the builder merges with its own. */
  readonly accepts?: (value: unknown) => boolean;
  /** Why it cannot change, or what to do instead: the end of the error message. */
  readonly why: string;
}

/**
 * The request's `providerOptions` under the first of `names` that has any (as `providerOptionsFor`
 * picks them), after checking them against the body fields the provider owns: the fields that
 * carry the conversation, the model and the streaming, which the rest of rxllm relies on (the
 * `request` event, pricing, cache keys, the stream parser). An override that would change one
 * throws an `InvalidRequestError` on `providerOptions.<name>.<field>` — raised while the body is
 * built, after the `request` event and before anything is sent — instead of a call that fails
 * later as a "truncated" stream. Every other field is the caller's to set.
 *
 * @example
 * extraBodyFields(request, ['openai'], { stream: { sends: true, why: 'rxllm reads the answer as a stream' } });
 * // providerOptions: { openai: { stream: false } } → InvalidRequestError('providerOptions.openai.stream', …)
 */
export function extraBodyFields(request: LlmRequest, names: readonly string[], owned: Readonly<Record<string, OwnedField>>): Record<string, unknown> | undefined {
  for (const name of names) {
    const options = request.providerOptions?.[name];
    if (options === undefined || options === null) continue;
    for (const [field, rule] of Object.entries(owned)) {
      if (!Object.hasOwn(options, field)) continue;
      const value = options[field];
      if ((rule.sends !== undefined && value === rule.sends) || rule.accepts?.(value) === true) continue;
      const path = `providerOptions.${name}.${field}`;
      const sent = rule.sends === undefined ? '' : ` (as ${JSON.stringify(rule.sends)})`;
      throw new InvalidRequestError(path, `${path}: rxllm sets "${field}" itself${sent}: ${rule.why}; received ${shortened(JSON.stringify(value) ?? String(value))}`);
    }
    return options;
  }
  return undefined;
}
