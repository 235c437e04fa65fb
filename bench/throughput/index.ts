/**
 * Section `throughput`: tokens per second with many streams at once. Per fresh process, one
 * contender, warmed up (see run-one.ts), consumes rounds of `concurrency` fast-mode streams at the
 * same time (every contender the same streams); tokens/s = measured tokens ÷ the rounds' wall time
 * from the first call to the last stream's end. On a 2-core machine the server shares the CPU, so
 * the floor's figure is bounded by the pair; a contender that costs more CPU per token shows it
 * directly as fewer tokens/s.
 */
import { ALL_CLIENTS, type ClientName } from '../clients/index';
import { here, roundOrder, tryChildJson } from '../lib/child';
import type { BenchSection, SectionContext, SectionResult } from '../lib/section';
import { fmt, markdownTable, spread, summarize, type Summary } from '../lib/stats';
import type { ThroughputResult } from './run-one';

export interface ThroughputOptions {
  readonly runs: number;
  readonly concurrency: number;
  /** Tokens per stream in a measured round. */
  readonly tokens: number;
  /** Tokens per stream in a warm-up round. */
  readonly warmupTokens: number;
  /** Warm-up rounds until this many tokens streamed, or `warmupCpuMs` of CPU, whichever first. */
  readonly warmupMinTokens: number;
  readonly warmupCpuMs: number;
  /** Measured rounds: at most `maxRounds`, stopping after `minCpuMs` of CPU (at least one round). */
  readonly maxRounds: number;
  readonly minCpuMs: number;
  readonly clients: readonly ClientName[];
}

/**
 * Full run: warm-up rounds of 50 × 300 tokens until ≥ 100k tokens or ≥ 700 ms of CPU (the floor:
 * 7 rounds; the AI SDK: 1), then 1–3 measured rounds of the same (until ≥ 300 ms of CPU).
 */
export function throughputOptions(quick: boolean, overrides: { runs?: number } = {}): ThroughputOptions {
  return quick
    ? { runs: overrides.runs ?? 1, concurrency: 50, tokens: 100, warmupTokens: 20, warmupMinTokens: 0, warmupCpuMs: 0, maxRounds: 1, minCpuMs: 0, clients: ALL_CLIENTS }
    : { runs: overrides.runs ?? 5, concurrency: 50, tokens: 300, warmupTokens: 300, warmupMinTokens: 100_000, warmupCpuMs: 700, maxRounds: 3, minCpuMs: 300, clients: ALL_CLIENTS };
}

const RUN_ONE = here(import.meta.url, './run-one.ts');

interface ThroughputRow {
  readonly client: string;
  readonly tokensPerSec: Summary;
  readonly cpuUsPerToken: Summary;
  readonly wallMs: Summary;
  /** The process's first round (its first warm-up round: new connections, code not yet optimized). */
  readonly firstTokensPerSec: Summary;
  readonly firstCpuUsPerToken: Summary;
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
        '--warmup-min-tokens', String(options.warmupMinTokens), '--warmup-cpu-ms', String(options.warmupCpuMs),
        '--max-rounds', String(options.maxRounds), '--min-cpu-ms', String(options.minCpuMs),
      ];
      const result = await tryChildJson<ThroughputResult>(RUN_ONE, args, { nodeFlags: ['--expose-gc'] }, `throughput: ${client}`, failures, context.log);
      if (!result) continue;
      samples.push({ ...result, round });
      context.log(
        `thru   round ${round + 1}/${options.runs}  ${client.padEnd(11)} ${fmt(result.tokensPerSec / 1000, 1)} k tok/s  ` +
          `(${result.totalTokens} tokens in ${result.rounds} round${result.rounds === 1 ? '' : 's'}, ${fmt(result.wallMs, 0)} ms, ${fmt(result.cpuUsPerToken, 2)} µs/tok CPU; ` +
          `after ${result.warmupRounds} warm-up rounds, ${result.warmupTokens} tokens)`,
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
      firstTokensPerSec: summarize(of(client).map((s) => s.warmupTokens / s.warmupRounds / (s.warmup[0]!.wallMs / 1000))),
      firstCpuUsPerToken: summarize(of(client).map((s) => s.warmup[0]!.cpuUsPerToken)),
      ratio: tokensPerSec.median / floor,
    };
  });
  const total = options.concurrency * options.tokens;
  const markdown = [
    '## throughput — tokens/s at concurrency ' + options.concurrency,
    '',
    `Rounds of ${options.concurrency} streams of ${options.tokens.toLocaleString('en-US')} tokens at once (${total.toLocaleString('en-US')} tokens a round, the same for every contender) ` +
      `per fresh process, after a warm-up of ${options.warmupTokens}-token rounds` +
      (options.warmupMinTokens > 0 ? ` (≥ ${options.warmupMinTokens.toLocaleString('en-US')} tokens or ≥ ${options.warmupCpuMs} ms of CPU, whichever first)` : ' (one)') +
      `; ${options.maxRounds > 1 ? `1–${options.maxRounds} measured rounds (until ≥ ${options.minCpuMs} ms of CPU)` : 'one measured round'}; tokens/s = measured tokens ÷ their wall time, median (min–max) of ${options.runs} process${options.runs === 1 ? '' : 'es'}. ` +
      'The server shares the 2 cores, so the floor is bounded by the pair; ×raw = ratio of medians.',
    '',
    markdownTable(
      ['contender', 'k tokens/s', '×raw', 'client CPU µs/tok', 'wall ms', 'first round: k tokens/s', 'first round: CPU µs/tok'],
      rows.map((r) => [
        r.client,
        spread(r.tokensPerSec, 1, 1000),
        r.client === 'raw' ? '(floor)' : `**${fmt(r.ratio, 2)}×**`,
        spread(r.cpuUsPerToken, 2),
        fmt(r.wallMs.median, 0),
        fmt(r.firstTokensPerSec.median / 1000, 1),
        fmt(r.firstCpuUsPerToken.median, 2),
      ]),
      ['l'],
    ),
    '',
    'First round (context, not the figure): the process\'s first warm-up round — new connections, code not yet optimized. ' +
      'In it more than half the client\'s CPU is V8 compiling and collecting on its helper threads (bench/README.md, "Profiles"), ' +
      'so it measures how much code a contender runs more than what it costs per token.',
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
