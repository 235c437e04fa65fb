import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { parseConfig } from '../core/config';
import { expiryDurationSchema, schedulerSchema, type Duration } from '../core/time';
import type { Store, StoreSetOptions } from './store';

/** Which entry goes first when the store is full. */
export type EvictionPolicy = 'lru' | 'lfu' | 'fifo';

export interface MemoryStoreOptions {
  /**
   * `'lru'`: the least recently read or written entry goes first. `'lfu'`: the least often read
   * or written (ties: the least recently used among them). `'fifo'`: the oldest write goes first;
   * reads do not count.
   * @defaultValue 'lru'
   */
  readonly eviction?: EvictionPolicy;
  /** Default time to live of an entry; `set(key, value, { ttlMs })` overrides it per entry. @defaultValue no expiry */
  readonly ttl?: Duration;
  /** At most this many entries. @defaultValue 10_000 */
  readonly maxEntries?: number;
  /**
   * At most this many bytes, counted as the UTF-8 length of each key plus the UTF-8 length of its
   * value's JSON, computed once at `set`. A value bigger than this on its own is not stored.
   * @defaultValue 67_108_864 (64 MiB)
   */
  readonly maxBytes?: number;
  /** Where time comes from (`now()` only), so TTLs run in virtual time under `TestScheduler`. @defaultValue asyncScheduler */
  readonly scheduler?: SchedulerLike;
}

/** Counters since the store was created, and its size now (expired entries already removed). */
export interface StoreStats {
  /** `get` calls that found a live entry. */
  readonly hits: number;
  /** `get` calls that found nothing (or an expired entry). */
  readonly misses: number;
  /** Entries removed to make room (not counting expirations, deletes or overwrites). */
  readonly evictions: number;
  /** Entries removed because their TTL ran out. */
  readonly expirations: number;
  /** `set` calls whose value was bigger than `maxBytes` on its own, so it was not stored. */
  readonly rejections: number;
  readonly entries: number;
  readonly bytes: number;
}

/** The memory store: a `Store` that answers synchronously, with `stats()` and `clear()`. */
export interface MemoryStore extends Store {
  /** The live value at `key`, or `undefined`. Counts a hit or a miss; refreshes LRU/LFU standing. */
  get(key: string): unknown;
  /** Stores `value` (JSON-compatible; kept by reference, so do not mutate it afterwards). */
  set(key: string, value: unknown, options?: StoreSetOptions): void;
  delete(key: string): boolean;
  increment(key: string, by: number, options?: StoreSetOptions): number;
  stats(): StoreStats;
  /** Removes every entry; the counters keep counting. */
  clear(): void;
}

const limit = z.number().int().positive().or(z.literal(Infinity));
const optionsSchema = z.strictObject({
  eviction: z.enum(['lru', 'lfu', 'fifo']).optional(),
  ttl: expiryDurationSchema.refine((ms) => ms > 0, 'expected a duration > 0').optional(),
  maxEntries: limit.optional(),
  maxBytes: limit.optional(),
  scheduler: schedulerSchema.optional(),
});

interface Entry {
  readonly key: string;
  value: unknown;
  size: number;
  expiresAt: number;
  /** Eviction order: the list holding it (the store's one list for LRU/FIFO, its frequency bucket for LFU). */
  list: List | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
  /** Expiry order: the queue of its TTL, when it expires. */
  queue: List | undefined;
  qprev: Entry | undefined;
  qnext: Entry | undefined;
}

/** An intrusive doubly linked list of entries: O(1) append, unlink and head, whatever its history. */
interface List {
  head: Entry | undefined;
  tail: Entry | undefined;
}

/** An LFU frequency bucket; buckets form a list in ascending `freq`, so the head is the least used. */
interface Bucket extends List {
  readonly freq: number;
  before: Bucket | undefined;
  after: Bucket | undefined;
}

function append(list: List, entry: Entry): void {
  entry.prev = list.tail;
  entry.next = undefined;
  if (list.tail) list.tail.next = entry;
  else list.head = entry;
  list.tail = entry;
  entry.list = list;
}

function unlink(entry: Entry): void {
  const list = entry.list!;
  if (entry.prev) entry.prev.next = entry.next;
  else list.head = entry.next;
  if (entry.next) entry.next.prev = entry.prev;
  else list.tail = entry.prev;
  entry.prev = entry.next = entry.list = undefined;
}

function enqueue(queue: List, entry: Entry): void {
  entry.qprev = queue.tail;
  entry.qnext = undefined;
  if (queue.tail) queue.tail.qnext = entry;
  else queue.head = entry;
  queue.tail = entry;
  entry.queue = queue;
}

function dequeue(entry: Entry): void {
  const queue = entry.queue!;
  if (entry.qprev) entry.qprev.qnext = entry.qnext;
  else queue.head = entry.qnext;
  if (entry.qnext) entry.qnext.qprev = entry.qprev;
  else queue.tail = entry.qprev;
  entry.qprev = entry.qnext = entry.queue = undefined;
}

/**
 * An in-process `Store`: LRU, LFU or FIFO eviction, a TTL, a cap on entries and on bytes. Every
 * method answers synchronously, so `cache()` answers a hit within the subscribe call.
 *
 * - `get` and `set` are O(1) for every policy: a `Map` finds the entry; LRU and FIFO keep one
 *   doubly linked list in eviction order; LFU keeps a list of frequency buckets, each a linked
 *   list (the O(1) LFU of Shah, Mitra and Matani), least used first, ties to the least recent.
 * - Expiry is exact at every read (an expired entry is a miss) and eager at every write and
 *   `stats()`: entries wait in one queue per distinct TTL, which is in expiry order because time
 *   only moves forward, so removing the expired ones costs O(1) each. Time is `scheduler.now()`;
 *   nothing is scheduled, so a store never keeps a process alive.
 * - Sizes: UTF-8 bytes of the key plus of `JSON.stringify(value)`, computed once per `set` (a
 *   value that is not JSON-compatible throws a `TypeError`). `bytes` never exceeds `maxBytes`.
 * - Values are kept by reference, not copied.
 *
 * @example
 * const store = memoryStore({ eviction: 'lfu', ttl: '10m', maxBytes: 50_000_000 });
 * const cached = pipe(cache(store));
 * store.stats(); // { hits, misses, evictions, expirations, rejections, entries, bytes }
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const parsed = parseConfig('memoryStore', optionsSchema, options);
  const { eviction = 'lru', ttl = Infinity, maxEntries = 10_000, maxBytes = 64 * 1024 * 1024, scheduler = asyncScheduler } = parsed;
  const lfu = eviction === 'lfu';
  const entries = new Map<string, Entry>();
  // LRU and FIFO: one list, oldest first. (Not a Map's insertion order: V8 leaves deleted slots at
  // the front of a Map until it rehashes, so reading its first key after many evictions is O(n).)
  const order: List = { head: undefined, tail: undefined };
  // LFU: frequency buckets, least used first.
  let buckets: Bucket | undefined;
  // One expiry queue per distinct TTL: in expiry order, since now() only moves forward.
  const queues = new Map<number, List>();
  let bytes = 0;
  let hits = 0;
  let misses = 0;
  let evictions = 0;
  let expirations = 0;
  let rejections = 0;

  const dropBucket = (bucket: Bucket): void => {
    if (bucket.before) bucket.before.after = bucket.after;
    else buckets = bucket.after;
    if (bucket.after) bucket.after.before = bucket.before;
  };
  /** Moves an entry from bucket `from` (none: a new entry) to the bucket of `freq`, right after it. */
  const moveToBucket = (entry: Entry, from: Bucket | undefined, freq: number): void => {
    const next = from ? from.after : buckets;
    let target = next;
    if (!target || target.freq !== freq) {
      target = { freq, head: undefined, tail: undefined, before: from, after: next };
      if (from) from.after = target;
      else buckets = target;
      if (next) next.before = target;
    }
    if (from) {
      unlink(entry);
      if (!from.head) dropBucket(from);
    }
    append(target, entry);
  };
  /** A read or a write: refresh the entry's standing under the policy. */
  const touch = (entry: Entry, write: boolean): void => {
    if (lfu) moveToBucket(entry, entry.list as Bucket, (entry.list as Bucket).freq + 1);
    else if ((eviction === 'lru' || write) && order.tail !== entry) {
      unlink(entry);
      append(order, entry);
    }
  };
  const remove = (entry: Entry): void => {
    entries.delete(entry.key);
    bytes -= entry.size;
    if (entry.queue) dequeue(entry);
    const list = entry.list!;
    unlink(entry);
    if (lfu && !list.head) dropBucket(list as Bucket);
  };
  /** The next entry to evict other than `keep` (at most one skip, so O(1)). */
  const victim = (keep: Entry): Entry | undefined => {
    for (let list: List | undefined = lfu ? buckets : order; list; list = lfu ? (list as Bucket).after : undefined) {
      const entry = list.head === keep ? keep.next : list.head;
      if (entry) return entry;
    }
    return undefined;
  };
  const sweep = (now: number): void => {
    if (queues.size === 0) return;
    for (const [ttlMs, queue] of queues) {
      while (queue.head && queue.head.expiresAt <= now) {
        remove(queue.head);
        expirations++;
      }
      if (!queue.head) queues.delete(ttlMs);
    }
  };
  const schedule = (entry: Entry, ttlMs: number, now: number): void => {
    if (entry.queue) dequeue(entry);
    entry.expiresAt = now + ttlMs;
    if (ttlMs === Infinity) return;
    let queue = queues.get(ttlMs);
    if (!queue) queues.set(ttlMs, (queue = { head: undefined, tail: undefined }));
    enqueue(queue, entry);
  };
  /** After `keep` grew or arrived: evict others until both limits hold. */
  const makeRoom = (keep: Entry): void => {
    while (entries.size > maxEntries || bytes > maxBytes) {
      const next = victim(keep);
      if (!next) break;
      remove(next);
      evictions++;
    }
  };
  const live = (key: string, now: number): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now) {
      remove(entry);
      expirations++;
      return undefined;
    }
    return entry;
  };
  const ttlOf = (options: StoreSetOptions | undefined, method: string): number => {
    const ttlMs = options?.ttlMs;
    if (ttlMs === undefined) return ttl;
    if (typeof ttlMs !== 'number' || !(ttlMs >= 0)) throw new TypeError(`memoryStore.${method}(): ttlMs: expected a number of milliseconds ≥ 0; received ${String(ttlMs)}`);
    return ttlMs;
  };
  /** Writes `value` (sized `size`) at `key`; `ttlMs` undefined keeps an existing entry's expiry. */
  const write = (key: string, value: unknown, size: number, ttlMs: number | undefined, now: number): void => {
    let entry = entries.get(key);
    if (entry) {
      bytes += size - entry.size;
      entry.value = value;
      entry.size = size;
      touch(entry, true);
    } else {
      entry = { key, value, size, expiresAt: Infinity, list: undefined, prev: undefined, next: undefined, queue: undefined, qprev: undefined, qnext: undefined };
      entries.set(key, entry);
      bytes += size;
      if (lfu) moveToBucket(entry, undefined, 1);
      else append(order, entry);
    }
    if (ttlMs !== undefined) schedule(entry, ttlMs, now);
    makeRoom(entry);
  };

  return {
    get(key) {
      const entry = live(key, scheduler.now());
      if (!entry) {
        misses++;
        return undefined;
      }
      hits++;
      touch(entry, false);
      return entry.value;
    },
    set(key, value, options) {
      const ttlMs = ttlOf(options, 'set');
      const json = JSON.stringify(value) as string | undefined;
      if (json === undefined) throw new TypeError(`memoryStore.set(): expected a JSON-compatible value; received ${typeof value}`);
      const now = scheduler.now();
      sweep(now);
      const size = utf8Length(key) + utf8Length(json);
      if (size > maxBytes || ttlMs === 0) {
        // Not stored; an older value must not outlive the write that replaced it.
        const old = entries.get(key);
        if (old) remove(old);
        if (size > maxBytes) rejections++;
        return;
      }
      write(key, value, size, ttlMs, now);
    },
    delete(key) {
      const entry = live(key, scheduler.now());
      if (entry) remove(entry);
      return entry !== undefined;
    },
    increment(key, by, options) {
      if (typeof by !== 'number' || !Number.isFinite(by)) throw new TypeError(`memoryStore.increment(): by: expected a finite number; received ${String(by)}`);
      const ttlMs = ttlOf(options, 'increment');
      const now = scheduler.now();
      sweep(now);
      const entry = live(key, now);
      if (entry && typeof entry.value !== 'number') throw new TypeError(`memoryStore.increment(): the value at "${key}" is not a number`);
      const value = ((entry?.value as number | undefined) ?? 0) + by;
      const size = utf8Length(key) + utf8Length(JSON.stringify(value));
      if (size > maxBytes || (!entry && ttlMs === 0)) {
        if (entry) remove(entry);
        if (size > maxBytes) rejections++;
        return value;
      }
      // The TTL applies when the key is created; an increment keeps an existing key's expiry.
      write(key, value, size, entry ? undefined : ttlMs, now);
      return value;
    },
    stats() {
      sweep(scheduler.now());
      return { hits, misses, evictions, expirations, rejections, entries: entries.size, bytes };
    },
    clear() {
      entries.clear();
      queues.clear();
      order.head = order.tail = undefined;
      buckets = undefined;
      bytes = 0;
    },
  };
}

/** UTF-8 length of a string without encoding it (a lone surrogate counts as U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
      i++;
    } else bytes += 2;
  }
  return bytes;
}
