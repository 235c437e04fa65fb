/**
 * Section `parse`: CPU per streamed token. Each contender consumes the same fast-mode stream in
 * fresh processes (`run-one.ts`); rounds interleave sizes and contenders (the order flips every
 * round) so drift on a shared machine hits everyone alike. Figures are CPU µs per token (user +
 * system of the client process; the server runs in its own process), median and min–max over
 * the runs, the ratio to the raw floor per size, and linearity (per-token cost at the largest
 * size ÷ at the smallest).
 *
 * The peer SDKs cost 5–40× the floor per token, so they get a smaller measuring budget: one
 * process per round measures every size in turn — see `PEER_ARGS`.
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
  /** Rounds. */
  readonly runs: number;
  /** Rounds (the first ones) in which the peers take part. */
  readonly peerRuns: number;
  readonly clients: readonly ClientName[];
  /** run-one.ts arguments (warm-up and measuring budget) of raw and rxllm: one process per size. */
  readonly runOneArgs: readonly string[];
  /** run-one.ts arguments of the peers: one process per round measures every size in turn. */
  readonly peerArgs: readonly string[];
}

export interface ParseSample extends RunOneResult {
  readonly round: number;
  /** Server CPU over this child's whole life (warm-up included) ÷ all tokens it streamed. */
  readonly serverCpuUsPerToken: number;
}

/**
 * The peers' budget. The floor's (a fresh process per size, ≥ 200k warm-up tokens, then ≥ 500 ms
 * measured) would be minutes of CPU per round for the slowest peer (~100 µs/token), so a peer's
 * process per round warms up on ≥ 10k tokens of 1k-token streams, then measures one 100k-token
 * stream, one 20k-token stream, and ≥ 200 ms of 1k-token streams, in that order: the largest
 * first, so that the 1k figure — where a peer still warming up would look worst — comes after
 * 120k tokens of warm-up (a peer's per-token cost settles after 10–20k tokens).
 */
const PEER_ARGS = ['--warmup', '2', '--warmup-tokens', '10000', '--warmup-cpu-ms', '200', '--min-cpu-ms', '200'];
const QUICK_ARGS = ['--warmup', '2', '--warmup-tokens', '0', '--warmup-cpu-ms', '20', '--min-cpu-ms', '20'];
const QUICK_PEER_ARGS = ['--warmup', '1', '--warmup-tokens', '0', '--warmup-cpu-ms', '20', '--min-cpu-ms', '20'];

/**
 * Full run: 5 rounds for raw and rxllm, 3 for the peers (≈ 25 s of CPU per round for the three,
 * the AI SDK's 100k-token stream alone ~9 s; two more rounds would cost the suite ~50 s of its
 * 6 minutes). `--runs N` sets both.
 */
export function parseOptions(quick: boolean, overrides: { runs?: number; sizes?: number[]; clients?: ClientName[] } = {}): ParseOptions {
  const runs = overrides.runs ?? (quick ? 1 : 5);
  return {
    sizes: overrides.sizes ?? (quick ? [1000] : [1000, 20_000, 100_000]),
    runs,
    peerRuns: overrides.runs ?? Math.min(runs, 3),
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
  const floor = options.clients.filter((client) => !PEERS.includes(client));
  const peers = options.clients.filter((client) => PEERS.includes(client));
  const sizes = [...options.sizes].sort((a, b) => a - b);
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
      const served = results.reduce((sum, r) => sum + (r.warmupStreams + r.streams) * r.tokens, 0);
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
  for (let round = 0; round < options.runs; round++) {
    for (const tokens of sizes) {
      for (const client of roundOrder(floor, round)) await measure(round, client, [tokens], options.runOneArgs);
    }
    if (round < options.peerRuns) {
      const descending = [...sizes].reverse();
      for (const client of roundOrder(peers, round)) await measure(round, client, descending, ['--warmup-size', String(sizes[0]), ...options.peerArgs]);
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
      // The floor's processes only: a peer's process spans every size.
      server: summarize(samples.filter((s) => s.tokens === tokens && !PEERS.includes(s.client as ClientName)).map((s) => s.serverCpuUsPerToken)),
      ratio: ratios['rxllm'] ?? Number.NaN,
      ratios,
      pairedRatio: summarize(paired),
    };
  });
  const first = rows[0];
  const last = rows[rows.length - 1];
  const linearity: Record<string, number> = {};
  for (const client of options.clients) {
    linearity[client] = first && last && rows.length > 1 ? last.cpu[client]!.median / first.cpu[client]!.median : Number.NaN;
  }

  const cell = (s: Summary | undefined, digits = 3): string => (s && s.n > 0 ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : 'n/a');
  const floor = options.clients.filter((c) => c === 'raw' || c === 'rxllm');
  const peers = options.clients.filter((c) => PEERS.includes(c));
  const table = markdownTable(
    ['tokens/stream', ...floor.map((c) => `${c} µs/tok`), 'rxllm/raw', 'paired ratio median (min–max)', 'server µs/tok'],
    rows.map((r) => [
      r.tokens.toLocaleString('en-US'),
      ...floor.map((c) => cell(r.cpu[c])),
      `**${fmt(r.ratio)}×**${r.ratio <= TARGET_RATIO ? '' : ' ⚠'}`,
      `${fmt(r.pairedRatio.median)} (${fmt(r.pairedRatio.min)}–${fmt(r.pairedRatio.max)})`,
      fmt(r.server.median, 3),
    ]),
    ['l'],
  );
  const peerTable = markdownTable(
    ['tokens/stream', 'raw µs/tok', 'rxllm ×raw', ...peers.flatMap((c) => [`${c} µs/tok`, `${c} ×raw`])],
    rows.map((r) => [
      r.tokens.toLocaleString('en-US'),
      fmt(r.cpu['raw']?.median ?? Number.NaN, 3),
      `${fmt(r.ratio)}×`,
      ...peers.flatMap((c) => [cell(r.cpu[c], 2), `**${fmt(r.ratios[c] ?? Number.NaN, 1)}×**`]),
    ]),
    ['l'],
  );
  const wallTable = markdownTable(
    ['tokens/stream', ...options.clients.map((c) => `${c} wall µs/tok`)],
    rows.map((r) => [r.tokens.toLocaleString('en-US'), ...options.clients.map((c) => cell(r.wall[c]))]),
    ['l'],
  );
  const linearityLine =
    first && last && rows.length > 1
      ? `Linearity (µs/token at ${last.tokens.toLocaleString('en-US')} ÷ at ${first.tokens.toLocaleString('en-US')}; ≤ ${TARGET_LINEARITY} is the target): ` +
        options.clients.map((c) => `${c} **${fmt(linearity[c]!)}×**`).join(', ')
      : 'Linearity: needs at least two sizes.';
  const markdown = [
    '## parse — CPU per streamed token',
    '',
    `Client-process CPU (user + system) per text delta, median (min–max) of ${options.runs} fresh process${options.runs === 1 ? '' : 'es'} per cell. ` +
      `The server runs in its own process. rxllm/raw = ratio of medians (target ≤ ${TARGET_RATIO}); paired ratio = rxllm÷raw within each round.`,
    '',
    table,
    '',
    ...(peers.length > 0
      ? [
          `Peer SDKs, same streams, same rounds: one fresh process per peer per round measures every size in turn ` +
            `(warm-up on ≥ 10k tokens of 1k-token streams, then one 100k stream, one 20k stream, ≥ 200 ms of 1k streams; see bench/README.md). ` +
            `CPU µs per token, median (min–max) of ${options.peerRuns} process${options.peerRuns === 1 ? '' : 'es'}, and ×raw = ratio of medians to the floor above.`,
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
