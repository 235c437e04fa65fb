/**
 * Serving a model stream to browsers as Server-Sent Events: `npx tsx examples/sse-server.ts`,
 * then `curl -N 'http://127.0.0.1:3000/chat?q=hello'`. Press Ctrl-C in curl and the upstream
 * call is aborted: `toSSE` unsubscribes when the client goes away. Each stream ends with an
 * `event: done` frame (a browser EventSource should `close()` on it), and `{ request: req }` answers
 * an EventSource reconnect (`Last-Event-ID`) with 204 instead of starting a second, billed call.
 */
import { createServer, type Server } from 'node:http';
import { simulated, toSSE, type Model } from 'rxllm';

/** An HTTP server with one route, `GET /chat?q=...`, answering with the model's events as SSE. */
export function createChatServer(model: Model): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/chat') {
      res.writeHead(404).end();
      return;
    }
    const question = url.searchParams.get('q') ?? 'Hello';
    toSSE(model.stream({ messages: [{ role: 'user', content: question }] }), res, { request: req });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = createChatServer(simulated());
  server.listen(3000, '127.0.0.1', () => console.log("listening: curl -N 'http://127.0.0.1:3000/chat?q=hello'"));
}
