/**
 * Section `savings`: what cache, routing and budgets save on one synthetic workload.
 *
 * The trace (bench/savings/trace.json, from bench/savings/trace.ts and its seed) is replayed
 * against simulated models in virtual time (bench/savings/models.ts): the same 2,000 requests,
 * four pipelines — the strong model alone; + `cache`; + `route` (easy requests to the cheap model);
 * + per-tenant `budget` with a ledger that `route` reads to move a tenant down the tiers as its
 * month budget is spent. Cost is what the simulated providers billed (input tokens of every call
 * they started, output tokens they generated before finishing or being cut), priced by the price
 * table. Virtual time makes the replay deterministic: one run gives the figures (no spread).
 */
import type { BenchSection, SectionContext, SectionResult } from '../lib/section';
import { here, runChildJson } from '../lib/child';
import { fmt, markdownTable } from '../lib/stats';
import { TRACE_PATH } from './trace';
import type { ConfigResult, SavingsResult } from './run-one';

const RUN_ONE = here(import.meta.url, './run-one.ts');

export function savingsSection(): BenchSection {
  return {
    name: 'savings',
    description: 'cost and latency of a seeded 2,000-request trace: baseline vs cache vs cache + route vs cache + route + budget (virtual time)',
    run: (context) => runSavings(context),
  };
}

async function runSavings(context: SectionContext): Promise<SectionResult> {
  let result: SavingsResult;
  try {
    result = await runChildJson<SavingsResult>(RUN_ONE, ['--trace', TRACE_PATH], { timeoutMs: 180_000 });
  } catch (error) {
    const message = `savings: ${error instanceof Error ? error.message : String(error)}`;
    context.log(message);
    return { json: { error: message }, markdown: `## savings\n\n(failed: ${message})`, failures: [message] };
  }
  const failures = result.results.filter((r) => r.errors > 0).map((r) => `savings: ${r.config}: ${r.errors} requests errored`);
  const baseline = result.results[0]!;
  const pct = (v: number): string => `${fmt(v * 100, 1)} %`;
  const row = (r: ConfigResult): string[] => [
    `\`${r.config}\``,
    `$${fmt(r.costUsd, 2)}`,
    r === baseline ? '—' : `**−${fmt((1 - r.costUsd / baseline.costUsd) * 100, 0)} %**`,
    fmt(r.latencyP50Ms / 1000, 2),
    fmt(r.latencyP95Ms / 1000, 2),
    pct(r.cacheHitRate),
    `${pct(r.share.strong)} / ${pct(r.share.cheap)} / ${pct(r.share.local)}`,
    `${r.refused} / ${r.cut}`,
    String(r.providerCalls),
  ];
  const t = result.trace;
  const m = result.models;
  const tenants = Object.entries(t.tenants).map(([name, share]) => `${name} ${fmt(share * 100, 0)} %`).join(', ');
  const budgets = Object.entries(result.budgets.limitUsd).map(([name, usd]) => `${name} $${usd}`).join(', ');
  const model = (x: (typeof m)[keyof typeof m]): string => `\`${x.id}\` (TTFT ${x.ttftMs} ms, ${x.tokensPerSecond} tok/s)`;
  const markdown = [
    '## savings — one synthetic workload, four pipelines',
    '',
    `**This is one workload, not a universal number.** Trace: ${t.requests.toLocaleString('en-US')} requests (seed ${t.seed}), Poisson arrivals at ${t.ratePerSecond}/s, ` +
      `prompts drawn from ${t.distinctPrompts.toLocaleString('en-US')} with Zipf(${t.zipfS}) popularity (so about half the requests repeat an earlier prompt), ` +
      `${fmt(t.easyShare * 100, 0)} % of prompts short and easy (answers 60–250 tokens), the rest long documents with analysis questions (1,200–5,000 words in, 300–900 tokens out); ` +
      `tenants ${tenants}. Models: strong ${model(m.strong)}, cheap ${model(m.cheap)}, local ${model(m.local)}, priced from the price table (local: $0). ` +
      `Replayed in virtual time (deterministic, ${fmt(result.seconds, 1)} s of CPU), cost = what the simulated providers billed.`,
    '',
    `Pipelines: \`baseline\` = the strong model, no operators; \`cache\` = \`cache(memoryStore())\`; \`cache+route\` = + \`route({ rules: [{ maxTokens: 300, model: cheap }] })\`; ` +
      `\`cache+route+budget\` = + a ledger per tenant (month budgets ${budgets}): \`budget({ ledger, scope: 'tenant', limitUsd })\` refuses or cuts when a tenant's budget is spent, ` +
      `and \`route\`'s budget tiers send the other requests to the strong model below ${fmt(result.budgets.tiers[0]!.below! * 100, 0)} % of the budget, the cheap one below ${fmt(result.budgets.tiers[1]!.below! * 100, 0)} %, then the local one.`,
    '',
    markdownTable(
      ['pipeline', 'cost', 'vs baseline', 'latency p50 s', 'latency p95 s', 'cache hits', 'strong / cheap / local', 'refused / cut by budget', 'provider calls'],
      result.results.map(row),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    'Latency is subscribe → last event per request (a cache hit replays at once: 0 s), over all requests including hits. Quality is not measured: the cheap model answering the easy requests is an assumption of the workload, which is the point of routing rules you write for your own traffic.',
  ].join('\n');
  context.log(`savings: ${result.results.map((r) => `${r.config} $${fmt(r.costUsd, 2)}`).join(', ')}`);
  return { json: result, markdown, failures };
}
