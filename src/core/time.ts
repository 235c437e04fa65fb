import type { SchedulerLike } from 'rxjs';
import { z } from 'zod';

/** A length of time: milliseconds as a number, or a string such as `'250ms'`, `'2s'`, `'1.5m'`, `'1h'`. */
export type Duration = number | `${number}ms` | `${number}s` | `${number}m` | `${number}h`;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * The longest delay a timer can wait: 2^31 − 1 ms, about 24.8 days. Node, browsers and so
 * `asyncScheduler` (which uses `setInterval`) keep a delay in a signed 32-bit integer: a longer one
 * is not an error there, it fires after 1 ms. A `deadline({ total: '600h' })` would time out at once.
 */
export const MAX_DELAY_MS = 2 ** 31 - 1;

/** Milliseconds of a `Duration`; `undefined` when it is not one (negative, NaN, unknown unit). */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : value === Infinity ? Infinity : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value);
  return match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : undefined;
}

/**
 * A delay computed at run time (a backoff, a limiter's wait), made safe to give a timer: at most
 * `MAX_DELAY_MS`. Whoever waits that long must check again when the timer fires (a rate limiter
 * rescans its queue) — or refuse a longer wait instead (`retryBackoff` gives up on a `Retry-After`
 * it cannot honour).
 */
export function timerDelay(ms: number): number {
  return ms > MAX_DELAY_MS ? MAX_DELAY_MS : ms;
}

const EXPECTED = 'expected a duration: milliseconds (a number ≥ 0) or a string like "250ms", "2s", "1m"';
const EXPECTED_UNBOUNDED = 'expected a duration: milliseconds (a number ≥ 0, or Infinity) or a string like "250ms", "2s", "1m"';

/**
 * Parses a duration option to milliseconds, refusing a finite one a timer cannot wait (above
 * `MAX_DELAY_MS`) with a message that says the maximum and what came. Only the number `Infinity`
 * means "never": a string of 400 digits is too long, not infinite.
 */
function timedDuration(expected: string, infinity: string) {
  return (value: unknown, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }): number => {
    const ms = durationMs(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    if (ms > MAX_DELAY_MS && value !== Infinity) {
      const is = typeof value === 'number' ? '' : `; that is ${ms} ms`;
      ctx.addIssue({ code: 'custom', message: `expected a duration of at most ${MAX_DELAY_MS} ms (about 24.8 days, the longest a timer can wait)${infinity}${is}` });
      return z.NEVER;
    }
    return ms;
  };
}

/**
 * Zod schema for a `Duration` option, parsed to milliseconds: finite, and at most `MAX_DELAY_MS` —
 * a longer one throws at construction rather than firing after 1 ms.
 */
export const durationSchema = z.union([z.number(), z.string()]).transform(timedDuration(EXPECTED, ''));

/** Zod schema for a `scheduler` option: anything with `schedule()` and `now()` (a `SchedulerLike`). */
export const schedulerSchema = z.custom<SchedulerLike>(
  (value) => typeof (value as SchedulerLike | undefined)?.schedule === 'function' && typeof (value as SchedulerLike).now === 'function',
  'expected a SchedulerLike (schedule and now), e.g. asyncScheduler',
);

/**
 * `durationSchema` for options where `Infinity` means "no limit" or "never": any finite duration up
 * to `MAX_DELAY_MS`, or `Infinity`.
 */
export const unboundedDurationSchema = z
  .custom<Duration>((value) => durationMs(value) !== undefined, EXPECTED_UNBOUNDED)
  .transform(timedDuration(EXPECTED_UNBOUNDED, ', or Infinity for no limit'));

/**
 * A `Duration` of any length, for a time that is only compared with timestamps and never given to
 * a timer — an entry's TTL (`cache({ ttl: '2000h' })` is fine: nothing waits for it).
 */
export const expiryDurationSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = durationMs(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: EXPECTED });
    return z.NEVER;
  }
  return ms;
});
