import { z } from 'zod';
import { LlmError } from '../core/errors';
import { discardsAnswer, isOutput, type LlmEvent } from '../core/events';
import { requestGate } from '../core/stream';

/**
 * What an operator that tries again (`retryBackoff`, `fallback`) does when an attempt fails
 * **after** some of its output (text, reasoning, tool-call deltas) already went downstream:
 *
 * - `'before-output'`: try again only while nothing was emitted; otherwise pass the error on.
 *   Downstream never sees output from two attempts.
 * - `'restart'`: try again anyway, and mark the notice (`retry` / `fallback`) with `reset: true`
 *   so consumers discard the partial response (`collect()` does).
 */
export type AfterOutput = 'before-output' | 'restart';

/** Zod schema of the `afterOutput` option. */
export const afterOutputSchema = z.enum(['before-output', 'restart'], { error: 'expected "before-output" or "restart"' });

/** Whether another attempt may follow a failure, and if so whether it restarts the output. */
export interface AttemptVerdict {
  /** True when the failed attempt had emitted output: the notice must tell consumers to discard it. */
  readonly reset: boolean;
}

/**
 * One operator subscription's view of its attempts: the `request` gate, whether the current
 * attempt's output has reached downstream, and the after-output policy. Create one per
 * subscription (state never outlives it).
 */
export interface AttemptLog {
  /**
   * Run every event the operator sends downstream through this — source events and the operator's
   * own notices. Returns false for a repeated `request` (swallow it). Output marks the current
   * attempt as started; a notice with `reset: true` (from this operator or one nested inside it)
   * clears the mark, because consumers have just discarded that output.
   */
  pass(event: LlmEvent): boolean;
  /** True when output of the current attempt went downstream and was not reset since. */
  readonly outputStarted: boolean;
  /**
   * Decides about a failure of the current attempt: the after-output policy first, then `wanted`
   * (the operator's predicate: which errors deserve another attempt — user code, may throw).
   * Returns the verdict for the notice, or `undefined`: pass the error on.
   */
  again(error: unknown, wanted: (error: unknown, outputStarted: boolean) => boolean): AttemptVerdict | undefined;
}

/** The attempt log shared by `retryBackoff` and `fallback`. */
export function attemptLog(afterOutput: AfterOutput): AttemptLog {
  const gate = requestGate();
  let started = false;
  return {
    pass(event) {
      if (!gate(event)) return false;
      if (isOutput(event)) started = true;
      else if (discardsAnswer(event)) started = false;
      return true;
    },
    get outputStarted() {
      return started;
    },
    again(error, wanted) {
      if (started && afterOutput === 'before-output') return undefined;
      return wanted(error, started) ? { reset: started } : undefined;
    },
  };
}

/** The `cause` a notice names: an rxllm error's `code`, else the error's name (`'Error'`, `'TypeError'`). */
export function causeOf(error: unknown): string {
  if (LlmError.is(error)) return error.code;
  return error instanceof Error ? error.name : 'unknown';
}
