/**
 * The short soak inside `npm test`: 500 streams, 50 at once, through the full pipeline (deadline →
 * rateLimit → retryBackoff → fallback → budget with a ledger → meter → cache) against two mock
 * servers playing random faults, with random unsubscribes — the same run and the same invariants as
 * `npm run soak` (bench/soak/engine.ts says what runs and what is checked), at a tenth of the size.
 * `SOAK_SEED` picks another seed.
 */
import { describe, expect, it } from 'vitest';
import { runSoak, summaryRows, violations } from '../../bench/soak/engine';

const seed = process.env['SOAK_SEED'] ? Number(process.env['SOAK_SEED']) : 1;

describe('soak (short): 500 streams, 50 at once, random faults and unsubscribes', () => {
  it('loses and duplicates no token, ends every subscription once, and leaves no socket, timer or heap behind', async () => {
    const report = await runSoak({ streams: 500, concurrency: 50, seed, warmup: 100 });
    const summary = summaryRows(report)
      .map(([what, value]) => `${what}: ${value}`)
      .join('\n');
    expect(violations(report, 8), summary).toEqual([]);
    // The run really did what it is meant to: faults of every kind, every way of leaving, all outcomes.
    expect(Object.entries(report.faults).filter(([, count]) => count === 0).map(([kind]) => kind), summary).toEqual([]);
    expect(Object.entries(report.unsubscribes).filter(([, count]) => count === 0).map(([point]) => point), summary).toEqual([]);
    expect(report.outcomes.completed, summary).toBeGreaterThan(250);
    expect(report.outcomes.errored, summary).toBeGreaterThan(0);
    expect(report.outcomes.cancelled, summary).toBeGreaterThan(0);
    expect(report.retries + report.fallbacks, summary).toBeGreaterThan(0);
    expect(report.tokens.checked, summary).toBeGreaterThan(2000);
  }, 60_000);
});
