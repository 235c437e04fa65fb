/**
 * Section `parse`: CPU per streamed token. Each contender consumes the same fast-mode stream in
 * fresh processes (`run-one.ts`); rounds interleave sizes and contenders (the order flips every
 * round) so drift on a shared machine hits everyone alike. Figures are CPU µs per token (user +
 * system of the client process; the server runs in its own process), median and min–max over
 * the runs, the ratio to the raw floor per size, and linearity (per-token cost at the largest
 * size ÷ at the smallest).
 *
 * The peer SDKs cost 10–40× the floor per token, so they get a smaller measuring budget (one
 * stream at 20k and 100k tokens, where a single stream is seconds of CPU) — see `peerArgs`.
 */
import { PEERS, type ClientName } from '../clients/index';
import { here, runChildJson } from '../lib/child';
import type { BenchSection, SectionContext, SectionResult } from '../lib/section';
import { fmt, markdownTable, summarize, type Summary } from '../lib/stats';
import type { RunOneResult } from './run-one';

/** Targets (reported, never asserted): rxllm within 1.3× of raw, and within 1.2× of itself from 1k to 100k. */
export const TARGET_RATIO = 1.3;
export const TARGET_LINEARITY = 1.2;

export interface ParseOptions {
  readonly sizes: readonly number[];
  /** Rounds for raw and rxllm. */
  readonly runs: number;
  /** Rounds (the first ones) in which the peers take part too. */
  readonly peerRuns: number;
  readonly clients: readonly ClientName[];
  /** run-one.ts arguments (warm-up and measuring budget) by contender, then by size. */
  readonly runOneArgs: Readonly<Record<string, Readonly<Record<number, readonly string[]>>>>;
}

export interface ParseSample extends RunOneResult {
  readonly round: number;
  /** Server CPU over this child's whole life (warm-up included) ÷ all tokens it streamed. */
  readonly serverCpuUsPerToken: number;
}

const QUICK_ARGS = ['--warmup', '2', '--warmup-tokens', '0', '--warmup-cpu-ms', '20', '--min-cpu-ms', '20'];
const QUICK_PEER_ARGS = ['--warmup', '1', '--warmup-tokens', '0', '--warmup-cpu-ms', '20', '--min-cpu-ms', '20'];

/**
 * A peer's budget at one size. The floor's default (≥ 200k warm-up tokens, ≥ 500 ms measured)
 * would be a minute of CPU per process for the slowest peer, so: at 100k, one stream and no
 * warm-up (a 100k-token stream warms itself up: its first few thousand tokens are a few per cent
 * of it); at 20k, one warm-up stream and one measured; below, ≥ 2 warm-up streams, 10k tokens and
 * 300 ms of CPU, then ≥ 300 ms measured.
 */
function peerArgs(tokens: number): readonly string[] {
  if (tokens >= 100_000) return ['--warmup', '0', '--warmup-tokens', '0', '--warmup-cpu-ms', '0', '--streams', '1'];
  if (tokens >= 20_000) return ['--warmup', '1', '--warmup-tokens', '0', '--warmup-cpu-ms', '0', '--streams', '1'];
  return ['--warmup', '2', '--warmup-tokens', '10000', '--warmup-cpu-ms', '300', '--min-cpu-ms', '300'];
}

export function parseOptions(quick: boolean, overrides: { runs?: number; sizes?: number[]; clients?: ClientName[] } = {}): ParseOptions {
  const sizes = overrides.sizes ?? (quick ? [1000] : [1000, 20_000, 100_000]);
  const runs = overrides.runs ?? (quick ? 1 : 5);
  const clients = overrides.clients ?? ['raw', 'rxllm', ...PEERS];
  const runOneArgs: Record<string, Record<number, readonly string[]>> = {};
  for (const client of clients) {
    const peer = PEERS.includes(client);
    runOneArgs[client] = Object.fromEntries(sizes.map((tokens) => [tokens, quick ? (peer ? QUICK_PEER_ARGS : QUICK_ARGS) : peer ? peerArgs(tokens) : []]));
  }
  return { sizes, runs, peerRuns: Math.min(runs, 5), clients, runOneArgs };
}

const RUN_ONE = here(import.meta.url, './run-one.ts');

export async function runParse(context: SectionContext, options: ParseOptions): Promise<SectionResult> {
  const { server } = context;
  const samples: ParseSample[] = [];
  const failures: string[] = [];
  for (let round = 0; round < options.runs; round++) {
    for (const tokens of options.sizes) {
      const present = options.clients.filter((client) => round < options.peerRuns || !PEERS.includes(client));
      const order = round % 2 === 0 ? present : [...present].reverse();
      for (const client of order) {
        const args = ['--client', client, '--tokens', String(tokens), '--base-url', server.baseURL, ...(options.runOneArgs[client]?.[tokens] ?? [])];
        const before = await server.cpuUsage();
        try {
          const result = await runChildJson<RunOneResult>(RUN_ONE, args, { nodeFlags: ['--expose-gc'] });
          const after = await server.cpuUsage();
          const served = (result.warmupStreams + result.streams) * tokens;
          const serverCpuUsPerToken = (after.user + after.system - before.user - before.system) / served;
          samples.push({ ...result, round, serverCpuUsPerToken });
          context.log(
            `parse  round ${round + 1}/${options.runs}  ${String(tokens).padStart(6)} tok  ${client.padEnd(11)} ${fmt(result.cpuUsPerToken, 3)} µs/tok CPU  ` +
              `(K=${result.streams}, warm-up ${result.warmupStreams}, wall ${fmt(result.wallUsPerToken, 3)} µs/tok, server ${fmt(serverCpuUsPerToken, 3)} µs/tok)`,
          );
        } catch (error) {
          const message = `parse: ${client} at ${tokens} tokens failed: ${error instanceof Error ? error.message : String(error)}`;
          failures.push(message);
          context.log(message);
        }
      }
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
      server: summarize(samples.filter((s) => s.tokens === tokens).map((s) => s.serverCpuUsPerToken)),
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
  const peerRuns = Math.min(options.peerRuns, options.runs);
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
          `Peer SDKs, same streams, same rounds (${peerRuns} fresh process${peerRuns === 1 ? '' : 'es'} per cell; ` +
            'one measured stream per process at 20k and 100k tokens, no warm-up stream at 100k): CPU µs per token, median (min–max), ' +
            'and ×raw = ratio of medians to the floor above.',
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
