/**
 * Section `abort`: how soon the server sees the socket close after the consumer leaves a stream
 * midway — unsubscribe (rxllm), abort() (raw, openai-node), `break` out of `for await` (the
 * peers' idiomatic way), an AbortSignal (the AI SDK's and LangChain's explicit way). The server
 * streams endlessly (200 tokens/s) and logs per stream when its socket closed; the consumer
 * leaves right after its 5th delta and notes the time; latency = socket close − leave, one clock
 * (CLOCK_MONOTONIC) for both processes. A stream whose socket is still open 2 s after leaving
 * counts as **never**; for those the table says how long the socket did stay open (until the
 * process exited, at least 2 s later) and how many tokens the server streamed into it after the
 * consumer had left — tokens a real provider would bill.
 *
 * One fresh process per contender per round runs every way it has, the way most likely to leak
 * (`break`) last, so a leaked stream (still being read and parsed) cannot slow the others.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientName, LeaveVia } from '../clients/index';
import { here, roundOrder, tryChildJson } from '../lib/child';
import type { BenchSection, SectionContext, SectionResult } from '../lib/section';
import { fmt, markdownTable, quantile, spread, summarize, type Summary } from '../lib/stats';
import { knobURL } from '../server';
import type { AbortRun } from './run-one';

export interface AbortOptions {
  readonly runs: number;
  /** Counted trials per way per process. */
  readonly trials: number;
  readonly warmup: number;
  /** Deltas read before leaving. */
  readonly after: number;
  /** Endless stream rate (tokens/s). */
  readonly rate: number;
  readonly neverMs: number;
  readonly gapMs: number;
  /** Contenders and their ways to leave, in the order each process runs them. */
  readonly contenders: ReadonlyArray<{ readonly client: ClientName; readonly vias: readonly LeaveVia[] }>;
}

const CONTENDERS: AbortOptions['contenders'] = [
  { client: 'raw', vias: ['abort'] },
  { client: 'rxllm', vias: ['unsubscribe'] },
  { client: 'openai-node', vias: ['abort', 'break'] },
  { client: 'ai-sdk', vias: ['signal', 'break'] },
  { client: 'langchain', vias: ['signal', 'break'] },
];

export function abortOptions(quick: boolean, overrides: { runs?: number } = {}): AbortOptions {
  const common = { after: 5, rate: 200, neverMs: 2000, gapMs: 100, contenders: CONTENDERS };
  return quick ? { ...common, runs: overrides.runs ?? 1, trials: 5, warmup: 1 } : { ...common, runs: overrides.runs ?? 5, trials: 10, warmup: 1 };
}

const RUN_ONE = here(import.meta.url, './run-one.ts');

/** One counted trial, as the parent sees it once the server's log is in. */
export interface TrialOutcome {
  readonly client: string;
  readonly via: LeaveVia;
  readonly round: number;
  /** Socket close − leave (ms); null when the socket was not closed within `neverMs`. */
  readonly closeMs: number | null;
  /** For never-closed streams: leave → the socket's eventual close (the process's exit), ms. */
  readonly stayedOpenMs: number | null;
  /** Tokens the server wrote into the stream after the consumer's `after`-th delta. */
  readonly tokensAfter: number;
  readonly leaveMs: number;
}

interface AbortRow {
  readonly client: string;
  readonly via: LeaveVia;
  readonly trials: number;
  readonly closed: number;
  readonly never: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Per-process p50s. */
  readonly processP50: Summary;
  readonly stayedOpenMs: Summary;
  readonly tokensAfter: Summary;
  readonly leaveMs: Summary;
}

export async function runAbort(context: SectionContext, options: AbortOptions): Promise<SectionResult> {
  const failures: string[] = [];
  const outcomes: TrialOutcome[] = [];
  for (let round = 0; round < options.runs; round++) {
    for (const { client, vias } of roundOrder(options.contenders, round)) {
      const tag = `abort-${client}-${round}-${process.pid}`;
      const baseURL = knobURL(context.server.baseURL, { mode: 'endless', rate: options.rate, tag });
      const args = [
        '--client', client, '--base-url', baseURL, '--vias', vias.join(','),
        '--trials', String(options.trials), '--warmup', String(options.warmup), '--after', String(options.after),
        '--gap-ms', String(options.gapMs), '--never-ms', String(options.neverMs),
      ];
      const run = await tryChildJson<AbortRun>(RUN_ONE, args, { timeoutMs: 120_000 }, `abort: ${client}`, failures, context.log);
      // The child has exited: its sockets are closed, or closing. Give the server a moment to see it.
      await sleep(100);
      const records = await context.server.streams(tag);
      await context.server.forget(tag);
      if (!run) continue;
      for (const via of vias) {
        const mine: TrialOutcome[] = [];
        for (const trial of run.trials) {
          if (trial.via !== via || trial.warmup) continue;
          const record = records[trial.index];
          if (!record) {
            failures.push(`abort: ${client} ${via}: the server has no stream ${trial.index} for tag ${tag}`);
            continue;
          }
          const closedAfterMs = record.closedNs === null ? null : (record.closedNs - trial.leftNs) / 1e6;
          const closed = closedAfterMs !== null && closedAfterMs <= options.neverMs;
          mine.push({
            client,
            via,
            round,
            closeMs: closed ? closedAfterMs : null,
            stayedOpenMs: closed ? null : closedAfterMs,
            tokensAfter: Math.max(0, record.tokens - options.after),
            leaveMs: trial.leaveMs,
          });
        }
        outcomes.push(...mine);
        const closes = mine.flatMap((t) => (t.closeMs === null ? [] : [t.closeMs])).sort((a, b) => a - b);
        const never = mine.length - closes.length;
        context.log(
          `abort  round ${round + 1}/${options.runs}  ${client.padEnd(11)} ${via.padEnd(11)} ` +
            (closes.length ? `p50 ${fmt(quantile(closes, 0.5), 2)} ms  max ${fmt(closes[closes.length - 1]!, 2)} ms` : '') +
            (never ? `  never: ${never}/${mine.length} (stayed open ≥ ${fmt(Math.min(...mine.flatMap((t) => (t.stayedOpenMs === null ? [] : [t.stayedOpenMs]))) / 1000, 1)} s)` : ''),
        );
      }
    }
  }
  const rows: AbortRow[] = options.contenders.flatMap(({ client, vias }) =>
    vias.map((via): AbortRow => {
      const mine = outcomes.filter((t) => t.client === client && t.via === via);
      const closes = mine.flatMap((t) => (t.closeMs === null ? [] : [t.closeMs])).sort((a, b) => a - b);
      const processP50 = summarize(
        [...new Set(mine.map((t) => t.round))].map((round) =>
          quantile(mine.filter((t) => t.round === round && t.closeMs !== null).map((t) => t.closeMs!).sort((a, b) => a - b), 0.5),
        ).filter(Number.isFinite),
      );
      return {
        client,
        via,
        trials: mine.length,
        closed: closes.length,
        never: mine.length - closes.length,
        p50Ms: quantile(closes, 0.5),
        p99Ms: quantile(closes, 0.99),
        processP50,
        stayedOpenMs: summarize(mine.flatMap((t) => (t.stayedOpenMs === null ? [] : [t.stayedOpenMs]))),
        tokensAfter: summarize(mine.map((t) => t.tokensAfter)),
        leaveMs: summarize(mine.map((t) => t.leaveMs)),
      };
    }),
  );
  const how: Record<LeaveVia, string> = {
    abort: '`AbortController.abort()`',
    unsubscribe: '`unsubscribe()`',
    break: '`break` out of `for await`',
    signal: '`abortSignal` → `abort()`',
  };
  const markdown = [
    '## abort — leave → server-observed socket close',
    '',
    `The server streams endlessly (${options.rate} tokens/s) and logs when each stream's socket closes; the consumer leaves right after its ` +
      `${options.after}th delta. ${options.trials} trials per way per fresh process (after ${options.warmup} warm-up), ${options.runs} process${options.runs === 1 ? '' : 'es'}: ` +
      `p50 / p99 over all ${options.trials * options.runs} trials (p99 of 50 is the slowest), per-process p50 median (min–max). ` +
      `**never** = socket still open ${fmt(options.neverMs / 1000, 0)} s after leaving; such a socket stayed open until the process exited, ` +
      'and the server kept streaming into it — tokens after leaving (median per stream) is what a real provider would go on generating and billing.',
    '',
    markdownTable(
      ['contender', 'leaves with', 'p50 ms', 'p99 ms', 'per-process p50 ms', 'never', 'open for (never), s', 'tokens after leaving'],
      rows.map((r) => [
        r.client,
        how[r.via],
        r.closed ? `**${fmt(r.p50Ms, 2)}**` : '—',
        r.closed ? fmt(r.p99Ms, 2) : '—',
        r.closed ? spread(r.processP50, 2) : '—',
        r.never ? `**${r.never}/${r.trials}**` : `0/${r.trials}`,
        r.never ? `≥ ${fmt(r.stayedOpenMs.min / 1000, 1)} (median ${fmt(r.stayedOpenMs.median / 1000, 1)})` : '—',
        fmt(r.tokensAfter.median, 0),
      ]),
      ['l', 'l'],
    ),
  ].join('\n');
  return { json: { options, rows, outcomes }, markdown, failures };
}

export function abortSection(overrides: { runs?: number } = {}): BenchSection {
  return {
    name: 'abort',
    description: 'unsubscribe / abort() / break → server-observed socket close (endless streams)',
    run: (context) => runAbort(context, abortOptions(context.quick, overrides)),
  };
}
