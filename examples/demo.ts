/**
 * `npm run demo`: rxllm end to end with no API key and no network.
 *
 * The model is `simulated()`: a simulator (not a language model) serving the OpenAI streaming
 * wire format from a loopback HTTP server inside this process, so every byte goes through the
 * same transport and parser a real provider would.
 */
import { filter, lastValueFrom, take, tap } from 'rxjs';
import { BudgetExceededError, collect, createLedger, memoryStore, simulated, text, withPrices, type LlmEvent } from 'rxllm';
import { budget, cache, fallback, meter, retryBackoff } from 'rxllm/operators';

const dim = (s: string): string => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[22m` : s);
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[22m` : s);
const write = (s: string): boolean => process.stdout.write(s);

const model = simulated({ ttftMs: 350, tokensPerSecond: 45, outputTokens: 90 });
const server = await model.server();

// 1. Stream a completion, metered: meter() reports time to first token and the live token rate
//    while the answer streams, and usage and cost at the end. The simulator is priced like
//    gpt-4o-mini here (a price table entry of our own) so the cost line has something to show.
console.log(bold('1. A streamed completion from the simulated model, metered'));
const prices = withPrices({ 'sim-1': { input: 0.15, output: 0.6, asOf: '2026-11-23', source: 'demo: priced like gpt-4o-mini' } });
let lastLine = 0;
const completion = await lastValueFrom(
  model.stream({ messages: [{ role: 'user', content: 'Why stream LLM responses?' }] }).pipe(
    meter({ interval: '1s', prices }),
    tap((event: LlmEvent) => {
      if (event.type === 'text') write(event.text);
      if (event.type !== 'metrics') return;
      if (event.final) {
        const cost = event.costUsd === undefined ? '' : `; cost $${event.costUsd.toFixed(6)}`;
        write(dim(`\n-> finished in ${(event.elapsedMs / 1000).toFixed(2)} s: ${event.outputTokens} tokens, ${event.averageTokensPerSecond?.toFixed(1)} tok/s on average${cost}`));
      } else if (event.elapsedMs - lastLine >= 900 || lastLine === 0) {
        lastLine = event.elapsedMs;
        write(dim(event.outputTokens <= 1 ? ` [first token after ${event.ttftMs?.toFixed(0)} ms] ` : ` [${event.tokensPerSecond.toFixed(1)} tok/s, ${event.outputTokens} tokens] `));
      }
    }),
    collect(),
  ),
);
console.log(dim(`; finish: ${completion.finishReason}; usage: ${completion.usage?.inputTokens} in / ${completion.usage?.outputTokens} out\n`));

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

// 6. Budgets: a response cut at 20 output tokens (the HTTP request is aborted: the server sees the
//    socket close), then a tenant whose month budget is spent, refused before any I/O.
console.log(bold('6. Budget: a cut mid-stream, and a refusal before any I/O'));
const cutFrom = server.requests.length;
const cut = await lastValueFrom(
  model.stream({ messages: [{ role: 'user', content: 'Write a very long essay.' }], maxOutputTokens: 500 }).pipe(
    budget({ maxOutputTokens: 20 }),
    tap((event: LlmEvent) => {
      if (event.type === 'text') write(event.text);
      if (event.type === 'budget') write(dim(` [budget: ${event.limit} ${event.used} > ${event.max}]`));
    }),
    collect(),
  ),
);
const cutClose = await server.waitForClose(server.requests[cutFrom]!.connectionId);
console.log(dim(`\n-> finish: ${cut.finishReason}; the server saw the connection close mid-response: ${cutClose.closedMidResponse}`));
const ledger = createLedger(memoryStore());
const tenantBudget = budget({ ledger, scope: 'tenant', limitUsd: 0.00008, prices });
for (const call of [1, 2, 3]) {
  const sent = server.requests.length;
  try {
    const answer = await lastValueFrom(
      model.stream({ messages: [{ role: 'user', content: `Question ${call} from acme` }], metadata: { tenant: 'acme' } }).pipe(tenantBudget, collect()),
    );
    const spent = await ledger.spent('acme', 'month');
    console.log(dim(`call ${call}: finish ${answer.finishReason}; acme has spent $${spent.toFixed(6)} of its $0.000080; requests sent: ${server.requests.length - sent}`));
  } catch (error) {
    if (!(error instanceof BudgetExceededError)) throw error;
    console.log(dim(`call ${call}: refused (${error.limit}, ${error.phase}); requests sent: ${server.requests.length - sent}`));
  }
}
console.log();

await Promise.all([model.close(), primary.close(), backup.close()]);
