import type { SchedulerLike } from 'rxjs';
import { z } from 'zod';

/** A length of time: milliseconds as a number, or a string such as `'250ms'`, `'2s'`, `'1.5m'`, `'1h'`. */
export type Duration = number | `${number}ms` | `${number}s` | `${number}m` | `${number}h`;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds of a `Duration`; `undefined` when it is not one (negative, NaN, unknown unit). */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : value === Infinity ? Infinity : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value);
  return match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : undefined;
}

/** Zod schema for a `Duration` option, parsed to milliseconds. */
export const durationSchema = z
  .union([z.number(), z.string()])
  .transform((value, ctx) => {
    const ms = durationMs(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration: milliseconds (a number ≥ 0) or a string like "250ms", "2s", "1m"' });
      return z.NEVER;
    }
    return ms;
  });

/** Zod schema for a `scheduler` option: anything with `schedule()` and `now()` (a `SchedulerLike`). */
export const schedulerSchema = z.custom<SchedulerLike>(
  (value) => typeof (value as SchedulerLike | undefined)?.schedule === 'function' && typeof (value as SchedulerLike).now === 'function',
  'expected a SchedulerLike (schedule and now), e.g. asyncScheduler',
);

/** `durationSchema` that also accepts `Infinity`, for options where it means "no limit" or "never". */
export const unboundedDurationSchema = z
  .custom<Duration>((value) => durationMs(value) !== undefined, 'expected a duration: milliseconds (a number ≥ 0, or Infinity) or a string like "250ms", "2s", "1m"')
  .transform((value) => durationMs(value)!);
