/**
 * The soak: many streams at once through the full pipeline against two mock servers that play
 * random faults, with random unsubscribes, every stream checked against its known answer and
 * every resource accounted for at the end. Used by `npm run soak` (bench/soak/run.ts: 5,000
 * streams at 200 concurrent) and by test/reliability/soak.test.ts (a short version in `npm test`).
 *
 * - **Answers.** Request `#n` asks "soak request #n"; both servers answer it with the same known
 *   deltas (`w0-n`, ` w1-n`, …; 4–20 of them), whoever answers. One stream in ten asks again for
 *   an earlier `n`: a cache hit, or a follower of a call in flight.
 * - **Pipeline**, innermost first (docs/concepts.md's order): `deadline` (first token 3 s, idle
 *   500 ms) → `rateLimit` (a shared limiter, 150 at once) → `retryBackoff` (2 retries, restart after
 *   output) → `fallback` (to the backup server, restart after output) → `budget` (a ledger per
 *   tenant, limits never reached) → `meter` → `cache` (a memory store).
 * - **Faults.** The primary server answers about one request in three with a fault: a reset
 *   before the headers or mid-stream, a stall (the idle deadline ends it), a 503, an HTML 502,
 *   a 429 (retry-after-ms 20, which also pauses the limiter), a truncation at a line boundary or
 *   mid-line, or a garbage frame (not retryable: such a stream errors). The backup faults one
 *   request in twenty (503, a reset, garbage).
 * - **Unsubscribes.** One stream in five is left: inside its `request` event, before the first
 *   byte (a microtask after subscribing), after its k-th text delta, or after a random 0–150 ms.
 * - **Checks per stream.** At most one terminal notification (exactly one unless left; a stream
 *   that neither ends nor is left within 60 s is "hung"); the text deltas, cut into attempts at
 *   each `reset: true` notice, are each a prefix of the known deltas — a repeated delta is
 *   counted as duplicated, any other mismatch as wrong; a completed stream's last attempt has
 *   them all (else the missing ones are lost). An audited transport counts calls started after
 *   their stream was left and calls never ended.
 * - **At the end.** No response still running on either server; the client's undici pool
 *   closed, then every server connection closed; no timer created by rxllm (or undici for it)
 *   and no TCP socket still alive; the heap after GC against the warm baseline (GC when exposed:
 *   `node --expose-gc`, or enabled at run time).
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Subscriber, type Observable } from 'rxjs';
import { Agent } from 'undici';
import { createLedger, createRateLimiter, LlmError, memoryStore, openaiCompatible, undiciTransport, withPrices, type LlmEvent, type Model } from '../../src/index';
import { budget, cache, deadline, fallback, meter, rateLimit, retryBackoff } from '../../operators/index';
import type { HttpSink, Transport } from '../../src/providers/index';
import { mulberry32 } from '../../src/core/random';
import { jsonReply, openaiChunks, startMockServer, type MockReply, type RecordedRequest } from '../../src/testing/index';
import { settleLeaks, trackHandles, type LiveHandle } from '../../test/reliability/helpers/handles';

export interface SoakOptions {
  /** Streams to run. */
  readonly streams: number;
  /** Streams running at once. */
  readonly concurrency: number;
  /** Seeds every random choice (faults, unsubscribes, repeats). @defaultValue 1 */
  readonly seed?: number;
  /** Streams run (and thrown away) first, to warm up before the heap baseline. @defaultValue min(200, streams) */
  readonly warmup?: number;
  /** Progress lines. @defaultValue none */
  readonly log?: (line: string) => void;
}

export type FaultKind = 'reset-before-headers' | 'reset-mid-stream' | 'stall' | '503' | 'html-502' | '429' | 'truncated-boundary' | 'truncated-mid-line' | 'garbage';
export type LeavePoint = 'on-request' | 'before-first-byte' | 'after-k-deltas' | 'after-random-ms';

export interface SoakReport {
  readonly date: string;
  readonly streams: number;
  readonly concurrency: number;
  readonly seed: number;
  readonly durationMs: number;
  /** Faults the servers played, by kind (primary and backup together), and requests served in all. */
  readonly faults: Record<FaultKind, number>;
  readonly faultsTotal: number;
  readonly requests: { readonly primary: number; readonly backup: number };
  readonly unsubscribes: Record<LeavePoint, number>;
  readonly outcomes: { readonly completed: number; readonly errored: number; readonly cancelled: number; readonly hung: number };
  /** Errors the errored streams ended with, by code. */
  readonly errorsByCode: Record<string, number>;
  readonly cacheHits: number;
  readonly retries: number;
  readonly fallbacks: number;
  readonly tokens: { readonly checked: number; readonly lost: number; readonly duplicated: number; readonly wrong: number };
  readonly contract: { readonly terminalViolations: number; readonly requestEventViolations: number; readonly callsAfterLeave: number };
  readonly handles: {
    /** Transport calls started and never ended, released or aborted. */
    readonly openCalls: number;
    /** Responses still being written by the servers once every stream had ended. */
    readonly openResponses: number;
    /** Server connections still open after the client's pool was closed. */
    readonly openConnections: number;
    /** rxllm timers pending the moment the last stream ended (the transport's release grace excepted). */
    readonly timersAtEnd: number;
    /** Timers created by rxllm (or by undici for it) still pending after the settle, and TCP sockets still open. */
    readonly timers: number;
    readonly sockets: number;
    readonly survivors: readonly LiveHandle[];
  };
  readonly heap: { readonly gc: boolean; readonly baselineMB: number; readonly afterMB: number; readonly deltaMB: number };
}

const FAULT_KINDS: readonly FaultKind[] = ['reset-before-headers', 'reset-mid-stream', 'stall', '503', 'html-502', '429', 'truncated-boundary', 'truncated-mid-line', 'garbage'];
const LEAVE_POINTS: readonly LeavePoint[] = ['on-request', 'before-first-byte', 'after-k-deltas', 'after-random-ms'];
/** Each fault's share of the primary's faults. */
const PRIMARY_FAULTS: ReadonlyArray<readonly [FaultKind, number]> = [
  ['reset-before-headers', 1], ['reset-mid-stream', 2], ['stall', 1], ['503', 2], ['html-502', 1], ['429', 2], ['truncated-boundary', 1], ['truncated-mid-line', 1], ['garbage', 0.5],
];
const BACKUP_FAULTS: ReadonlyArray<readonly [FaultKind, number]> = [['503', 1], ['reset-mid-stream', 1], ['garbage', 0.25]];
const PRIMARY_FAULT_RATE = 0.33;
const BACKUP_FAULT_RATE = 0.05;
const LEAVE_RATE = 0.2;
const REPEAT_RATE = 0.1;
const HUNG_AFTER_MS = 60_000;

/** The known answer to request `#n`. */
export function answerOf(n: number): string[] {
  const count = 4 + ((n * 7) % 17);
  return Array.from({ length: count }, (_, i) => `${i === 0 ? '' : ' '}w${i}-${n}`);
}

const PROMPT = /soak request #(\d+)/;
const idOfBody = (body: string | undefined): number | undefined => {
  const match = body === undefined ? null : PROMPT.exec(body);
  return match ? Number(match[1]) : undefined;
};

function weighted<T>(random: () => number, table: ReadonlyArray<readonly [T, number]>): T {
  const total = table.reduce((sum, [, w]) => sum + w, 0);
  let pick = random() * total;
  for (const [value, w] of table) if ((pick -= w) < 0) return value;
  return table[table.length - 1]![0];
}

const SSE_HEADERS = { 'content-type': 'text/event-stream' };
const NGINX_502 = '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>';

/** A server's reply to request `#n`: the known answer, or `fault` played on it. */
function replyFor(n: number, fault: FaultKind | undefined, random: () => number): MockReply {
  const deltas = answerOf(n);
  const frames = openaiChunks(deltas, { usage: { prompt_tokens: 12, completion_tokens: deltas.length } });
  const paced = { chunkDelayMs: Math.floor(random() * 4), firstChunkDelayMs: Math.floor(random() * 10) };
  const cut = 1 + Math.floor(random() * (deltas.length - 1)); // 1 … deltas.length - 1 deltas sent
  switch (fault) {
    case undefined:
      return { status: 200, headers: SSE_HEADERS, chunks: frames, ...paced };
    case 'reset-before-headers':
      return { closeBeforeHeaders: true };
    case 'reset-mid-stream':
      return { status: 200, headers: SSE_HEADERS, chunks: frames, ...paced, resetAfterChunks: cut };
    case 'stall':
      return { status: 200, headers: SSE_HEADERS, chunks: frames, ...paced, stallAfterChunks: cut };
    case '503':
      return jsonReply(503, { error: { message: 'The server is overloaded', type: 'server_error' } });
    case 'html-502':
      return { status: 502, headers: { 'content-type': 'text/html' }, body: NGINX_502 };
    case '429':
      return jsonReply(429, { error: { message: 'Rate limit reached', type: 'rate_limit_error' } }, { 'retry-after-ms': '20' });
    case 'truncated-boundary':
      return { status: 200, headers: SSE_HEADERS, chunks: frames.slice(0, cut), ...paced };
    case 'truncated-mid-line': {
      const next = frames[cut]!;
      return { status: 200, headers: SSE_HEADERS, chunks: [...frames.slice(0, cut), next.slice(0, Math.floor(next.length / 2))], ...paced };
    }
    case 'garbage':
      return { status: 200, headers: SSE_HEADERS, chunks: [...frames.slice(0, cut), 'data: {"choices":[{"delta":{"content":<garbage>\n\n', ...frames.slice(cut)], ...paced };
  }
}

/** The audit the soak's transport keeps: calls started after their stream was left, calls still open. */
interface Audit {
  open: number;
  afterLeave: number;
  readonly leftAt: Map<number, true>;
}

/** `inner` with every call counted from `send` to its end, abort or release. */
function auditedTransport(inner: Transport, audit: Audit): Transport {
  return {
    send(request, sink) {
      const id = idOfBody(request.body);
      if (id !== undefined && audit.leftAt.has(id) && !repeats.has(id)) audit.afterLeave++;
      audit.open++;
      let open = true;
      const done = (): void => {
        if (open) {
          open = false;
          audit.open--;
        }
      };
      const relay: HttpSink = {
        onResponse: (status, headers) => sink.onResponse(status, headers),
        onData: (chunk) => sink.onData(chunk),
        onEnd: () => {
          done();
          sink.onEnd();
        },
        onError: (error) => {
          done();
          sink.onError(error);
        },
      };
      const call = inner.send(request, relay);
      return {
        abort() {
          done();
          call.abort();
        },
        release() {
          done();
          call.release();
        },
      };
    },
  };
}
/** Ids asked for by more than one stream: a call after one of them was left is another stream's. */
const repeats = new Set<number>();

/** What one stream did. */
interface StreamResult {
  readonly outcome: 'completed' | 'errored' | 'cancelled' | 'hung';
  readonly error?: unknown;
}

interface Tally {
  checked: number;
  lost: number;
  duplicated: number;
  wrong: number;
  terminalViolations: number;
  requestEventViolations: number;
  cacheHits: number;
  retries: number;
  fallbacks: number;
}

/**
 * Checks one stream's events against its known answer, adding to `tally`. `completed`: the last
 * attempt must have every delta.
 */
function checkStream(n: number, events: readonly LlmEvent[], completed: boolean, tally: Tally): void {
  const answer = answerOf(n);
  const requests = events.filter((e) => e.type === 'request').length;
  if (requests !== 1 || events[0]?.type !== 'request') tally.requestEventViolations++;
  let attempt: string[] = [];
  const attempts = [attempt];
  for (const event of events) {
    if (event.type === 'cache' && event.status === 'hit') tally.cacheHits++;
    if (event.type === 'retry') tally.retries++;
    if (event.type === 'fallback') tally.fallbacks++;
    if ((event.type === 'retry' || event.type === 'fallback') && event.reset) attempts.push((attempt = []));
    if (event.type === 'text') attempt.push(event.text);
  }
  for (const deltas of attempts) {
    const seen = new Set<string>();
    deltas.forEach((delta, i) => {
      tally.checked++;
      if (seen.has(delta)) tally.duplicated++;
      else if (delta !== answer[i]) tally.wrong++;
      seen.add(delta);
    });
  }
  if (completed) {
    const last = attempts[attempts.length - 1]!;
    let kept = 0;
    while (kept < last.length && kept < answer.length && last[kept] === answer[kept]) kept++;
    tally.lost += answer.length - kept;
  }
}

/** `global.gc`, exposed by `--expose-gc` or turned on here. */
function gcFunction(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

async function heapAfterGc(gc: (() => void) | undefined): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed / (1024 * 1024);
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** `promise`, or undefined after `ms`; the timer is cleared either way (so it keeps nothing alive). */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      })]);
  } finally {
    clearTimeout(timer);
  }
}
async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadlineAt = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadlineAt) return false;
    await pause(10);
  }
  return true;
}

/** Runs the soak; never throws for a broken invariant — the report says what broke. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { streams, concurrency, seed = 1, log = () => undefined } = options;
  const warmup = options.warmup ?? Math.min(200, streams);
  const random = mulberry32(seed);
  const gc = gcFunction();
  repeats.clear();

  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const serve = (table: ReadonlyArray<readonly [FaultKind, number]>, rate: number) => (request: RecordedRequest): MockReply => {
    const n = idOfBody(request.body) ?? 0;
    const fault = random() < rate ? weighted(random, table) : undefined;
    if (fault && counting) faults[fault]++;
    return replyFor(n, fault, random);
  };
  let counting = false;
  const [primaryServer, backupServer] = await Promise.all([
    startMockServer({ handler: serve(PRIMARY_FAULTS, PRIMARY_FAULT_RATE) }),
    startMockServer({ handler: serve(BACKUP_FAULTS, BACKUP_FAULT_RATE) }),
  ]);
  const handles = trackHandles();
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: concurrency + 16 });
  const audit: Audit = { open: 0, afterLeave: 0, leftAt: new Map() };
  const transport = auditedTransport(undiciTransport({ dispatcher: agent }), audit);
  const primary: Model = openaiCompatible({ name: 'primary', model: 'soak-primary', baseURL: primaryServer.url, apiKey: `sk-${'soak'}-primary-0000`, transport });
  const backup: Model = openaiCompatible({ name: 'backup', model: 'soak-backup', baseURL: backupServer.url, apiKey: `sk-${'soak'}-backup-0000`, transport });
  const prices = withPrices({
    'soak-primary': { input: 1, output: 2, asOf: '2026-01-01', source: 'soak test' },
    'soak-backup': { input: 0.5, output: 1, asOf: '2026-01-01', source: 'soak test' },
  });
  const limiter = createRateLimiter({ requestsPerMinute: 6_000_000, tokensPerMinute: 600_000_000, concurrency: Math.max(1, Math.floor(concurrency * 0.75)) });
  const ledger = createLedger(memoryStore());
  const store = memoryStore({ maxEntries: 100_000, maxBytes: 512 * 1024 * 1024 });
  const pipeline = (events: Observable<LlmEvent>): Observable<LlmEvent> =>
    events.pipe(
      deadline({ firstToken: '3s', idle: '500ms' }),
      rateLimit(limiter),
      retryBackoff({ maxRetries: 2, initialDelay: 20, maxDelay: 200, afterOutput: 'restart' }),
      fallback({ models: [backup], afterOutput: 'restart' }),
      budget({ ledger, scope: 'tenant', limitUsd: 1_000_000, prices }),
      meter({ prices, interval: '100ms' }),
      cache(store),
    );

  const tally: Tally = { checked: 0, lost: 0, duplicated: 0, wrong: 0, terminalViolations: 0, requestEventViolations: 0, cacheHits: 0, retries: 0, fallbacks: 0 };
  const outcomes = { completed: 0, errored: 0, cancelled: 0, hung: 0 };
  const unsubscribes = Object.fromEntries(LEAVE_POINTS.map((p) => [p, 0])) as Record<LeavePoint, number>;
  const errorsByCode: Record<string, number> = {};

  /** Runs stream `index`: its id, whether and where it leaves, then the checks. */
  const runOne = (index: number, base: number): Promise<StreamResult> => {
    const repeat = index > 0 && random() < REPEAT_RATE;
    const n = repeat ? base + Math.floor(random() * index) : base + index;
    if (repeat) repeats.add(n);
    const leave: LeavePoint | undefined = random() < LEAVE_RATE ? LEAVE_POINTS[Math.floor(random() * LEAVE_POINTS.length)] : undefined;
    const leaveAfterDeltas = 1 + Math.floor(random() * answerOf(n).length);
    const leaveAfterMs = Math.floor(random() * 150);
    if (leave && counting) unsubscribes[leave]++;
    const events: LlmEvent[] = [];
    let terminals = 0;
    let texts = 0;
    return new Promise<StreamResult>((resolve) => {
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (result: StreamResult): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        resolve(result);
      };
      const left = (): void => {
        audit.leftAt.set(n, true);
        subscriber.unsubscribe();
        finish({ outcome: 'cancelled' });
      };
      const subscriber = new Subscriber<LlmEvent>({
        next(event) {
          if (terminals > 0) tally.terminalViolations++;
          events.push(event);
          if (leave === 'on-request' && event.type === 'request') return left();
          if (event.type === 'text' && ++texts === leaveAfterDeltas && leave === 'after-k-deltas') left();
        },
        error(error: unknown) {
          if (++terminals > 1) tally.terminalViolations++;
          finish({ outcome: 'errored', error });
        },
        complete() {
          if (++terminals > 1) tally.terminalViolations++;
          finish({ outcome: 'completed' });
        },
      });
      pipeline(primary.stream({ messages: [{ role: 'user', content: `soak request #${n}` }], metadata: { tenant: `t${n % 10}` } })).subscribe(subscriber);
      if (!settled) {
        if (leave === 'before-first-byte') queueMicrotask(left);
        else if (leave === 'after-random-ms') setTimeout(() => !settled && left(), leaveAfterMs);
        timer = setTimeout(() => {
          subscriber.unsubscribe();
          finish({ outcome: 'hung' });
        }, HUNG_AFTER_MS);
      }
    }).then((result) => {
      // A left stream may have ended before its leaving point: then it counts as what it did.
      checkStream(n, events, result.outcome === 'completed', tally);
      return result;
    });
  };

  const runMany = async (count: number, base: number, record: boolean): Promise<void> => {
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const index = next++;
        const result = await runOne(index, base);
        if (!record) continue;
        outcomes[result.outcome]++;
        if (result.outcome === 'errored') {
          const code = LlmError.is(result.error) ? result.error.code : String(result.error);
          errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
        }
        if (++done % 1000 === 0) log(`  ${done}/${count} streams`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  };

  // Warm up (JIT, pools, tokenizer estimates), then forget it: the baseline is taken from here.
  await runMany(warmup, 1_000_000, false);
  await until(() => primaryServer.openRequests === 0 && backupServer.openRequests === 0, 10_000);
  Object.assign(tally, { checked: 0, lost: 0, duplicated: 0, wrong: 0, terminalViolations: 0, requestEventViolations: 0, cacheHits: 0, retries: 0, fallbacks: 0 });
  audit.afterLeave = 0;
  audit.leftAt.clear();
  repeats.clear();
  store.clear();
  primaryServer.clearRecords();
  backupServer.clearRecords();
  const baselineMB = await heapAfterGc(gc);

  counting = true;
  const started = performance.now();
  log(`soak: ${streams} streams, ${concurrency} at once (seed ${seed})`);
  await runMany(streams, 0, true);
  const durationMs = performance.now() - started;
  counting = false;
  // The moment the last stream ended: rxllm may hold no timer for a stream that is over (its
  // transport's release grace, which waits for a finished body to drain, excepted). A timer that
  // would only fire into a closed stream later is caught here, not after the settle.
  // (async_hooks reports a cleared timer's destroy a moment later: give it 20 ms.)
  await pause(20);
  const pendingAtEnd = handles.leaks().filter((h) => h.type === 'Timeout' && h.origin === 'rxllm' && !h.where.startsWith('src/http/transport.ts'));

  // Every stream has ended or been left: nothing may still be answered, sent or timed.
  await until(() => primaryServer.openRequests === 0 && backupServer.openRequests === 0 && audit.open === 0, 10_000);
  const openResponses = primaryServer.openRequests + backupServer.openRequests;
  const openCalls = audit.open;
  const requests = { primary: primaryServer.requests.length, backup: backupServer.requests.length };
  await withTimeout(agent.close(), 10_000);
  await until(() => [...primaryServer.connections, ...backupServer.connections].every((c) => c.closedAt !== undefined), 10_000);
  const openConnections = [...primaryServer.connections, ...backupServer.connections].filter((c) => c.closedAt === undefined).length;
  store.clear();
  audit.leftAt.clear();
  repeats.clear();
  primaryServer.clearRecords();
  backupServer.clearRecords();
  const afterMB = await heapAfterGc(gc);
  await Promise.all([primaryServer.close(), backupServer.close()]);
  const survivors = await settleLeaks(handles, 5000);
  handles.stop();

  return {
    date: new Date().toISOString(),
    streams,
    concurrency,
    seed,
    durationMs: Math.round(durationMs),
    faults,
    faultsTotal: Object.values(faults).reduce((a, b) => a + b, 0),
    requests,
    unsubscribes,
    outcomes,
    errorsByCode,
    cacheHits: tally.cacheHits,
    retries: tally.retries,
    fallbacks: tally.fallbacks,
    tokens: { checked: tally.checked, lost: tally.lost, duplicated: tally.duplicated, wrong: tally.wrong },
    contract: { terminalViolations: tally.terminalViolations, requestEventViolations: tally.requestEventViolations, callsAfterLeave: audit.afterLeave },
    handles: {
      openCalls,
      openResponses,
      openConnections,
      timersAtEnd: pendingAtEnd.length,
      timers: survivors.filter((h) => h.type === 'Timeout').length,
      sockets: survivors.filter((h) => h.type === 'TCPWRAP').length,
      survivors: [...pendingAtEnd, ...survivors],
    },
    heap: { gc: gc !== undefined, baselineMB: round(baselineMB), afterMB: round(afterMB), deltaMB: round(afterMB - baselineMB) },
  };
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** The report as a table of rows `[what, value]`, for printing. */
export function summaryRows(report: SoakReport): Array<[string, string]> {
  const kinds = (record: Record<string, number>): string =>
    Object.entries(record)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  return [
    ['streams', String(report.streams)],
    ['concurrency', String(report.concurrency)],
    ['requests served (primary / backup)', `${report.requests.primary} / ${report.requests.backup}`],
    ['faults played', `${report.faultsTotal}: ${kinds(report.faults)}`],
    ['unsubscribes', `${Object.values(report.unsubscribes).reduce((a, b) => a + b, 0)}: ${kinds(report.unsubscribes)}`],
    ['completed / errored / cancelled / hung', `${report.outcomes.completed} / ${report.outcomes.errored} / ${report.outcomes.cancelled} / ${report.outcomes.hung}`],
    ['errors by code', kinds(report.errorsByCode)],
    ['cache hits, retries, fallbacks', `${report.cacheHits}, ${report.retries}, ${report.fallbacks}`],
    ['tokens checked', String(report.tokens.checked)],
    ['tokens lost / duplicated / wrong', `${report.tokens.lost} / ${report.tokens.duplicated} / ${report.tokens.wrong}`],
    ['terminal violations, request-event violations, calls after leaving', `${report.contract.terminalViolations}, ${report.contract.requestEventViolations}, ${report.contract.callsAfterLeave}`],
    ['handles left (calls, responses, connections, timers at end, timers, sockets)', `${report.handles.openCalls}, ${report.handles.openResponses}, ${report.handles.openConnections}, ${report.handles.timersAtEnd}, ${report.handles.timers}, ${report.handles.sockets}`],
    ['heap after GC (baseline / after / delta)', `${report.heap.baselineMB} MB / ${report.heap.afterMB} MB / ${report.heap.deltaMB >= 0 ? '+' : ''}${report.heap.deltaMB} MB${report.heap.gc ? '' : ' (no GC available)'}`],
    ['duration', `${(report.durationMs / 1000).toFixed(1)} s`],
  ];
}

/** The broken invariants of a report, in words; empty when the soak passed. `maxHeapDeltaMB`: the heap growth allowed. */
export function violations(report: SoakReport, maxHeapDeltaMB: number): string[] {
  const out: string[] = [];
  const zero = (what: string, value: number): void => {
    if (value !== 0) out.push(`${what}: ${value}`);
  };
  zero('streams that neither ended nor were left (hung)', report.outcomes.hung);
  zero('tokens lost on completed streams', report.tokens.lost);
  zero('tokens duplicated', report.tokens.duplicated);
  zero('tokens not in the known answer', report.tokens.wrong);
  zero('subscriptions with more than one terminal notification or an event after it', report.contract.terminalViolations);
  zero('streams whose first event was not their one request event', report.contract.requestEventViolations);
  zero('provider calls started after their stream was left', report.contract.callsAfterLeave);
  zero('transport calls never ended', report.handles.openCalls);
  zero('responses still running on the servers', report.handles.openResponses);
  zero('server connections open after the pool closed', report.handles.openConnections);
  zero('rxllm timers pending when the last stream ended', report.handles.timersAtEnd);
  zero('timers left by rxllm or undici', report.handles.timers);
  zero('TCP sockets left', report.handles.sockets);
  if (report.heap.gc && report.heap.deltaMB > maxHeapDeltaMB) out.push(`heap after GC grew ${report.heap.deltaMB} MB (allowed ${maxHeapDeltaMB} MB)`);
  const ended = report.outcomes.completed + report.outcomes.errored + report.outcomes.cancelled + report.outcomes.hung;
  if (ended !== report.streams) out.push(`${ended} streams accounted for, of ${report.streams}`);
  return out;
}
