import { asyncScheduler, BehaviorSubject, type Observable, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { CircuitOpenError, LlmError } from '../core/errors';
import { functionSchema, parseConfig } from '../core/config';
import { durationSchema, schedulerSchema, type Duration } from '../core/time';

/** `closed`: calls pass. `open`: calls fail fast. `half-open`: a few probe calls test the water. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** One change of a breaker's state, as `breaker.state$` reports it. */
export interface BreakerStateChange {
  readonly state: BreakerState;
  /** Scheduler time of the change (`Date.now()` by default). For `half-open`: when `openFor` ran out. */
  readonly at: number;
  /** Failure rate (0–1) of the rolling window at the change; `closed` starts a fresh window (0). */
  readonly failureRate: number;
}

/** Options of `createBreaker()`. */
export interface BreakerConfig {
  /** Names the breaker in `CircuitOpenError` messages, e.g. the provider or model. */
  readonly name: string;
  /** The circuit opens when failures / calls over `window` reach this (0 < rate ≤ 1). @defaultValue 0.5 */
  readonly failureRate?: number;
  /** The rolling window: calls that ended within it count. @defaultValue '60s' */
  readonly window?: Duration;
  /** Fewer calls than this in the window never open the circuit. @defaultValue 10 */
  readonly minimumCalls?: number;
  /** How long the circuit stays open before it lets probes through. @defaultValue '30s' */
  readonly openFor?: Duration;
  /** Probe calls allowed while half-open; all must succeed to close. @defaultValue 1 */
  readonly halfOpenProbes?: number;
  /**
   * Which errors count as failures. Errors it rejects count as neither success nor failure (the
   * caller's fault says nothing about the provider's health). A throw counts as a failure and
   * errors the call with what was thrown.
   * @defaultValue any error except a non-retryable `LlmError` (invalid request, budget, 4xx)
   */
  readonly isFailure?: (error: unknown) => boolean;
  /** Where time comes from; a `TestScheduler` in marble tests. @defaultValue asyncScheduler */
  readonly scheduler?: SchedulerLike;
}

/** Admission of one call: report how it ended, exactly once (later reports are ignored). */
export interface BreakerPermit {
  /** The call finished: a success. */
  success(): void;
  /** The call failed with `error`: a failure if `isFailure(error)`, else neither. */
  failure(error: unknown): void;
  /** The call was abandoned (unsubscribed): neither success nor failure; a probe slot is freed. */
  cancel(): void;
}

/**
 * A circuit breaker's shared state: pass one to `circuitBreaker()` in every pipeline that calls
 * the same provider or model. Created by `createBreaker()`.
 */
export interface Breaker {
  readonly name: string;
  /** The state now (reading it moves an `open` circuit whose `openFor` has run out to `half-open`). */
  readonly state: BreakerState;
  /** Every state change; replays the current state to each new subscriber. Never completes. */
  readonly state$: Observable<BreakerStateChange>;
  /** Asks to start a call: a permit, or the `CircuitOpenError` to fail with. What `circuitBreaker()` uses. */
  acquire(): BreakerPermit | CircuitOpenError;
}


const configSchema = z.strictObject({
  name: z.string().min(1, 'expected a non-empty name'),
  failureRate: z.number().gt(0, 'expected a rate in (0, 1]').lte(1, 'expected a rate in (0, 1]').optional(),
  window: durationSchema.refine((ms) => ms > 0 && ms < Infinity, 'expected a finite duration greater than 0').optional(),
  minimumCalls: z.number().int('expected a whole number ≥ 1').min(1, 'expected a whole number ≥ 1').optional(),
  openFor: durationSchema.refine((ms) => ms < Infinity, 'expected a finite duration').optional(),
  halfOpenProbes: z.number().int('expected a whole number ≥ 1').min(1, 'expected a whole number ≥ 1').optional(),
  isFailure: functionSchema<(error: unknown) => boolean>('a function (error) => boolean').optional(),
  scheduler: schedulerSchema.optional(),
});

/** The default `isFailure`: the provider's or the network's fault, not the caller's. */
function defaultIsFailure(error: unknown): boolean {
  // Retryable rxllm errors are the provider's or the network's (5xx, 429, timeouts, resets);
  // non-retryable ones are the caller's (invalid request, budget, other 4xx). Unknown errors count.
  return !LlmError.is(error) || error.retryable;
}

/**
 * Creates a circuit breaker: `closed` → `open` when the failure rate over the rolling `window`
 * reaches `failureRate` (once at least `minimumCalls` calls ended in it) → `half-open` after
 * `openFor`, letting `halfOpenProbes` probe calls through: when they all succeed it closes
 * (with a fresh window), a failing one re-opens it for another `openFor`.
 *
 * State is in memory, in this object — share the object to share the breaker. The move to
 * `half-open` happens lazily, on the first `acquire()` or `state` read after `openFor` (so no
 * timer keeps a process alive); its `state$` change carries `at` = the moment `openFor` ran out.
 * Outcomes of calls admitted under an earlier state (say, a slow call that ends after the circuit
 * opened) are ignored.
 *
 * @example
 * const breaker = createBreaker({ name: 'openai', failureRate: 0.5, minimumCalls: 20, openFor: '30s' });
 * breaker.state$.subscribe(({ state, failureRate }) => log.warn(`openai circuit ${state} (${failureRate})`));
 * model.stream(request).pipe(circuitBreaker(breaker), fallback(backup));
 */
export function createBreaker(config: BreakerConfig): Breaker {
  const options = parseConfig('createBreaker', configSchema, config);
  const { name, failureRate: threshold = 0.5, window = 60_000, minimumCalls = 10, openFor = 30_000, halfOpenProbes = 1 } = options;
  const { isFailure = defaultIsFailure, scheduler = asyncScheduler } = options;

  let state: BreakerState = 'closed';
  let generation = 0; // bumped at every change: permits from an earlier state report into nothing
  let openUntil = 0;
  let probes = 0; // admitted in this half-open period (a cancelled one gives its slot back)
  let passed = 0; // probes that succeeded
  // The rolling window: end times and outcomes of calls, oldest first; `head` skips expired ones.
  let ends: number[] = [];
  let failedAt: boolean[] = [];
  let head = 0;
  let failures = 0;
  const changes = new BehaviorSubject<BreakerStateChange>({ state, at: scheduler.now(), failureRate: 0 });

  const prune = (now: number): void => {
    while (head < ends.length && ends[head]! <= now - window) if (failedAt[head++]) failures--;
    if (head > 256 && head * 2 > ends.length) {
      ends = ends.slice(head);
      failedAt = failedAt.slice(head);
      head = 0;
    }
  };
  const rate = (): number => (ends.length === head ? 0 : failures / (ends.length - head));
  const move = (next: BreakerState, at: number): void => {
    state = next;
    generation++;
    probes = passed = 0;
    if (next === 'open') openUntil = at + openFor;
    if (next === 'closed') {
      ends = [];
      failedAt = [];
      head = failures = 0;
    } else {
      prune(at);
    }
    changes.next({ state: next, at, failureRate: rate() });
  };
  const refresh = (): void => {
    if (state === 'open' && scheduler.now() >= openUntil) move('half-open', openUntil);
  };
  const settle = (gen: number, probe: boolean, outcome: 'success' | 'failure' | 'neither'): void => {
    if (gen !== generation) return;
    if (outcome === 'neither') {
      if (probe) probes--;
      return;
    }
    const now = scheduler.now();
    prune(now);
    ends.push(now);
    failedAt.push(outcome === 'failure');
    if (outcome === 'failure') failures++;
    if (probe) {
      if (outcome === 'failure') move('open', now);
      else if (++passed >= halfOpenProbes) move('closed', now);
    } else if (ends.length - head >= minimumCalls && rate() >= threshold) {
      move('open', now);
    }
  };

  return {
    name,
    get state() {
      refresh();
      return state;
    },
    state$: changes.asObservable(),
    acquire() {
      refresh();
      if (state === 'open') return new CircuitOpenError(name, Math.max(0, openUntil - scheduler.now()));
      // Half-open with every probe slot taken: fail fast until a probe decides.
      if (state === 'half-open' && probes >= halfOpenProbes) return new CircuitOpenError(name, 0);
      const probe = state === 'half-open';
      if (probe) probes++;
      const gen = generation;
      let done = false;
      const end = (outcome: 'success' | 'failure' | 'neither'): void => {
        if (done) return;
        done = true;
        settle(gen, probe, outcome);
      };
      return {
        success: () => end('success'),
        failure(error) {
          if (done) return;
          let failed = true;
          try {
            failed = isFailure(error);
          } finally {
            end(failed ? 'failure' : 'neither');
          }
        },
        cancel: () => end('neither'),
      };
    },
  };
}

/** True for a breaker made by `createBreaker()` (or anything with the same shape). */
export function isBreaker(value: unknown): value is Breaker {
  return typeof (value as Breaker | undefined)?.acquire === 'function' && typeof (value as Breaker).name === 'string';
}
