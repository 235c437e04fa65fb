import { TestScheduler } from 'rxjs/testing';
import type { SchedulerLike } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, memoryStore, type EvictionPolicy, type MemoryStore, type StoreStats } from 'rxllm';
import { mulberry32 } from '../../src/core/random';

/** A scheduler whose `now()` the test moves by hand (the store only reads `now()`). */
const clock = (): SchedulerLike & { advance(ms: number): void } => {
  let time = 0;
  return {
    now: () => time,
    schedule: () => {
      throw new Error('the store must not schedule anything');
    },
    advance: (ms: number) => void (time += ms),
  };
};

/** Which of `keys` are present (reads them, so call it last: reading refreshes LRU/LFU standing). */
const present = (store: MemoryStore, keys: readonly string[]): string[] => keys.filter((key) => store.get(key) !== undefined);

describe('memoryStore()', () => {
  describe('options', () => {
    it.each([
      [{ eviction: 'random' }, /memoryStore\(\): eviction: .*received "random"/],
      [{ ttl: -5 }, /memoryStore\(\): ttl: expected a duration/],
      [{ ttl: 0 }, /memoryStore\(\): ttl: expected a duration > 0/],
      [{ ttl: '5 parsecs' }, /memoryStore\(\): ttl: expected a duration/],
      [{ maxEntries: 0 }, /memoryStore\(\): maxEntries: /],
      [{ maxEntries: 1.5 }, /memoryStore\(\): maxEntries: /],
      [{ maxBytes: -1 }, /memoryStore\(\): maxBytes: /],
      [{ scheduler: {} }, /memoryStore\(\): scheduler: expected a SchedulerLike/],
      [{ maxEntrys: 10 }, /memoryStore\(\): maxEntrys: /],
    ])('rejects %j at construction, naming the field', (options, message) => {
      expect(() => memoryStore(options as never)).toThrow(ConfigurationError);
      expect(() => memoryStore(options as never)).toThrow(message);
    });

    it('accepts Infinity for the limits and a Duration string for the ttl', () => {
      expect(() => memoryStore({ maxEntries: Infinity, maxBytes: Infinity, ttl: '1.5m' })).not.toThrow();
    });
  });

  describe('get, set, delete', () => {
    it('answers synchronously with plain values', () => {
      const store = memoryStore();
      expect(store.set('a', { x: [1, 'two'] })).toBeUndefined();
      expect(store.get('a')).toEqual({ x: [1, 'two'] });
      expect(store.get('missing')).toBeUndefined();
      expect(store.delete('a')).toBe(true);
      expect(store.delete('a')).toBe(false);
      expect(store.get('a')).toBeUndefined();
    });

    it('keeps null, false, 0 and empty strings as values', () => {
      const store = memoryStore();
      for (const [key, value] of [['n', null], ['f', false], ['z', 0], ['e', '']] as const) {
        store.set(key, value);
        expect(store.get(key)).toBe(value);
      }
    });

    it('throws a TypeError for a value that is not JSON-compatible, storing nothing', () => {
      const store = memoryStore();
      expect(() => store.set('u', undefined)).toThrow(TypeError);
      expect(() => store.set('f', () => 1)).toThrow(TypeError);
      expect(() => store.set('b', 10n)).toThrow(TypeError);
      expect(store.stats().entries).toBe(0);
    });

    it('counts hits and misses', () => {
      const store = memoryStore();
      store.set('a', 1);
      store.get('a');
      store.get('a');
      store.get('b');
      expect(store.stats()).toMatchObject({ hits: 2, misses: 1 });
    });

    it('sizes an entry as the UTF-8 bytes of its key and of its value’s JSON', () => {
      const store = memoryStore();
      store.set('ké', 'a€😀'); // key 3 bytes; value JSON "a€😀" = 2 quotes + 1 + 3 + 4 = 10 bytes
      expect(store.stats().bytes).toBe(13);
      store.set('ké', 'x'); // overwrite: 3 + 3
      expect(store.stats()).toMatchObject({ bytes: 6, entries: 1 });
      store.delete('ké');
      expect(store.stats()).toMatchObject({ bytes: 0, entries: 0 });
    });

    it('clear() removes every entry and keeps the counters', () => {
      const store = memoryStore();
      store.set('a', 1);
      store.get('a');
      store.clear();
      expect(store.get('a')).toBeUndefined();
      expect(store.stats()).toEqual({ hits: 1, misses: 1, evictions: 0, expirations: 0, rejections: 0, entries: 0, bytes: 0 });
    });
  });

  describe('eviction', () => {
    it("'lru' evicts the least recently read or written entry", () => {
      const store = memoryStore({ eviction: 'lru', maxEntries: 3 });
      store.set('a', 1);
      store.set('b', 2);
      store.set('c', 3);
      store.get('a'); // a is now the most recent; b the least
      store.set('d', 4);
      expect(store.get('b')).toBeUndefined();
      store.set('c', 30); // a write refreshes c: order a, d, c
      store.set('e', 5);
      expect(present(store, ['a', 'c', 'd', 'e'])).toEqual(['c', 'd', 'e']);
      expect(store.stats()).toMatchObject({ evictions: 2, entries: 3 });
    });

    it("'fifo' evicts the oldest write; reads do not count, writes re-queue", () => {
      const store = memoryStore({ eviction: 'fifo', maxEntries: 3 });
      store.set('a', 1);
      store.set('b', 2);
      store.set('c', 3);
      store.get('a');
      store.get('a');
      store.set('d', 4); // a goes despite being read
      expect(store.get('a')).toBeUndefined();
      store.set('b', 20); // b re-queued behind c and d
      store.set('e', 5); // so c goes
      expect(present(store, ['b', 'c', 'd', 'e'])).toEqual(['b', 'd', 'e']);
    });

    it("'lfu' evicts the least often used, the least recently used among equals", () => {
      const store = memoryStore({ eviction: 'lfu', maxEntries: 3 });
      store.set('a', 1);
      store.set('b', 2);
      store.set('c', 3);
      store.get('a');
      store.get('a'); // a: 3 uses
      store.get('c'); // c: 2 uses; b: 1
      store.set('d', 4); // b goes
      expect(store.get('b')).toBeUndefined();
      store.set('e', 5); // d (1 use) goes: e, the entry being written, is never the victim
      expect(present(store, ['a', 'c', 'd', 'e'])).toEqual(['a', 'c', 'e']);
    });

    it("'lfu' never evicts the entry being written, even when it is the least used", () => {
      const store = memoryStore({ eviction: 'lfu', maxEntries: 2 });
      store.set('a', 1);
      store.set('b', 2);
      for (let i = 0; i < 5; i++) {
        store.get('a');
        store.get('b');
      }
      store.set('c', 3);
      expect(store.get('c')).toBe(3);
      expect(store.stats()).toMatchObject({ entries: 2, evictions: 1 });
    });

    it('evicts by bytes: never more than maxBytes', () => {
      const store = memoryStore({ maxBytes: 30 });
      store.set('a', 'x'.repeat(10)); // 1 + 12 = 13
      store.set('b', 'y'.repeat(10)); // 13 → 26
      store.set('c', 'z'.repeat(3)); // 1 + 5 = 6 → 32 > 30: a goes
      expect(store.stats()).toMatchObject({ bytes: 19, entries: 2, evictions: 1 });
      expect(store.get('a')).toBeUndefined();
    });

    it('does not store a value bigger than maxBytes, and drops the old value at that key', () => {
      const store = memoryStore({ maxBytes: 20 });
      store.set('a', 'small');
      store.set('b', 'ok');
      store.set('a', 'x'.repeat(50));
      expect(store.get('a')).toBeUndefined();
      expect(store.get('b')).toBe('ok');
      expect(store.stats()).toMatchObject({ rejections: 1, evictions: 0, entries: 1 });
    });
  });

  describe('ttl', () => {
    it('expires entries in virtual time (TestScheduler, default asyncScheduler)', () => {
      new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, flush }) => {
        const store = memoryStore({ ttl: '100ms' });
        const seen: unknown[] = [];
        cold('a 98ms b c 100ms d').subscribe((step) => {
          if (step === 'a') store.set('k', 'v');
          else seen.push(store.get('k'));
        });
        flush();
        // set at 0; read at 99 (live), at 100 (expired), at 201 (gone)
        expect(seen).toEqual(['v', undefined, undefined]);
        expect(store.stats()).toMatchObject({ expirations: 1, entries: 0, hits: 1, misses: 2 });
      });
    });

    it('removes expired entries at the next write, before evicting anything', () => {
      const time = clock();
      const store = memoryStore({ ttl: 10, maxEntries: 2, scheduler: time });
      store.set('a', 1);
      store.set('b', 2, { ttlMs: 1000 });
      time.advance(10);
      store.set('c', 3); // a has expired: it goes as an expiration, and nothing is evicted
      expect(store.stats()).toMatchObject({ expirations: 1, evictions: 0, entries: 2 });
      expect(store.get('b')).toBe(2);
    });

    it('takes a per-entry ttlMs over the default; ttlMs 0 stores nothing and drops the old value', () => {
      const time = clock();
      const store = memoryStore({ ttl: 10, scheduler: time });
      store.set('short', 1, { ttlMs: 5 });
      store.set('long', 2, { ttlMs: Infinity });
      store.set('default', 3);
      time.advance(5);
      expect([store.get('short'), store.get('default'), store.get('long')]).toEqual([undefined, 3, 2]);
      time.advance(1000);
      expect([store.get('default'), store.get('long')]).toEqual([undefined, 2]);
      store.set('long', 4, { ttlMs: 0 });
      expect(store.get('long')).toBeUndefined();
      expect(() => store.set('x', 1, { ttlMs: -1 })).toThrow(TypeError);
    });

    it('an overwrite restarts the ttl; stats() reports only live entries', () => {
      const time = clock();
      const store = memoryStore({ ttl: 10, scheduler: time });
      store.set('a', 1);
      time.advance(8);
      store.set('a', 2);
      time.advance(8);
      expect(store.get('a')).toBe(2);
      time.advance(2);
      expect(store.stats()).toMatchObject({ entries: 0, bytes: 0, expirations: 1 });
    });
  });

  describe('increment', () => {
    it('adds to a number, counting a missing key as 0, and returns the new value', () => {
      const store = memoryStore();
      expect(store.increment('n', 1)).toBe(1);
      expect(store.increment('n', 2.5)).toBe(3.5);
      expect(store.increment('n', -4)).toBe(-0.5);
      expect(store.get('n')).toBe(-0.5);
    });

    it('applies ttlMs when it creates the key, and keeps the expiry of an existing key', () => {
      const time = clock();
      const store = memoryStore({ scheduler: time });
      store.increment('window', 1, { ttlMs: 100 });
      time.advance(60);
      store.increment('window', 1, { ttlMs: 100 }); // does not extend the window
      time.advance(40);
      expect(store.get('window')).toBeUndefined();
      expect(store.increment('window', 1, { ttlMs: 100 })).toBe(1); // expired counts as 0
    });

    it('rejects a non-number value or step with a TypeError', () => {
      const store = memoryStore();
      store.set('s', 'text');
      expect(() => store.increment('s', 1)).toThrow(TypeError);
      expect(() => store.increment('n', Number.NaN)).toThrow(TypeError);
      expect(() => store.increment('n', '1' as unknown as number)).toThrow(TypeError);
      expect(store.get('s')).toBe('text');
    });

    it('keeps the byte count exact as the number grows', () => {
      const store = memoryStore();
      store.increment('n', 9); // 1 + 1
      store.increment('n', 1); // 1 + 2
      expect(store.stats().bytes).toBe(3);
    });
  });

  describe('against a reference model (seeded random operations)', () => {
    it.each(['lru', 'lfu', 'fifo'] as const)('%s: same answers, same stats, limits always held', (eviction) => {
      for (const seed of [1, 2, 3]) checkAgainstModel(eviction, seed, 4000);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Property test: the store against a naive O(n) model of the same policy.

interface ModelEntry {
  value: unknown;
  size: number;
  expiresAt: number;
  freq: number;
  lastUse: number;
  lastWrite: number;
}

/** The semantics, written the obvious way: scan everything. */
class ReferenceStore {
  readonly entries = new Map<string, ModelEntry>();
  hits = 0;
  misses = 0;
  evictions = 0;
  expirations = 0;
  rejections = 0;
  private seq = 0;
  constructor(
    private readonly policy: EvictionPolicy,
    private readonly ttl: number,
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly now: () => number,
  ) {}
  private sweep(): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= this.now()) this.expire(key);
  }
  private expire(key: string): void {
    this.entries.delete(key);
    this.expirations++;
  }
  private live(key: string): ModelEntry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.expire(key);
      return undefined;
    }
    return entry;
  }
  private bytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.size;
    return total;
  }
  private rank(entry: ModelEntry): [number, number] {
    return this.policy === 'lru' ? [entry.lastUse, 0] : this.policy === 'fifo' ? [entry.lastWrite, 0] : [entry.freq, entry.lastUse];
  }
  private makeRoom(keep: string): void {
    while (this.entries.size > this.maxEntries || this.bytes() > this.maxBytes) {
      let victim: string | undefined;
      let best: [number, number] | undefined;
      for (const [key, entry] of this.entries) {
        if (key === keep) continue;
        const rank = this.rank(entry);
        if (!best || rank[0] < best[0] || (rank[0] === best[0] && rank[1] < best[1])) [victim, best] = [key, rank];
      }
      if (victim === undefined) return;
      this.entries.delete(victim);
      this.evictions++;
    }
  }
  private write(key: string, value: unknown, ttlMs: number | undefined): void {
    const size = Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value));
    const existing = this.entries.get(key);
    const seq = ++this.seq;
    if (existing) {
      Object.assign(existing, { value, size, freq: existing.freq + 1, lastUse: seq, lastWrite: seq });
      if (ttlMs !== undefined) existing.expiresAt = this.now() + ttlMs;
    } else {
      this.entries.set(key, { value, size, expiresAt: this.now() + (ttlMs ?? this.ttl), freq: 1, lastUse: seq, lastWrite: seq });
    }
    this.makeRoom(key);
  }
  get(key: string): unknown {
    const entry = this.live(key);
    if (!entry) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    entry.freq++;
    entry.lastUse = ++this.seq;
    return entry.value;
  }
  set(key: string, value: unknown, ttlMs: number | undefined): void {
    this.sweep();
    const size = Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value));
    if (size > this.maxBytes || ttlMs === 0) {
      this.entries.delete(key);
      if (size > this.maxBytes) this.rejections++;
      return;
    }
    this.write(key, value, ttlMs ?? this.ttl);
  }
  delete(key: string): boolean {
    const entry = this.live(key);
    if (entry) this.entries.delete(key);
    return entry !== undefined;
  }
  increment(key: string, by: number, ttlMs: number | undefined): number {
    this.sweep();
    const entry = this.live(key);
    const value = ((entry?.value as number | undefined) ?? 0) + by;
    const size = Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value));
    if (size > this.maxBytes || (!entry && ttlMs === 0)) {
      this.entries.delete(key);
      if (size > this.maxBytes) this.rejections++;
      return value;
    }
    this.write(key, value, entry ? undefined : (ttlMs ?? this.ttl));
    return value;
  }
  stats(): StoreStats {
    this.sweep();
    const { hits, misses, evictions, expirations, rejections } = this;
    return { hits, misses, evictions, expirations, rejections, entries: this.entries.size, bytes: this.bytes() };
  }
}

function checkAgainstModel(eviction: EvictionPolicy, seed: number, operations: number): void {
  const random = mulberry32(seed * 7919 + eviction.length); // seeded, so a failure reproduces
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const time = clock();
  let now = 0;
  const ttl = seed === 1 ? Infinity : 40;
  const limits = { maxEntries: 12, maxBytes: 420 };
  const store = memoryStore({ eviction, ttl: ttl === Infinity ? undefined! : ttl, ...limits, scheduler: time } as never);
  const model = new ReferenceStore(eviction, ttl, limits.maxEntries, limits.maxBytes, () => now);
  const textKeys = Array.from({ length: 30 }, (_, i) => `k${i}${i % 7 === 0 ? 'é' : ''}`);
  const counterKeys = Array.from({ length: 6 }, (_, i) => `n${i}`);
  const alphabet = ['a', 'b', 'é', '€', '😀', ' ', '"', '\\'];
  const randomValue = (): unknown => {
    const length = random() < 0.03 ? 150 + Math.floor(random() * 100) : Math.floor(random() ** 2 * 60); // now and then too big to store
    let text = '';
    for (let i = 0; i < length; i++) text += pick(alphabet);
    return random() < 0.5 ? text : { text, n: Math.floor(random() * 1000) };
  };
  const ttls = [undefined, undefined, undefined, 5, 25, 100, 0];
  const step = (i: number): void => {
    const roll = random();
    const where = `${eviction} seed ${seed} op ${i}`;
    if (roll < 0.35) {
      const key = pick(textKeys);
      expect(store.get(key), where).toEqual(model.get(key));
    } else if (roll < 0.65) {
      const key = pick(textKeys);
      const value = randomValue();
      const ttlMs = pick(ttls);
      const options = ttlMs === undefined ? undefined : { ttlMs };
      store.set(key, value, options);
      model.set(key, value, ttlMs);
    } else if (roll < 0.7) {
      const key = pick([...textKeys, ...counterKeys]);
      expect(store.delete(key), where).toBe(model.delete(key));
    } else if (roll < 0.82) {
      const key = pick(counterKeys);
      const by = Math.floor(random() * 2000) - 500;
      const ttlMs = pick(ttls);
      const options = ttlMs === undefined ? undefined : { ttlMs };
      expect(store.increment(key, by, options), where).toBe(model.increment(key, by, ttlMs));
    } else if (roll < 0.9) {
      const ms = Math.floor(random() * 12);
      now += ms;
      time.advance(ms);
    } else {
      const stats = store.stats();
      expect(stats, where).toEqual(model.stats());
      expect(stats.bytes, where).toBeLessThanOrEqual(limits.maxBytes);
      expect(stats.entries, where).toBeLessThanOrEqual(limits.maxEntries);
    }
  };
  for (let i = 0; i < operations; i++) step(i);
  expect(store.stats()).toEqual(model.stats());
  const final = model.stats();
  // The run exercised what it claims to: evictions, expirations (when a ttl is set), rejections.
  expect(final.evictions).toBeGreaterThan(20);
  expect(final.rejections).toBeGreaterThan(0);
  expect(final.expirations).toBeGreaterThan(ttl === Infinity ? 0 : 20);
}
