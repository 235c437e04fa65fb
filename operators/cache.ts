import { asyncScheduler, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { cacheKey, storeKeyOf, type RequestPredicate } from '../src/cache/key';
import { isEntry, replayEntry, toEntry } from '../src/cache/entry';
import { Flight, flightsOf } from '../src/cache/flight';
import type { CacheNotice, LlmEvent, ModelInfo, RequestEvent } from '../src/core/events';
import { functionSchema, parseConfig } from '../src/core/config';
import { bestEffort } from '../src/core/promise';
import type { LlmRequest } from '../src/core/request';
import { assertStore, type Store, type StoreSetOptions } from '../src/stores/store';
import { holdRequest, operate, type RequestHold } from '../src/core/stream';
import { expiryDurationSchema, schedulerSchema, type Duration } from '../src/core/time';

export { cacheKey };
export type { RequestPredicate };

/** Options of `cache()`. Every field is optional; `cache(store)` caches every request, shared by all. */
export interface CacheConfig {
  /**
   * How long an entry lives, passed to the store as `ttlMs`. Any length: it is compared with the
   * scheduler's clock, never given to a timer (unlike the timed options of other operators, which
   * stop at 2^31 − 1 ms, about 24.8 days).
   * @defaultValue the store's own TTL
   */
  readonly ttl?: Duration;
  /**
   * How a hit is played: `'instant'` — every event synchronously, within the subscribe call;
   * `'timed'` — with the recorded gaps between events (divided by `speed`), on `scheduler`.
   * @defaultValue 'instant'
   */
  readonly replay?: 'instant' | 'timed';
  /** Timed replay only: `2` plays twice as fast as recorded. @defaultValue 1 */
  readonly speed?: number;
  /**
   * Metadata key(s) whose values join the key, so entries are not shared across them:
   * `scope: 'user'` or `['tenant', 'user']`. A request without one of them skips the cache (it
   * would otherwise share the unscoped entries). Other metadata never changes the key.
   * @defaultValue none: entries are shared by every request with the same content
   */
  readonly scope?: string | readonly string[];
  /**
   * Your own key instead of `cacheKey(request, model, scope)` (hash it yourself if it is long);
   * return `undefined` to skip the cache for this request. Not with `scope`. A throw errors the stream.
   * @defaultValue cacheKey(request, model)
   */
  readonly key?: (request: LlmRequest, model: ModelInfo) => string | undefined;
  /** Use the cache only for requests where this returns true (e.g. `(r) => !r.temperature`). @defaultValue always */
  readonly when?: RequestPredicate;
  /** Skip the cache for requests where this returns true; they pass through untouched, without a notice. @defaultValue never */
  readonly bypass?: RequestPredicate;
  /** Prepended to every key (keeps cache entries apart from other state in a shared store). @defaultValue 'rxllm:cache:' */
  readonly prefix?: string;
  /** Where time comes from: recording the gaps between events, and timed replay. @defaultValue asyncScheduler */
  readonly scheduler?: SchedulerLike;
}

const configSchema = z
  .strictObject({
    ttl: expiryDurationSchema.refine((ms) => ms > 0, 'expected a duration > 0').optional(),
    replay: z.enum(['instant', 'timed']).optional(),
    speed: z.number().positive().optional(),
    scope: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    key: functionSchema<NonNullable<CacheConfig['key']>>('a function (request, model) => string | undefined').optional(),
    when: functionSchema<RequestPredicate>('a function (request, model) => boolean').optional(),
    bypass: functionSchema<RequestPredicate>('a function (request, model) => boolean').optional(),
    prefix: z.string().optional(),
    scheduler: schedulerSchema.optional(),
  })
  .refine((c) => c.key === undefined || c.scope === undefined, { message: 'expected scope or key, not both', path: ['key'] })
  .refine((c) => c.speed === undefined || c.replay === 'timed', { message: "expected replay: 'timed' with speed", path: ['speed'] });

/**
 * Answers repeated requests from a `Store`: a hit replays the recorded events without a byte
 * leaving the process; concurrent identical misses share one upstream call (single flight).
 *
 * On the `request` event — forwarded downstream first; nothing more happens if that unsubscribed —
 * a request that `when`, `bypass`, `key` or a missing `scope` value excludes passes through
 * untouched (no notice). Otherwise, keyed by `cacheKey()` (SHA-256 of the normalized request and
 * model, metadata left out) or by `key`:
 *
 * - **hit**: the source is unsubscribed inside its `request` event, so its I/O never starts; a
 *   `cache` notice `{ status: 'hit', key }` follows `request`, then the recorded `response`, deltas,
 *   `usage` and `finish` — synchronously within `subscribe()` (`replay: 'instant'`) or with the
 *   recorded gaps ÷ `speed` on `scheduler` (`'timed'`) — then `complete`.
 * - **the same key in flight** (another subscriber's miss, through any `cache()` on the same store):
 *   the source is unsubscribed on its `request` likewise; a `miss` notice, what that call sent so
 *   far, then the rest live, its error or completion included. The shared call is aborted only when
 *   every subscriber has left it (a refcount); a subscriber leaving alone just stops listening.
 * - **miss**: a `miss` notice, and the source runs. When it completes after a `finish` whose
 *   reason is not `'budget'`, the answer is stored (with `ttl`); an error, a cancellation, a budget
 *   cut or a stream without `finish` stores nothing. Notices from inner operators pass through but
 *   are not stored; after a `retry`/`fallback` notice with `reset: true` only the new attempt is.
 *
 * A store that answers with a Promise (Redis): upstream is unsubscribed while the lookup is pending
 * (the source sends nothing), and on a miss resubscribed once, its repeated `request` swallowed.
 * A failing `get` errors the stream; a failing `set` is ignored (the answer was right, it just is
 * not kept). Errors from the source pass through. Each subscription starts fresh; only the store
 * and the calls in flight are shared.
 *
 * In a pipe, later = outer = decides first. `pipe(rateLimit(l), retryBackoff(), cache(store))`
 * answers hits without queueing for a permit and stores the answer of whichever attempt
 * succeeded; with `cache` inside `retryBackoff` instead, each attempt looks the store up again, and
 * every subscriber sharing a failed call retries on its own.
 *
 * ```
 * source, miss:  -r---a-b-f|
 * cache(store):  -(rm)a-b-f|     m = { type: 'cache', status: 'miss', key }
 * source, hit:   -(r!)           unsubscribed on its request: nothing sent
 * cache(store):  -(rHabf|)       H = { type: 'cache', status: 'hit', key }
 * ```
 * @example
 * const store = memoryStore({ ttl: '1h', maxBytes: 100_000_000 });
 * const cached = pipe(retryBackoff(), cache(store, { scope: 'tenant', bypass: (r) => (r.temperature ?? 1) > 0 }));
 * const answer = await lastValueFrom(model.stream(request).pipe(cached, collect()));
 */
export function cache(store: Store, config: CacheConfig = {}): MonoTypeOperatorFunction<LlmEvent> {
  assertStore('cache', store);
  const options = parseConfig('cache', configSchema, config);
  const { ttl, replay = 'instant', speed = 1, scope, key, when, bypass, prefix = 'rxllm:cache:', scheduler = asyncScheduler } = options;
  const keyOf = storeKeyOf({ key, when, bypass, scope, prefix });
  const setOptions: StoreSetOptions | undefined = ttl === undefined ? undefined : { ttlMs: ttl };
  const timing = replay === 'timed' ? { speed, scheduler } : undefined;
  const flights = flightsOf(store);
  const now = (): number => scheduler.now();
  const save = (flight: Flight): void => {
    const entry = toEntry(flight.events, flight.times);
    // The answer is already right; a store that fails to keep it must not fail the stream.
    if (entry) bestEffort(() => store.set(flight.key, entry, setOptions));
  };

  return operate((source, subscriber) => {
    const notice = (status: CacheNotice['status'], k: string): void => subscriber.next({ type: 'cache', status, key: k });
    /** The same key is in flight: listen to that call; our own source's I/O never starts (or, after an async lookup, never restarts). */
    const follow = (hold: RequestHold, existing: Flight, k: string): void => {
      hold.release();
      notice('miss', k);
      if (!subscriber.closed) existing.join(subscriber);
    };
    /** After the lookup: replay a hit, join a flight, or lead a new one with the source. */
    const answer = (hold: RequestHold, k: string, found: unknown): void => {
      if (isEntry(found)) {
        hold.release();
        notice('hit', k);
        return replayEntry(found, subscriber, timing);
      }
      const existing = flights.get(k);
      if (existing) return follow(hold, existing, k);
      notice('miss', k);
      if (subscriber.closed) return;
      const flight = new Flight(flights, k, now, save);
      // The flight owns the call: it outlives this subscriber while others still listen.
      hold.proceed(flight, {
        detach: (call) => {
          flight.attach(call);
          flight.join(subscriber);
        },
      });
    };
    const lookUp = (event: RequestEvent, hold: RequestHold): void => {
      const k = keyOf(event.request, event.model);
      if (k === undefined) return; // skips the cache: the source goes on, untouched
      const existing = flights.get(k);
      if (existing) return follow(hold, existing, k);
      hold.wait(store.get(k), (found) => answer(hold, k, found));
    };
    holdRequest(source, subscriber, lookUp);
  });
}
