/**
 * Section `pipeline`: what the operators cost per streamed token.
 *
 * The same 20,000-token stream as `parse`, consumed by four contenders in fresh processes
 * (bench/parse/run-one.ts, one process per contender per round, the order alternating by round):
 * the raw floor; bare rxllm (`model.stream()` → `text()`); rxllm with `meter()` + `budget()`
 * (limits never reached: the cost of counting every delta with the o200k_base tokenizer, the
 * rolling rate and the running cost); and the full pipeline — rateLimit, deadline, retryBackoff,
 * fallback, meter, budget with a ledger, and a cache miss that records and stores the answer
 * (bench/clients/rxllm.ts). Client CPU µs per token, median (min–max) over the rounds, and the
 * ratios of medians to the bare stream and to the floor.
 */
import type { ClientName } from '../clients/index';
import { here, roundOrder, tryChildJson } from '../lib/child';
import type { BenchSection, SectionContext, SectionResult } from '../lib/section';
import { fmt, markdownTable, spread, summarize } from '../lib/stats';
import type { RunOneResult } from '../parse/run-one';

const RUN_ONE = here(import.meta.url, '../parse/run-one.ts');
const CONTENDERS: readonly ClientName[] = ['raw', 'rxllm', 'rxllm-metered', 'rxllm-pipeline'];
const LABEL: Readonly<Partial<Record<ClientName, string>>> = {
  raw: 'raw floor (undici + eventsource-parser)',
  rxllm: 'rxllm, bare stream',
  'rxllm-metered': 'rxllm + meter() + budget()',
  'rxllm-pipeline': 'rxllm, full pipeline',
};

export function pipelineSection(options: { readonly runs?: number } = {}): BenchSection {
  return {
    name: 'pipeline',
    description: 'per-token CPU of meter() + budget() and of the full operator pipeline, vs the bare stream and the floor',
    run: (context) => runPipeline(context, options.runs ?? (context.quick ? 1 : 5)),
  };
}

async function runPipeline(context: SectionContext, runs: number): Promise<SectionResult> {
  const { quick, log, server } = context;
  const tokens = quick ? 2000 : 20_000;
  const args = quick
    ? ['--warmup', '1', '--warmup-tokens', '0', '--warmup-cpu-ms', '20', '--min-cpu-ms', '20']
    : ['--warmup', '3', '--warmup-tokens', '160000', '--warmup-cpu-ms', '300', '--min-cpu-ms', '500'];
  const failures: string[] = [];
  const samples = new Map<ClientName, number[]>(CONTENDERS.map((c) => [c, []]));
  for (let round = 0; round < runs; round++) {
    for (const client of roundOrder(CONTENDERS, round)) {
      const result = await tryChildJson<RunOneResult>(
        RUN_ONE,
        ['--client', client, '--tokens', String(tokens), '--base-url', server.baseURL, ...args],
        { nodeFlags: ['--expose-gc'] },
        `pipeline ${client}`,
        failures,
        log,
      );
      if (!result) continue;
      samples.get(client)!.push(result.cpuUsPerToken);
      log(`pipeline  round ${round + 1}/${runs}  ${client.padEnd(15)} ${fmt(result.cpuUsPerToken, 3)} µs/token`);
    }
  }
  const summary = new Map(CONTENDERS.map((c) => [c, summarize(samples.get(c)!)]));
  const median = (c: ClientName): number => summary.get(c)!.median;
  const rows = CONTENDERS.map((c) => [
    LABEL[c]!,
    spread(summary.get(c)!, 3),
    c === 'raw' ? '—' : `**${fmt(median(c) / median('rxllm'), 2)}×**`,
    c === 'raw' ? '(floor)' : `${fmt(median(c) / median('raw'), 2)}×`,
  ]);
  const markdown = [
    '## pipeline — what the operators cost per token',
    '',
    `${tokens.toLocaleString('en-US')}-token streams, client CPU µs per token (user + system), median (min–max) of ${runs} fresh process${runs > 1 ? 'es' : ''} per contender. ` +
      '`meter()` + `budget()` count every delta with the o200k_base tokenizer (model `gpt-4o-mini`) and keep a rolling rate and a running cost; ' +
      'the full pipeline is `rateLimit` (rpm, tpm, concurrency) → `deadline` → `retryBackoff` → `fallback` → `meter` → `budget` (with a ledger) → `cache` (a miss, recorded and stored), none of them ever waiting or firing.',
    '',
    markdownTable(['contender', 'CPU µs/token', '× bare rxllm', '× floor'], rows, ['l', 'r', 'r', 'r']),
  ].join('\n');
  const json = {
    runs,
    tokens,
    cpuUsPerToken: Object.fromEntries(CONTENDERS.map((c) => [c, summary.get(c)])),
    ratioToBare: Object.fromEntries(CONTENDERS.map((c) => [c, median(c) / median('rxllm')])),
    ratioToFloor: Object.fromEntries(CONTENDERS.map((c) => [c, median(c) / median('raw')])),
  };
  return { json, markdown, failures };
}
