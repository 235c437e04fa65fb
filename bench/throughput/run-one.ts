/**
 * One throughput measurement, in a FRESH process: one contender consuming `--concurrency` streams
 * of `--tokens` tokens at once (the server's `fast` mode), wall time from the first call to the
 * last stream's end. Warm-up: one round of the same concurrency with `--warmup-tokens` tokens per
 * stream (JIT, lazy imports, and the pool's sockets opened).
 *
 *   node --import tsx bench/throughput/run-one.ts --client raw --concurrency 50 --tokens 500 --base-url http://127.0.0.1:PORT/v1
 *
 * Prints one JSON line (`ThroughputResult`) on stdout.
 */
import { parseArgs } from 'node:util';
import { CLIENTS, isClientName, type BenchClient } from '../clients/index';
import { TOKEN_TEXT } from '../lib/wire';

export interface ThroughputResult {
  readonly client: string;
  readonly concurrency: number;
  readonly tokensPerStream: number;
  readonly totalTokens: number;
  readonly wallMs: number;
  readonly tokensPerSec: number;
  /** Client-process CPU (user + system) per token, µs. */
  readonly cpuUsPerToken: number;
}

const { values } = parseArgs({
  options: {
    client: { type: 'string' },
    'base-url': { type: 'string' },
    concurrency: { type: 'string', default: '50' },
    tokens: { type: 'string', default: '500' },
    'warmup-tokens': { type: 'string', default: '100' },
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

async function round(client: BenchClient, perStream: number): Promise<void> {
  const results = await Promise.all(Array.from({ length: concurrency }, () => client.consume(perStream)));
  for (const { deltas, chars } of results) {
    if (deltas !== perStream || chars !== perStream * TOKEN_TEXT.length) fail(`${name}: expected ${perStream} deltas, got ${deltas} (${chars} chars)`);
  }
}

const client = await CLIENTS[name](baseURL, { concurrency });
await round(client, warmupTokens);
(globalThis as { gc?: () => void }).gc?.();
const cpuStart = process.cpuUsage();
const start = performance.now();
await round(client, tokens);
const wallMs = performance.now() - start;
const cpu = process.cpuUsage(cpuStart);
await client.close();
const totalTokens = concurrency * tokens;
const result: ThroughputResult = {
  client: name,
  concurrency,
  tokensPerStream: tokens,
  totalTokens,
  wallMs: Math.round(wallMs * 10) / 10,
  tokensPerSec: Math.round(totalTokens / (wallMs / 1000)),
  cpuUsPerToken: (cpu.user + cpu.system) / totalTokens,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
