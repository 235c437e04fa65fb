/** What every contender returns for one fully consumed stream. */
export interface StreamResult {
  /** Number of text deltas received. */
  readonly deltas: number;
  /** Length of the joined text (the sum of the deltas' lengths): a cheap checksum. */
  readonly chars: number;
}

/** Set once per process, when the contender is created. */
export interface ClientOptions {
  /**
   * The most streams this process will hold open at once. A contender whose HTTP pool caps
   * sockets per origin below this (rxllm's default undici pool: 256) sizes its pool to fit, so the
   * memory section measures open streams, not queued requests.
   */
  readonly concurrency?: number;
}

export interface ConsumeHooks {
  /** Called once, synchronously, when the first text delta reaches the consumer (TTFT). */
  readonly onFirstDelta?: () => void;
}

/** How a consumer leaves a stream midway. Every contender has its idiomatic one first in `leaveVia`. */
export type LeaveVia = 'abort' | 'unsubscribe' | 'break' | 'signal';

export interface LeaveResult {
  /** `process.hrtime.bigint()` (ns) taken just before leaving (abort()/unsubscribe()/break). */
  readonly leftNs: number;
  /** Deltas received before leaving. */
  readonly deltas: number;
  /** How long the leaving call itself took (until `break`'s `return()` settled, for example), ms. */
  readonly leaveMs: number;
}

/** One contender, set up once per process against the bench server. */
export interface BenchClient {
  /** Streams a completion of `tokens` tokens from the server and consumes it to the end. */
  consume(tokens: number, hooks?: ConsumeHooks): Promise<StreamResult>;
  /** The ways this contender can leave a stream, idiomatic one first. */
  readonly leaveVia: readonly LeaveVia[];
  /**
   * Streams (the base URL selects the server's `endless` mode) and leaves the stream `via` from
   * INSIDE the consumer, right after the `after`-th delta: the user's code decided it has enough.
   * Resolves once leaving has returned.
   */
  leave(after: number, via: LeaveVia): Promise<LeaveResult>;
  close(): Promise<void>;
}

export type ClientFactory = (baseURL: string, options?: ClientOptions) => BenchClient | Promise<BenchClient>;

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

/** `process.hrtime.bigint()` as a number (ns since an arbitrary point, shared by every process). */
export const nowNs = (): number => Number(process.hrtime.bigint());

/** Rejects leave() calls with a method the contender does not have. */
export function unsupported(client: string, via: LeaveVia): never {
  throw new Error(`${client}: cannot leave a stream via "${via}"`);
}
