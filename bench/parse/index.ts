/**
 * Section `parse`: CPU per streamed token. Each contender consumes the same fast-mode stream in
 * fresh processes (`run-one.ts`); rounds interleave sizes and contenders (the order flips every
 * round) so drift on a shared machine hits everyone alike. Figures are CPU µs per token (user +
 * system of the client process; the server runs in its own process), median and min–max over
 * the runs, the ratio to the raw floor per size, and linearity (per-token cost at the largest
 * size ÷ at the smallest).
 *
 * One fresh process per contender per round measures every size in turn, largest first, after
 * its warm-up. The peer SDKs cost 5–50× the floor per token, so they get a smaller measuring
 * budget (`PEER_ARGS`) and stop at 20k tokens per stream (`peerMaxTokens`).
 */
import { PEERS, type ClientName } from '../clients/index';
import { here, roundOrder, runChildJson } from '../lib/child';
import type { BenchSection, SectionContext, SectionResult } from '../lib/section';
import { fmt, markdownTable, summarize, type Summary } from '../lib/stats';
import type { RunOneResult } from './run-one';

/** Targets (reported, never asserted): rxllm within 1.3× of raw, and within 1.2× of itself from 1k to 100k. */
export const TARGET_RATIO = 1.3;
export const TARGET_LINEARITY = 1.2;

export interface ParseOptions {
  readonly sizes: readonly number[];
  /** Rounds: one fresh process per contender per round. */
  readonly runs: number;
  /** The peers measure the sizes up to this one (their 100k-token streams cost too much time; see PEER_MAX_TOKENS). */
  readonly peerMaxTokens: number;
  readonly clients: readonly ClientName[];
  /** run-one.ts arguments (warm-up and measuring budget) of raw and rxllm. */
  readonly runOneArgs: readonly string[];
  /** run-one.ts arguments of the peers. */
  readonly peerArgs: readonly string[];
}

export interface ParseSample extends RunOneResult {
  readonly round: number;
  /** Server CPU over this child's whole life (warm-up and every size included) ÷ all tokens it streamed. */
  readonly serverCpuUsPerToken: number;
}

/**
 * The floor's budget (raw and rxllm), run-one's defaults: warm-up ≥ 200k tokens and ≥ 300 ms of
 * CPU on 1k-token streams (their per-token cost settles after ~150–200k tokens), then per size
 * K streams for ≥ 500 ms of CPU.
 *
 * The peers' budget. The floor's would be minutes of CPU per round for the slowest peer
 * (~100 µs/token), so a peer's process warms up on ≥ 10k tokens of 1k-token streams, then
 * measures one 20k-token stream and ≥ 200 ms of 1k-token streams: the largest first, so that the
 * 1k figure — where a peer still warming up would look worst — comes after 30k tokens of warm-up
 * (a peer's per-token cost settles after 10–20k tokens).
 */
const PEER_ARGS = ['--warmup', '2', '--warmup-tokens', '10000', '--warmup-cpu-ms', '200', '--min-cpu-ms', '200'];
/**
 * The peers stop at 20k tokens per stream. One 100k-token stream costs the AI SDK ~10 s of CPU
 * (~100 µs/token), openai-node ~2 s and LangChain ~3.5 s: 5 rounds of them would be ~80 s of the
 * suite's 6 minutes. The floor and rxllm still measure 100k (rxllm's linearity target).
 */
export const PEER_MAX_TOKENS = 20_000;
const QUICK_ARGS = ['--warmup', '2', '--warmup-tokens', '0', '--warmup-cpu-ms', '20', '--min-cpu-ms', '20'];
const QUICK_PEER_ARGS = ['--warmup', '1', '--warmup-tokens', '0', '--warmup-cpu-ms', '20', '--min-cpu-ms', '20'];

/** Full run: 5 rounds, every contender (`--runs N` overrides). */
export function parseOptions(quick: boolean, overrides: { runs?: number; sizes?: number[]; clients?: ClientName[] } = {}): ParseOptions {
  const runs = overrides.runs ?? (quick ? 1 : 5);
  return {
    sizes: overrides.sizes ?? (quick ? [1000] : [1000, 20_000, 100_000]),
    runs,
    peerMaxTokens: PEER_MAX_TOKENS,
    clients: overrides.clients ?? ['raw', 'rxllm', ...PEERS],
    runOneArgs: quick ? QUICK_ARGS : [],
    peerArgs: quick ? QUICK_PEER_ARGS : PEER_ARGS,
  };
}

const RUN_ONE = here(import.meta.url, './run-one.ts');

export async function runParse(context: SectionContext, options: ParseOptions): Promise<SectionResult> {
  const { server } = context;
  const samples: ParseSample[] = [];
  const failures: string[] = [];
  const sizes = [...options.sizes].sort((a, b) => a - b);
  const descending = [...sizes].reverse();
  const peerSizes = descending.filter((tokens) => tokens <= options.peerMaxTokens);
  /** One child; its results become samples. */
  const measure = async (round: number, client: ClientName, tokens: readonly number[], extra: readonly string[]): Promise<void> => {
    const args = ['--client', client, '--tokens', tokens.join(','), '--base-url', server.baseURL, ...extra];
    const before = await server.cpuUsage();
    const started = performance.now();
    try {
      const output = await runChildJson<RunOneResult | RunOneResult[]>(RUN_ONE, args, { nodeFlags: ['--expose-gc'] });
      const seconds = (performance.now() - started) / 1000;
      const after = await server.cpuUsage();
      const results = Array.isArray(output) ? output : [output];
      const served = results.reduce((sum, r) => sum + r.warmupStreams * r.warmupSize + r.streams * r.tokens, 0);
      const serverCpuUsPerToken = (after.user + after.system - before.user - before.system) / served;
      for (const result of results) {
        samples.push({ ...result, round, serverCpuUsPerToken });
        context.log(
          `parse  round ${round + 1}/${options.runs}  ${String(result.tokens).padStart(6)} tok  ${client.padEnd(11)} ${fmt(result.cpuUsPerToken, 3)} µs/tok CPU  ` +
            `(K=${result.streams}, warm-up ${result.warmupStreams}, wall ${fmt(result.wallUsPerToken, 3)} µs/tok, server ${fmt(serverCpuUsPerToken, 3)} µs/tok; process ${fmt(seconds, 1)} s)`,
        );
      }
    } catch (error) {
      const message = `parse: ${client} at ${tokens.join(', ')} tokens failed: ${error instanceof Error ? error.message : String(error)}`;
      failures.push(message);
      context.log(message);
    }
  };
  // One fresh process per contender per round: warm-up on the smallest size, then every size,
  // largest first. Contenders interleave, the order flipping every round.
  for (let round = 0; round < options.runs; round++) {
    for (const client of roundOrder(options.clients, round)) {
      const peer = PEERS.includes(client);
      const mine = peer ? peerSizes : descending;
      if (mine.length === 0) continue;
      await measure(round, client, mine, ['--warmup-size', String(sizes[0]), ...(peer ? options.peerArgs : options.runOneArgs)]);
    }
  }
  return report(options, samples, failures);
}

interface Row {
  readonly tokens: number;
  readonly cpu: Record<string, Summary>;
  readonly wall: Record<string, Summary>;
  readonly server: Summary;
  /** median(rxllm) / median(raw). */
  readonly ratio: number;
  /** median(contender) / median(raw), every contender. */
  readonly ratios: Record<string, number>;
  /** rxllm / raw within each round (the two ran back to back): min–max. */
  readonly pairedRatio: Summary;
}

function report(options: ParseOptions, samples: readonly ParseSample[], failures: string[]): SectionResult {
  const pick = (tokens: number, client: string): ParseSample[] => samples.filter((s) => s.tokens === tokens && s.client === client);
  const rows: Row[] = options.sizes.map((tokens) => {
    const cpu: Record<string, Summary> = {};
    const wall: Record<string, Summary> = {};
    const ratios: Record<string, number> = {};
    for (const client of options.clients) {
      cpu[client] = summarize(pick(tokens, client).map((s) => s.cpuUsPerToken));
      wall[client] = summarize(pick(tokens, client).map((s) => s.wallUsPerToken));
    }
    for (const client of options.clients) ratios[client] = cpu[client]!.median / (cpu['raw']?.median ?? Number.NaN);
    const paired: number[] = [];
    for (let round = 0; round < options.runs; round++) {
      const a = pick(tokens, 'rxllm').find((s) => s.round === round);
      const b = pick(tokens, 'raw').find((s) => s.round === round);
      if (a && b) paired.push(a.cpuUsPerToken / b.cpuUsPerToken);
    }
    return {
      tokens,
      cpu,
      wall,
      // The floor's processes only. A process spans every size, so this is per process, not per size.
      server: summarize(samples.filter((s) => s.tokens === tokens && !PEERS.includes(s.client as ClientName)).map((s) => s.serverCpuUsPerToken)),
      ratio: ratios['rxllm'] ?? Number.NaN,
      ratios,
      pairedRatio: summarize(paired),
    };
  });
  const first = rows[0];
  const last = rows[rows.length - 1];
  // Per contender: its largest measured size ÷ its smallest (the peers stop at peerMaxTokens).
  const linearity: Record<string, number> = {};
  const linearitySpan: Record<string, [number, number]> = {};
  for (const client of options.clients) {
    const measured = rows.filter((r) => r.cpu[client]!.n > 0);
    const a = measured[0];
    const b = measured[measured.length - 1];
    linearity[client] = a && b && measured.length > 1 ? b.cpu[client]!.median / a.cpu[client]!.median : Number.NaN;
    if (a && b) linearitySpan[client] = [a.tokens, b.tokens];
  }
  const serverUs = summarize(samples.filter((s) => !PEERS.includes(s.client as ClientName)).map((s) => s.serverCpuUsPerToken)).median;

  const cell = (s: Summary | undefined, digits = 3): string => (s && s.n > 0 ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : 'n/a');
  const floor = options.clients.filter((c) => c === 'raw' || c === 'rxllm');
  const peers = options.clients.filter((c) => PEERS.includes(c));
  const table = markdownTable(
    ['tokens/stream', ...floor.map((c) => `${c} µs/tok`), 'rxllm/raw', 'paired ratio median (min–max)'],
    rows.map((r) => [
      r.tokens.toLocaleString('en-US'),
      ...floor.map((c) => cell(r.cpu[c])),
      `**${fmt(r.ratio)}×**${r.ratio <= TARGET_RATIO ? '' : ' ⚠'}`,
      `${fmt(r.pairedRatio.median)} (${fmt(r.pairedRatio.min)}–${fmt(r.pairedRatio.max)})`,
    ]),
    ['l'],
  );
  const peerTable = markdownTable(
    ['tokens/stream', 'raw µs/tok', 'rxllm ×raw', ...peers.flatMap((c) => [`${c} µs/tok`, `${c} ×raw`])],
    rows.map((r) => [
      r.tokens.toLocaleString('en-US'),
      fmt(r.cpu['raw']?.median ?? Number.NaN, 3),
      `${fmt(r.ratio)}×`,
      ...peers.flatMap((c) => (r.cpu[c]!.n > 0 ? [cell(r.cpu[c], 2), `**${fmt(r.ratios[c] ?? Number.NaN, 1)}×**`] : ['—', '—'])),
    ]),
    ['l'],
  );
  const wallTable = markdownTable(
    ['tokens/stream', ...options.clients.map((c) => `${c} wall µs/tok`)],
    rows.map((r) => [r.tokens.toLocaleString('en-US'), ...options.clients.map((c) => (r.wall[c]!.n > 0 ? cell(r.wall[c]) : '—'))]),
    ['l'],
  );
  const k = (tokens: number): string => (tokens >= 1000 ? `${tokens / 1000}k` : String(tokens));
  const linearityLine =
    first && last && rows.length > 1
      ? `Linearity (µs/token at the largest size ÷ at the smallest; ≤ ${TARGET_LINEARITY} is rxllm's target from ${k(first.tokens)} to ${k(last.tokens)}): ` +
        options.clients
          .filter((c) => Number.isFinite(linearity[c]))
          .map((c) => `${c} **${fmt(linearity[c]!)}×** (${linearitySpan[c]!.map(k).reverse().join('÷')})`)
          .join(', ')
      : 'Linearity: needs at least two sizes.';
  const markdown = [
    '## parse — CPU per streamed token',
    '',
    `Client-process CPU (user + system) per text delta, median (min–max) of ${options.runs} fresh process${options.runs === 1 ? '' : 'es'} per cell: ` +
      `one process per contender per round warms up (≥ 200k tokens of 1k-token streams for raw and rxllm) and then measures every size, largest first. ` +
      `The server runs in its own process (${fmt(serverUs, 3)} µs of server CPU per token streamed to raw and rxllm, median per process). ` +
      `rxllm/raw = ratio of medians (target ≤ ${TARGET_RATIO}); paired ratio = rxllm÷raw within each round.`,
    '',
    table,
    '',
    ...(peers.length > 0
      ? [
          `Peer SDKs, same streams, same rounds (interleaved with the floor's): one fresh process per peer per round ` +
            `(warm-up on ≥ 10k tokens of 1k-token streams, then one stream of each larger size up to ${k(options.peerMaxTokens)} and ≥ 200 ms of 1k streams` +
            (options.sizes.some((t) => t > options.peerMaxTokens)
              ? `; no ${options.sizes.filter((t) => t > options.peerMaxTokens).map(k).join(', ')}: see bench/README.md, "Time budget"). `
              : '). ') +
            `CPU µs per token, median (min–max) of ${options.runs} process${options.runs === 1 ? '' : 'es'}, and ×raw = ratio of medians to the floor above.`,
          '',
          peerTable,
          '',
        ]
      : []),
    linearityLine,
    '',
    '<details><summary>Wall time per token (for context; loopback, server-bound at times)</summary>',
    '',
    wallTable,
    '',
    '</details>',
  ].join('\n');

  return {
    json: {
      options,
      targets: { ratio: TARGET_RATIO, linearity: TARGET_LINEARITY },
      rows,
      linearity,
      linearitySpan,
      serverCpuUsPerToken: serverUs,
      samples,
      failures,
    },
    markdown,
    failures,
  };
}

/** The section, for bench/run.ts. `overrides` come from the command line (`--runs`, `--sizes`). */
export function parseSection(overrides: { runs?: number; sizes?: number[]; clients?: ClientName[] } = {}): BenchSection {
  return {
    name: 'parse',
    description: 'CPU µs per streamed token: rxllm and the peer SDKs vs the raw undici + eventsource-parser floor',
    run: (context) => runParse(context, parseOptions(context.quick, overrides)),
  };
}
