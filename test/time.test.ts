import { asyncScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigurationError } from 'rxllm';
import { parseConfig } from '../src/core/config';
import { durationSchema, expiryDurationSchema, MAX_DELAY_MS, timerDelay, unboundedDurationSchema } from '../src/core/time';

const parse = (schema: z.ZodType, value: unknown): unknown => parseConfig('op', z.strictObject({ d: schema }), { d: value }).d;

describe('duration schemas: nothing longer than a timer can wait', () => {
  it('accepts up to 2^31 − 1 ms, the longest delay setTimeout honours', () => {
    expect(MAX_DELAY_MS).toBe(2_147_483_647);
    expect(parse(durationSchema, MAX_DELAY_MS)).toBe(MAX_DELAY_MS);
    expect(parse(unboundedDurationSchema, '596h')).toBe(596 * 3_600_000);
  });

  it('refuses a finite duration above it with a ConfigurationError that says the maximum and what came', () => {
    for (const schema of [durationSchema, unboundedDurationSchema]) {
      expect(() => parse(schema, MAX_DELAY_MS + 1)).toThrow(ConfigurationError);
      expect(() => parse(schema, Number.MAX_SAFE_INTEGER)).toThrow(/op\(\): d: expected a duration of at most 2147483647 ms \(about 24.8 days.*received 9007199254740991$/);
      expect(() => parse(schema, '600h')).toThrow(/at most 2147483647 ms .*; that is 2160000000 ms; received "600h"$/);
      // Digits enough to overflow to Infinity are a very long duration, not "never".
      expect(() => parse(schema, `${'9'.repeat(400)}ms`)).toThrow(/at most 2147483647 ms/);
    }
    expect(() => parse(unboundedDurationSchema, '600h')).toThrow(/or Infinity for no limit/);
  });

  it('keeps Infinity for "never" where an option allows it, and only there', () => {
    expect(parse(unboundedDurationSchema, Infinity)).toBe(Infinity);
    expect(() => parse(durationSchema, Infinity)).toThrow(ConfigurationError);
  });

  it('leaves a time never given to a timer (a TTL) unbounded', () => {
    expect(parse(expiryDurationSchema, '2000h')).toBe(2000 * 3_600_000);
    expect(() => parse(expiryDurationSchema, '2 fortnights')).toThrow(/expected a duration/);
  });

  it('timerDelay caps a delay computed at run time', () => {
    expect(timerDelay(5)).toBe(5);
    expect(timerDelay(MAX_DELAY_MS)).toBe(MAX_DELAY_MS);
    expect(timerDelay(30 * 24 * 3_600_000)).toBe(MAX_DELAY_MS);
    expect(timerDelay(Infinity)).toBe(MAX_DELAY_MS);
  });

  it('the longest accepted delay really waits on asyncScheduler (a longer one would fire after 1 ms)', async () => {
    let fired = 0;
    const action = asyncScheduler.schedule(() => void fired++, MAX_DELAY_MS);
    await new Promise((resolve) => setTimeout(resolve, 50));
    action.unsubscribe();
    expect(fired).toBe(0);
  });
});
