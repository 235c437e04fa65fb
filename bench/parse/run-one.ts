/**
 * One measurement, in a FRESH process: one contender, one stream size.
 *
 *   node --import tsx bench/parse/run-one.ts --client rxllm --tokens 100000 --base-url http://127.0.0.1:PORT/v1
 *
 * `--tokens 100000,20000,1000 --warmup-size 1000` measures the sizes in turn in this one process
 * (the warm-up with 1000-token streams; each later size is also warmed up by the ones before it)
 * and prints an array — how the peer SDKs are measured, for whom a fresh, fully warmed process
 * per size would cost minutes.
 *
 * 1. Warm-up: at least `--warmup` streams (default 3), `--warmup-tokens` tokens (default 200k)
 *    and `--warmup-cpu-ms` of CPU (default 300), so small streams get the same JIT warm-up as
 *    big ones (on a 2-core EPYC VM the per-token cost settles after ~150-200k tokens).
 * 2. K = enough streams for `--min-cpu-ms` of CPU (default 500), estimated from the warm-up
 *    (or fixed with `--streams K`; 1 when there was no warm-up).
 * 3. `gc()` if exposed, then `process.cpuUsage()` (user + system, whole process) and wall time
 *    around consuming the stream K times. Every stream is checked: `deltas === tokens` and
 *    `chars === tokens * 4`; a mismatch exits 1.
 *
 * Prints one JSON line (`RunOneResult`, or an array of them for several sizes) on stdout.
 */
import { parseArgs } from 'node:util';
import { CLIENTS, isClientName, type BenchClient } from '../clients/index';
import { TOKEN_TEXT } from '../lib/wire';

export interface RunOneResult {
  readonly client: string;
  readonly tokens: number;
  readonly warmupStreams: number;
  /** Tokens per warm-up stream (`--warmup-size`, else this size). */
  readonly warmupSize: number;
  /** K: streams in the measured region. */
  readonly streams: number;
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
  readonly cpuUs: number;
  readonly wallUs: number;
  /** (user + system) / (K × tokens). */
  readonly cpuUsPerToken: number;
  readonly wallUsPerToken: number;
  readonly heapUsedMb: number;
  readonly pid: number;
}

const { values } = parseArgs({
  options: {
    client: { type: 'string' },
    tokens: { type: 'string' },
    'base-url': { type: 'string' },
    warmup: { type: 'string', default: '3' },
    'warmup-tokens': { type: 'string', default: '200000' },
    'warmup-cpu-ms': { type: 'string', default: '300' },
    'min-cpu-ms': { type: 'string', default: '500' },
    streams: { type: 'string' },
    'warmup-size': { type: 'string' },
  },
});

function fail(message: string): never {
  process.stderr.write(`run-one: ${message}\n`);
  process.exit(1);
}

const name = values.client ?? fail('--client is required');
if (!isClientName(name)) fail(`unknown client "${name}" (have: ${Object.keys(CLIENTS).join(', ')})`);
const sizes = (values.tokens ?? '').split(',').map(Number);
if (sizes.some((tokens) => !Number.isInteger(tokens) || tokens <= 0)) fail('--tokens must be positive integers');
const baseURL = values['base-url'] ?? fail('--base-url is required');
const warmupStreams = Number(values.warmup);
const warmupTokens = Number(values['warmup-tokens']);
const warmupCpuUs = Number(values['warmup-cpu-ms']) * 1000;
const minCpuUs = Number(values['min-cpu-ms']) * 1000;
const fixedStreams = values.streams !== undefined ? Number(values.streams) : undefined;

async function once(client: BenchClient, tokens: number): Promise<void> {
  const { deltas, chars } = await client.consume(tokens);
  const expectedChars = tokens * TOKEN_TEXT.length;
  if (deltas !== tokens || chars !== expectedChars) {
    fail(`${name}: expected ${tokens} deltas / ${expectedChars} chars, got ${deltas} / ${chars}`);
  }
}

const cpuOf = (usage: NodeJS.CpuUsage): number => usage.user + usage.system;

const client = await CLIENTS[name](baseURL);

// Warm-up, with streams of `--warmup-size` tokens (default: the first size); the per-token CPU
// estimate comes from its last streams (the most optimized code).
const first = values['warmup-size'] !== undefined ? Number(values['warmup-size']) : sizes[0]!;
const warmStart = process.cpuUsage();
const warmCosts: number[] = [];
while (warmCosts.length < warmupStreams || warmCosts.length * first < warmupTokens || cpuOf(process.cpuUsage(warmStart)) < warmupCpuUs) {
  const before = process.cpuUsage();
  await once(client, first);
  warmCosts.push(cpuOf(process.cpuUsage(before)));
  if (warmCosts.length >= 100_000) break;
}
const warmed = warmCosts.length;
const late = warmCosts.slice(-Math.max(1, Math.min(8, warmed >> 1)));
// No warm-up (`--warmup 0 --warmup-tokens 0 --warmup-cpu-ms 0`) and no `--streams`: one stream.
let perTokenUs = late.length > 0 ? late.reduce((a, b) => a + b, 0) / late.length / first : Number.POSITIVE_INFINITY;

const results: RunOneResult[] = [];
for (const [i, tokens] of sizes.entries()) {
  // Later sizes: K from the per-token cost just measured (the previous size was their warm-up).
  const perStreamUs = perTokenUs * tokens;
  const streams = fixedStreams ?? Math.max(1, Math.min(100_000, Math.ceil(minCpuUs / Math.max(1, perStreamUs))));

  (globalThis as { gc?: () => void }).gc?.();

  const cpuStart = process.cpuUsage();
  const wallStart = process.hrtime.bigint();
  for (let k = 0; k < streams; k++) await once(client, tokens);
  const wallUs = Number(process.hrtime.bigint() - wallStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);

  const total = streams * tokens;
  perTokenUs = cpuOf(cpu) / total;
  results.push({
    client: name,
    tokens,
    warmupStreams: i === 0 ? warmed : 0,
    warmupSize: first,
    streams,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    cpuUs: cpuOf(cpu),
    wallUs: Math.round(wallUs),
    cpuUsPerToken: perTokenUs,
    wallUsPerToken: wallUs / total,
    heapUsedMb: Math.round(process.memoryUsage().heapUsed / 1e5) / 10,
    pid: process.pid,
  });
}
await client.close();
process.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results)}\n`);
