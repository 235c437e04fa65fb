/**
 * One memory measurement, in a FRESH process started with `--expose-gc`: one contender holding
 * `--streams` streams open at once. The base URL selects the server's `paced` mode (first token at
 * once, then `rate` tokens/s), so every stream stays open, idle and cheap for the whole measurement.
 *
 *   node --expose-gc --import tsx bench/memory/run-one.ts --client rxllm --streams 1000 \
 *     --base-url http://127.0.0.1:PORT/knobs/mode=paced,rate=1/v1
 *
 * 1. The contender is created (sized for `--streams` concurrent streams) and warmed up with three
 *    1-token streams (which a paced server answers at once), so lazy imports are done.
 * 2. Baseline: forced GCs until the heap stops shrinking, then `process.memoryUsage()` — this
 *    process, before any stream opens.
 * 3. `--streams` calls at once (`consume(--tokens)`), each reading its stream; wait until every
 *    one has received its first delta (or fail after `--open-timeout-ms`).
 * 4. The same GCs, `process.memoryUsage()` again; check that no stream has ended yet.
 * Per-stream figures are (loaded − baseline) ÷ streams. The process then exits (the server sees
 * every socket close).
 *
 * Prints one JSON line (`MemoryResult`) on stdout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CLIENTS, isClientName } from '../clients/index';

export interface MemorySnapshot {
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly rss: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export interface MemoryResult {
  readonly client: string;
  readonly streams: number;
  /** ms from the first call to the last stream's first delta. */
  readonly openMs: number;
  readonly baseline: MemorySnapshot;
  readonly loaded: MemorySnapshot;
  /** (loaded − baseline) / streams, in KB (1 KB = 1024 bytes). */
  readonly heapKbPerStream: number;
  readonly rssKbPerStream: number;
  readonly externalKbPerStream: number;
}

const { values } = parseArgs({
  options: {
    client: { type: 'string' },
    'base-url': { type: 'string' },
    streams: { type: 'string', default: '1000' },
    tokens: { type: 'string', default: '30' },
    'open-timeout-ms': { type: 'string', default: '25000' },
  },
});

function fail(message: string): never {
  process.stderr.write(`memory run-one: ${message}\n`);
  process.exit(1);
}

const name = values.client ?? fail('--client is required');
if (!isClientName(name)) fail(`unknown client "${name}"`);
const baseURL = values['base-url'] ?? fail('--base-url is required');
const streams = Number(values.streams);
const tokens = Number(values.tokens);
const openTimeoutMs = Number(values['open-timeout-ms']);
const gc = (globalThis as { gc?: () => void }).gc ?? fail('run with --expose-gc');

/** GC until the heap stops shrinking (3–6 full GCs, 25 ms apart, so freed pages can go back), then a snapshot. */
async function settle(): Promise<MemorySnapshot> {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 6; i++) {
    gc();
    await sleep(25);
    const used = process.memoryUsage().heapUsed;
    if (i >= 2 && used >= last * 0.999) break;
    last = used;
  }
  const { heapUsed, heapTotal, rss, external, arrayBuffers } = process.memoryUsage();
  return { heapUsed, heapTotal, rss, external, arrayBuffers };
}

const client = await CLIENTS[name](baseURL, { concurrency: streams });
for (let i = 0; i < 3; i++) {
  const { deltas } = await client.consume(1);
  if (deltas !== 1) fail(`${name}: warm-up stream gave ${deltas} deltas`);
}
const baseline = await settle();

let opened = 0;
let ended = 0;
let failure: unknown;
const started = performance.now();
let allOpen!: () => void;
const open = new Promise<void>((resolve) => (allOpen = resolve));
for (let i = 0; i < streams; i++) {
  client
    .consume(tokens, {
      onFirstDelta: () => {
        if (++opened === streams) allOpen();
      },
    })
    .then(
      () => void ended++,
      (error: unknown) => void (failure ??= error),
    );
}
const timeout = sleep(openTimeoutMs).then(() => 'timeout' as const);
if ((await Promise.race([open, timeout])) === 'timeout') fail(`${name}: only ${opened}/${streams} streams open after ${openTimeoutMs} ms${failure ? ` (${String(failure)})` : ''}`);
const openMs = performance.now() - started;
const loaded = await settle();
if (failure !== undefined) fail(`${name}: a stream failed: ${String(failure)}`);
if (ended > 0) fail(`${name}: ${ended} streams ended before the measurement (raise --tokens)`);

const per = (key: keyof MemorySnapshot): number => Math.round(((loaded[key] - baseline[key]) / streams / 1024) * 100) / 100;
const result: MemoryResult = {
  client: name,
  streams,
  openMs: Math.round(openMs),
  baseline,
  loaded,
  heapKbPerStream: per('heapUsed'),
  rssKbPerStream: per('rss'),
  externalKbPerStream: per('external'),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
