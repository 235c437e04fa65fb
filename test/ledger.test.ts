import { describe, expect, it } from 'vitest';
import { ConfigurationError, createLedger, memoryStore, type MemoryStore, type Store, type StoreSetOptions } from 'rxllm';
import { asyncStore, clockAt } from './helpers/stores';


/** A memory store that logs its increments (key, by, options). */
const logged = (inner: MemoryStore): Store & { increments: Array<[string, number, StoreSetOptions | undefined]> } => {
  const increments: Array<[string, number, StoreSetOptions | undefined]> = [];
  return {
    increments,
    get: (k) => inner.get(k),
    set: (k, v, o) => inner.set(k, v, o),
    delete: (k) => inner.delete(k),
    increment: (k, by, o) => (increments.push([k, by, o]), inner.increment(k, by, o)),
  };
};


describe('createLedger()', () => {
  it('records into the day, month and all-time totals, synchronously with the memory store', () => {
    const clock = clockAt('2025-06-15T12:00:00Z');
    const ledger = createLedger(memoryStore({ scheduler: clock }), { scheduler: clock });
    expect(ledger.record({ scope: 'acme', costUsd: 0.25, model: 'gpt-4o-mini' })).toBeUndefined();
    ledger.record({ scope: 'acme', costUsd: 0.5 });
    ledger.record({ scope: 'globex', costUsd: 1 });
    for (const period of ['day', 'month', 'all'] as const) {
      expect(ledger.spent('acme', period)).toBe(0.75);
      expect(ledger.spent('globex', period)).toBe(1);
      expect(ledger.spent('initech', period)).toBe(0);
    }
    expect(ledger.scheduler).toBe(clock);
  });

  it('starts a new day and a new month at UTC midnight; all-time goes on', () => {
    const clock = clockAt('2025-06-30T23:59:59.999Z');
    const ledger = createLedger(memoryStore({ scheduler: clock }), { scheduler: clock });
    ledger.record({ scope: 'acme', costUsd: 2 });
    clock.t = Date.parse('2025-07-01T00:00:00.000Z');
    expect([ledger.spent('acme', 'day'), ledger.spent('acme', 'month'), ledger.spent('acme', 'all')]).toEqual([0, 0, 2]);
    ledger.record({ scope: 'acme', costUsd: 1 });
    clock.t = Date.parse('2025-07-02T08:00:00.000Z');
    expect([ledger.spent('acme', 'day'), ledger.spent('acme', 'month'), ledger.spent('acme', 'all')]).toEqual([0, 1, 3]);
  });

  it('keys: prefix, period start and the URI-encoded scope and model; TTL an hour past the period; none for all-time', () => {
    const clock = clockAt('2025-06-30T22:00:00Z');
    const store = logged(memoryStore({ scheduler: clock }));
    createLedger(store, { scheduler: clock, prefix: 'p:' }).record({ scope: 'team a:1', costUsd: 0.000001, model: 'gpt-4o' });
    const hour = 3_600_000;
    expect(store.increments).toEqual([
      ['p:day:2025-06-30:usd:team%20a%3A1', 1000, { ttlMs: 2 * hour + hour }],
      ['p:day:2025-06-30:calls:team%20a%3A1', 1, { ttlMs: 3 * hour }],
      ['p:day:2025-06-30:usd:team%20a%3A1:gpt-4o', 1000, { ttlMs: 3 * hour }],
      ['p:month:2025-06:usd:team%20a%3A1', 1000, { ttlMs: 3 * hour }],
      ['p:month:2025-06:calls:team%20a%3A1', 1, { ttlMs: 3 * hour }],
      ['p:month:2025-06:usd:team%20a%3A1:gpt-4o', 1000, { ttlMs: 3 * hour }],
      ['p:all:usd:team%20a%3A1', 1000, undefined],
      ['p:all:calls:team%20a%3A1', 1, undefined],
      ['p:all:usd:team%20a%3A1:gpt-4o', 1000, undefined],
      ['p:seen:team%20a%3A1:gpt-4o', 1, undefined],
      ['p:index', 1, undefined],
    ]);
  });

  it('period keys expire after their period (plus the hour of slack)', () => {
    const clock = clockAt('2025-06-15T12:00:00Z');
    const store = memoryStore({ scheduler: clock });
    const ledger = createLedger(store, { scheduler: clock });
    ledger.record({ scope: 'acme', costUsd: 1 });
    clock.t = Date.parse('2025-06-16T00:59:59Z');
    expect(store.get('rxllm:ledger:day:2025-06-15:usd:acme')).toBe(1e9);
    clock.t = Date.parse('2025-06-16T01:00:00Z');
    expect(store.get('rxllm:ledger:day:2025-06-15:usd:acme')).toBeUndefined();
    expect(store.get('rxllm:ledger:month:2025-06:usd:acme')).toBe(1e9);
  });

  it('sums exactly: amounts are whole nano-dollars, so many small costs add up without float drift', () => {
    const ledger = createLedger(memoryStore());
    for (let i = 0; i < 1000; i++) ledger.record({ scope: 'acme', costUsd: 0.1 });
    expect(ledger.spent('acme', 'all')).toBe(100);
  });

  it('report(): totals per scope and per model in the current period, and overall', async () => {
    const clock = clockAt('2025-06-30T20:00:00Z');
    const ledger = createLedger(memoryStore({ scheduler: clock }), { scheduler: clock });
    ledger.record({ scope: 'acme', costUsd: 0.5, model: 'gpt-4o-mini' });
    ledger.record({ scope: 'acme', costUsd: 1.5, model: 'gpt-4o' });
    ledger.record({ scope: 'acme', costUsd: 0.25, model: 'gpt-4o-mini' });
    ledger.record({ scope: 'globex', costUsd: 2 });
    clock.t = Date.parse('2025-07-01T10:00:00Z');
    ledger.record({ scope: 'globex', costUsd: 1, model: 'gpt-4o' });

    expect(await ledger.report()).toEqual({
      period: 'all',
      totalUsd: 5.25,
      calls: 5,
      scopes: {
        acme: { costUsd: 2.25, calls: 3, models: { 'gpt-4o-mini': 0.75, 'gpt-4o': 1.5 } },
        globex: { costUsd: 3, calls: 2, models: { 'gpt-4o': 1 } },
      },
    });
    // Only what falls in July; acme spent nothing this month, so it is not listed.
    expect(await ledger.report('month')).toEqual({
      period: 'month',
      periodStart: '2025-07-01T00:00:00.000Z',
      totalUsd: 1,
      calls: 1,
      scopes: { globex: { costUsd: 1, calls: 1, models: { 'gpt-4o': 1 } } },
    });
    expect((await ledger.report('day')).periodStart).toBe('2025-07-01T00:00:00.000Z');
  });

  it('works the same over a store that answers with Promises', async () => {
    const clock = clockAt('2025-06-15T12:00:00Z');
    const ledger = createLedger(asyncStore(memoryStore({ scheduler: clock })), { scheduler: clock });
    const done = ledger.record({ scope: 'acme', costUsd: 0.3, model: 'm' });
    expect(done).toBeInstanceOf(Promise);
    await done;
    await ledger.record({ scope: 'acme', costUsd: 0.2, model: 'm' });
    const spent = ledger.spent('acme', 'day');
    expect(spent).toBeInstanceOf(Promise);
    expect(await spent).toBe(0.5);
    expect(await ledger.report('day')).toMatchObject({ totalUsd: 0.5, calls: 2, scopes: { acme: { costUsd: 0.5, calls: 2, models: { m: 0.5 } } } });
  });

  it('ledgers on one store share totals (as processes sharing Redis do); a prefix keeps them apart', async () => {
    const store = memoryStore();
    const a = createLedger(store);
    const b = createLedger(store);
    const other = createLedger(store, { prefix: 'other:' });
    a.record({ scope: 'acme', costUsd: 1, model: 'm' });
    b.record({ scope: 'acme', costUsd: 2, model: 'm' });
    other.record({ scope: 'acme', costUsd: 5 });
    expect(a.spent('acme', 'all')).toBe(3);
    expect((await b.report()).scopes).toEqual({ acme: { costUsd: 3, calls: 2, models: { m: 3 } } });
    expect(other.spent('acme', 'all')).toBe(5);
  });

  it('validates: a store, options, and each entry', () => {
    expect(() => createLedger({} as Store)).toThrow(ConfigurationError);
    expect(() => createLedger(null as unknown as Store)).toThrow(/expected a Store/);
    expect(() => createLedger(memoryStore(), { prefix: 1 } as never)).toThrow(/createLedger\(\): prefix/);
    expect(() => createLedger(memoryStore(), { scheduler: {} } as never)).toThrow(/SchedulerLike/);
    const ledger = createLedger(memoryStore());
    expect(() => ledger.record({ scope: '', costUsd: 1 })).toThrow(/scope: expected a non-empty string/);
    expect(() => ledger.record({ scope: 'a', costUsd: -1 })).toThrow(/costUsd: expected a finite number ≥ 0; received -1/);
    expect(() => ledger.record({ scope: 'a', costUsd: NaN })).toThrow(TypeError);
  });
});
