import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A real HTTP server on loopback that speaks the providers' wire formats from a script, and
 * records what its sockets saw. For rxllm's tests, users' tests and the simulated model.
 */

/** One scripted response. Everything is optional: `{}` is an empty 200. */
export interface MockReply {
  /** @defaultValue 200 */
  readonly status?: number;
  /** Response headers; hop-by-hop ones (content-length, transfer-encoding, connection) are dropped. */
  readonly headers?: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;
  /** The whole body. Written as `chunks` if given, else split per `split`, else in one write. */
  readonly body?: string | Uint8Array;
  /** Explicit writes, each flushed as its own HTTP chunk (the client sees each as a separate read). */
  readonly chunks?: ReadonlyArray<string | Uint8Array>;
  /** Split `body` into writes of this many bytes; `'byte'` = one byte per write. */
  readonly split?: number | 'byte';
  /**
   * Informational answers (102 Processing, 103 Early Hints) written first, in order, before
   * `headersDelayMs` and the final status line: a client must skip them and read the answer after.
   */
  readonly informational?: ReadonlyArray<{ readonly status: 102 | 103; readonly headers?: Readonly<Record<string, string>> }>;
  /** Wait this long before sending the status line and headers. @defaultValue 0 */
  readonly headersDelayMs?: number;
  /** Wait this long between headers and the first chunk (time to first token). @defaultValue 0 */
  readonly firstChunkDelayMs?: number;
  /** Wait this long between chunks; 0 still yields to the event loop between writes. @defaultValue 0 */
  readonly chunkDelayMs?: number;
  /** Destroy the socket without sending anything. */
  readonly closeBeforeHeaders?: boolean;
  /** After this many chunks, stop writing and hold the connection open until the client leaves. */
  readonly stallAfterChunks?: number;
  /** After this many chunks, destroy the socket (a reset mid-stream). */
  readonly resetAfterChunks?: number;
  /**
   * Per-chunk waits: before chunk `i`, wait `chunkDelaysMs[i]` instead of `firstChunkDelayMs` /
   * `chunkDelayMs` (missing entries fall back to those). For irregular pacing, e.g. random delays
   * in a fuzz test.
   */
  readonly chunkDelaysMs?: readonly number[];
  /**
   * Sent as the `content-encoding` header, which `headers` cannot set (it is dropped there with
   * the hop-by-hop ones). The body is sent as given: encode it yourself (`zlib.gzipSync`) to play
   * a proxy that compresses a response the client never asked to be compressed.
   */
  readonly contentEncoding?: string;
}

/** Decides the reply for a request when the queue is empty. */
export type MockHandler = (request: RecordedRequest) => MockReply | Promise<MockReply>;

export interface RecordedRequest {
  /** 0-based, in arrival order. */
  readonly index: number;
  readonly method: string;
  /** Path and query, e.g. `/v1/chat/completions`. */
  readonly url: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The body parsed as JSON, or undefined. */
  readonly json: unknown;
  /** `performance.now()` when the body had arrived. */
  readonly receivedAt: number;
  /** The connection (socket) it came on. */
  readonly connectionId: number;
  /** `performance.now()` when the server's response to it ended (finished, or the client left); undefined while it runs. */
  endedAt: number | undefined;
}

export interface RecordedConnection {
  readonly id: number;
  readonly openedAt: number;
  /** When the socket closed (client left, reset, or server closed); undefined while open. */
  closedAt: number | undefined;
  /** Bytes written by the server on this socket (headers included). */
  bytesWritten: number;
  /** Requests served on this connection (more than one means keep-alive reuse). */
  requests: number;
  /** True when the client closed before the server finished the response it was writing. */
  closedMidResponse: boolean;
}

export interface MockServer {
  /** Base URL including `/v1`, e.g. `http://127.0.0.1:40123/v1` — pass as `baseURL`. */
  readonly url: string;
  /** `http://127.0.0.1:port` without a path. */
  readonly origin: string;
  readonly requests: readonly RecordedRequest[];
  readonly connections: readonly RecordedConnection[];
  /** Requests being answered right now: arrived, and their response not yet ended. */
  readonly openRequests: number;
  /** The most requests answered at once since the server started (or since `clearRecords()`). */
  readonly peakOpenRequests: number;
  /** Queue replies, served in order to the next requests. */
  enqueue(...replies: MockReply[]): void;
  /** Set the reply for requests that find the queue empty. */
  setHandler(handler: MockHandler): void;
  /** Resolves once `count` requests have arrived (rejects after `timeoutMs`). */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once every connection that served a request is closed (or `id`'s). */
  waitForClose(id?: number, timeoutMs?: number): Promise<RecordedConnection>;
  /** Forget recorded requests and connections (open ones stay tracked). */
  clearRecords(): void;
  close(): Promise<void>;
}

export interface MockServerOptions {
  /** @defaultValue 0 (a free port) */
  readonly port?: number;
  /** Reply for requests when the queue is empty. @defaultValue a 404 JSON error naming the request */
  readonly handler?: MockHandler;
  /** Do not keep the process alive for this server's sake. @defaultValue false */
  readonly unref?: boolean;
}

const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'content-encoding']);

/** Starts a mock provider server on 127.0.0.1. */
export async function startMockServer(options: MockServerOptions = {}): Promise<MockServer> {
  const queue: MockReply[] = [];
  let handler: MockHandler = options.handler ?? notFound;
  let requests: RecordedRequest[] = [];
  let openRequests = 0;
  let peakOpenRequests = 0;
  let connections: RecordedConnection[] = [];
  const sockets = new Map<Socket, RecordedConnection>();
  const listeners = new Set<() => void>();
  let nextConnection = 0;
  let nextRequest = 0;
  const changed = (): void => {
    for (const listener of [...listeners]) listener();
  };

  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const connection = sockets.get(req.socket);
    const pieces: Buffer[] = [];
    req.on('data', (piece: Buffer) => pieces.push(piece));
    req.on('end', () => {
      const body = Buffer.concat(pieces).toString('utf8');
      const recorded: RecordedRequest = {
        index: nextRequest++,
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: flatHeaders(req),
        body,
        json: parseJson(body),
        receivedAt: performance.now(),
        connectionId: connection?.id ?? -1,
        endedAt: undefined,
      };
      requests.push(recorded);
      peakOpenRequests = Math.max(peakOpenRequests, ++openRequests);
      const ended = (): void => {
        if (recorded.endedAt !== undefined) return;
        recorded.endedAt = performance.now();
        openRequests--;
        changed();
      };
      if (res.writableFinished || res.destroyed) ended();
      res.once('finish', ended);
      res.once('close', ended);
      if (connection) connection.requests++;
      changed();
      Promise.resolve(queue.length > 0 ? queue.shift()! : handler(recorded))
        .then((reply) => serve(reply, req, res, connection))
        .catch((error: unknown) => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: `mock server handler failed: ${String(error)}`, type: 'mock_error' } }));
        });
    });
  });
  server.on('connection', (socket: Socket) => {
    const record: RecordedConnection = { id: nextConnection++, openedAt: performance.now(), closedAt: undefined, bytesWritten: 0, requests: 0, closedMidResponse: false };
    sockets.set(socket, record);
    connections.push(record);
    if (options.unref) socket.unref();
    socket.on('close', () => {
      record.closedAt = performance.now();
      record.bytesWritten = socket.bytesWritten;
      sockets.delete(socket);
      changed();
    });
    changed();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  if (options.unref) server.unref();
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  const waitUntil = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const now = check();
      if (now !== undefined) return resolve(now);
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`mock server: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const listener = (): void => {
        const value = check();
        if (value === undefined) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolve(value);
      };
      listeners.add(listener);
    });

  return {
    url: `${origin}/v1`,
    origin,
    get requests() {
      return requests;
    },
    get connections() {
      return connections;
    },
    get openRequests() {
      return openRequests;
    },
    get peakOpenRequests() {
      return peakOpenRequests;
    },
    enqueue(...replies) {
      queue.push(...replies);
    },
    setHandler(next) {
      handler = next;
    },
    waitForRequests(count, timeoutMs = 5000) {
      return waitUntil(() => (requests.length >= count ? true : undefined), timeoutMs, `${count} request(s)`).then(() => undefined);
    },
    waitForClose(id, timeoutMs = 5000) {
      return waitUntil(
        () => {
          const candidates = id === undefined ? connections.filter((c) => c.requests > 0) : connections.filter((c) => c.id === id);
          if (candidates.length === 0) return undefined;
          return candidates.every((c) => c.closedAt !== undefined) ? candidates[candidates.length - 1] : undefined;
        },
        timeoutMs,
        id === undefined ? 'the connections to close' : `connection ${id} to close`,
      );
    },
    clearRecords() {
      requests = [];
      peakOpenRequests = openRequests;
      connections = connections.filter((c) => c.closedAt === undefined);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function notFound(request: RecordedRequest): MockReply {
  return {
    status: 404,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: { message: `mock server: no scripted reply for ${request.method} ${request.url}`, type: 'mock_unscripted' } }),
  };
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));

function chunksOf(reply: MockReply): Array<string | Uint8Array> {
  if (reply.chunks) return [...reply.chunks];
  if (reply.body === undefined) return [];
  const bytes = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
  if (reply.split === undefined) return bytes.length > 0 ? [bytes] : [];
  const size = reply.split === 'byte' ? 1 : Math.max(1, reply.split);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

async function serve(reply: MockReply, req: IncomingMessage, res: ServerResponse, connection: RecordedConnection | undefined): Promise<void> {
  const gone = (): boolean => res.destroyed || req.socket.destroyed;
  res.on('close', () => {
    if (!res.writableFinished && connection) connection.closedMidResponse = true;
  });
  for (const interim of reply.informational ?? []) {
    if (gone()) return;
    // Raw, as Node's own writeProcessing() does: writeEarlyHints() insists on a `link` header.
    const lines = Object.entries(interim.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`);
    req.socket.write(`HTTP/1.1 ${interim.status} ${interim.status === 102 ? 'Processing' : 'Early Hints'}\r\n${lines.join('')}\r\n`);
  }
  if (reply.headersDelayMs) await sleep(reply.headersDelayMs);
  if (reply.closeBeforeHeaders) {
    req.socket.destroy();
    return;
  }
  if (gone()) return;
  const headers: Array<[string, string]> = [];
  const given = reply.headers ?? [];
  for (const [name, value] of Array.isArray(given) ? (given as ReadonlyArray<readonly [string, string]>) : Object.entries(given as Record<string, string>)) {
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push([name, value]);
  }
  if (reply.contentEncoding !== undefined) headers.push(['content-encoding', reply.contentEncoding]);
  res.writeHead(reply.status ?? 200, headers.flat());
  res.flushHeaders();
  const chunks = chunksOf(reply);
  const paced = reply.chunkDelayMs !== undefined || reply.firstChunkDelayMs !== undefined || reply.chunkDelaysMs !== undefined || chunks.length > 1;
  for (let i = 0; i < chunks.length; i++) {
    if (reply.stallAfterChunks === i) return; // hold the socket open; the client must leave
    if (reply.resetAfterChunks === i) {
      req.socket.destroy();
      return;
    }
    if (paced) await sleep(reply.chunkDelaysMs?.[i] ?? (i === 0 ? (reply.firstChunkDelayMs ?? 0) : (reply.chunkDelayMs ?? 0)));
    if (gone()) return;
    res.write(chunks[i]!);
  }
  if (reply.stallAfterChunks !== undefined && reply.stallAfterChunks >= chunks.length) return;
  if (reply.resetAfterChunks !== undefined && reply.resetAfterChunks >= chunks.length) {
    req.socket.destroy();
    return;
  }
  if (!gone()) res.end();
}

// ---------------------------------------------------------------------------------------------
// Reply builders

/** Reads a recorded fixture: the body file and, if present, its `<name>.headers.json` (status and headers). */
export function fixtureReply(path: string, overrides: Omit<MockReply, 'body'> = {}): MockReply {
  const body = readFileSync(path);
  const headersPath = path.replace(/\.(sse|ndjson|json|jsonl|txt)$/, '.headers.json');
  let status = 200;
  let headers: Array<[string, string]> = [];
  try {
    const recorded = JSON.parse(readFileSync(headersPath, 'utf8')) as { status: string; headers: Array<[string, string]> };
    status = Number(/\b(\d{3})\b/.exec(recorded.status)?.[1] ?? 200);
    headers = recorded.headers;
  } catch {
    const type = path.endsWith('.sse') ? 'text/event-stream' : path.endsWith('.ndjson') ? 'application/x-ndjson' : 'application/json';
    headers = [['content-type', type]];
  }
  return { status, headers, body, ...overrides };
}

/** A JSON error response, e.g. `jsonReply(429, { error: { message: 'slow down' } }, { 'retry-after': '2' })`. */
export function jsonReply(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): MockReply {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export interface OpenAITextReplyOptions extends Omit<MockReply, 'body' | 'chunks'> {
  /** Split the text into deltas of this many characters, or give the deltas yourself. @defaultValue words */
  readonly deltas?: readonly string[];
  readonly model?: string;
  readonly finishReason?: string;
  /** `false` leaves the usage chunk out. @defaultValue derived from the deltas */
  readonly usage?: { readonly prompt_tokens: number; readonly completion_tokens: number } | false;
}

/** An OpenAI Chat Completions SSE stream that says `text`, one SSE message per chunk write. */
export function openaiTextReply(text: string, options: OpenAITextReplyOptions = {}): MockReply {
  const { deltas = text.match(/\s*\S+|\s+$/g) ?? [text], model = 'mock-model', finishReason = 'stop', usage, ...reply } = options;
  const chunks = openaiChunks(deltas, { model, finishReason, usage: usage === undefined ? { prompt_tokens: 10, completion_tokens: deltas.length } : usage });
  return { status: 200, headers: { 'content-type': 'text/event-stream', 'x-request-id': 'req_mock' }, chunks, ...reply };
}

/** The SSE frames of a Chat Completions stream: one per delta, the finish chunk, usage, `[DONE]`. */
export function openaiChunks(
  deltas: readonly string[],
  options: { readonly model?: string; readonly finishReason?: string; readonly usage?: { readonly prompt_tokens: number; readonly completion_tokens: number } | false; readonly id?: string } = {},
): string[] {
  const { model = 'mock-model', finishReason = 'stop', usage = false, id = 'chatcmpl-mock' } = options;
  const frame = (payload: unknown): string => `data: ${JSON.stringify(payload)}\n\n`;
  const base = { id, object: 'chat.completion.chunk', created: 1_700_000_000, model };
  const out = deltas.map((content, i) => frame({ ...base, choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content } : { content }, finish_reason: null }] }));
  out.push(frame({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finishReason }] }));
  if (usage) out.push(frame({ ...base, choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } }));
  out.push('data: [DONE]\n\n');
  return out;
}
