/**
 * `npm run demo`: rxllm end to end with no API key and no network.
 *
 * The model is `simulated()`: a simulator (not a language model) serving the OpenAI streaming
 * wire format from a loopback HTTP server inside this process, so every byte goes through the
 * same transport and parser a real provider would.
 */
import { filter, lastValueFrom, take, tap } from 'rxjs';
import { collect, memoryStore, simulated, text, type LlmEvent } from 'rxllm';
import { cache, fallback, retryBackoff } from 'rxllm/operators';

const dim = (s: string): string => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[22m` : s);
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[22m` : s);
const write = (s: string): boolean => process.stdout.write(s);

const model = simulated({ ttftMs: 350, tokensPerSecond: 45, outputTokens: 90 });
const server = await model.server();

// 1. Stream a completion, with live time to first token and tokens per second.
console.log(bold('1. A streamed completion from the simulated model'));
const started = performance.now();
let firstTokenAt: number | undefined;
let tokens = 0;
let lastMark = 0;
const live = (event: LlmEvent): void => {
  if (event.type !== 'text') return;
  const now = performance.now();
  if (firstTokenAt === undefined) {
    firstTokenAt = now;
    lastMark = now;
    write(dim(`[first token after ${Math.round(now - started)} ms] `));
  }
  tokens++;
  write(event.text);
  if (now - lastMark >= 1000) {
    lastMark = now;
    write(dim(` [${(tokens / ((now - firstTokenAt) / 1000)).toFixed(1)} tok/s]`));
  }
};
const completion = await lastValueFrom(
  model.stream({ messages: [{ role: 'user', content: 'Why stream LLM responses?' }] }).pipe(tap(live), collect()),
);
const seconds = (performance.now() - firstTokenAt!) / 1000;
console.log(
  `\n${dim(
    `-> finish: ${completion.finishReason}; usage: ${completion.usage?.inputTokens} in / ${completion.usage?.outputTokens} out; ` +
      `time to first token ${Math.round(firstTokenAt! - started)} ms; ${(tokens / seconds).toFixed(1)} tok/s`,
  )}\n`,
);

// 2. Cancel a stream early: unsubscribing aborts the HTTP request and the server sees the socket close.
console.log(bold('2. Cancelling a stream after 8 tokens'));
const requestsBefore = server.requests.length;
await new Promise<void>((resolve) => {
  model
    .stream({ messages: [{ role: 'user', content: 'Tell me a long story.' }], maxOutputTokens: 500 })
    .pipe(text(), take(8))
    .subscribe({ next: (delta) => write(delta), complete: resolve });
});
const unsubscribedAt = performance.now();
const request = server.requests[requestsBefore]!;
const closed = await server.waitForClose(request.connectionId);
console.log(
  `\n${dim(
    `-> unsubscribed after 8 tokens; the server saw connection #${closed.id} close ` +
      `${Math.max(0, closed.closedAt! - unsubscribedAt).toFixed(1)} ms later, mid-response: ${closed.closedMidResponse} ` +
      `(${closed.bytesWritten} bytes written of a 500-token answer)`,
  )}\n`,
);

// 3. The request travels first: an operator that drops it on sight means no byte is sent.
console.log(bold('3. Dropping a request on its `request` event'));
const before = server.requests.length;
model
  .stream({ messages: [{ role: 'user', content: 'Never sent' }] })
  .pipe(filter((event) => event.type === 'request'), take(1))
  .subscribe((event) => write(dim(`saw the request for ${event.type === 'request' ? event.model.name : ''} and unsubscribed; `)));
await new Promise((resolve) => setTimeout(resolve, 200));
console.log(dim(`requests the server received: ${server.requests.length - before}\n`));

// 4. A cache: the first call is a miss and streams from the model; the second is a hit, replayed
//    from memory without a request.
console.log(bold('4. Cache: a miss, then a hit'));
const store = memoryStore({ eviction: 'lru', ttl: '10m' });
const question = { messages: [{ role: 'user' as const, content: 'What does a cache save?' }], maxOutputTokens: 30 };
for (const round of ['first', 'second']) {
  const sent = server.requests.length;
  const t0 = performance.now();
  let status = '';
  const answer = await lastValueFrom(
    model.stream(question).pipe(
      cache(store),
      tap((event: LlmEvent) => {
        if (event.type === 'cache') status = event.status;
      }),
      collect(),
    ),
  );
  console.log(
    dim(`${round} call: cache ${status}, ${(performance.now() - t0).toFixed(2)} ms, requests sent: ${server.requests.length - sent}, `) +
      `"${answer.text.slice(0, 40)}…"`,
  );
}
console.log();

// 5. Fallback: a primary that answers 503 (scripted), retried once, then the backup answers.
console.log(bold('5. Fallback after a scripted 503'));
const primary = simulated({ model: 'primary', ttftMs: 50, tokensPerSecond: 200, faults: [{ status: 503 }, { status: 503 }] });
const backup = simulated({ model: 'backup', ttftMs: 50, tokensPerSecond: 200 });
const recovered = await lastValueFrom(
  primary.stream({ messages: [{ role: 'user', content: 'Are you there?' }], maxOutputTokens: 12 }).pipe(
    retryBackoff({ maxRetries: 1, initialDelay: '100ms' }),
    fallback(backup),
    tap((event: LlmEvent) => {
      if (event.type === 'retry') console.log(dim(`retry ${event.attempt} after ${event.cause} (waiting ${event.delayMs} ms)`));
      if (event.type === 'fallback') console.log(dim(`fallback ${event.from} -> ${event.to} after ${event.cause}`));
    }),
    collect(),
  ),
);
console.log(`${recovered.text} ${dim(`(${recovered.finishReason})`)}\n`);

await Promise.all([model.close(), primary.close(), backup.close()]);
