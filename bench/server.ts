/**
 * The benchmark's OpenAI-compatible SSE server. It runs in its OWN process so that its CPU is
 * never counted against the client being measured.
 *
 * - As a child: `startBenchServer()` forks this file (`node --import tsx bench/server.ts`); the
 *   child listens on an ephemeral loopback port and sends `{ type: 'listening', port }` over IPC.
 * - Standalone (manual poking): `npx tsx bench/server.ts [--port 8787]` prints `listening <port>`.
 *
 * `POST /v1/chat/completions` streams N `chat.completion.chunk` frames of one token each (`" tok"`),
 * then a finish chunk, a usage chunk and `data: [DONE]`.
 *
 * Request knobs. Each is read from, in this order: an `x-bench-<knob>` header, the base URL's
 * knob segment (`/knobs/mode=paced,rate=1/v1/chat/completions`, built by `knobURL()`: every SDK
 * takes a base URL, few let a benchmark add headers or body fields), then the body field.
 * - tokens: else body `max_tokens` / `max_completion_tokens`. Default 1000. Ignored by `endless`.
 * - mode:   else body `bench_mode`. Default `fast`.
 * - batch:  else body `bench_batch`: frames per socket write in `fast`. Default 64.
 * - rate:   tokens per second in `paced` and `endless` (0 in `endless`: as fast as the socket takes).
 *           Defaults: 1 (`paced`), 1000 (`endless`).
 * - tag:    groups streams for the stream log (below); untagged streams are not logged.
 *
 * Modes (the `MODES` table):
 * - `fast`: pre-built frames written in batches as fast as the socket takes them (honouring
 *   backpressure), so the server is never the bottleneck.
 * - `paced`: the first token at once, then `rate` tokens/s until N, then the tail (for memory per
 *   open stream: a stream that stays open and cheap).
 * - `endless`: tokens at `rate`/s forever, until the client leaves (for cancellation).
 *
 * Stream log: a tagged stream gets a record `{ mode, openedNs, closedNs, tokens }`, times from
 * `process.hrtime.bigint()` (CLOCK_MONOTONIC: one clock for every process on the machine), where
 * `closedNs` is, for `endless`, when the server saw the stream's SOCKET close (the connection, not
 * the response); for the finite modes, when the response closed.
 * The parent reads it over IPC (`BenchServer.streams(tag)`); a client reads it over HTTP:
 * - `GET /bench/streams/<tag>` — all records of the tag, in arrival order.
 * - `GET /bench/streams/<tag>/<i>?wait=<ms>` — record i once its socket closed, or after `wait` ms
 *   (then `closedNs: null`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TOKEN_TEXT, type BenchMode, type StreamRecord } from './lib/wire';

export { TOKEN_TEXT, knobURL, type BenchMode, type Knobs, type StreamRecord } from './lib/wire';

export const DEFAULT_TOKENS = 1000;
export const DEFAULT_BATCH = 64;
/** Upper bound on tokens per request (fast mode holds nothing per token, but keep requests sane). */
const MAX_TOKENS = 100_000_000;

/** What a request asks for, after headers, URL knobs and body are read. */
export interface StreamSpec {
  readonly mode: string;
  readonly tokens: number;
  readonly batch: number;
  /** Tokens per second (`paced`, `endless`); undefined: the mode's default. */
  readonly rate: number | undefined;
  readonly tag: string | undefined;
}

const frame = (payload: unknown): string => `data: ${JSON.stringify(payload)}\n\n`;

const TOKEN_FRAME = frame({
  id: 'chatcmpl-bench',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'bench',
  choices: [{ index: 0, delta: { content: TOKEN_TEXT }, finish_reason: null }],
});

const tailFor = (tokens: number): Buffer =>
  Buffer.from(
    frame({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: 'bench', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
      frame({
        id: 'chatcmpl-bench',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'bench',
        choices: [],
        usage: { prompt_tokens: 1, completion_tokens: tokens, total_tokens: tokens + 1 },
      }) +
      'data: [DONE]\n\n',
  );

/** Pre-built batches of token frames, by batch size. */
const batches = new Map<number, Buffer>();
function batchOf(size: number): Buffer {
  let buffer = batches.get(size);
  if (!buffer) {
    buffer = Buffer.from(TOKEN_FRAME.repeat(size));
    batches.set(size, buffer);
  }
  return buffer;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-request-id': 'req-bench',
};

/** Writes, waiting for 'drain' when the socket's buffer is full. Resolves false if the client left. */
async function write(res: ServerResponse, chunk: Buffer): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(chunk)) return true;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
  return !res.destroyed;
}

/** Resolves after `ms`, or at once (false) when the response closes first. */
function sleep(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(!res.destroyed);
    }, ms);
    res.once('close', onClose);
  });
}

/**
 * Ticks for a rate: at most ~250 ticks/s (one timer per 4 ms), each writing `perTick` frames, so a
 * high rate does not mean a timer per token.
 */
function ticksFor(rate: number): { periodMs: number; perTick: number } {
  const periodMs = Math.max(1000 / rate, 4);
  return { periodMs, perTick: Math.max(1, Math.round((rate * periodMs) / 1000)) };
}

type ModeHandler = (res: ServerResponse, spec: StreamSpec, record: StreamRecord | undefined) => Promise<void>;

const MODES: Record<BenchMode, ModeHandler> = {
  async fast(res, spec, record) {
    res.writeHead(200, SSE_HEADERS);
    const full = batchOf(spec.batch);
    const whole = Math.floor(spec.tokens / spec.batch);
    for (let i = 0; i < whole; i++) {
      if (!(await write(res, full))) return;
      if (record) record.tokens += spec.batch;
    }
    const rest = spec.tokens % spec.batch;
    // The remainder and the tail go out in one write.
    const tail = tailFor(spec.tokens);
    if (!(await write(res, rest > 0 ? Buffer.concat([batchOf(rest), tail]) : tail))) return;
    if (record) record.tokens += rest;
    res.end();
  },

  async paced(res, spec, record) {
    res.writeHead(200, SSE_HEADERS);
    const { periodMs, perTick } = ticksFor(spec.rate ?? 1);
    let sent = 0;
    // The first token at once, so a client can tell the stream is open.
    const started = performance.now();
    let tick = 0;
    while (sent < spec.tokens) {
      const n = sent === 0 ? 1 : Math.min(perTick, spec.tokens - sent);
      if (!(await write(res, batchOf(n)))) return;
      sent += n;
      if (record) record.tokens = sent;
      if (sent >= spec.tokens) break;
      // Scheduled against the start, so timer lateness does not accumulate.
      tick++;
      if (!(await sleep(res, Math.max(0, started + tick * periodMs - performance.now())))) return;
    }
    if (!(await write(res, tailFor(spec.tokens)))) return;
    res.end();
  },

  async endless(res, spec, record) {
    res.writeHead(200, SSE_HEADERS);
    const rate = spec.rate ?? 1000;
    const { periodMs, perTick } = rate > 0 ? ticksFor(rate) : { periodMs: 0, perTick: spec.batch };
    const chunk = batchOf(perTick);
    const started = performance.now();
    for (let tick = 1; ; tick++) {
      if (!(await write(res, chunk))) return;
      if (record) record.tokens += perTick;
      if (periodMs > 0 && !(await sleep(res, Math.max(0, started + tick * periodMs - performance.now())))) return;
    }
  },
};

function isMode(name: string): name is BenchMode {
  return Object.hasOwn(MODES, name);
}

function positiveInt(value: unknown, fallback: number, max: number): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= max ? n : fallback;
}

/** `/knobs/a=1,b=2/v1/...` → { a: '1', b: '2' }. */
function urlKnobs(url: string | undefined): Record<string, string> {
  const match = url ? /\/knobs\/([^/]+)\//.exec(url) : null;
  if (!match) return {};
  const out: Record<string, string> = {};
  for (const pair of match[1]!.split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] = decodeURIComponent(pair.slice(eq + 1));
  }
  return out;
}

function specOf(req: IncomingMessage, body: Record<string, unknown>): StreamSpec {
  const knobs = urlKnobs(req.url);
  const knob = (name: string): string | undefined => {
    const value = req.headers[`x-bench-${name}`];
    return (Array.isArray(value) ? value[0] : value) ?? knobs[name];
  };
  const rate = knob('rate') ?? body['bench_rate'];
  const rateNumber = typeof rate === 'string' ? Number(rate) : typeof rate === 'number' ? rate : Number.NaN;
  const tag = knob('tag') ?? body['bench_tag'];
  return {
    mode: knob('mode') ?? (typeof body['bench_mode'] === 'string' ? body['bench_mode'] : 'fast'),
    tokens: positiveInt(knob('tokens') ?? body['max_tokens'] ?? body['max_completion_tokens'], DEFAULT_TOKENS, MAX_TOKENS),
    batch: positiveInt(knob('batch') ?? body['bench_batch'], DEFAULT_BATCH, 100_000),
    rate: Number.isFinite(rateNumber) && rateNumber >= 0 && rateNumber <= 1e7 ? rateNumber : undefined,
    tag: typeof tag === 'string' && tag !== '' ? tag : undefined,
  };
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The stream log: tag → records in arrival order. */
const streamLog = new Map<string, StreamRecord[]>();
/** Waiters for `GET /bench/streams/<tag>/<i>?wait=`, woken when any logged socket closes. */
const closeWaiters = new Set<() => void>();

function logStream(req: IncomingMessage, res: ServerResponse, spec: StreamSpec): StreamRecord | undefined {
  if (spec.tag === undefined) return undefined;
  let list = streamLog.get(spec.tag);
  if (!list) streamLog.set(spec.tag, (list = []));
  const record: StreamRecord = { index: list.length, mode: spec.mode, openedNs: Number(process.hrtime.bigint()), closedNs: null, tokens: 0 };
  list.push(record);
  // An endless stream ends only when its socket closes; a finite one may share a keep-alive
  // socket with later requests, so its record closes with the response instead.
  (spec.mode === 'endless' ? req.socket : res).once('close', () => {
    record.closedNs = Number(process.hrtime.bigint());
    for (const wake of [...closeWaiters]) wake();
  });
  return record;
}

/** `GET /bench/streams/<tag>[/<i>][?wait=ms]`. */
async function streamsEndpoint(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://bench');
  const [, , , tag, indexText] = url.pathname.split('/');
  if (!tag) return sendJson(res, 404, { error: { message: 'expected /bench/streams/<tag>[/<i>]' } });
  const list = (): StreamRecord[] => streamLog.get(decodeURIComponent(tag)) ?? [];
  if (indexText === undefined) return sendJson(res, 200, list());
  const index = Number(indexText);
  const wait = Math.min(Number(url.searchParams.get('wait') ?? 0) || 0, 60_000);
  const ready = (): StreamRecord | undefined => {
    const record = list()[index];
    return record && record.closedNs !== null ? record : undefined;
  };
  let record = ready();
  if (!record && wait > 0) {
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        if (!ready()) return;
        done();
      };
      const done = (): void => {
        clearTimeout(timer);
        closeWaiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(done, wait);
      closeWaiters.add(wake);
    });
    record = ready();
  }
  sendJson(res, 200, record ?? list()[index] ?? null);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (req.method === 'GET' && req.url?.startsWith('/bench/streams/')) return streamsEndpoint(req, res);
  if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
    sendJson(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: 'not_found' } });
    return;
  }
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    sendJson(res, 400, { error: { message: 'body is not JSON', type: 'invalid_request_error' } });
    return;
  }
  const spec = specOf(req, body);
  if (!isMode(spec.mode)) {
    sendJson(res, 400, { error: { message: `unknown bench mode "${spec.mode}" (have: ${Object.keys(MODES).join(', ')})`, type: 'invalid_request_error' } });
    return;
  }
  await MODES[spec.mode](res, spec, logStream(req, res, spec));
}

/** Starts the HTTP server in THIS process. Used by the child entry below. */
export async function listen(port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer({ keepAlive: true }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(error), type: 'server_error' } });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  // 1000+ concurrent streams in the memory section.
  server.maxConnections = 10_000;
  server.listen({ port, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A running server process, as seen from the parent. */
export interface BenchServer {
  readonly port: number;
  /** Base URL up to and including `/v1`, as `openaiCompatible({ baseURL })` wants it. */
  readonly baseURL: string;
  readonly pid: number;
  /** CPU time the server process has used so far (µs), asked over IPC. */
  cpuUsage(): Promise<{ user: number; system: number }>;
  /** The stream log of a tag (see the file comment), asked over IPC. */
  streams(tag: string): Promise<StreamRecord[]>;
  /** Forgets a tag's records. */
  forget(tag: string): Promise<void>;
  close(): Promise<void>;
}

type ChildMessage =
  | { type: 'listening'; port: number }
  | { type: 'cpu'; user: number; system: number }
  | { type: 'streams'; id: number; records: StreamRecord[] };
type ParentMessage = { type: 'cpu' } | { type: 'close' } | { type: 'streams'; id: number; tag: string; forget?: boolean };

/** Forks the server into its own process and resolves once it is listening. */
export async function startBenchServer(): Promise<BenchServer> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--child'], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const onMessage = (message: ChildMessage): void => {
      if (message.type === 'listening') {
        child.off('exit', onExit);
        child.off('message', onMessage);
        resolve(message.port);
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`bench server exited before listening (code ${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', reject);
  });
  let nextId = 0;
  const askStreams = (tag: string, forget: boolean): Promise<StreamRecord[]> =>
    new Promise((resolve) => {
      const id = nextId++;
      const onMessage = (message: ChildMessage): void => {
        if (message.type !== 'streams' || message.id !== id) return;
        child.off('message', onMessage);
        resolve(message.records);
      };
      child.on('message', onMessage);
      child.send({ type: 'streams', id, tag, forget } satisfies ParentMessage);
    });
  return {
    port,
    baseURL: `http://127.0.0.1:${port}/v1`,
    pid: child.pid!,
    cpuUsage: () =>
      new Promise((resolve) => {
        const onMessage = (message: ChildMessage): void => {
          if (message.type !== 'cpu') return;
          child.off('message', onMessage);
          resolve({ user: message.user, system: message.system });
        };
        child.on('message', onMessage);
        child.send({ type: 'cpu' } satisfies ParentMessage);
      }),
    streams: (tag) => askStreams(tag, false),
    forget: async (tag) => void (await askStreams(tag, true)),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ type: 'close' } satisfies ParentMessage);
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const portArg = process.argv.indexOf('--port');
  const server = await listen(portArg > 0 ? Number(process.argv[portArg + 1]) : 0);
  if (process.send) {
    process.on('message', (message: ParentMessage) => {
      if (message.type === 'cpu') {
        const { user, system } = process.cpuUsage();
        process.send!({ type: 'cpu', user, system } satisfies ChildMessage);
      } else if (message.type === 'streams') {
        const records = streamLog.get(message.tag) ?? [];
        if (message.forget) streamLog.delete(message.tag);
        process.send!({ type: 'streams', id: message.id, records } satisfies ChildMessage);
      } else if (message.type === 'close') {
        void server.close().then(() => process.exit(0));
      }
    });
    // The parent went away: do not linger.
    process.on('disconnect', () => process.exit(0));
    process.send({ type: 'listening', port: server.port } satisfies ChildMessage);
  } else {
    console.log(`listening ${server.port}  (POST http://127.0.0.1:${server.port}/v1/chat/completions)`);
  }
}
