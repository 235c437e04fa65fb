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
import { identity, pipe, type MonoTypeOperatorFunction, type Subscription } from 'rxjs';
import { createLedger, loadTokenCounter, memoryStore, openaiCompatible, text, undiciTransport, type LlmEvent } from '../../src/index';
import { createRateLimiter } from '../../src/index';
import { budget, cache, deadline, fallback, meter, rateLimit, retryBackoff } from '../../operators/index';
import { nowNs, unsupported, type BenchClient, type ClientOptions, type ConsumeHooks, type LeaveResult, type LeaveVia, type StreamResult } from './types';

/** rxllm's default undici pool: sockets per origin. */
const DEFAULT_CONNECTIONS = 256;

/**
 * What runs between `model.stream()` and `text()`:
 * - `bare`: nothing.
 * - `metered`: `meter()` + `budget({ maxOutputTokens, maxCostUsd })` with limits the stream never
 *   reaches — the per-token cost of watching and bounding a stream.
 * - `pipeline`: the full pipeline, innermost first: `rateLimit` (rpm, tpm with token reservation
 *   and reconciliation, concurrency), `deadline`, `retryBackoff`, `fallback`, `meter`, `budget`
 *   with a ledger, and `cache` — each stream a miss (its own key), recorded and stored.
 * The metered and pipeline models are named `gpt-4o-mini`, so the real o200k_base tokenizer counts
 * every delta and the price table prices it (loaded before the first stream).
 */
export type RxllmVariant = 'bare' | 'metered' | 'pipeline';

function operatorsFor(variant: RxllmVariant, backup: ReturnType<typeof openaiCompatible>): MonoTypeOperatorFunction<LlmEvent> {
  if (variant === 'bare') return identity;
  const never = { maxOutputTokens: 10_000_000, maxCostUsd: 1_000_000 };
  if (variant === 'metered') return pipe(meter(), budget(never));
  const limiter = createRateLimiter({ requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000, concurrency: 10_000 });
  const ledger = createLedger(memoryStore());
  const store = memoryStore({ maxEntries: 64 });
  let key = 0;
  return pipe(
    rateLimit(limiter),
    deadline({ firstToken: '30s', idle: '30s' }),
    retryBackoff({ maxRetries: 2 }),
    fallback(backup),
    meter(),
    budget({ ...never, ledger, scope: () => 'bench', limitUsd: 1_000_000 }),
    cache(store, { key: () => `miss-${key++}` }),
  );
}

export async function rxllmVariantClient(baseURL: string, options: ClientOptions, variant: RxllmVariant): Promise<BenchClient> {
  if (variant !== 'bare') await loadTokenCounter('gpt-4o-mini');
  return rxllmClient(baseURL, options, variant);
}

export function rxllmClient(baseURL: string, options: ClientOptions = {}, variant: RxllmVariant = 'bare'): BenchClient {
  const concurrency = options.concurrency ?? 1;
  const model = openaiCompatible({
    model: variant === 'bare' ? 'bench' : 'gpt-4o-mini',
    baseURL,
    ...(concurrency > DEFAULT_CONNECTIONS ? { transport: undiciTransport({ connections: concurrency + 16 }) } : {}),
  });
  const operators = operatorsFor(variant, openaiCompatible({ model: 'gpt-4o-mini', baseURL, name: 'backup' }));
  const streamOf = (tokens: number) => model.stream({ messages: [{ role: 'user', content: 'bench' }], maxOutputTokens: tokens }).pipe(operators, text());
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
