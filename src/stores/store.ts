import { ConfigurationError } from '../core/errors';
import type { MaybePromise } from '../core/promise';

export type { MaybePromise };

/** Options of `Store.set` and `Store.increment`. */
export interface StoreSetOptions {
  /** Time to live in milliseconds; the entry is gone after it. @defaultValue the store's default TTL */
  readonly ttlMs?: number;
}

/**
 * Where state that outlives a call lives: caches, rate limiters, budget ledgers, breakers.
 *
 * Every method may answer synchronously or with a Promise. The memory store answers
 * synchronously, which lets an operator decide within the `request` event (a cache hit never
 * touches the network and never waits a tick); a remote store (Redis) answers with Promises and
 * the operators wait for it with their upstream unsubscribed.
 *
 * Values are JSON-compatible data (plain objects, arrays, strings, numbers, booleans, null), so a
 * remote store can serialize them. Keys never contain secrets: operators derive them from the
 * normalized request and metadata, never from API keys or headers.
 */
export interface Store {
  get(key: string): MaybePromise<unknown>;
  set(key: string, value: unknown, options?: StoreSetOptions): MaybePromise<void>;
  /** True when something was deleted. */
  delete(key: string): MaybePromise<boolean>;
  /**
   * Atomically adds `by` to the number at `key` (a missing or expired key counts as 0) and returns
   * the new value. `ttlMs` applies when the key is created. For rate limits and spend ledgers.
   */
  increment(key: string, by: number, options?: StoreSetOptions): MaybePromise<number>;
}

/** Checks a factory's `store` argument: anything without `get`, `set`, `delete` and `increment` throws a `ConfigurationError` naming `factory`. */
export function assertStore(factory: string, store: unknown): asserts store is Store {
  if (['get', 'set', 'delete', 'increment'].every((m) => typeof (store as Record<string, unknown> | null)?.[m] === 'function')) return;
  throw new ConfigurationError(`${factory}(): store: expected a Store (get, set, delete, increment); received ${store === null ? 'null' : typeof store}`);
}
