import { spawn } from 'node:child_process';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { filter, first, lastValueFrom, Observable, take, takeWhile, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, fetchTransport, isEvent, LlmError, openaiCompatible, text, toAsyncIterable, toReadableStream, toSSE, undiciTransport, type LlmEvent, type LlmRequestInput } from 'rxllm';
import { operate, relay } from 'rxllm/operators';
import { type Transport } from 'rxllm/providers';
import { Agent } from 'undici';
import { openaiTextReply, startMockServer, type MockReply, type MockServer } from 'rxllm/testing';
import { pause, record, waitFor } from './helpers/observe';

let server: MockServer;
beforeEach(async () => {
  server = await startMockServer();
});
afterEach(async () => {
  await server.close();
});

const request: LlmRequestInput = { messages: [{ role: 'user', content: 'Count slowly.' }] };

function model(transport?: Transport) {
  return openaiCompatible({ model: 'mock-model', baseURL: server.url, apiKey: 'sk-test-cancellation-0000', ...(transport ? { transport } : {}) });
}

const words = (count: number): string[] => Array.from({ length: count }, (_, i) => (i === 0 ? 'w0' : ` w${i}`));

/** ~200 deltas, 20 ms apart: about 4 s to write in full, so a cancel after 3 deltas lands mid-body. */
function pacedReply(): { reply: MockReply; bodyBytes: number } {
  const reply = openaiTextReply('', { deltas: words(200), chunkDelayMs: 20 });
  const bodyBytes = (reply.chunks ?? []).reduce((sum, chunk) => sum + Buffer.byteLength(chunk as string), 0);
  return { reply, bodyBytes };
}

/** Subscribes, keeps the first `count` text deltas, and resolves when `take` has unsubscribed. */
function firstTexts(events: Observable<LlmEvent>, count: number): Promise<string[]> {
  return lastValueFrom(events.pipe(text(), take(count), toArray()));
}

/** Idle, connected sockets the agent's pool holds for the mock server. */
function freeSockets(agent: Agent): number {
  const stats = agent.stats[server.origin];
  return stats !== undefined && 'free' in stats ? stats.free : 0;
}

async function expectClosedMidResponse(bodyBytes?: number): Promise<void> {
  const connection = await server.waitForClose();
  expect(server.requests).toHaveLength(1);
  expect(connection.closedAt).toBeTypeOf('number');
  expect(connection.closedMidResponse).toBe(true);
  if (bodyBytes !== undefined) expect(connection.bytesWritten).toBeLessThan(bodyBytes);
}

describe('unsubscribing mid-stream closes the socket', () => {
  it('take(3) of the text while the server is still writing (undici)', async () => {
    const { reply, bodyBytes } = pacedReply();
    server.enqueue(reply);
    expect(await firstTexts(model().stream(request), 3)).toEqual(['w0', ' w1', ' w2']);
    await expectClosedMidResponse(bodyBytes);
  });

  it('a manual unsubscribe after 3 text events (undici)', async () => {
    const { reply, bodyBytes } = pacedReply();
    server.enqueue(reply);
    const seen = record(model().stream(request).pipe(filter(isEvent('text'))));
    await waitFor(() => seen.values.length >= 3, '3 text events');
    seen.subscription.unsubscribe();
    await expectClosedMidResponse(bodyBytes);
    expect(seen.errors).toEqual([]);
    expect(seen.completes).toBe(0);
  });

  it('take(3) of the text while the server is still writing (fetch transport)', async () => {
    const { reply, bodyBytes } = pacedReply();
    server.enqueue(reply);
    expect(await firstTexts(model(fetchTransport()).stream(request), 3)).toEqual(['w0', ' w1', ' w2']);
    await expectClosedMidResponse(bodyBytes);
  });

  it('during a stall (the server stops writing and holds the connection)', async () => {
    server.enqueue(openaiTextReply('', { deltas: words(20), stallAfterChunks: 2 }));
    const seen = record(model().stream(request).pipe(filter(isEvent('text'))));
    await waitFor(() => seen.values.length >= 2, '2 text events before the stall');
    expect(server.connections[0]!.closedAt).toBeUndefined();
    seen.subscription.unsubscribe();
    await expectClosedMidResponse();
  });

  it('before the response headers arrive', async () => {
    server.enqueue({ ...openaiTextReply('never sent'), headersDelayMs: 8000 });
    const seen = record(model().stream(request));
    await server.waitForRequests(1);
    seen.subscription.unsubscribe();
    await expectClosedMidResponse();
    expect(seen.values.map((e) => e.type)).toEqual(['request']);
  });
});

describe('unsubscribing synchronously on the request event sends nothing', () => {
  const noRequest = async (): Promise<void> => {
    // Give a request every chance to arrive before asserting that none did.
    await pause(300);
    expect(server.requests).toHaveLength(0);
    expect(server.connections).toHaveLength(0);
  };

  it('take(1)', async () => {
    server.enqueue(openaiTextReply('unused'));
    const events = await lastValueFrom(model().stream(request).pipe(take(1), toArray()));
    expect(events.map((e) => e.type)).toEqual(['request']);
    await noRequest();
  });

  it('first() and takeWhile() that stops at the request', async () => {
    server.enqueue(openaiTextReply('unused'));
    const head = await lastValueFrom(model().stream(request).pipe(first()));
    expect(head.type).toBe('request');
    const none = await lastValueFrom(model().stream(request).pipe(takeWhile((e) => e.type !== 'request'), toArray()));
    expect(none).toEqual([]);
    await noRequest();
  });

  it("an operator built on rxllm's operate() + relay() that completes on the request", async () => {
    const answerFromCache = operate<LlmEvent, LlmEvent>((source, subscriber) =>
      source.subscribe(
        relay(subscriber, (event: LlmEvent) => {
          subscriber.next(event);
          if (event.type === 'request') {
            subscriber.next({ type: 'finish', reason: 'stop' });
            subscriber.complete();
          }
        }),
      ),
    );
    const events = await lastValueFrom(model().stream(request).pipe(answerFromCache, toArray()));
    expect(events.map((e) => e.type)).toEqual(['request', 'finish']);
    await noRequest();
  });

  /**
   * A hand-written operator deciding on the request (cache hit, open circuit): forward it, then
   * leave. Its inner subscription is not chained to `subscriber`, so the source cannot see the
   * unsubscribe before it starts; the transport must still send nothing.
   */
  const leaveOnRequest = (events: Observable<LlmEvent>): string[] => {
    const types: string[] = [];
    new Observable<LlmEvent>((subscriber) =>
      events.subscribe({
        next: (event) => {
          types.push(event.type);
          subscriber.unsubscribe();
        },
      }),
    ).subscribe();
    return types;
  };

  it('an operator that unsubscribes its subscriber inside next (undici)', async () => {
    expect(leaveOnRequest(model().stream(request))).toEqual(['request']);
    await noRequest();
  });

  it('an operator that unsubscribes its subscriber inside next (fetch transport)', async () => {
    expect(leaveOnRequest(model(fetchTransport()).stream(request))).toEqual(['request']);
    await noRequest();
  });

  it('an operator that unsubscribes inside next, with a warm keep-alive socket in the pool', async () => {
    server.enqueue(openaiTextReply('warm up'));
    const agent = new Agent();
    try {
      const llm = model(undiciTransport({ dispatcher: agent }));
      await lastValueFrom(llm.stream(request).pipe(collect()));
      await waitFor(() => freeSockets(agent) === 1, 'the socket to be free in the pool');
      expect(leaveOnRequest(llm.stream(request))).toEqual(['request']);
      await pause(300);
      // undici writes on an idle socket synchronously inside dispatch(): nothing may be written.
      expect(server.requests).toHaveLength(1);
      expect(server.connections).toHaveLength(1);
      expect(server.connections[0]).toMatchObject({ requests: 1, closedAt: undefined });
    } finally {
      await agent.destroy();
    }
  });
});

describe('consumers release the call', () => {
  it('toAsyncIterable: break after 2 values closes the socket', async () => {
    const { reply, bodyBytes } = pacedReply();
    server.enqueue(reply);
    const got: string[] = [];
    for await (const delta of toAsyncIterable(model().stream(request).pipe(text()))) {
      got.push(delta);
      if (got.length === 2) break;
    }
    expect(got).toEqual(['w0', ' w1']);
    await expectClosedMidResponse(bodyBytes);
  });

  it('toReadableStream: cancel() closes the socket', async () => {
    const { reply, bodyBytes } = pacedReply();
    server.enqueue(reply);
    const reader = toReadableStream(model().stream(request).pipe(text())).getReader();
    expect((await reader.read()).value).toBe('w0');
    expect((await reader.read()).value).toBe(' w1');
    await reader.cancel();
    await expectClosedMidResponse(bodyBytes);
  });

  it('toSSE(events, res): the browser leaving closes the upstream connection', async () => {
    const { reply, bodyBytes } = pacedReply();
    server.enqueue(reply);
    const llm = model();
    const proxy: Server = createServer((_req, res) => {
      toSSE(llm.stream(request), res);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = proxy.address() as AddressInfo;
      let received = '';
      await new Promise<void>((resolve, reject) => {
        const client = get(`http://127.0.0.1:${port}/`, (res) => {
          expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
          res.setEncoding('utf8');
          res.on('data', (piece: string) => {
            received += piece;
            if ((received.match(/event: text\n/g) ?? []).length >= 2) {
              client.destroy(); // the tab closes
              resolve();
            }
          });
        });
        client.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ECONNRESET') reject(error);
        });
      });
      expect(received).toContain('event: response\n');
      expect(received).not.toContain('event: request\n');
      await expectClosedMidResponse(bodyBytes);
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});

describe('AbortSignal', () => {
  it('aborting mid-stream errors once with code aborted and closes the socket', async () => {
    const { reply, bodyBytes } = pacedReply();
    server.enqueue(reply);
    const controller = new AbortController();
    const seen = record(model().stream(request, { signal: controller.signal }));
    await waitFor(() => seen.values.filter((e) => e.type === 'text').length >= 3, '3 text events');
    controller.abort();
    await seen.terminal;
    await expectClosedMidResponse(bodyBytes);
    expect(seen.errors).toHaveLength(1);
    const error = seen.errors[0];
    expect(LlmError.is(error)).toBe(true);
    expect(error).toMatchObject({ code: 'aborted' });
    expect(seen.completes).toBe(0);
    expect(seen.nextAfterTerminal).toBe(0);
  });

  it('an already-aborted signal errors with code aborted and sends no request', async () => {
    server.enqueue(openaiTextReply('unused'));
    const controller = new AbortController();
    controller.abort();
    const seen = record(model().stream(request, { signal: controller.signal }));
    await seen.terminal;
    expect(seen.values.map((e) => e.type)).toEqual(['request']);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toMatchObject({ code: 'aborted' });
    await pause(300);
    expect(server.requests).toHaveLength(0);
  });
});

describe('keep-alive', () => {
  const twoRequestsOnOneSocket = (): void => {
    expect(server.requests).toHaveLength(2);
    expect(server.connections).toHaveLength(1);
    expect(server.connections[0]).toMatchObject({ requests: 2, closedAt: undefined, closedMidResponse: false });
    expect(server.requests[1]!.connectionId).toBe(server.requests[0]!.connectionId);
  };

  it('a stream completed at [DONE] leaves its socket for the next request (own undici Agent)', async () => {
    // Paced, many writes: [DONE] and the end of the chunked body may come in separate reads.
    server.enqueue(openaiTextReply('one two three', { chunkDelayMs: 5 }), openaiTextReply('four five', { chunkDelayMs: 5 }));
    const agent = new Agent();
    try {
      const llm = model(undiciTransport({ dispatcher: agent }));
      expect((await lastValueFrom(llm.stream(request).pipe(collect()))).text).toBe('one two three');
      // undici hands a socket back to the pool one event-loop turn after its response ended;
      // a request dispatched before that rightly gets a new socket. Wait for the pool to say so.
      await waitFor(() => freeSockets(agent) === 1, 'the socket to be free in the pool');
      expect(server.connections[0]!.closedAt).toBeUndefined();
      expect((await lastValueFrom(llm.stream(request).pipe(collect()))).text).toBe('four five');
      twoRequestsOnOneSocket();
    } finally {
      await agent.destroy();
    }
  });

  it('a stream completed at [DONE] leaves its socket for the next request (default transport)', async () => {
    // The body in one write: Node sends it with the end of the chunked body, so the client sees
    // [DONE] and the end in one read; then undici frees the socket one event-loop turn later.
    const oneWrite = ({ chunks = [], ...reply }: MockReply): MockReply => ({ ...reply, body: chunks.join('') });
    server.enqueue(oneWrite(openaiTextReply('one two three')), oneWrite(openaiTextReply('four five')));
    const llm = model();
    expect((await lastValueFrom(llm.stream(request).pipe(collect()))).text).toBe('one two three');
    await pause(250);
    expect(server.connections[0]!.closedAt).toBeUndefined();
    expect((await lastValueFrom(llm.stream(request).pipe(collect()))).text).toBe('four five');
    twoRequestsOnOneSocket();
  });
});

describe('process lifetime', () => {
  it('nothing keeps the process alive after a finished and a cancelled stream', async () => {
    const script = fileURLToPath(new URL('./fixtures-scripts/exits-on-its-own.ts', import.meta.url));
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (piece: string) => (stdout += piece));
    child.stderr.setEncoding('utf8').on('data', (piece: string) => (stderr += piece));
    const exit = await new Promise<{ code: number | null; timedOut: boolean }>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve({ code: null, timedOut: true });
      }, 15_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, timedOut: false });
      });
    });
    expect({ ...exit, stderr }).toEqual({ code: 0, timedOut: false, stderr: '' });
    expect(stdout).toContain('finished:stop partial:true');
  });
});
