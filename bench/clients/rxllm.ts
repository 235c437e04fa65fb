/**
 * rxllm: `openaiCompatible()` on its default transport (undici, shared keep-alive pool),
 * `model.stream(req).pipe(text())` subscribed until it completes.
 */
// Straight from src/ (not the 'rxllm' path alias): once CI has built dist/, the package's own
// exports could otherwise resolve the name to the build instead of the code under review.
import { openaiCompatible, text } from '../../src/index';
import type { BenchClient, StreamResult } from './types';

export function rxllmClient(baseURL: string): BenchClient {
  const model = openaiCompatible({ model: 'bench', baseURL });
  return {
    consume(tokens: number): Promise<StreamResult> {
      return new Promise((resolve, reject) => {
        let deltas = 0;
        let chars = 0;
        model
          .stream({ messages: [{ role: 'user', content: 'bench' }], maxOutputTokens: tokens })
          .pipe(text())
          .subscribe({
            next(delta) {
              deltas++;
              chars += delta.length;
            },
            error: reject,
            complete: () => resolve({ deltas, chars }),
          });
      });
    },
    close: async () => {},
  };
}
