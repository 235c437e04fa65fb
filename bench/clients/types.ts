/** What every contender returns for one fully consumed stream. */
export interface StreamResult {
  /** Number of text deltas received. */
  readonly deltas: number;
  /** Length of the joined text (the sum of the deltas' lengths): a cheap checksum. */
  readonly chars: number;
}

/** One contender, set up once per process against the bench server. */
export interface BenchClient {
  /** Streams a completion of `tokens` tokens from the server and consumes it to the end. */
  consume(tokens: number): Promise<StreamResult>;
  close(): Promise<void>;
}

export type ClientFactory = (baseURL: string) => BenchClient | Promise<BenchClient>;

/** The request body every contender sends (rxllm renders its own; this is what raw clients send). */
export function chatBody(tokens: number): string {
  return JSON.stringify({
    model: 'bench',
    messages: [{ role: 'user', content: 'bench' }],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: tokens,
  });
}
