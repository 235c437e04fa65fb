/**
 * Section `memory`: heap and RSS per open stream. Per fresh process (`--expose-gc`), one contender
 * opens N streams at once against the server's `paced` mode (first token at once, then 1 token/s),
 * waits until every stream has its first delta, forces GC and reads `process.memoryUsage()`; the
 * baseline is the same process after warm-up, before opening any stream. Rounds interleave
 * contenders (order flips every round). (Running a round's contenders at once saves nothing on
 * 2 cores: opening hundreds of streams is CPU-bound on both sides.)
 */
import { ALL_CLIENTS, type ClientName } from '../clients/index';
import { here, roundOrder, tryChildJson } from '../lib/child';
import type { BenchSection, SectionContext, SectionResult } from '../lib/section';
import { fmt, markdownTable, spread, summarize, type Summary } from '../lib/stats';
import { knobURL } from '../server';
import type { MemoryResult } from './run-one';

export interface MemoryOptions {
  readonly runs: number;
  readonly streams: number;
  /** Tokens per stream at 1 token/s: how long a stream stays open (seconds). */
  readonly tokens: number;
  readonly clients: readonly ClientName[];
}

export function memoryOptions(quick: boolean, overrides: { runs?: number } = {}): MemoryOptions {
  return quick
    ? { runs: overrides.runs ?? 1, streams: 100, tokens: 30, clients: ALL_CLIENTS }
    : { runs: overrides.runs ?? 5, streams: 1000, tokens: 30, clients: ALL_CLIENTS };
}

const RUN_ONE = here(import.meta.url, './run-one.ts');

interface MemoryRow {
  readonly client: string;
  readonly heapKb: Summary;
  readonly rssKb: Summary;
  readonly externalKb: Summary;
  readonly openMs: Summary;
  /** Baseline heap (MB): the contender loaded and warmed up, no stream open. */
  readonly baselineHeapMb: Summary;
  readonly baselineRssMb: Summary;
  readonly heapRatio: number;
}

export async function runMemory(context: SectionContext, options: MemoryOptions): Promise<SectionResult> {
  const failures: string[] = [];
  const samples: Array<MemoryResult & { round: number }> = [];
  const baseURL = knobURL(context.server.baseURL, { mode: 'paced', rate: 1 });
  for (let round = 0; round < options.runs; round++) {
    for (const client of roundOrder(options.clients, round)) {
      const args = ['--client', client, '--base-url', baseURL, '--streams', String(options.streams), '--tokens', String(options.tokens)];
      const result = await tryChildJson<MemoryResult>(RUN_ONE, args, { nodeFlags: ['--expose-gc'], timeoutMs: 60_000 }, `memory: ${client}`, failures, context.log);
      if (!result) continue;
      samples.push({ ...result, round });
      context.log(
        `memory round ${round + 1}/${options.runs}  ${client.padEnd(11)} ${fmt(result.heapKbPerStream, 1)} KB heap/stream  ${fmt(result.rssKbPerStream, 1)} KB RSS/stream  ` +
          `(${options.streams} open in ${result.openMs} ms; baseline heap ${fmt(result.baseline.heapUsed / 2 ** 20, 1)} MB)`,
      );
    }
  }
  const of = (client: string) => samples.filter((s) => s.client === client);
  const floorHeap = summarize(of('raw').map((s) => s.heapKbPerStream)).median;
  const rows: MemoryRow[] = options.clients.map((client) => {
    const heapKb = summarize(of(client).map((s) => s.heapKbPerStream));
    return {
      client,
      heapKb,
      rssKb: summarize(of(client).map((s) => s.rssKbPerStream)),
      externalKb: summarize(of(client).map((s) => s.externalKbPerStream)),
      openMs: summarize(of(client).map((s) => s.openMs)),
      baselineHeapMb: summarize(of(client).map((s) => s.baseline.heapUsed / 2 ** 20)),
      baselineRssMb: summarize(of(client).map((s) => s.baseline.rss / 2 ** 20)),
      heapRatio: heapKb.median / floorHeap,
    };
  });
  const markdown = [
    '## memory — per open stream',
    '',
    `${options.streams.toLocaleString('en-US')} streams open at once per fresh process (server: first token at once, then 1 token/s for ${options.tokens} s), ` +
      'measured once every stream has its first delta, after forced GCs (`--expose-gc`) until the heap stops shrinking; ' +
      'minus the same process before it opened any stream (contender loaded and warmed up). ' +
      `KB per stream (1 KB = 1024 B), median (min–max) of ${options.runs} process${options.runs === 1 ? '' : 'es'}. ` +
      'rxllm is given `undiciTransport({ connections })` above its default pool of 256 sockets per origin; the others have no cap.',
    '',
    markdownTable(
      ['contender', 'heap KB/stream', '×raw', 'RSS KB/stream', 'external KB/stream', `all ${options.streams} open after (ms)`, 'baseline heap / RSS MB'],
      rows.map((r) => [
        r.client,
        spread(r.heapKb, 1),
        r.client === 'raw' ? '(floor)' : `**${fmt(r.heapRatio, 1)}×**`,
        spread(r.rssKb, 1),
        spread(r.externalKb, 1),
        fmt(r.openMs.median, 0),
        `${fmt(r.baselineHeapMb.median, 1)} / ${fmt(r.baselineRssMb.median, 0)}`,
      ]),
      ['l'],
    ),
  ].join('\n');
  return { json: { options, rows, samples }, markdown, failures };
}

export function memorySection(overrides: { runs?: number } = {}): BenchSection {
  return {
    name: 'memory',
    description: 'heap and RSS per open stream (1000 concurrent paced streams, forced GC)',
    run: (context) => runMemory(context, memoryOptions(context.quick, overrides)),
  };
}
