/**
 * Section `throughput`: tokens per second with many streams at once. Per fresh process, one
 * contender consumes `concurrency` fast-mode streams at the same time (every contender the same
 * total tokens); tokens/s = total ÷ wall time from the first call to the last stream's end. On a
 * 2-core machine the server shares the CPU, so the floor's figure is bounded by the pair; a
 * contender that costs more CPU per token shows it directly as fewer tokens/s.
 */
import { ALL_CLIENTS, type ClientName } from '../clients/index';
import { here, roundOrder, tryChildJson } from '../lib/child';
import type { BenchSection, SectionContext, SectionResult } from '../lib/section';
import { fmt, markdownTable, spread, summarize, type Summary } from '../lib/stats';
import type { ThroughputResult } from './run-one';

export interface ThroughputOptions {
  readonly runs: number;
  readonly concurrency: number;
  readonly tokens: number;
  readonly warmupTokens: number;
  readonly clients: readonly ClientName[];
}

export function throughputOptions(quick: boolean, overrides: { runs?: number } = {}): ThroughputOptions {
  return quick
    ? { runs: overrides.runs ?? 1, concurrency: 50, tokens: 100, warmupTokens: 20, clients: ALL_CLIENTS }
    : { runs: overrides.runs ?? 5, concurrency: 50, tokens: 300, warmupTokens: 100, clients: ALL_CLIENTS };
}

const RUN_ONE = here(import.meta.url, './run-one.ts');

interface ThroughputRow {
  readonly client: string;
  readonly tokensPerSec: Summary;
  readonly cpuUsPerToken: Summary;
  readonly wallMs: Summary;
  /** median tokens/s ÷ the floor's. */
  readonly ratio: number;
}

export async function runThroughput(context: SectionContext, options: ThroughputOptions): Promise<SectionResult> {
  const failures: string[] = [];
  const samples: Array<ThroughputResult & { round: number }> = [];
  for (let round = 0; round < options.runs; round++) {
    for (const client of roundOrder(options.clients, round)) {
      const args = [
        '--client', client, '--base-url', context.server.baseURL, '--concurrency', String(options.concurrency),
        '--tokens', String(options.tokens), '--warmup-tokens', String(options.warmupTokens),
      ];
      const result = await tryChildJson<ThroughputResult>(RUN_ONE, args, { nodeFlags: ['--expose-gc'] }, `throughput: ${client}`, failures, context.log);
      if (!result) continue;
      samples.push({ ...result, round });
      context.log(
        `thru   round ${round + 1}/${options.runs}  ${client.padEnd(11)} ${fmt(result.tokensPerSec / 1000, 1)} k tok/s  ` +
          `(${result.totalTokens} tokens in ${fmt(result.wallMs, 0)} ms, ${fmt(result.cpuUsPerToken, 2)} µs/tok CPU)`,
      );
    }
  }
  const of = (client: string) => samples.filter((s) => s.client === client);
  const floor = summarize(of('raw').map((s) => s.tokensPerSec)).median;
  const rows: ThroughputRow[] = options.clients.map((client) => {
    const tokensPerSec = summarize(of(client).map((s) => s.tokensPerSec));
    return {
      client,
      tokensPerSec,
      cpuUsPerToken: summarize(of(client).map((s) => s.cpuUsPerToken)),
      wallMs: summarize(of(client).map((s) => s.wallMs)),
      ratio: tokensPerSec.median / floor,
    };
  });
  const total = options.concurrency * options.tokens;
  const markdown = [
    '## throughput — tokens/s at concurrency ' + options.concurrency,
    '',
    `${options.concurrency} streams of ${options.tokens.toLocaleString('en-US')} tokens at once per fresh process (${total.toLocaleString('en-US')} tokens, the same for every contender, ` +
      `after a warm-up round of ${options.warmupTokens}-token streams); tokens/s = total ÷ wall time, median (min–max) of ${options.runs} process${options.runs === 1 ? '' : 'es'}. ` +
      'The server shares the 2 cores, so the floor is bounded by the pair; ×raw = ratio of medians.',
    '',
    markdownTable(
      ['contender', 'k tokens/s', '×raw', 'client CPU µs/tok', 'wall ms'],
      rows.map((r) => [r.client, spread(r.tokensPerSec, 1, 1000), r.client === 'raw' ? '(floor)' : `**${fmt(r.ratio, 2)}×**`, spread(r.cpuUsPerToken, 2), fmt(r.wallMs.median, 0)]),
      ['l'],
    ),
  ].join('\n');
  return { json: { options, rows, samples }, markdown, failures };
}

export function throughputSection(overrides: { runs?: number } = {}): BenchSection {
  return {
    name: 'throughput',
    description: `tokens/s with 50 concurrent streams, same total tokens per contender`,
    run: (context) => runThroughput(context, throughputOptions(context.quick, overrides)),
  };
}
