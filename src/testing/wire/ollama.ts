/** Options of `ollamaChunks()`. */
export interface OllamaChunksOptions {
  /** @defaultValue 'mock-model' */
  readonly model?: string;
  /** Ollama's `done_reason`: `'stop'` or `'length'`. @defaultValue 'stop' */
  readonly finishReason?: string;
  /**
   * Token counts for the final line (`prompt_eval_count` / `eval_count`), in rxllm's terms;
   * `false` leaves the counters (and timings) out.
   * @defaultValue { inputTokens: 10, outputTokens: deltas.length }
   */
  readonly usage?: { readonly inputTokens: number; readonly outputTokens: number } | false;
}

/**
 * The NDJSON lines of an Ollama `/api/chat` stream that says `deltas`: one line per delta, then
 * the `done: true` line with `done_reason`, the token counters and timings (20 ms per token).
 * Each line ends with `\n`; join them for a body, or serve them as separate writes.
 *
 * @example
 * server.enqueue({ headers: { 'content-type': 'application/x-ndjson' }, chunks: ollamaChunks(['Hel', 'lo']) });
 * ollama({ model: 'mock-model', baseURL: server.origin }).stream(request); // text "Hello"
 */
export function ollamaChunks(deltas: readonly string[], options: OllamaChunksOptions = {}): string[] {
  const { model = 'mock-model', finishReason = 'stop', usage = { inputTokens: 10, outputTokens: deltas.length } } = options;
  const createdAt = '2025-01-01T00:00:00.000000Z';
  const line = (payload: unknown): string => `${JSON.stringify(payload)}\n`;
  const out = deltas.map((content) => line({ model, created_at: createdAt, message: { role: 'assistant', content }, done: false }));
  const evalNs = (usage ? usage.outputTokens : deltas.length) * 20_000_000;
  out.push(
    line({
      model,
      created_at: createdAt,
      message: { role: 'assistant', content: '' },
      done_reason: finishReason,
      done: true,
      ...(usage
        ? {
            total_duration: evalNs + 30_000_000,
            load_duration: 10_000_000,
            prompt_eval_count: usage.inputTokens,
            prompt_eval_duration: 20_000_000,
            eval_count: usage.outputTokens,
            eval_duration: evalNs,
          }
        : {}),
    }),
  );
  return out;
}

/**
 * Ollama's native error body: `{ "error": "<message>" }`, a plain string whatever the status.
 * Serve it with `jsonReply(status, ollamaErrorBody(status, message))`.
 *
 * @example
 * server.enqueue(jsonReply(404, ollamaErrorBody(404, 'model "llama9" not found, try pulling it first')));
 */
export function ollamaErrorBody(_status: number, message: string): { readonly error: string } {
  return { error: message };
}
