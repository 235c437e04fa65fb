/**
 * Section `ttft`: time to first token that a contender ADDS over the floor. Per fresh process,
 * `--requests` sequential requests on one keep-alive connection (after a warm-up), the server
 * answering at once, so the figure is the client's own cost: request building, the HTTP round
 * trip through its stack, and its parsing up to the first delta. Rounds interleave contenders
 * (order flips every round). Per contender: the median over processes of each process's p50 and
 * p99, and added = that minus the floor's (raw) median.
 */
import { ALL_CLIENTS, type ClientName } from '../clients/index';
import { here, roundOrder, tryChildJson } from '../lib/child';
import type { BenchSection, SectionContext, SectionResult } from '../lib/section';
import { fmt, markdownTable, spread, summarize, type Summary } from '../lib/stats';
import type { TtftResult } from './run-one';

export interface TtftOptions {
  readonly runs: number;
  readonly requests: number;
  readonly warmup: number;
  readonly tokens: number;
  readonly clients: readonly ClientName[];
}

export function ttftOptions(quick: boolean, overrides: { runs?: number } = {}): TtftOptions {
  return quick
    ? { runs: overrides.runs ?? 1, requests: 50, warmup: 5, tokens: 20, clients: ALL_CLIENTS }
    : { runs: overrides.runs ?? 5, requests: 200, warmup: 10, tokens: 20, clients: ALL_CLIENTS };
}

const RUN_ONE = here(import.meta.url, './run-one.ts');

interface TtftRow {
  readonly client: string;
  readonly p50: Summary;
  readonly p99: Summary;
  /** median p50 − the floor's median p50 (µs). */
  readonly addedP50Us: number;
  readonly addedP99Us: number;
}

export async function runTtft(context: SectionContext, options: TtftOptions): Promise<SectionResult> {
  const failures: string[] = [];
  const samples: Array<TtftResult & { round: number }> = [];
  for (let round = 0; round < options.runs; round++) {
    for (const client of roundOrder(options.clients, round)) {
      const args = ['--client', client, '--base-url', context.server.baseURL, '--requests', String(options.requests), '--warmup', String(options.warmup), '--tokens', String(options.tokens)];
      const result = await tryChildJson<TtftResult>(RUN_ONE, args, {}, `ttft: ${client}`, failures, context.log);
      if (!result) continue;
      samples.push({ ...result, round });
      context.log(`ttft   round ${round + 1}/${options.runs}  ${client.padEnd(11)} p50 ${fmt(result.p50Us, 0)} µs  p99 ${fmt(result.p99Us, 0)} µs  (max ${fmt(result.maxUs, 0)} µs)`);
    }
  }
  const of = (client: string) => samples.filter((s) => s.client === client);
  const floorP50 = summarize(of('raw').map((s) => s.p50Us)).median;
  const floorP99 = summarize(of('raw').map((s) => s.p99Us)).median;
  const rows: TtftRow[] = options.clients.map((client) => {
    const p50 = summarize(of(client).map((s) => s.p50Us));
    const p99 = summarize(of(client).map((s) => s.p99Us));
    return { client, p50, p99, addedP50Us: p50.median - floorP50, addedP99Us: p99.median - floorP99 };
  });
  const signed = (us: number): string => (Number.isFinite(us) ? `${us >= 0 ? '+' : '−'}${fmt(Math.abs(us), 0)}` : 'n/a');
  const markdown = [
    '## ttft — time to first token added over the floor',
    '',
    `${options.requests} sequential requests per fresh process on one keep-alive connection (after ${options.warmup} warm-up requests), ` +
      `the server answering at once with ${options.tokens} tokens; a sample is the contender's call → its first text delta. ` +
      `p50 and p99 per process, median (min–max) of ${options.runs} process${options.runs === 1 ? '' : 'es'}; ` +
      '**added** = median − the floor’s median (µs): what the client stack costs before a user sees the first token.',
    '',
    markdownTable(
      ['contender', 'p50 µs', 'p99 µs', 'added p50 µs', 'added p99 µs'],
      rows.map((r) => [r.client, spread(r.p50, 0), spread(r.p99, 0), r.client === 'raw' ? '(floor)' : `**${signed(r.addedP50Us)}**`, r.client === 'raw' ? '(floor)' : signed(r.addedP99Us)]),
      ['l'],
    ),
  ].join('\n');
  return { json: { options, rows, samples }, markdown, failures };
}

export function ttftSection(overrides: { runs?: number } = {}): BenchSection {
  return {
    name: 'ttft',
    description: 'time to first token added over the raw floor (sequential keep-alive requests, immediate answers)',
    run: (context) => runTtft(context, ttftOptions(context.quick, overrides)),
  };
}
