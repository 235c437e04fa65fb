/**
 * A value now, or a Promise of it. Every `Store` method, a ledger's `spent`, a token counter still
 * loading answer so: synchronously when they can (the memory store, a loaded tokenizer), which lets
 * an operator decide within the `request` event; with a Promise otherwise (Redis), which the
 * operators await with their upstream unsubscribed (`RequestHold.wait`).
 */
export type MaybePromise<T> = T | Promise<T>;

/** True for a Promise (anything with a `then` method): the one test for a `MaybePromise`. */
export function isPromise<T>(value: MaybePromise<T>): value is Promise<T>;
export function isPromise(value: unknown): value is Promise<unknown>;
export function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as Promise<unknown> | null)?.then === 'function';
}

/** `f(value)`: now when `value` is plain, when it resolves when it is a Promise. A decision is synchronous when everything it reads is. */
export function andThen<T, R>(value: MaybePromise<T>, f: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return isPromise(value) ? value.then(f) : f(value);
}

/**
 * Runs `write` and ignores its failure, a throw or a rejection alike: for writes that must not fail
 * the stream they come from (a cache entry, a ledger record — the answer was right, it just is not kept).
 */
export function bestEffort(write: () => unknown): void {
  try {
    const done = write();
    if (isPromise(done)) done.catch(() => undefined);
  } catch {
    // ignored, as above
  }
}
