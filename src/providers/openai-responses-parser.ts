import type { FinishReason, Usage } from '../core/events';
import { MalformedStreamError } from '../core/errors';
import { errorFromPayload } from '../http/api-error';
import { errorContext, type CallMeta, type Emit, type StreamParser } from './http-stream';
import { parseWireObject, startWhenNamed, toolArgumentsFragment, usageFromCounts, type HeldToolCall } from './parser-helpers';

interface WireResponsesUsage {
  input_tokens?: number;
  output_tokens?: number;
  total_tokens?: number;
  input_tokens_details?: { cached_tokens?: number } | null;
  output_tokens_details?: { reasoning_tokens?: number } | null;
}

/**
 * Responses API usage → rxllm's: `input_tokens` (cached included) and `output_tokens` (reasoning
 * included) as they are, `cached_tokens` and `reasoning_tokens` as the subsets when reported,
 * `total_tokens` as sent (else the sum).
 *
 * @example
 * mapResponsesUsage({ input_tokens: 53, output_tokens: 469, output_tokens_details: { reasoning_tokens: 448 } });
 * // { inputTokens: 53, outputTokens: 469, totalTokens: 522, reasoningTokens: 448 }
 */
export function mapResponsesUsage(wire: WireResponsesUsage): Usage {
  return usageFromCounts(wire.input_tokens, wire.output_tokens, wire.total_tokens, wire.input_tokens_details?.cached_tokens, wire.output_tokens_details?.reasoning_tokens);
}

/**
 * `incomplete_details.reason` of a `response.incomplete` → rxllm's finish reason:
 * `max_output_tokens` → `'length'`, `content_filter` → `'content-filter'`, anything else `'other'`.
 *
 * @example
 * mapResponsesIncomplete('max_output_tokens'); // 'length'
 */
export function mapResponsesIncomplete(reason: string | undefined): FinishReason {
  switch (reason) {
    case 'max_output_tokens':
      return 'length';
    case 'content_filter':
      return 'content-filter';
    default:
      return 'other';
  }
}

interface WireItem {
  type?: string;
  id?: string;
  call_id?: string;
  name?: string;
  arguments?: string;
}

interface WireResponse {
  status?: string;
  usage?: WireResponsesUsage | null;
  error?: { code?: unknown; message?: unknown; type?: unknown } | null;
  incomplete_details?: { reason?: string } | null;
}

/** The fields of the stream events this parser reads; everything else is ignored. */
interface WireEvent {
  type?: string;
  output_index?: number;
  item_id?: string;
  item?: WireItem | null;
  delta?: unknown;
  arguments?: unknown;
  response?: WireResponse | null;
  // `error` events: flat (`code`, `message`) or wrapped (`error: {...}`).
  code?: unknown;
  message?: unknown;
  param?: unknown;
  error?: unknown;
}

/**
 * A function call being streamed, keyed by its `output_index`. Fragments that come before the name
 * (no `output_item.added` seen) are held and joined once at start.
 */
interface CallState extends HeldToolCall {
  /** Argument text has been emitted (or held) for it: the `.done` / item copies are then not needed. */
  hasArguments: boolean;
}

/**
 * The OpenAI Responses API stream parser (`POST /v1/responses`, `stream: true`). Pure: one SSE
 * message in, events out; one instance per call. The event's `type` field decides, not the SSE
 * `event:` name (streams with and without `event:` lines and `sequence_number` read the same).
 *
 * - `response.output_text.delta` → `text`; `response.reasoning_summary_text.delta` and
 *   `response.reasoning_text.delta` → `reasoning` (summary parts joined as sent, no separator).
 *   Refusal deltas are not output text and are not emitted.
 * - A `function_call` item starts a tool call at `output_added`: index = `output_index`, id =
 *   `call_id`, name. `response.function_call_arguments.delta` (by `output_index`, else `item_id`)
 *   → `argumentsDelta`. If no delta came, the arguments of `…arguments.done` / the done item are
 *   emitted once. Fragments for a call not yet announced are held until its name is known.
 * - `response.completed` → `usage` (input, output, cached input, reasoning tokens) and `finish`
 *   (`tool-calls` if a function call was streamed, else `stop`); `response.incomplete` → `usage`
 *   and `finish` with `max_output_tokens` → `length`, `content_filter` → `content-filter`.
 *   Messages after the end are ignored.
 * - `error` events and `response.failed` are typed errors (`insufficient_quota` →
 *   `quota_exceeded`, not retryable; `server_error` → retryable; `rate_limit_exceeded` →
 *   `RateLimitError`). Usage reported beside a failure is emitted first.
 * - An unparsable message, or a body that ends before the response did (retryable), is a
 *   `MalformedStreamError`.
 *
 * @example
 * const parser = openaiResponsesParser({ provider: 'openai-responses' });
 * parser.message('{"type":"response.output_text.delta","delta":"Hi"}', undefined, console.log); // { type: 'text', text: 'Hi' }
 */
export function openaiResponsesParser(meta: CallMeta): StreamParser {
  const { provider } = meta;
  const calls = new Map<number, CallState>();
  const indexOfItem = new Map<string, number>();
  let nextFreeIndex = 0;

  const stateFor = (event: WireEvent): [number, CallState] => {
    let index = typeof event.output_index === 'number' ? event.output_index : event.item_id !== undefined ? indexOfItem.get(event.item_id) : undefined;
    if (index === undefined) index = nextFreeIndex;
    nextFreeIndex = Math.max(nextFreeIndex, index + 1);
    if (event.item_id !== undefined) indexOfItem.set(event.item_id, index);
    let call = calls.get(index);
    if (!call) {
      call = { id: undefined, name: undefined, started: false, hasArguments: false, held: [] };
      calls.set(index, call);
    }
    return [index, call];
  };

  /** Takes id and name from an item; starts the call once the name is known. */
  const announce = (index: number, call: CallState, item: WireItem, emit: Emit): void => {
    if (item.id !== undefined) indexOfItem.set(item.id, index);
    if (call.id === undefined && item.call_id) call.id = item.call_id;
    if (call.name === undefined && item.name) call.name = item.name;
    startWhenNamed(index, call, emit);
  };

  const argumentsText = (index: number, call: CallState, text: string, emit: Emit): void => {
    if (text === '') return;
    call.hasArguments = true;
    toolArgumentsFragment(index, call, text, emit);
  };

  const fail = (payload: unknown): never => {
    throw errorFromPayload(payload, errorContext(meta));
  };

  const finishWith = (response: WireResponse | null | undefined, reason: FinishReason, rawReason: string | undefined, emit: Emit): void => {
    for (const [index, call] of calls) {
      if (!call.started) throw new MalformedStreamError(`${provider}: function call at output index ${index} never received a name`, errorContext(meta));
    }
    if (response?.usage) emit({ type: 'usage', usage: mapResponsesUsage(response.usage) });
    emit(rawReason === undefined ? { type: 'finish', reason } : { type: 'finish', reason, rawReason });
  };

  return {
    message(data, sseEvent, emit) {
      const event = parseWireObject<WireEvent>(data, 'event', meta, { errorEvent: sseEvent === 'error' });
      switch (event.type ?? sseEvent) {
        case 'response.output_text.delta':
          if (typeof event.delta === 'string' && event.delta !== '') emit({ type: 'text', text: event.delta });
          return false;
        case 'response.reasoning_summary_text.delta':
        case 'response.reasoning_text.delta':
          if (typeof event.delta === 'string' && event.delta !== '') emit({ type: 'reasoning', text: event.delta });
          return false;
        case 'response.output_item.added':
        case 'response.output_item.done': {
          const item = event.item;
          if (item?.type !== 'function_call') return false;
          const [index, call] = stateFor({ ...event, ...(item.id !== undefined ? { item_id: item.id } : {}) });
          // Arguments that came whole with the item (no deltas): take them before announcing.
          if (!call.hasArguments && typeof item.arguments === 'string' && item.arguments !== '' && !call.started) {
            call.hasArguments = true;
            call.held.push(item.arguments);
          }
          announce(index, call, item, emit);
          if (!call.hasArguments && typeof item.arguments === 'string') argumentsText(index, call, item.arguments, emit);
          return false;
        }
        case 'response.function_call_arguments.delta': {
          const [index, call] = stateFor(event);
          if (typeof event.delta === 'string') argumentsText(index, call, event.delta, emit);
          return false;
        }
        case 'response.function_call_arguments.done': {
          const [index, call] = stateFor(event);
          if (!call.hasArguments && typeof event.arguments === 'string') argumentsText(index, call, event.arguments, emit);
          return false;
        }
        case 'response.completed': {
          const streamedCalls = calls.size > 0;
          finishWith(event.response, streamedCalls ? 'tool-calls' : 'stop', event.response?.status ?? 'completed', emit);
          return true;
        }
        case 'response.incomplete': {
          const raw = event.response?.incomplete_details?.reason;
          finishWith(event.response, mapResponsesIncomplete(raw), raw ?? 'incomplete', emit);
          return true;
        }
        case 'response.failed': {
          const response = event.response;
          if (response?.usage) emit({ type: 'usage', usage: mapResponsesUsage(response.usage) });
          const error = response?.error;
          return fail({ error: error && typeof error === 'object' ? error : { message: 'the response failed without an error object', type: 'server_error' } });
        }
        case 'error': {
          const inner = event.error && typeof event.error === 'object' ? event.error : { code: event.code, message: event.message ?? event.error, param: event.param };
          return fail({ error: inner });
        }
        default:
          // response.created / in_progress / queued, content parts, *.done copies, annotations,
          // refusals, built-in tool progress: nothing to emit.
          return false;
      }
    },
    end() {
      throw new MalformedStreamError(`${provider}: the stream ended before response.completed (truncated response)`, { ...errorContext(meta), retryable: true });
    },
  };
}
