/**
 * A raw HTTP/1.1 server on node:net, for what `node:http` will not write: interim (1xx) responses
 * before the final one. Each request gets the same scripted bytes; the server records its sockets
 * so a test can check they all closed.
 */
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RawServer {
  /** `http://127.0.0.1:port/v1`, a `baseURL`. */
  readonly url: string;
  /** `http://127.0.0.1:port`. */
  readonly origin: string;
  /** Requests whose head and body arrived. */
  readonly requests: number;
  /** Sockets accepted so far, and how many of them are still open. */
  readonly accepted: number;
  readonly open: number;
  /** Resolves once every accepted socket has closed (rejects after `timeoutMs`). */
  waitForClose(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** One HTTP response as raw pieces: each is written as its own `write`, `gapMs` apart. */
export interface RawReply {
  readonly pieces: ReadonlyArray<string | Uint8Array>;
  /** @defaultValue 5 */
  readonly gapMs?: number;
}

/**
 * Serves `reply` to every request, then ends the socket (the final response must say
 * `connection: close` and carry no length, so its body runs to the close).
 */
export async function startRawServer(reply: RawReply): Promise<RawServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let requests = 0;
  const closed: Array<() => void> = [];
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) for (const done of closed.splice(0)) done();
    });
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let served = false;
    socket.on('data', (piece: Buffer) => {
      buffered = Buffer.concat([buffered, piece]);
      const headEnd = buffered.indexOf('\r\n\r\n');
      if (served || headEnd === -1) return;
      const head = buffered.subarray(0, headEnd).toString('latin1');
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffered.length < headEnd + 4 + length) return;
      served = true;
      requests++;
      void write(socket, reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/v1`,
    origin,
    get requests() {
      return requests;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return sockets.size;
    },
    waitForClose(timeoutMs = 5000) {
      if (sockets.size === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`raw server: ${sockets.size} socket(s) still open after ${timeoutMs} ms`)), timeoutMs);
        closed.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function write(socket: Socket, reply: RawReply): Promise<void> {
  for (const piece of reply.pieces) {
    if (socket.destroyed) return;
    socket.write(piece);
    await new Promise((resolve) => setTimeout(resolve, reply.gapMs ?? 5));
  }
  if (!socket.destroyed) socket.end();
}
