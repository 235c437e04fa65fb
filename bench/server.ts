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
 * Request knobs (a header wins over the body field):
 * - tokens: `x-bench-tokens` header, else body `max_tokens` / `max_completion_tokens`. Default 1000.
 * - mode:   `x-bench-mode` header, else body `bench_mode`. Default `fast`.
 * - batch:  `x-bench-batch` header, else body `bench_batch`: frames per socket write. Default 64.
 *
 * Modes (add new ones to `MODES`; only `fast` exists today):
 * - `fast`: pre-built frames written in batches as fast as the socket takes them (honouring
 *   backpressure), so the server is never the bottleneck.
 * - later: `paced` (tokens/s, for TTFT and timer-bound tests), `endless` (until the client leaves,
 *   for memory and cancellation tests).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The text of every token frame. Clients check `deltas === N` and `chars === N * TOKEN_TEXT.length`. */
export const TOKEN_TEXT = ' tok';
export const DEFAULT_TOKENS = 1000;
export const DEFAULT_BATCH = 64;
/** Upper bound on tokens per request (fast mode holds nothing per token, but keep requests sane). */
const MAX_TOKENS = 100_000_000;

export type BenchMode = 'fast';

/** What a request asks for, after headers and body are read. */
export interface StreamSpec {
  readonly mode: string;
  readonly tokens: number;
  readonly batch: number;
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

type ModeHandler = (res: ServerResponse, spec: StreamSpec) => Promise<void>;

const MODES: Record<string, ModeHandler> = {
  async fast(res, spec) {
    res.writeHead(200, SSE_HEADERS);
    const full = batchOf(spec.batch);
    const whole = Math.floor(spec.tokens / spec.batch);
    for (let i = 0; i < whole; i++) {
      if (!(await write(res, full))) return;
    }
    const rest = spec.tokens % spec.batch;
    // The remainder and the tail go out in one write.
    const tail = tailFor(spec.tokens);
    if (!(await write(res, rest > 0 ? Buffer.concat([batchOf(rest), tail]) : tail))) return;
    res.end();
  },
};

function positiveInt(value: unknown, fallback: number, max: number): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= max ? n : fallback;
}

function specOf(req: IncomingMessage, body: Record<string, unknown>): StreamSpec {
  const header = (name: string): string | undefined => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return {
    mode: header('x-bench-mode') ?? (typeof body['bench_mode'] === 'string' ? body['bench_mode'] : 'fast'),
    tokens: positiveInt(header('x-bench-tokens') ?? body['max_tokens'] ?? body['max_completion_tokens'], DEFAULT_TOKENS, MAX_TOKENS),
    batch: positiveInt(header('x-bench-batch') ?? body['bench_batch'], DEFAULT_BATCH, 100_000),
  };
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
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
  const mode = MODES[spec.mode];
  if (!mode) {
    sendJson(res, 400, { error: { message: `unknown bench mode "${spec.mode}" (have: ${Object.keys(MODES).join(', ')})`, type: 'invalid_request_error' } });
    return;
  }
  await mode(res, spec);
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
  server.listen(port, '127.0.0.1');
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
  close(): Promise<void>;
}

type ChildMessage = { type: 'listening'; port: number } | { type: 'cpu'; user: number; system: number };

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
        child.send({ type: 'cpu' });
      }),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.send({ type: 'close' });
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
    process.on('message', (message: { type: string }) => {
      if (message.type === 'cpu') {
        const { user, system } = process.cpuUsage();
        process.send!({ type: 'cpu', user, system });
      } else if (message.type === 'close') {
        void server.close().then(() => process.exit(0));
      }
    });
    // The parent went away: do not linger.
    process.on('disconnect', () => process.exit(0));
    process.send({ type: 'listening', port: server.port });
  } else {
    console.log(`listening ${server.port}  (POST http://127.0.0.1:${server.port}/v1/chat/completions)`);
  }
}
