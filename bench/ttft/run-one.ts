/**
 * One TTFT measurement, in a FRESH process: one contender, `--requests` sequential requests on one
 * keep-alive connection, the server answering at once (`fast` mode, `--tokens` tokens each).
 *
 *   node --import tsx bench/ttft/run-one.ts --client openai-node --base-url http://127.0.0.1:PORT/v1 --requests 200
 *
 * A sample is `process.hrtime.bigint()` from just before the contender's call (`consume()`) to the
 * moment the first text delta reaches the consumer; each stream is then read to its end and
 * checked (deltas, chars). `--warmup` requests first (connection, JIT, lazy imports), not counted.
 *
 * Prints one JSON line (`TtftResult`) on stdout.
 */
import { parseArgs } from 'node:util';
import { CLIENTS, isClientName } from '../clients/index';
import { nowNs } from '../clients/types';
import { quantile } from '../lib/stats';
import { TOKEN_TEXT } from '../lib/wire';

export interface TtftResult {
  readonly client: string;
  readonly requests: number;
  readonly tokens: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly minUs: number;
  readonly maxUs: number;
  readonly meanUs: number;
  /** First delta → end of stream, median (the rest of the short answer). */
  readonly restP50Us: number;
}

const { values } = parseArgs({
  options: {
    client: { type: 'string' },
    'base-url': { type: 'string' },
    requests: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    tokens: { type: 'string', default: '20' },
  },
});

function fail(message: string): never {
  process.stderr.write(`ttft run-one: ${message}\n`);
  process.exit(1);
}

const name = values.client ?? fail('--client is required');
if (!isClientName(name)) fail(`unknown client "${name}"`);
const baseURL = values['base-url'] ?? fail('--base-url is required');
const requests = Number(values.requests);
const warmup = Number(values.warmup);
const tokens = Number(values.tokens);

const client = await CLIENTS[name](baseURL);
const ttft = new Float64Array(requests);
const rest = new Float64Array(requests);
for (let i = -warmup; i < requests; i++) {
  let first = 0;
  const start = nowNs();
  const { deltas, chars } = await client.consume(tokens, { onFirstDelta: () => void (first = nowNs()) });
  const end = nowNs();
  if (deltas !== tokens || chars !== tokens * TOKEN_TEXT.length) fail(`${name}: expected ${tokens} deltas, got ${deltas} (${chars} chars)`);
  if (i >= 0) {
    ttft[i] = (first - start) / 1000;
    rest[i] = (end - first) / 1000;
  }
}
await client.close();
ttft.sort();
rest.sort();
const result: TtftResult = {
  client: name,
  requests,
  tokens,
  p50Us: quantile(ttft, 0.5),
  p90Us: quantile(ttft, 0.9),
  p99Us: quantile(ttft, 0.99),
  minUs: ttft[0]!,
  maxUs: ttft[requests - 1]!,
  meanUs: ttft.reduce((a, b) => a + b, 0) / requests,
  restP50Us: quantile(rest, 0.5),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
