import type { FinishReason, Usage } from '../core/events';
import { MalformedStreamError } from '../core/errors';
import { errorFromPayload } from '../http/api-error';
import { errorContext, type CallMeta, type Emit, type StreamParser } from './http-stream';
import { parseWireObject } from './parser-helpers';

/**
 * Anthropic `stop_reason` → rxllm's finish reason. `pause_turn` (a server tool paused a long
 * turn; the caller may continue it) counts as `'stop'`; `refusal` (the safety classifier stopped
 * the answer) as `'content-filter'`; running out of context as `'length'`; unknown reasons as
 * `'other'` (the raw reason stays on the `finish` event).
 *
 * @example
 * mapAnthropicFinish('tool_use'); // 'tool-calls'
 */
export function mapAnthropicFinish(raw: string): FinishReason {
  switch (raw) {
    case 'end_turn':
    case 'stop_sequence':
    case 'pause_turn':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool-calls';
    case 'refusal':
      return 'content-filter';
    default:
      return 'other';
  }
}

/** The usage counters of `message_start.message.usage` and `message_delta.usage`. */
interface WireUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

/** The latest value of each counter; a later report of a counter replaces the earlier one. */
interface UsageState {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheCreation?: number;
}

/**
 * Anthropic usage → rxllm's. `inputTokens` counts every prompt token: uncached (`input_tokens`) +
 * read from the cache (`cache_read_input_tokens`) + written to the cache
 * (`cache_creation_input_tokens`); `cachedInputTokens` is the cache read, a subset of it. Anthropic
 * reports no separate count of thinking tokens: they are inside `outputTokens`.
 *
 * @example
 * mapAnthropicUsage({ input_tokens: 17, output_tokens: 227, cache_read_input_tokens: 5, cache_creation_input_tokens: 10 });
 * // { inputTokens: 32, outputTokens: 227, totalTokens: 259, cachedInputTokens: 5 }
 */
export function mapAnthropicUsage(wire: WireUsage): Usage {
  const state: UsageState = {};
  mergeUsage(state, wire);
  return usageOf(state);
}

function mergeUsage(state: UsageState, wire: WireUsage | null | undefined): boolean {
  if (!wire || typeof wire !== 'object') return false;
  const { input_tokens: input, output_tokens: output, cache_read_input_tokens: cacheRead, cache_creation_input_tokens: cacheCreation } = wire;
  if (typeof input === 'number') state.input = input;
  if (typeof output === 'number') state.output = output;
  if (typeof cacheRead === 'number') state.cacheRead = cacheRead;
  if (typeof cacheCreation === 'number') state.cacheCreation = cacheCreation;
  return typeof input === 'number' || typeof output === 'number' || typeof cacheRead === 'number' || typeof cacheCreation === 'number';
}

function usageOf(state: UsageState): Usage {
  const inputTokens = (state.input ?? 0) + (state.cacheRead ?? 0) + (state.cacheCreation ?? 0);
  const outputTokens = state.output ?? 0;
  return {
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
    ...(state.cacheRead !== undefined ? { cachedInputTokens: state.cacheRead } : {}),
  };
}

/** What a content block is, for the deltas that follow its `content_block_start`. */
type Block =
  | { readonly kind: 'text' | 'thinking' | 'ignored' }
  /** A client tool call: its dense tool index, and `input` from the start event if it was not empty. */
  | { readonly kind: 'tool'; readonly index: number; fallback: string | undefined };

const TEXT: Block = { kind: 'text' };
const THINKING: Block = { kind: 'thinking' };
const IGNORED: Block = { kind: 'ignored' };

interface WireBlock {
  type?: string;
  text?: string;
  thinking?: string;
  id?: string;
  name?: string;
  input?: unknown;
}

interface WireDelta {
  type?: string;
  text?: string;
  thinking?: string;
  partial_json?: string;
  stop_reason?: string | null;
}

interface WireEvent {
  type?: string;
  index?: number;
  message?: { usage?: WireUsage | null } | null;
  content_block?: WireBlock | null;
  delta?: WireDelta | null;
  usage?: WireUsage | null;
  error?: unknown;
}

/**
 * The Anthropic Messages stream parser. Pure: wire messages in, events out; one instance per call;
 * constant work per message (block kinds are looked up by index, never re-scanned).
 *
 * - `text_delta` → `text`; `thinking_delta` → `reasoning`; `signature_delta`, `citations_delta`,
 *   `redacted_thinking` blocks and `ping` are ignored.
 * - A `tool_use` block is a client tool call: its `content_block_start` emits the first
 *   `tool-call` event (id, name, `argumentsDelta: ''`), each non-empty `input_json_delta` one more.
 *   Tool calls are numbered 0, 1, … in stream order (not by content-block index, which counts text
 *   blocks too). A call with no input deltas has arguments `''`, which `collect()` reads as `{}`.
 * - Server tools (`server_tool_use`, `web_search_tool_result`, …) run on Anthropic's side: they
 *   are not calls for the client to answer, so neither they nor their input deltas are emitted.
 * - Usage comes from `message_start` and is updated by `message_delta` (a counter reported again
 *   replaces the earlier value: `input_tokens` in `message_delta` wins). It is emitted once, right
 *   before `finish`. See `mapAnthropicUsage` for the convention.
 * - `message_stop` emits `usage` and `finish` and ends the response. A body that ends without it
 *   still finishes if a `stop_reason` came; otherwise it is truncated: `malformed_stream`, retryable.
 * - An `error` event (by `event:` name or by `type`) fails the stream with the typed error of its
 *   payload: `overloaded_error` → `overloaded` (retryable), `api_error` → `server_error`
 *   (retryable), `rate_limit_error` → `RateLimitError`.
 *
 * @example
 * // What `anthropic()` does with it; to drive it by hand (e.g. over a recorded body):
 * const parser = anthropicParser({ provider: 'anthropic' });
 * const events: LlmEvent[] = [];
 * const done = parser.message('{"type":"message_stop"}', 'message_stop', (event) => events.push(event)); // true
 */
export function anthropicParser(meta: CallMeta): StreamParser {
  const { provider } = meta;
  const blocks = new Map<number, Block>();
  const usage: UsageState = {};
  let usageSeen = false;
  let stopReason: string | undefined;
  let tools = 0;

  const finish = (emit: Emit): void => {
    if (usageSeen) emit({ type: 'usage', usage: usageOf(usage) });
    emit(stopReason === undefined ? { type: 'finish', reason: 'other' } : { type: 'finish', reason: mapAnthropicFinish(stopReason), rawReason: stopReason });
  };

  const fail = (payload: unknown): never => {
    throw errorFromPayload(payload, errorContext(meta));
  };

  const startBlock = (index: number, block: WireBlock, emit: Emit): void => {
    switch (block.type) {
      case 'text':
        blocks.set(index, TEXT);
        if (typeof block.text === 'string' && block.text !== '') emit({ type: 'text', text: block.text });
        return;
      case 'thinking':
        blocks.set(index, THINKING);
        if (typeof block.thinking === 'string' && block.thinking !== '') emit({ type: 'reasoning', text: block.thinking });
        return;
      case 'tool_use': {
        if (typeof block.name !== 'string' || block.name === '') {
          throw new MalformedStreamError(`${provider}: tool_use block ${index} has no name`, errorContext(meta));
        }
        const input = block.input;
        // Streamed calls start with `input: {}` and send the input as deltas; a proxy that sends the
        // whole input here instead still gets its arguments out, at the block's end.
        const whole = input !== null && typeof input === 'object' && Object.keys(input).length > 0 ? JSON.stringify(input) : undefined;
        const tool: Block = { kind: 'tool', index: tools++, fallback: whole };
        blocks.set(index, tool);
        emit({ type: 'tool-call', index: tool.index, ...(typeof block.id === 'string' ? { id: block.id } : {}), name: block.name, argumentsDelta: '' });
        return;
      }
      default:
        // redacted_thinking, server_tool_use and server tool results, and types not known yet.
        blocks.set(index, IGNORED);
    }
  };

  const delta = (index: number, delta: WireDelta, emit: Emit): void => {
    switch (delta.type) {
      case 'text_delta':
        if (typeof delta.text === 'string' && delta.text !== '') emit({ type: 'text', text: delta.text });
        return;
      case 'thinking_delta':
        if (typeof delta.thinking === 'string' && delta.thinking !== '') emit({ type: 'reasoning', text: delta.thinking });
        return;
      case 'input_json_delta': {
        const block = blocks.get(index);
        if (block === undefined) {
          throw new MalformedStreamError(`${provider}: input_json_delta for content block ${index}, which never started`, errorContext(meta));
        }
        if (block.kind !== 'tool') return; // a server tool's input
        const json = delta.partial_json;
        if (typeof json !== 'string' || json === '') return;
        block.fallback = undefined;
        emit({ type: 'tool-call', index: block.index, argumentsDelta: json });
        return;
      }
      default:
        // signature_delta, citations_delta, and delta types not known yet.
        return;
    }
  };

  return {
    message(data, event, emit) {
      const payload = parseWireObject<WireEvent>(data, 'event', meta, { errorEvent: event === 'error' });
      switch (event === 'error' ? 'error' : payload.type) {
        case 'message_start':
          if (mergeUsage(usage, payload.message?.usage)) usageSeen = true;
          return false;
        case 'content_block_start':
          if (typeof payload.index === 'number' && payload.content_block) startBlock(payload.index, payload.content_block, emit);
          return false;
        case 'content_block_delta':
          if (typeof payload.index === 'number' && payload.delta) delta(payload.index, payload.delta, emit);
          return false;
        case 'content_block_stop': {
          const block = typeof payload.index === 'number' ? blocks.get(payload.index) : undefined;
          if (block?.kind === 'tool' && block.fallback !== undefined) {
            emit({ type: 'tool-call', index: block.index, argumentsDelta: block.fallback });
            block.fallback = undefined;
          }
          return false;
        }
        case 'message_delta':
          if (payload.delta?.stop_reason) stopReason = payload.delta.stop_reason;
          if (mergeUsage(usage, payload.usage)) usageSeen = true;
          return false;
        case 'message_stop':
          finish(emit);
          return true;
        case 'error':
          return fail(payload);
        default:
          // ping, and event types not known yet.
          return false;
      }
    },
    end(emit) {
      if (stopReason === undefined) {
        throw new MalformedStreamError(`${provider}: the stream ended without message_stop or a stop_reason (truncated response)`, { ...errorContext(meta), retryable: true });
      }
      finish(emit);
    },
  };
}
