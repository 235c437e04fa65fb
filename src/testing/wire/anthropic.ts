/**
 * Anthropic Messages wire builders: the SSE frames of a streamed answer and the JSON error body,
 * exactly as `api.anthropic.com` writes them — for the mock server, the simulated model and your
 * own tests of code that talks to `anthropic()`.
 */

/** Token counts in Anthropic's own field names. */
export interface AnthropicWireUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_read_input_tokens?: number;
  readonly cache_creation_input_tokens?: number;
}

/** Options of `anthropicChunks()`. */
export interface AnthropicChunksOptions {
  /** Model id in `message_start`. @defaultValue 'mock-model' */
  readonly model?: string;
  /** `stop_reason` in `message_delta`: `'end_turn'`, `'max_tokens'`, `'tool_use'`, `'refusal'`, … @defaultValue 'end_turn' */
  readonly finishReason?: string;
  /**
   * Usage: input and cache counters go in `message_start`, `output_tokens` in `message_delta`.
   * `false` sends no usage counters at all. @defaultValue false
   */
  readonly usage?: AnthropicWireUsage | false;
  /** Message id in `message_start`. @defaultValue 'msg_mock' */
  readonly id?: string;
}

/**
 * The SSE frames (each `event: …\ndata: …\n\n`) of an Anthropic Messages stream that says the
 * given text deltas: `message_start`, one text block (`content_block_start`, a `ping`, one
 * `content_block_delta` per delta, `content_block_stop`; no block when there are no deltas),
 * `message_delta` with the stop reason, `message_stop`. One string per frame, so a mock reply's
 * `chunks` sends each as its own write.
 *
 * @example
 * server.enqueue({ headers: { 'content-type': 'text/event-stream' }, chunks: anthropicChunks(['Hel', 'lo'], { usage: { input_tokens: 12, output_tokens: 2 } }) });
 * const { text } = await lastValueFrom(anthropic({ model: 'claude-x', baseURL: server.url, apiKey: 'test' }).stream(request).pipe(collect()));
 * // text === 'Hello'
 */
export function anthropicChunks(deltas: readonly string[], options: AnthropicChunksOptions = {}): string[] {
  const { model = 'mock-model', finishReason = 'end_turn', usage = false, id = 'msg_mock' } = options;
  const frame = (payload: { readonly type: string; readonly [field: string]: unknown }): string => `event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`;
  const startUsage = usage
    ? {
        input_tokens: usage.input_tokens,
        ...(usage.cache_creation_input_tokens !== undefined ? { cache_creation_input_tokens: usage.cache_creation_input_tokens } : {}),
        ...(usage.cache_read_input_tokens !== undefined ? { cache_read_input_tokens: usage.cache_read_input_tokens } : {}),
        output_tokens: 1,
      }
    : undefined;
  const out = [
    frame({
      type: 'message_start',
      message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, ...(startUsage ? { usage: startUsage } : {}) },
    }),
  ];
  if (deltas.length > 0) {
    out.push(frame({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
    out.push(frame({ type: 'ping' }));
    for (const text of deltas) out.push(frame({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }));
    out.push(frame({ type: 'content_block_stop', index: 0 }));
  }
  out.push(
    frame({
      type: 'message_delta',
      delta: { stop_reason: finishReason, stop_sequence: null },
      ...(usage ? { usage: { output_tokens: usage.output_tokens } } : {}),
    }),
  );
  out.push(frame({ type: 'message_stop' }));
  return out;
}

/** Anthropic's error `type` for an HTTP status. */
function errorType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** Anthropic's JSON error body. */
export interface AnthropicErrorBody {
  readonly type: 'error';
  readonly error: { readonly type: string; readonly message: string };
}

/**
 * Anthropic's native JSON error body for a status: `{ type: 'error', error: { type, message } }`,
 * with the error type Anthropic uses for it (`overloaded_error` for 529, `rate_limit_error` for
 * 429, `authentication_error` for 401, `api_error` for other 5xx, …). An object: serve it with
 * `jsonReply(status, body)`.
 *
 * @example
 * server.enqueue(jsonReply(529, anthropicErrorBody(529, 'Overloaded')));
 * // anthropic(...).stream(request) errors with code 'overloaded', retryable
 */
export function anthropicErrorBody(status: number, message: string): AnthropicErrorBody {
  return { type: 'error', error: { type: errorType(status), message } };
}
