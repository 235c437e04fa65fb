/** Options of `openaiResponsesChunks()`. */
export interface OpenAIResponsesChunksOptions {
  /** @defaultValue 'mock-model' */
  readonly model?: string;
  /**
   * How the response ends: `'stop'` → `response.completed`; `'length'` → `response.incomplete`
   * with `max_output_tokens`; `'content-filter'` → `response.incomplete` with `content_filter`;
   * any other string → `response.incomplete` with that reason.
   * @defaultValue 'stop'
   */
  readonly finishReason?: string;
  /**
   * Token counts for the final event's `usage`, in rxllm's terms; `false` sends `usage: null`.
   * @defaultValue { inputTokens: 10, outputTokens: deltas.length }
   */
  readonly usage?: { readonly inputTokens: number; readonly outputTokens: number; readonly cachedInputTokens?: number; readonly reasoningTokens?: number } | false;
  /** The response id. @defaultValue 'resp_mock' */
  readonly id?: string;
}

/**
 * The SSE frames of a Responses API stream that says `deltas`, as OpenAI sends them today
 * (`event:` line, `sequence_number`): `response.created`, `response.in_progress`, the message item
 * and its content part, one `response.output_text.delta` per delta, the `.done` events, then
 * `response.completed` (or `response.incomplete`) with usage. One frame per array element.
 *
 * @example
 * server.enqueue({ headers: { 'content-type': 'text/event-stream' }, chunks: openaiResponsesChunks(['Hel', 'lo']) });
 * openaiResponses({ model: 'mock-model', baseURL: server.url, apiKey: 'test' }).stream(request); // text "Hello"
 */
export function openaiResponsesChunks(deltas: readonly string[], options: OpenAIResponsesChunksOptions = {}): string[] {
  const { model = 'mock-model', finishReason = 'stop', usage = { inputTokens: 10, outputTokens: deltas.length }, id = 'resp_mock' } = options;
  let sequence = 0;
  const frame = (type: string, payload: Record<string, unknown>): string => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...payload })}\n\n`;
  const itemId = `msg_${id.replace(/^resp_/, '')}`;
  const response = (status: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    id, object: 'response', created_at: 1_700_000_000, status, error: null, incomplete_details: null, model, output: [], usage: null, ...extra,
  });
  const text = deltas.join('');
  const part = (t: string): Record<string, unknown> => ({ type: 'output_text', text: t, annotations: [] });
  const complete = finishReason === 'stop';
  const reason = finishReason === 'length' ? 'max_output_tokens' : finishReason === 'content-filter' ? 'content_filter' : finishReason;
  const status = complete ? 'completed' : 'incomplete';
  const item = { id: itemId, type: 'message', status, role: 'assistant', content: [part(text)] };
  const out = [
    frame('response.created', { response: response('in_progress') }),
    frame('response.in_progress', { response: response('in_progress') }),
    frame('response.output_item.added', { output_index: 0, item: { id: itemId, type: 'message', status: 'in_progress', role: 'assistant', content: [] } }),
    frame('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: part('') }),
    ...deltas.map((delta) => frame('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta, logprobs: [] })),
    frame('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] }),
    frame('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part: part(text) }),
    frame('response.output_item.done', { output_index: 0, item }),
  ];
  const wireUsage = usage
    ? {
        input_tokens: usage.inputTokens,
        input_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0 },
        output_tokens: usage.outputTokens,
        output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
        total_tokens: usage.inputTokens + usage.outputTokens,
      }
    : null;
  const final = response(status, { output: [item], usage: wireUsage, ...(complete ? {} : { incomplete_details: { reason } }) });
  out.push(frame(complete ? 'response.completed' : 'response.incomplete', { response: final }));
  return out;
}

/**
 * OpenAI's native error body for a status: `{ error: { message, type, param, code } }` with the
 * type and code OpenAI uses for it (429 → `rate_limit_exceeded`, 401 → `invalid_api_key`, 5xx →
 * `server_error`). Serve it with `jsonReply(status, openaiResponsesErrorBody(status, message))`.
 *
 * @example
 * server.enqueue(jsonReply(429, openaiResponsesErrorBody(429, 'Rate limit reached'), { 'retry-after': '1' }));
 */
export function openaiResponsesErrorBody(status: number, message: string): { readonly error: { readonly message: string; readonly type: string; readonly param: null; readonly code: string | null } } {
  const [type, code]: [string, string | null] =
    status === 429 ? ['requests', 'rate_limit_exceeded'] : status === 401 ? ['invalid_request_error', 'invalid_api_key'] : status >= 500 ? ['server_error', null] : ['invalid_request_error', null];
  return { error: { message, type, param: null, code } };
}
