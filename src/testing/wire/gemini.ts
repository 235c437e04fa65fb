/**
 * Gemini wire builders: the native frames of a `streamGenerateContent?alt=sse` response and the
 * native error body, for the simulated model and for users' tests against the mock server.
 */

/** `usageMetadata` figures for `geminiChunks`, in Gemini's own field names. */
export interface GeminiChunksUsage {
  readonly promptTokenCount: number;
  readonly candidatesTokenCount: number;
  readonly thoughtsTokenCount?: number;
  readonly cachedContentTokenCount?: number;
}

/** Options of `geminiChunks`. */
export interface GeminiChunksOptions {
  /** `modelVersion` on each chunk. @defaultValue 'mock-gemini' */
  readonly model?: string;
  /** `finishReason` on the last chunk, e.g. `'MAX_TOKENS'`, `'SAFETY'`. @defaultValue 'STOP' */
  readonly finishReason?: string;
  /**
   * Usage to report. As Gemini does, every chunk then carries `usageMetadata`: the early ones the
   * prompt count only, the last one the full figures (the ones rxllm reports). `false` or absent:
   * no `usageMetadata` at all.
   * @defaultValue false
   */
  readonly usage?: GeminiChunksUsage | false;
  /** `responseId` on each chunk. @defaultValue 'mock-response' */
  readonly responseId?: string;
}

/**
 * The SSE frames of a Gemini stream that says `deltas`: one `data:` frame per delta (each a whole
 * `GenerateContentResponse` chunk), `finishReason` on the last one, CRLF line ends, and no end
 * marker — the stream ends with the body, as Gemini's does. No deltas → one chunk with an empty
 * text part and the finish reason.
 *
 * @example
 * server.enqueue({ headers: { 'content-type': 'text/event-stream' }, chunks: geminiChunks(['Hel', 'lo'], { usage: { promptTokenCount: 5, candidatesTokenCount: 2 } }) });
 */
export function geminiChunks(deltas: readonly string[], options: GeminiChunksOptions = {}): string[] {
  const { model = 'mock-gemini', finishReason = 'STOP', usage = false, responseId = 'mock-response' } = options;
  const texts = deltas.length > 0 ? deltas : [''];
  const last = texts.length - 1;
  return texts.map((text, i) => {
    const candidate: Record<string, unknown> = { content: { parts: [{ text }], role: 'model' }, index: 0 };
    if (i === last) candidate['finishReason'] = finishReason;
    const chunk: Record<string, unknown> = { candidates: [candidate] };
    if (usage) chunk['usageMetadata'] = i === last ? fullUsage(usage) : { promptTokenCount: usage.promptTokenCount, totalTokenCount: usage.promptTokenCount };
    chunk['modelVersion'] = model;
    chunk['responseId'] = responseId;
    return `data: ${JSON.stringify(chunk)}\r\n\r\n`;
  });
}

function fullUsage(usage: GeminiChunksUsage): Record<string, number> {
  const thoughts = usage.thoughtsTokenCount ?? 0;
  return {
    promptTokenCount: usage.promptTokenCount,
    candidatesTokenCount: usage.candidatesTokenCount,
    totalTokenCount: usage.promptTokenCount + usage.candidatesTokenCount + thoughts,
    ...(usage.thoughtsTokenCount !== undefined ? { thoughtsTokenCount: usage.thoughtsTokenCount } : {}),
    ...(usage.cachedContentTokenCount !== undefined ? { cachedContentTokenCount: usage.cachedContentTokenCount } : {}),
  };
}

/** A Gemini (google.rpc) error body. */
export interface GeminiErrorBody {
  readonly error: {
    readonly code: number;
    readonly message: string;
    /** The google.rpc status name, e.g. `'RESOURCE_EXHAUSTED'`. */
    readonly status: string;
    readonly details?: ReadonlyArray<Record<string, unknown>>;
  };
}

/** HTTP status → the google.rpc status name Gemini sends with it. */
const RPC_STATUS: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/**
 * Gemini's native JSON error body for `status`: `{ error: { code, message, status } }` with the
 * google.rpc status name (`UNKNOWN` for a status without one). `retryAfterMs` adds a
 * `google.rpc.RetryInfo` detail (`retryDelay: "1.5s"`), which is how Gemini says how long to wait
 * (it sends no `retry-after` header).
 *
 * @example
 * server.enqueue(jsonReply(429, geminiErrorBody(429, 'Quota exceeded', { retryAfterMs: 1500 })));
 */
export function geminiErrorBody(status: number, message?: string, options: { readonly retryAfterMs?: number } = {}): GeminiErrorBody {
  const rpc = RPC_STATUS[status] ?? 'UNKNOWN';
  const details = options.retryAfterMs === undefined ? undefined : [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${options.retryAfterMs / 1000}s` }];
  return { error: { code: status, message: message ?? `HTTP ${status} ${rpc}`, status: rpc, ...(details ? { details } : {}) } };
}
