import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import type { LlmEvent } from 'rxllm';
import { createBreaker, type Breaker, type BreakerPermit, type BreakerState, type BreakerStateChange } from 'rxllm';
import { circuitBreaker, deadline, hedge, type DeadlineConfig, type HedgeConfig } from 'rxllm/operators';

describe('hedge, deadline, circuitBreaker types', () => {
  it('are MonoTypeOperatorFunction<LlmEvent>', () => {
    expectTypeOf(hedge({ after: '800ms' })).toEqualTypeOf<MonoTypeOperatorFunction<LlmEvent>>();
    expectTypeOf(deadline({ firstToken: '2s', idle: 5000 })).toEqualTypeOf<MonoTypeOperatorFunction<LlmEvent>>();
    expectTypeOf(circuitBreaker(createBreaker({ name: 'openai' }))).toEqualTypeOf<MonoTypeOperatorFunction<LlmEvent>>();
  });

  it('take durations, not arbitrary strings', () => {
    expectTypeOf<{ after: '2s' }>().toMatchTypeOf<HedgeConfig>();
    expectTypeOf<{ after: 'soon' }>().not.toMatchTypeOf<HedgeConfig>();
    expectTypeOf<{ idle: '1.5m' }>().toMatchTypeOf<DeadlineConfig>();
    expectTypeOf<{ idle: '5 minutes' }>().not.toMatchTypeOf<DeadlineConfig>();
  });

  it('a breaker exposes its state, its changes and acquire()', () => {
    const breaker = createBreaker({ name: 'openai', failureRate: 0.25, window: '2m', openFor: '10s' });
    expectTypeOf(breaker).toEqualTypeOf<Breaker>();
    expectTypeOf(breaker.state).toEqualTypeOf<BreakerState>();
    expectTypeOf(breaker.state$).toEqualTypeOf<Observable<BreakerStateChange>>();
    expectTypeOf<BreakerState>().toEqualTypeOf<'closed' | 'open' | 'half-open'>();
    expectTypeOf(breaker.acquire()).toEqualTypeOf<BreakerPermit | import('rxllm').CircuitOpenError>();
  });
});
