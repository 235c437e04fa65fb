/**
 * Section `cache`: what a cache hit costs, and how fast the memory store is.
 *
 * - Hit latency: `subscribe()` → `finish` for a stored 500-token answer, `cache(memoryStore())`
 *   with `replay: 'instant'`, `process.hrtime.bigint()` per hit over ≥ 10,000 hits after warm-up,
 *   in fresh processes. Two cases: one stream resubscribed (a retry, a second subscriber: the key
 *   comes from the last-request memo) and a new stream per hit (as `model.stream(req)` per call: the
 *   key — canonical JSON + SHA-256 of the request — is derived inside the measurement).
 * - Memory store: sets/s then gets/s at 10,000 entries over a skewed key space twice that size, so
 *   evictions run all the time, per policy (lru, lfu, fifo).
 *
 * Target (reported, never asserted): hit p99 < 100 µs.
 */
import os from 'node:os';
import { here, runChildJson } from '../lib/child';
import type { BenchSection, SectionContext, SectionResult } from '../lib/section';
import { fmt, markdownTable, summarize, type Summary } from '../lib/stats';
import type { HitResult, StoreResult } from './run-one';

export const TARGET_HIT_P99_US = 100;

export interface CacheBenchOptions {
  /** Fresh processes per cell. */
  readonly runs?: number;
}

const RUN_ONE = here(import.meta.url, './run-one.ts');
const POLICIES = ['lru', 'lfu', 'fifo'] as const;

export function cacheSection(options: CacheBenchOptions = {}): BenchSection {
  return {
    name: 'cache',
    description: 'cache hit latency (500-token answer, instant replay) and memory-store ops/s per eviction policy',
    run: (context) => runCache(context, options),
  };
}

async function runCache(context: SectionContext, options: CacheBenchOptions): Promise<SectionResult> {
  const { quick, log } = context;
  const runs = options.runs ?? (quick ? 1 : 5);
  // Full-run sizes keep the whole suite within its 6 minutes (bench/README.md, "Time budget"):
  // 10,000 hits give a p99 from 100 samples; 200,000 ops at 10,000 entries evict throughout
  // (~0.6 s of sets per policy: a rate, not a tail, so more ops add time and no precision).
  // Quick: the same cells, one process.
  const hitArgs = quick ? ['--hits', '10000', '--warmup', '2000'] : ['--hits', '10000', '--warmup', '3000'];
  const ops = '200000';
  const hits: Record<'same' | 'fresh', HitResult[]> = { same: [], fresh: [] };
  const stores: Record<string, StoreResult[]> = { lru: [], lfu: [], fifo: [] };
  const failures: string[] = [];
  const child = async <T>(args: readonly string[], label: string): Promise<T | undefined> => {
    try {
      return await runChildJson<T>(RUN_ONE, args, { nodeFlags: ['--expose-gc'] });
    } catch (error) {
      const message = `cache: ${label} failed: ${error instanceof Error ? error.message : String(error)}`;
      failures.push(message);
      log(message);
      return undefined;
    }
  };
  const load = os.loadavg()[0]!;
  // One fresh process per round measures every cell (both hit cases, the three policies), in
  // order in even rounds and in reverse in odd ones; each cell starts with a gc().
  const args = ['--mode', 'all', '--tokens', '500', ...hitArgs, '--entries', '10000', '--ops', ops];
  for (let round = 0; round < runs; round++) {
    const all = await child<Array<HitResult | StoreResult>>([...args, ...(round % 2 === 1 ? ['--reverse'] : [])], `round ${round + 1}`);
    for (const result of all ?? []) {
      if (result.mode === 'hit') {
        hits[result.fresh ? 'fresh' : 'same'].push(result);
        log(`cache  round ${round + 1}/${runs}  hit ${(result.fresh ? 'fresh' : 'same').padEnd(5)}  p50 ${fmt(result.p50Us, 1)} µs  p99 ${fmt(result.p99Us, 1)} µs  (${result.hits} hits)`);
      } else {
        stores[result.policy]!.push(result);
        log(`cache  round ${round + 1}/${runs}  store ${result.policy}  ${fmt(result.setsPerSec / 1e6, 2)} M sets/s  ${fmt(result.getsPerSec / 1e6, 2)} M gets/s  (hit ratio ${fmt(result.hitRatio, 2)}, ${result.evictions} evictions)`);
      }
    }
  }
  return report(runs, hits, stores, failures, [load, os.loadavg()[0]!]);
}

const cell = (summary: Summary, digits: number, scale = 1): string =>
  summary.n > 1 ? `${fmt(summary.median / scale, digits)} (${fmt(summary.min / scale, digits)}–${fmt(summary.max / scale, digits)})` : fmt(summary.median / scale, digits);

function report(runs: number, hits: Record<'same' | 'fresh', HitResult[]>, stores: Record<string, StoreResult[]>, failures: string[], load: readonly number[]): SectionResult {
  const hitRows = (['same', 'fresh'] as const).map((variant) => {
    const list = hits[variant];
    const p99 = summarize(list.map((h) => h.p99Us));
    return {
      variant,
      p50: summarize(list.map((h) => h.p50Us)),
      p90: summarize(list.map((h) => h.p90Us)),
      p99,
      hits: list[0]?.hits ?? 0,
      meetsTarget: p99.median < TARGET_HIT_P99_US,
    };
  });
  const storeRows = POLICIES.map((policy) => {
    const list = stores[policy]!;
    return {
      policy,
      sets: summarize(list.map((s) => s.setsPerSec)),
      gets: summarize(list.map((s) => s.getsPerSec)),
      hitRatio: summarize(list.map((s) => s.hitRatio)).median,
      evictions: summarize(list.map((s) => s.evictions)).median,
      ops: list[0]?.ops ?? 0,
    };
  });
  const label = { same: 'same stream resubscribed (key reused)', fresh: 'new stream per hit (key hashed)' };
  const markdown = [
    '## cache',
    '',
    `Hit latency, \`subscribe()\` → \`finish\`, of \`cache(memoryStore())\` replaying a stored 500-token answer with ` +
      `\`replay: 'instant'\` (${hitRows[0]!.hits.toLocaleString('en-US')} hits per process after warm-up, \`process.hrtime.bigint()\` per hit); ` +
      `median (min–max) over ${runs} fresh process${runs > 1 ? 'es' : ''}. Target: p99 < ${TARGET_HIT_P99_US} µs. ` +
      `Load average (1 min) at start / end: ${load.map((l) => fmt(l, 1)).join(' / ')}.`,
    '',
    markdownTable(
      ['case', 'p50 µs', 'p90 µs', 'p99 µs', `p99 < ${TARGET_HIT_P99_US} µs`],
      hitRows.map((row) => [label[row.variant], cell(row.p50, 1), cell(row.p90, 1), cell(row.p99, 1), row.meetsTarget ? 'yes' : '**no**']),
      ['l', 'r', 'r', 'r', 'r'],
    ),
    '',
    `Memory store, 10,000 entries, keys drawn (skewed) from 20,000, so evictions run throughout: ` +
      `${storeRows[0]!.ops.toLocaleString('en-US')} sets, then as many gets; millions of ops/s, median (min–max).`,
    '',
    markdownTable(
      ['policy', 'M sets/s', 'M gets/s', 'get hit ratio', 'evictions during sets'],
      storeRows.map((row) => [row.policy, cell(row.sets, 2, 1e6), cell(row.gets, 2, 1e6), fmt(row.hitRatio, 2), String(Math.round(row.evictions))]),
      ['l', 'r', 'r', 'r', 'r'],
    ),
  ].join('\n');
  return { json: { runs, loadAverage: load, hits, stores, hitRows, storeRows }, markdown, failures };
}
