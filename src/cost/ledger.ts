import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { parseConfig } from '../core/config';
import { InvalidRequestError } from '../core/errors';
import type { Usage } from '../core/events';
import { andThen, isPromise, type MaybePromise } from '../core/promise';
import type { LlmRequest } from '../core/request';
import { assertStore, type Store, type StoreSetOptions } from '../stores/store';
import { schedulerSchema } from '../core/time';

/** A budget period, in UTC: the calendar day, the calendar month, or all time. */
export type LedgerPeriod = 'day' | 'month' | 'all';

/** One call's spend, as `budget()` records it when the call ends. */
export interface LedgerEntry {
  /** Who pays: a tenant, a user, a feature (`budget({ scope })` derives it from the request). */
  readonly scope: string;
  /** USD, ≥ 0. */
  readonly costUsd: number;
  /** The provider model id, for the per-model totals of `report()`. */
  readonly model?: string;
  /** The usage the cost was computed from (informational; not stored). */
  readonly usage?: Usage;
}

/** A scope's totals in a period. */
export interface LedgerScopeTotals {
  readonly costUsd: number;
  /** Calls recorded (one `record()` each). */
  readonly calls: number;
  /** USD per provider model id (entries recorded without a model are in `costUsd` only). */
  readonly models: Readonly<Record<string, number>>;
}

/** What `ledger.report(period)` returns: the current period's totals, per scope and per model. */
export interface LedgerReport {
  readonly period: LedgerPeriod;
  /** ISO time of the period's start (UTC midnight of the day, or of the month's first day); absent for `'all'`. */
  readonly periodStart?: string;
  /** USD over every scope. */
  readonly totalUsd: number;
  readonly calls: number;
  readonly scopes: Readonly<Record<string, LedgerScopeTotals>>;
}

/** Spend per scope and period, kept in a `Store` (memory, or Redis to share budgets between processes). */
export interface Ledger {
  /** Adds an entry to its scope's day, month and all-time totals. A Promise when the store answers with one. */
  record(entry: LedgerEntry): MaybePromise<void>;
  /** USD spent by `scope` in the current `period` (0 when nothing was recorded). */
  spent(scope: string, period: LedgerPeriod): MaybePromise<number>;
  /** Totals per scope (and per model) in the current `period`. @defaultValue period 'all' */
  report(period?: LedgerPeriod): Promise<LedgerReport>;
  /** Where "now" comes from for periods. */
  readonly scheduler: SchedulerLike;
}

/** Options of `createLedger()`. */
export interface LedgerOptions {
  /** Where "now" comes from: the period a record falls in (UTC). @defaultValue asyncScheduler */
  readonly scheduler?: SchedulerLike;
  /** Prepended to every key, to keep the ledger apart from other state in a shared store. @defaultValue 'rxllm:ledger:' */
  readonly prefix?: string;
}

/** Scope from a request: a metadata key name (e.g. `'tenant'`) or a function of the request. */
export type ScopeSelector = string | ((request: LlmRequest) => string);

const optionsSchema = z.strictObject({ scheduler: schedulerSchema.optional(), prefix: z.string().optional() });
const PERIODS: readonly LedgerPeriod[] = ['day', 'month', 'all'];
/** Period keys outlive their period by this much (room for clocks that disagree a little). */
const SLACK_MS = 3_600_000;
/** Amounts are stored as whole nano-dollars: integer increments are exact and atomic in every store (Redis INCRBY). */
const NANO = 1e9;
const MARKER = Symbol.for('rxllm.ledger');

/** Nothing when every value is plain; else a Promise of them all. */
function settleAll(values: ReadonlyArray<MaybePromise<unknown>>): MaybePromise<void> {
  return values.some(isPromise) ? Promise.all(values).then(() => undefined) : undefined;
}
/** A stored number (a remote store may hand it back as a string); 0 for nothing. */
const num = (stored: unknown): number => {
  const n = typeof stored === 'string' ? Number(stored) : stored;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
};
const usd = (stored: unknown): number => num(stored) / NANO;

/** The key segment of `period` at `now` (`'day:2025-06-01'`, `'month:2025-06'`, `'all'`), its start, and the TTL of its keys. */
function periodAt(period: LedgerPeriod, now: number): { readonly id: string; readonly start?: number; readonly ttlMs?: number } {
  if (period === 'all') return { id: 'all' };
  const date = new Date(now);
  const [y, m, d] = [date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()];
  const start = period === 'day' ? Date.UTC(y, m, d) : Date.UTC(y, m, 1);
  const end = period === 'day' ? Date.UTC(y, m, d + 1) : Date.UTC(y, m + 1, 1);
  const iso = new Date(start).toISOString();
  return { id: `${period}:${period === 'day' ? iso.slice(0, 10) : iso.slice(0, 7)}`, start, ttlMs: end - now + SLACK_MS };
}

/**
 * A spend ledger over a `Store`: `budget({ ledger, scope, limitUsd, period })` reads a scope's
 * spend before a call and records what the call cost when it ends; `report()` sums it up.
 *
 * - `record()` adds to the scope's totals for the current UTC day, UTC month and all time, with
 *   `Store.increment` — atomic, so processes sharing a Redis store share one budget. Amounts are
 *   kept as whole nano-dollars (exact sums, integer increments). Day and month keys carry a TTL
 *   that ends an hour after their period; all-time keys use the store's default TTL (give the
 *   ledger a store without one, or with room enough: an evicted key is a forgotten spend).
 * - Keys: `prefix` + period + the URI-encoded scope (and model id): never request content or
 *   credentials. `report()` finds scopes through an append-only index kept in the store (one
 *   `increment` per call, two more the first time a scope/model pair is seen).
 * - With the memory store every method but `report()` answers synchronously; with a store that
 *   answers with Promises they return Promises.
 * - Time: "now" is `scheduler.now()`, in UTC. Nothing is scheduled.
 *
 * @example
 * const ledger = createLedger(memoryStore({ maxEntries: 100_000 }));
 * const guarded = pipe(budget({ ledger, scope: 'tenant', limitUsd: 5, period: 'day' }));
 * model.stream({ messages, metadata: { tenant: 'acme' } }).pipe(guarded, text()).subscribe(console.log);
 * await ledger.report('day'); // { period: 'day', totalUsd, calls, scopes: { acme: { costUsd, calls, models } } }
 */
export function createLedger(store: Store, options: LedgerOptions = {}): Ledger {
  assertStore('createLedger', store);
  const { scheduler = asyncScheduler, prefix = 'rxllm:ledger:' } = parseConfig('createLedger', optionsSchema, options);
  const enc = encodeURIComponent;
  const costKey = (period: string, scope: string, model?: string): string => `${prefix}${period}:usd:${enc(scope)}${model === undefined ? '' : `:${enc(model)}`}`;
  const callsKey = (period: string, scope: string): string => `${prefix}${period}:calls:${enc(scope)}`;
  const indexKey = `${prefix}index`;

  const ledger: Ledger & { readonly [MARKER]: true } = {
    [MARKER]: true,
    scheduler,
    record(entry) {
      const { scope, costUsd, model } = entry;
      if (typeof scope !== 'string' || scope === '') throw new TypeError(`ledger.record(): scope: expected a non-empty string; received ${typeof scope}`);
      if (typeof costUsd !== 'number' || !Number.isFinite(costUsd) || costUsd < 0) throw new TypeError(`ledger.record(): costUsd: expected a finite number ≥ 0; received ${String(costUsd)}`);
      const nano = Math.round(costUsd * NANO);
      const now = scheduler.now();
      const pending: Array<MaybePromise<unknown>> = [];
      for (const period of PERIODS) {
        const { id, ttlMs } = periodAt(period, now);
        const set: StoreSetOptions | undefined = ttlMs === undefined ? undefined : { ttlMs };
        pending.push(store.increment(costKey(id, scope), nano, set), store.increment(callsKey(id, scope), 1, set));
        if (model !== undefined) pending.push(store.increment(costKey(id, scope, model), nano, set));
      }
      // The first record of a scope/model pair appends it to the index `report()` reads.
      const seen = store.increment(`${prefix}seen:${enc(scope)}:${model === undefined ? '' : enc(model)}`, 1);
      pending.push(andThen(seen, (n) => (n === 1 ? andThen(store.increment(indexKey, 1), (i) => store.set(`${indexKey}:${i}`, { scope, model: model ?? null })) : undefined)));
      return settleAll(pending);
    },
    spent(scope, period) {
      return andThen(store.get(costKey(periodAt(period, scheduler.now()).id, scope)), usd);
    },
    async report(period = 'all') {
      const at = periodAt(period, scheduler.now());
      const count = num(await store.get(indexKey));
      const entries = await Promise.all(Array.from({ length: count }, (_, i) => store.get(`${indexKey}:${i + 1}`)));
      const models = new Map<string, Set<string>>();
      for (const entry of entries) {
        const { scope, model } = (entry ?? {}) as { scope?: unknown; model?: unknown };
        if (typeof scope !== 'string') continue; // not written yet, or evicted
        const set = models.get(scope) ?? models.set(scope, new Set()).get(scope)!;
        if (typeof model === 'string') set.add(model);
      }
      const read = await Promise.all(
        [...models].map(async ([scope, ids]) => {
          const list = [...ids];
          const [cost, n, ...perModel] = await Promise.all([store.get(costKey(at.id, scope)), store.get(callsKey(at.id, scope)), ...list.map((id) => store.get(costKey(at.id, scope, id)))]);
          return { scope, cost, n, models: Object.fromEntries(list.flatMap((id, i) => (perModel[i] === undefined ? [] : [[id, usd(perModel[i])]]))) };
        }),
      );
      // In the order scopes were first recorded; a scope with nothing in this period is left out.
      const scopes: Record<string, LedgerScopeTotals> = {};
      let totalNano = 0; // summed in nano-dollars: exact
      let calls = 0;
      for (const { scope, cost, n, models: byModel } of read) {
        if (cost === undefined && n === undefined) continue;
        scopes[scope] = { costUsd: usd(cost), calls: num(n), models: byModel };
        totalNano += num(cost);
        calls += num(n);
      }
      return { period, ...(at.start === undefined ? {} : { periodStart: new Date(at.start).toISOString() }), totalUsd: totalNano / NANO, calls, scopes };
    },
  };
  return ledger;
}

/** True for a ledger made by `createLedger()` (or anything with `record`, `spent`, `report` and a scheduler). */
export function isLedger(value: unknown): value is Ledger {
  const v = value as Record<PropertyKey, unknown> | null;
  return (
    typeof v === 'object' && v !== null &&
    (v[MARKER] === true || (['record', 'spent', 'report'].every((m) => typeof v[m] === 'function') && typeof (v['scheduler'] as SchedulerLike | undefined)?.now === 'function'))
  );
}

/**
 * The scope of a request: the value of metadata key `selector`, or what `selector(request)` returns.
 * A call that cannot be accounted is not made: a request without that metadata value throws an
 * `InvalidRequestError` (field `metadata.<key>`); a function that returns anything but a non-empty
 * string throws a `TypeError`.
 */
export function scopeOf(selector: ScopeSelector, request: LlmRequest): string {
  if (typeof selector === 'string') {
    const scope = request.metadata?.[selector];
    if (scope !== undefined && scope !== '') return scope;
    throw new InvalidRequestError(`metadata.${selector}`, `metadata.${selector}: expected a value naming whom to charge (budget scope '${selector}'); received ${scope === '' ? 'an empty string' : 'nothing'}`);
  }
  const scope = selector(request);
  if (typeof scope === 'string' && scope !== '') return scope;
  throw new TypeError(`budget(): scope() must return a non-empty string; it returned ${scope === '' ? 'an empty string' : typeof scope}`);
}
