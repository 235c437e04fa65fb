/**
 * rxllm/operators — pipeable operators over `Observable<LlmEvent>`, one per file: resilience
 * (cache, retryBackoff, fallback, hedge, deadline, circuitBreaker) and cost (meter, budget,
 * rateLimit, route), and the building blocks they are made of (operate, relay, requestGate).
 * The shared objects they take (stores, limiters, breakers, ledgers) are made from `rxllm`.
 */
export { operate, relay, requestGate } from '../src/core/stream';
export { cache, cacheKey } from './cache';
export type { CacheConfig, RequestPredicate } from './cache';
export { hedge } from './hedge';
export type { HedgeConfig } from './hedge';
export { deadline } from './deadline';
export type { DeadlineConfig } from './deadline';
export { circuitBreaker } from './circuit-breaker';
export { retryBackoff } from './retry-backoff';
export type { RetryBackoffConfig, RetryContext, ShouldRetryContext } from './retry-backoff';
export { fallback } from './fallback';
export type { FallbackConfig, FallbackContext } from './fallback';
export type { AfterOutput } from '../src/control/attempts';
export { meter } from './meter';
export type { MeterConfig, MeterSink } from './meter';
export { route } from './route';
export type { EscalationContext, RouteBudget, RouteEscalation, RoutePolicy, RouteRule, RouteTier } from './route';
export { budget } from './budget';
export type { BudgetConfig, BudgetLimit } from './budget';
export { rateLimit } from './rate-limit';
export type { RateLimitConfig } from './rate-limit';
