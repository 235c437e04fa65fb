import type { SchedulerAction, SchedulerLike, Subscriber } from 'rxjs';
import { discardsAnswer, type FinishEvent, type LlmEvent } from '../core/events';

/**
 * A recorded response as the cache stores it: JSON-compatible, so any store can hold it.
 * `e`: the events after `request` that make up the answer (`response`, `text`, `reasoning`,
 * `tool-call`, `usage`, `finish`; notices are left out, they told the story of the original call).
 * `t`: per event, milliseconds since the previous one (the first: since the request), whole
 * milliseconds rounded from offsets so rounding never accumulates. Deltas are kept as they came —
 * not coalesced — so a timed replay is faithful; the events are the stream's own objects, shared,
 * so an entry in the memory store costs two arrays on top of the events the stream made anyway.
 */
export interface CacheEntry {
  readonly v: 1;
  readonly e: readonly LlmEvent[];
  readonly t: readonly number[];
}

const KEPT: ReadonlySet<LlmEvent['type']> = new Set(['response', 'text', 'reasoning', 'tool-call', 'usage', 'finish']);

/**
 * The entry for a stream that completed, from every event it carried after `request` and their
 * times (ms since the request); `undefined` unless it ended with a clean `finish` (not `'budget'`).
 * After a `retry`, `fallback` or `route` notice with `reset: true` only the attempt that followed counts,
 * timed from the notice.
 */
export function toEntry(events: readonly LlmEvent[], times: readonly number[]): CacheEntry | undefined {
  let from = 0;
  let base = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    if (discardsAnswer(event)) {
      from = i + 1;
      base = times[i]!;
    }
  }
  const e: LlmEvent[] = [];
  const t: number[] = [];
  let previous = 0;
  let finish: FinishEvent | undefined;
  for (let i = from; i < events.length; i++) {
    const event = events[i]!;
    if (!KEPT.has(event.type)) continue;
    const offset = Math.max(previous, Math.round(times[i]! - base));
    e.push(event);
    t.push(offset - previous);
    previous = offset;
    if (event.type === 'finish') finish = event;
  }
  return finish === undefined || finish.reason === 'budget' ? undefined : { v: 1, e, t };
}

/** True for a value `toEntry` made (a cheap shape check: a foreign or older value is a miss). */
export function isEntry(value: unknown): value is CacheEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Partial<CacheEntry>;
  return entry.v === 1 && Array.isArray(entry.e) && Array.isArray(entry.t) && entry.e.length === entry.t.length && entry.e.length > 0;
}

/**
 * Plays an entry to `subscriber`, then completes it. Without `timing`: synchronously, now. With
 * it: each event at its recorded offset divided by `speed`, on `scheduler` (events due at the same
 * time go out together, in one scheduled action); the pending action is released on unsubscribe.
 */
export function replayEntry(entry: CacheEntry, subscriber: Subscriber<LlmEvent>, timing?: { readonly speed: number; readonly scheduler: SchedulerLike }): void {
  const { e: events, t: deltas } = entry;
  let i = 0;
  if (!timing) {
    while (i < events.length && !subscriber.closed) subscriber.next(events[i++]!);
    subscriber.complete();
    return;
  }
  const { speed, scheduler } = timing;
  const start = scheduler.now();
  let due = 0;
  const step = (action: SchedulerAction<unknown> | undefined): void => {
    while (i < events.length) {
      const wait = start + (due + deltas[i]!) / speed - scheduler.now();
      if (wait > 0) {
        if (action) action.schedule(undefined, wait);
        else subscriber.add(scheduler.schedule(function (this: SchedulerAction<unknown>) { step(this); }, wait));
        return;
      }
      due += deltas[i]!;
      subscriber.next(events[i++]!);
      if (subscriber.closed) return;
    }
    subscriber.complete();
  };
  step(undefined);
}
