import type { Observable, Subscription } from 'rxjs';

/**
 * What a plain observer saw: every value, and every terminal notification counted separately, so
 * a test can assert "exactly one terminal" and "nothing after it".
 */
export interface Recording<T> {
  readonly values: T[];
  readonly errors: unknown[];
  completes: number;
  /** `next` calls that arrived after an `error` or `complete`. */
  nextAfterTerminal: number;
  /** Resolves at the first terminal notification. */
  readonly terminal: Promise<void>;
  readonly subscription: Subscription;
}

/** Subscribes a counting observer (no operators in between, so nothing hides a double terminal). */
export function record<T>(source: Observable<T>): Recording<T> {
  let resolve!: () => void;
  const terminal = new Promise<void>((r) => (resolve = r));
  const recording = {
    values: [] as T[],
    errors: [] as unknown[],
    completes: 0,
    nextAfterTerminal: 0,
    terminal,
  } as Omit<Recording<T>, 'subscription'> & { subscription?: Subscription };
  const ended = (): boolean => recording.errors.length + recording.completes > 0;
  recording.subscription = source.subscribe({
    next: (value) => {
      if (ended()) recording.nextAfterTerminal++;
      recording.values.push(value);
    },
    error: (error: unknown) => {
      recording.errors.push(error);
      resolve();
    },
    complete: () => {
      recording.completes++;
      resolve();
    },
  });
  return recording as Recording<T>;
}

/** Polls `check` until it returns true; rejects after `timeoutMs` (generous by default). */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits a moment — only ever used to give something that must NOT happen a chance to happen. */
export const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
