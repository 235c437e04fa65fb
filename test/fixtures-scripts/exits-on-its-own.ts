// Run by test/cancellation.test.ts in a child process: one finished stream and one cancelled
// stream on the simulated model, then nothing is closed. The process must exit on its own —
// no server, socket, pool or timer of rxllm's may keep the event loop alive.
import { filter, lastValueFrom, take } from 'rxjs';
import { collect, isEvent, simulated } from '../../src/index';

const model = simulated({ ttftMs: 5, tokensPerSecond: 400, outputTokens: 30 });
const request = { messages: [{ role: 'user' as const, content: 'Say something about streams.' }] };

const completion = await lastValueFrom(model.stream(request).pipe(collect()));

// Cancelled mid-stream: two text deltas, then unsubscribe (take completes and unsubscribes).
const slow = simulated({ ttftMs: 5, tokensPerSecond: 50, outputTokens: 200 });
const partial = await lastValueFrom(slow.stream(request).pipe(filter(isEvent('text')), take(2)));

process.stdout.write(`finished:${completion.finishReason} partial:${partial.text.length > 0}\n`);
