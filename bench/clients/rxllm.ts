/**
 * rxllm: `openaiCompatible()` on its default transport (undici, shared keep-alive pool),
 * `model.stream(req).pipe(text())` subscribed until it completes. Leaves a stream by unsubscribing.
 *
 * The default pool caps sockets at 256 per origin; when a section asks for more concurrent streams
 * (`concurrency`, the memory section's 1000), the client gets `undiciTransport({ connections })`
 * sized to fit — what a user holding that many streams open would configure.
 */
// Straight from src/ (not the 'rxllm' path alias): once CI has built dist/, the package's own
// exports could otherwise resolve the name to the build instead of the code under review.
import type { Subscription } from 'rxjs';
import { openaiCompatible, text, undiciTransport } from '../../src/index';
import { nowNs, unsupported, type BenchClient, type ClientOptions, type ConsumeHooks, type LeaveResult, type LeaveVia, type StreamResult } from './types';

/** rxllm's default undici pool: sockets per origin. */
const DEFAULT_CONNECTIONS = 256;

export function rxllmClient(baseURL: string, options: ClientOptions = {}): BenchClient {
  const concurrency = options.concurrency ?? 1;
  const model = openaiCompatible({
    model: 'bench',
    baseURL,
    ...(concurrency > DEFAULT_CONNECTIONS ? { transport: undiciTransport({ connections: concurrency + 16 }) } : {}),
  });
  const streamOf = (tokens: number) => model.stream({ messages: [{ role: 'user', content: 'bench' }], maxOutputTokens: tokens }).pipe(text());
  return {
    consume(tokens: number, hooks?: ConsumeHooks): Promise<StreamResult> {
      const first = hooks?.onFirstDelta;
      return new Promise((resolve, reject) => {
        let deltas = 0;
        let chars = 0;
        streamOf(tokens).subscribe({
          next(delta) {
            if (deltas++ === 0) first?.();
            chars += delta.length;
          },
          error: reject,
          complete: () => resolve({ deltas, chars }),
        });
      });
    },
    leaveVia: ['unsubscribe'],
    leave(after: number, via: LeaveVia): Promise<LeaveResult> {
      if (via !== 'unsubscribe') unsupported('rxllm', via);
      return new Promise((resolve, reject) => {
        let deltas = 0;
        let subscription: Subscription | undefined;
        let left: LeaveResult | undefined;
        subscription = streamOf(1_000_000).subscribe({
          next() {
            if (++deltas !== after || left) return;
            const leftNs = nowNs();
            if (subscription) subscription.unsubscribe();
            else queueMicrotask(() => subscription!.unsubscribe()); // delivered during subscribe()
            left = { leftNs, deltas, leaveMs: (nowNs() - leftNs) / 1e6 };
            resolve(left);
          },
          error: reject,
          complete: () => reject(new Error(`rxllm: the stream completed after ${deltas} deltas, before the ${after}th`)),
        });
      });
    },
    close: async () => {},
  };
}
