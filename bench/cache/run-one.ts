/**
 * One cache measurement, in a FRESH process (`bench/cache/index.ts` spawns it).
 *
 *   node --expose-gc --import tsx bench/cache/run-one.ts --mode hit --tokens 500 --hits 20000
 *   node --expose-gc --import tsx bench/cache/run-one.ts --mode store --policy lfu --entries 10000 --ops 1000000
 *
 * `hit`: a `cache(memoryStore())` hit on a stored `--tokens`-token answer with `replay: 'instant'`
 * (`--fresh`: a new stream per hit, whose key is hashed inside the measurement);
 * each sample is `process.hrtime.bigint()` from the `subscribe()` call to the `finish` event. The
 * source is a real `createEventStream` whose I/O must never start (checked), so a sample covers
 * the request event, the key (canonical JSON + SHA-256 of the request), the store lookup, the
 * notice and the replay of every event. `--warmup` hits first, then `gc()`, then `--hits` samples.
 *
 * `store`: `memoryStore({ eviction, maxEntries })` over a key space twice its size (so evictions
 * run all the time, and about half the gets hit): first `--ops` sets, then `--ops` gets, keys from
 * a precomputed random sequence; ops/s of each phase.
 *
 * `all`: every cell above, one after the other in this process (`--reverse`: in the opposite order)
 * — what the full run does, one fresh process per round, the order flipping every round.
 *
 * Warm-ups: `--warmup` hits before a hit cell's samples; `--store-warmup` set+get pairs (evicting
 * throughout) before a store cell's timed phases, then the store is cleared. Each cell starts with
 * a `gc()`, so what an earlier cell left behind is not collected inside a later one's timing.
 *
 * Prints one JSON line on stdout.
 */
import { parseArgs } from 'node:util';
import type { Observable } from 'rxjs';
import { memoryStore, type EvictionPolicy, type LlmEvent, type LlmRequestInput, type ModelInfo } from '../../src/index';
import { createEventStream } from '../../src/providers/index';
import { cache } from '../../operators/index';

export interface HitResult {
  readonly mode: 'hit';
  /** A new stream per hit (key hashed each time) rather than one stream resubscribed (key reused). */
  readonly fresh: boolean;
  readonly tokens: number;
  readonly hits: number;
  readonly requestBytes: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly meanUs: number;
}

export interface StoreResult {
  readonly mode: 'store';
  readonly policy: EvictionPolicy;
  readonly entries: number;
  readonly ops: number;
  readonly setsPerSec: number;
  readonly getsPerSec: number;
  readonly hitRatio: number;
  readonly evictions: number;
}

const { values } = parseArgs({
  options: {
    mode: { type: 'string' },
    tokens: { type: 'string', default: '500' },
    hits: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '5000' },
    policy: { type: 'string', default: 'lru' },
    entries: { type: 'string', default: '10000' },
    ops: { type: 'string', default: '1000000' },
    fresh: { type: 'boolean', default: false },
    'store-warmup': { type: 'string', default: '50000' },
    reverse: { type: 'boolean', default: false },
  },
});

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const fail = (message: string): never => {
  process.stderr.write(`cache run-one: ${message}\n`);
  process.exit(1);
};

function hitLatency(tokens: number, hits: number, warmup: number, fresh: boolean): HitResult {
  const model: ModelInfo = { provider: 'openai', id: 'gpt-4o-mini', name: 'openai:gpt-4o-mini', baseURL: 'https://api.openai.com/v1' };
  const input: LlmRequestInput = {
    messages: [
      { role: 'system', content: 'You are a concise assistant for a developer-tools company. Answer in plain English, cite the docs page when you can, and never invent an API. '.repeat(2) },
      { role: 'user', content: 'How do I cancel a streaming completion when the user navigates away from the page, and does the provider still bill me?' },
    ],
    temperature: 0,
    maxOutputTokens: 800,
    metadata: { user: 'u_123', feature: 'docs-chat' },
  };
  let started = 0;
  const answer: LlmEvent[] = [
    { type: 'response', status: 200, requestId: 'req_1', headers: { 'x-request-id': 'req_1' } },
    ...Array.from({ length: tokens }, (_, i): LlmEvent => ({ type: 'text', text: i === 0 ? 'Token' : ` tok${i}` })),
    { type: 'usage', usage: { inputTokens: 80, outputTokens: tokens, totalTokens: 80 + tokens } },
    { type: 'finish', reason: 'stop', rawReason: 'stop' },
  ];
  // Filled once through the operator (a miss on a synchronous source), then only hits.
  let filling = true;
  const source = createEventStream(input, model, (subscriber) => {
    if (!filling) started++;
    for (const event of answer) subscriber.next(event);
    subscriber.complete();
  });
  const store = memoryStore();
  const operator = cache(store);
  source.pipe(operator).subscribe();
  filling = false;
  // `fresh`: a new stream per hit, as `model.stream(req)` per call makes (the request parsed before
  // the clock starts, its key derived — canonical JSON + SHA-256 — inside it). Otherwise the same
  // stream resubscribed (a retry, a second subscriber): the key comes from the last-request memo.
  const stream = (): Observable<LlmEvent> =>
    fresh
      ? createEventStream(input, model, () => {
          started++;
        }).pipe(operator)
      : source.pipe(operator);

  const samples = new Float64Array(hits);
  let textEvents = 0;
  let finishedAt = 0n;
  const observer = {
    next: (event: LlmEvent) => {
      if (event.type === 'text') textEvents++;
      else if (event.type === 'finish') finishedAt = process.hrtime.bigint();
    },
  };
  const once = (): number => {
    textEvents = 0;
    const cached = stream();
    const start = process.hrtime.bigint();
    cached.subscribe(observer);
    if (textEvents !== tokens) fail(`a hit replayed ${textEvents} text events, expected ${tokens}`);
    return Number(finishedAt - start) / 1000;
  };
  for (let i = 0; i < warmup; i++) once();
  gc();
  for (let i = 0; i < hits; i++) samples[i] = once();
  if (started !== 0) fail(`the source's I/O started ${started} times on hits`);
  samples.sort();
  const at = (q: number): number => samples[Math.min(hits - 1, Math.floor(q * hits))]!;
  const mean = samples.reduce((a, b) => a + b, 0) / hits;
  const requestBytes = JSON.stringify(input).length;
  return { mode: 'hit', fresh, tokens, hits, requestBytes, p50Us: at(0.5), p90Us: at(0.9), p99Us: at(0.99), maxUs: samples[hits - 1]!, meanUs: mean };
}

function storeOps(policy: EvictionPolicy, entries: number, ops: number, warmup: number): StoreResult {
  const store = memoryStore({ eviction: policy, maxEntries: entries, maxBytes: Infinity });
  const keys = Array.from({ length: entries * 2 }, (_, i) => `rxllm:cache:${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}${i}`);
  const value = { v: 1, e: [{ type: 'text', text: 'hello' }], t: [0] };
  // A skewed key sequence (squared uniform: low indices are hot), so LFU and LRU differ from FIFO.
  let seed = 42;
  const random = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
  const sequence = Uint32Array.from({ length: ops }, () => Math.floor(random() ** 2 * keys.length));
  // Warm-up: the set, get and eviction paths optimized (a few thousand calls each is enough for
  // V8; 50,000 pairs at twice the capacity evict tens of thousands of times).
  for (let i = 0; i < Math.min(ops, warmup); i++) {
    store.set(keys[sequence[i]!]!, value);
    store.get(keys[sequence[ops - 1 - i]!]!);
  }
  store.clear();
  gc();
  // The store's counters run on through clear(): evictions are counted from here.
  const initial = store.stats();
  let start = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) store.set(keys[sequence[i]!]!, value);
  const setNs = Number(process.hrtime.bigint() - start);
  const before = store.stats();
  start = process.hrtime.bigint();
  for (let i = ops - 1; i >= 0; i--) store.get(keys[sequence[i]!]!);
  const getNs = Number(process.hrtime.bigint() - start);
  const after = store.stats();
  const hits = after.hits - before.hits;
  return {
    mode: 'store', policy, entries, ops,
    setsPerSec: ops / (setNs / 1e9),
    getsPerSec: ops / (getNs / 1e9),
    hitRatio: hits / ops,
    evictions: before.evictions - initial.evictions,
  };
}

const mode = values.mode ?? fail('--mode hit|store|all is required');
const hit = (fresh: boolean): HitResult => hitLatency(Number(values.tokens), Number(values.hits), Number(values.warmup), fresh);
const store = (policy: EvictionPolicy): StoreResult => storeOps(policy, Number(values.entries), Number(values.ops), Number(values['store-warmup']));
const cells: ReadonlyArray<() => HitResult | StoreResult> = [() => hit(false), () => hit(true), () => store('lru'), () => store('lfu'), () => store('fifo')];
const result: HitResult | StoreResult | Array<HitResult | StoreResult> =
  mode === 'hit'
    ? hit(values.fresh)
    : mode === 'store'
      ? store(values.policy as EvictionPolicy)
      : mode === 'all' // every cell in this one process (one process per round)
        ? (values.reverse ? [...cells].reverse() : cells).map((cell) => {
            gc();
            return cell();
          })
        : fail(`unknown mode "${mode}"`);
process.stdout.write(`${JSON.stringify(result)}\n`);
