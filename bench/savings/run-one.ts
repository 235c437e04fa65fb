/**
 * The savings report, replayed in virtual time (see ./index.ts for what it reports and ./trace.ts
 * for the workload). Prints one JSON line: `SavingsResult`.
 *
 *   npx tsx bench/savings/run-one.ts [--trace bench/savings/trace.json]
 */
import { VirtualAction, VirtualTimeScheduler, type Observable } from 'rxjs';
import { createLedger, loadTokenCounter, memoryStore, withPrices, costOf, type LlmEvent, type LlmRequestInput, type PriceTable, type TokenCounter } from '../../src/index';
import { requestTokens } from '../../src/providers/index';
import { budget, cache, route } from '../../operators/index';
import { quantile } from '../lib/stats';
import { virtualModel, type VirtualModel } from './models';
import { promptIndex, promptText, TRACE_PATH, type Trace } from './trace';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** The simulated models: TTFT, pace and price (USD per 1M tokens, from src/pricing's table). */
export const MODELS = {
  strong: { id: 'gpt-4o', provider: 'openai', ttftMs: 600, tokensPerSecond: 60 },
  cheap: { id: 'gpt-4o-mini', provider: 'openai', ttftMs: 350, tokensPerSecond: 110 },
  local: { id: 'llama3.2', provider: 'ollama', ttftMs: 250, tokensPerSecond: 35 },
} as const;

/** Per-tenant monthly budgets of the "+ budget" run, and the output cap per answer. */
export const BUDGETS = {
  limitUsd: { acme: 1, globex: 0.5, initech: 0.07 } as Readonly<Record<string, number>>,
  /** Non-easy requests by the share of the tenant's month budget spent: strong, then cheap, then local (free). */
  tiers: [{ below: 0.5, model: undefined }, { below: 0.8, model: 'cheap' }, { model: 'local' }] as ReadonlyArray<{ below?: number; model: 'cheap' | 'local' | undefined }>,
};

export const CONFIGS = ['baseline', 'cache', 'cache+route', 'cache+route+budget'] as const;
export type ConfigName = (typeof CONFIGS)[number];

export interface ConfigResult {
  readonly config: ConfigName;
  readonly requests: number;
  readonly costUsd: number;
  readonly latencyP50Ms: number;
  readonly latencyP95Ms: number;
  readonly ttftP50Ms: number;
  readonly cacheHitRate: number;
  /** Answers by tier (cache hits count as 'cache'). */
  readonly share: Readonly<Record<'cache' | 'strong' | 'cheap' | 'local', number>>;
  readonly refused: number;
  readonly cut: number;
  readonly errors: number;
  readonly providerCalls: number;
}

const prices: PriceTable = withPrices({ 'llama3.2': { input: 0, output: 0, asOf: '2026-11-23', source: 'local model (Ollama): no per-token charge' } });

/** The q-quantile of unsorted values (bench/lib/stats' nearest rank). */
const quantileOf = (values: readonly number[], q: number): number => quantile([...values].sort((a, b) => a - b), q);

async function runConfig(config: ConfigName, trace: Trace, counter: TokenCounter): Promise<ConfigResult> {
  const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
  const prompts = promptIndex(trace);
  const inputTokens = new Map<string, number>();
  const models: Record<keyof typeof MODELS, VirtualModel> = Object.fromEntries(
    Object.entries(MODELS).map(([tier, m]) => [
      tier,
      virtualModel({
        ...m,
        scheduler,
        inputTokens: (request) => {
          const id = request.metadata?.prompt ?? '';
          let n = inputTokens.get(id);
          if (n === undefined) inputTokens.set(id, (n = requestTokens(request, counter)));
          return n;
        },
        answerTokens: (request) => prompts.get(Number(request.metadata?.prompt))!.answerTokens,
      }),
    ]),
  ) as Record<keyof typeof MODELS, VirtualModel>;
  const store = memoryStore({ eviction: 'lru', maxEntries: 10_000, scheduler });
  const ledger = createLedger(memoryStore({ scheduler }), { scheduler });
  // Easy requests are short and carry none of the words of an analysis task: the cheap model.
  const easy = { name: 'easy', maxTokens: 300, model: models.cheap };
  const latencies: number[] = [];
  const ttfts: number[] = [];
  const share = { cache: 0, strong: 0, cheap: 0, local: 0 };
  let hits = 0;
  let refused = 0;
  let cut = 0;
  let errors = 0;
  const tierOf = new Map(Object.entries(models).map(([tier, m]) => [m.info.name, tier as keyof typeof share]));
  // One pipeline per tenant (its budget differs); the cache and the ledger are shared by all.
  const perTenant = new Map<string, (stream: Observable<LlmEvent>) => Observable<LlmEvent>>();
  const pipelineFor = (tenant: string): ((stream: Observable<LlmEvent>) => Observable<LlmEvent>) => {
    let made = perTenant.get(tenant);
    if (made) return made;
    const cached = cache(store, { scheduler });
    const routed = route({ rules: [easy] });
    const limitUsd = BUDGETS.limitUsd[tenant]!;
    const tiered = route({ rules: [easy], budget: { ledger, scope: 'tenant', period: 'month', limitUsd, tiers: BUDGETS.tiers.map((t) => ({ ...(t.below === undefined ? {} : { below: t.below }), ...(t.model ? { model: models[t.model] } : {}) })) } });
    const capped = budget({ ledger, scope: 'tenant', period: 'month', limitUsd, prices });
    made =
      config === 'baseline' ? (stream) => stream
      : config === 'cache' ? (stream) => stream.pipe(cached)
      : config === 'cache+route' ? (stream) => stream.pipe(routed, cached)
      : (stream) => stream.pipe(tiered, capped, cached);
    perTenant.set(tenant, made);
    return made;
  };

  for (const entry of trace.requests) {
    scheduler.schedule(() => {
      const prompt = prompts.get(entry.prompt)!;
      const input: LlmRequestInput = { messages: [{ role: 'user', content: promptText(prompt) }], metadata: { tenant: entry.tenant, prompt: String(prompt.id) } };
      const start = scheduler.now();
      let first: number | undefined;
      let tier: keyof typeof share = 'strong';
      let hit = false;
      pipelineFor(entry.tenant)(models.strong.stream(input)).subscribe({
        next: (event) => {
          if (event.type === 'cache' && event.status === 'hit') hit = true;
          else if (event.type === 'route') tier = tierOf.get(event.model) ?? tier;
          else if (event.type === 'text' && first === undefined) first = scheduler.now() - start;
          else if (event.type === 'finish' && event.reason === 'budget') cut++;
        },
        error: (error: { code?: string }) => {
          if (error.code === 'budget_exceeded') refused++;
          else errors++;
          latencies.push(scheduler.now() - start);
        },
        complete: () => {
          latencies.push(scheduler.now() - start);
          if (first !== undefined) ttfts.push(first);
          if (hit) hits++;
          share[hit ? 'cache' : tier]++;
        },
      });
    }, entry.at);
  }
  scheduler.flush();
  let costUsd = 0;
  let providerCalls = 0;
  for (const model of Object.values(models)) {
    const { inputTokens: i, outputTokens: o, calls } = model.bill;
    providerCalls += calls;
    costUsd += costOf({ inputTokens: i, outputTokens: o, totalTokens: i + o }, model.info.id, prices)!;
  }
  const n = trace.requests.length;
  return {
    config,
    requests: n,
    costUsd,
    latencyP50Ms: quantileOf(latencies, 0.5),
    latencyP95Ms: quantileOf(latencies, 0.95),
    ttftP50Ms: quantileOf(ttfts, 0.5),
    cacheHitRate: hits / n,
    share: { cache: share.cache / n, strong: share.strong / n, cheap: share.cheap / n, local: share.local / n },
    refused,
    cut,
    errors,
    providerCalls,
  };
}

export interface SavingsResult {
  readonly trace: Trace['parameters'];
  readonly models: typeof MODELS;
  readonly budgets: typeof BUDGETS;
  readonly results: readonly ConfigResult[];
  readonly seconds: number;
}

const started = performance.now();
// The path comes from the parent: bundled (bench/lib/child.ts), this file no longer sits beside the trace.
const { values } = parseArgs({ options: { trace: { type: 'string', default: TRACE_PATH } } });
const trace = JSON.parse(readFileSync(values.trace, 'utf8')) as Trace;
const counter = await loadTokenCounter(MODELS.strong.id);
const results: ConfigResult[] = [];
for (const config of CONFIGS) results.push(await runConfig(config, trace, counter));
const result: SavingsResult = { trace: trace.parameters, models: MODELS, budgets: BUDGETS, results, seconds: (performance.now() - started) / 1000 };
process.stdout.write(`${JSON.stringify(result)}\n`);
