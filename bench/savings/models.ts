/**
 * Simulated models for the savings report, in virtual time: no sockets, no real waiting — a
 * `VirtualTimeScheduler` plays 2,000 requests' worth of minutes in a second or two, while every
 * operator under test runs exactly as it would on a real stream (they take the same scheduler).
 *
 * Each model has a time to first token, a pace and a price, and keeps its own bill: what the
 * provider would charge — input tokens of every request it started, and the output tokens it had
 * generated when the stream finished or was cancelled (a cut stream stops the bill there).
 */
import { type SchedulerAction, type SchedulerLike } from 'rxjs';
import { type LlmEvent, type LlmRequest, type Model, type ModelInfo } from '../../src/index';
import { createEventStream } from '../../src/providers/index';

export interface VirtualModelOptions {
  readonly id: string;
  readonly provider: string;
  readonly ttftMs: number;
  readonly tokensPerSecond: number;
  /** Tokens of input the provider bills for a request. */
  readonly inputTokens: (request: LlmRequest) => number;
  /** The answer's length in tokens (before maxOutputTokens). */
  readonly answerTokens: (request: LlmRequest) => number;
  readonly scheduler: SchedulerLike;
  /** Events are sent in chunks of this many ms of output (providers batch tokens too). @defaultValue 200 */
  readonly chunkMs?: number;
}

export interface Bill {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cancelled: number;
}

export interface VirtualModel extends Model {
  readonly bill: Bill;
}

const WORD = [' the', ' stream', ' answer', ' token', ' cost', ' model', ' cache', ' budget'];

export function virtualModel(options: VirtualModelOptions): VirtualModel {
  const { id, provider, ttftMs, tokensPerSecond, scheduler, chunkMs = 200 } = options;
  const info: ModelInfo = { provider, id, name: `${provider}:${id}` };
  const bill: Bill = { calls: 0, inputTokens: 0, outputTokens: 0, cancelled: 0 };
  const perChunk = Math.max(1, Math.round((tokensPerSecond * chunkMs) / 1000));
  return {
    info,
    bill,
    stream: (input) =>
      createEventStream(input, info, (subscriber, request) => {
        const inputTokens = options.inputTokens(request);
        const total = Math.min(options.answerTokens(request), request.maxOutputTokens ?? Infinity);
        const truncated = total < options.answerTokens(request);
        let sent = 0;
        let done = false;
        bill.calls++;
        bill.inputTokens += inputTokens;
        subscriber.next({ type: 'response', status: 200, headers: {} });
        const action = scheduler.schedule(function (this: SchedulerAction<unknown>) {
          const end = Math.min(total, sent + perChunk);
          while (sent < end && !subscriber.closed) {
            sent++;
            bill.outputTokens++;
            subscriber.next({ type: 'text', text: sent === 1 ? 'The' : WORD[sent % WORD.length]! });
          }
          if (subscriber.closed) return;
          if (sent < total) return void this.schedule(undefined, (perChunk / tokensPerSecond) * 1000);
          done = true;
          const events: LlmEvent[] = [
            { type: 'usage', usage: { inputTokens, outputTokens: sent, totalTokens: inputTokens + sent } },
            { type: 'finish', reason: truncated ? 'length' : 'stop' },
          ];
          for (const event of events) subscriber.next(event);
          subscriber.complete();
        }, ttftMs);
        return () => {
          if (!done) bill.cancelled++;
          action.unsubscribe();
        };
      }),
  };
}
