/**
 * One throughput measurement, in a FRESH process: one contender consuming `--concurrency` streams
 * of `--tokens` tokens at once (the server's `fast` mode); a round's wall time runs from the first
 * call to the last stream's end.
 *
 *   node --import tsx bench/throughput/run-one.ts --client raw --concurrency 50 --tokens 300 --base-url http://127.0.0.1:PORT/v1
 *
 * 1. Warm-up: rounds of the same concurrency with `--warmup-tokens` tokens per stream (JIT, lazy
 *    imports, the pool's sockets opened) until `--warmup-min-tokens` tokens have streamed or
 *    `--warmup-cpu-ms` of CPU went into them, whichever comes first (at least one round). A process
 *    that measured its second round ever would mostly measure V8 compiling its code: in the first
 *    rounds after start more than half the process's CPU is on V8's helper threads (optimizing
 *    compiler, GC), and how much depends on how much code a contender runs, not on its per-token
 *    cost (bench/README.md, "Profiles"). The floor settles after ~100k tokens (7 rounds of
 *    50 × 300); a peer's first round alone is more CPU than the floor's whole warm-up, and its
 *    per-token cost dwarfs the JIT's. Warm-up rounds have the measured rounds' shape by default:
 *    rounds of shorter streams warm up less (per-token cost still falling after 250k tokens of
 *    100-token streams).
 * 2. Measured: rounds of `--tokens` tokens per stream until `--max-rounds` rounds or,
 *    after at least one, `--min-cpu-ms` of CPU (`--rounds N`: exactly N). tokens/s = all measured
 *    tokens ÷ the sum of their rounds' wall times; CPU per token = process CPU ÷ those tokens.
 *
 * Diagnostics: `--profile <file>` writes a CPU profile of the measured rounds alone (the profiler
 * adds overhead: read its shares, not that run's tokens/s); `--threads` (Linux) splits the
 * measured CPU into the main thread and the others.
 *
 *   node bench/…/throughput/run-one.mjs --client rxllm --base-url … --rounds 10 --profile /tmp/rx-1.cpuprofile
 *
 * Prints one JSON line (`ThroughputResult`) on stdout.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { CLIENTS, isClientName, type BenchClient } from '../clients/index';
import { TOKEN_TEXT } from '../lib/wire';

export interface RoundResult {
  readonly wallMs: number;
  readonly cpuUsPerToken: number;
}

export interface ThroughputResult {
  readonly client: string;
  readonly concurrency: number;
  readonly tokensPerStream: number;
  /** Warm-up rounds (of `warmupTokensPerStream`-token streams) and the tokens they streamed. */
  readonly warmupRounds: number;
  readonly warmupTokens: number;
  /** Measured rounds of `concurrency` streams. */
  readonly rounds: number;
  readonly totalTokens: number;
  /** Sum of the measured rounds' wall times. */
  readonly wallMs: number;
  readonly tokensPerSec: number;
  /** Client-process CPU (user + system) per token over the measured rounds, µs. */
  readonly cpuUsPerToken: number;
  /** Each warm-up round, then each measured round. */
  readonly warmup: readonly RoundResult[];
  readonly measured: readonly RoundResult[];
  /** `--threads`: CPU ms of the measured region, main thread and other threads (Linux, 10 ms ticks). */
  readonly threadCpuMs?: Readonly<Record<string, number>>;
}

const { values } = parseArgs({
  options: {
    client: { type: 'string' },
    'base-url': { type: 'string' },
    concurrency: { type: 'string', default: '50' },
    tokens: { type: 'string', default: '300' },
    'warmup-tokens': { type: 'string', default: '300' },
    'warmup-min-tokens': { type: 'string', default: '100000' },
    'warmup-cpu-ms': { type: 'string', default: '700' },
    'max-rounds': { type: 'string', default: '3' },
    'min-cpu-ms': { type: 'string', default: '300' },
    rounds: { type: 'string' },
    profile: { type: 'string' },
    'profile-interval-us': { type: 'string', default: '50' },
    threads: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  process.stderr.write(`throughput run-one: ${message}\n`);
  process.exit(1);
}

const name = values.client ?? fail('--client is required');
if (!isClientName(name)) fail(`unknown client "${name}"`);
const baseURL = values['base-url'] ?? fail('--base-url is required');
const concurrency = Number(values.concurrency);
const tokens = Number(values.tokens);
const warmupTokens = Number(values['warmup-tokens']);
const warmupMinTokens = Number(values['warmup-min-tokens']);
const warmupCpuUs = Number(values['warmup-cpu-ms']) * 1000;
const fixedRounds = values.rounds !== undefined ? Number(values.rounds) : undefined;
const maxRounds = fixedRounds ?? Number(values['max-rounds']);
const minCpuUs = Number(values['min-cpu-ms']) * 1000;

/** CPU ms of the main (JS) thread and of all other threads (V8's GC and compiler helpers, libuv's pool). */
function threadCpuMs(): Map<string, number> {
  const byKind = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime, in 10 ms ticks
      const kind = Number(tid) === process.pid ? 'main' : 'other threads';
      byKind.set(kind, (byKind.get(kind) ?? 0) + ticks * 10);
    } catch {
      // the thread exited
    }
  }
  return byKind;
}

const cpuOf = (usage: NodeJS.CpuUsage): number => usage.user + usage.system;

/** One round: `concurrency` streams of `perStream` tokens at once, every one checked. */
async function round(client: BenchClient, perStream: number): Promise<RoundResult & { cpuUs: number }> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: concurrency }, () => client.consume(perStream)));
  const wallMs = performance.now() - start;
  const cpuUs = cpuOf(process.cpuUsage(cpuStart));
  for (const { deltas, chars } of results) {
    if (deltas !== perStream || chars !== perStream * TOKEN_TEXT.length) fail(`${name}: expected ${perStream} deltas, got ${deltas} (${chars} chars)`);
  }
  return { wallMs: Math.round(wallMs * 10) / 10, cpuUsPerToken: Math.round((cpuUs / (concurrency * perStream)) * 100) / 100, cpuUs };
}

const client = await CLIENTS[name](baseURL, { concurrency });

const warmup: RoundResult[] = [];
let warmupCpu = 0;
while (warmup.length === 0 || (warmup.length * concurrency * warmupTokens < warmupMinTokens && warmupCpu < warmupCpuUs)) {
  const { cpuUs, ...result } = await round(client, warmupTokens);
  warmup.push(result);
  warmupCpu += cpuUs;
}

// No forced gc() here: a full GC shrinks the young generation, and the first round after it pays
// for growing it again (measured: +30–80% CPU in that round). The measured rounds pay for their
// own garbage, as every round in a long-running process does.
const profiler = values.profile !== undefined ? new Session() : undefined;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: Number(values['profile-interval-us']) });
  await profiler.post('Profiler.start');
}
const threadsBefore = values.threads ? threadCpuMs() : undefined;
const measured: RoundResult[] = [];
let measuredCpu = 0;
let measuredWall = 0;
while (measured.length < maxRounds && (fixedRounds !== undefined || measured.length === 0 || measuredCpu < minCpuUs)) {
  const { cpuUs, ...result } = await round(client, tokens);
  measured.push(result);
  measuredCpu += cpuUs;
  measuredWall += result.wallMs;
}
const threads = threadsBefore && Object.fromEntries([...threadCpuMs()].map(([kind, ms]) => [kind, ms - (threadsBefore.get(kind) ?? 0)]));
if (profiler) {
  const { profile } = await profiler.post('Profiler.stop');
  writeFileSync(values.profile!, JSON.stringify(profile));
  profiler.disconnect();
}
await client.close();

const totalTokens = concurrency * tokens * measured.length;
const result: ThroughputResult = {
  client: name,
  concurrency,
  tokensPerStream: tokens,
  warmupRounds: warmup.length,
  warmupTokens: warmup.length * concurrency * warmupTokens,
  rounds: measured.length,
  totalTokens,
  wallMs: Math.round(measuredWall * 10) / 10,
  tokensPerSec: Math.round(totalTokens / (measuredWall / 1000)),
  cpuUsPerToken: measuredCpu / totalTokens,
  warmup,
  measured,
  ...(threads ? { threadCpuMs: threads } : {}),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
