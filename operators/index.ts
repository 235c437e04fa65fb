/**
 * rxllm/operators — pipeable operators over `Observable<LlmEvent>`, one per file: resilience
 * (cache, retryBackoff, fallback, hedge, deadline, circuitBreaker) and cost (meter, budget,
 * rateLimit, route), and the building blocks they are made of (operate, relay, requestGate).
 */
export { operate, relay, requestGate } from '../src/stream';
export { cache, cacheKey } from './cache';
export type { CacheConfig, RequestPredicate } from './cache';
export { hedge } from './hedge';
export type { HedgeConfig } from './hedge';
export { deadline } from './deadline';
export type { DeadlineConfig } from './deadline';
export { circuitBreaker, createBreaker } from './circuit-breaker';
export type { Breaker, BreakerConfig, BreakerPermit, BreakerState, BreakerStateChange } from './circuit-breaker';
export { retryBackoff } from './retry-backoff';
export type { RetryBackoffConfig, RetryContext, ShouldRetryContext } from './retry-backoff';
export { fallback } from './fallback';
export type { FallbackConfig, FallbackContext } from './fallback';
export type { AfterOutput } from '../src/attempts';
export { meter } from './meter';
export type { MeterConfig, MeterSink } from './meter';
export { route } from './route';
export type { EscalationContext, RouteBudget, RouteEscalation, RoutePolicy, RouteRule, RouteTier } from './route';
export { budget } from './budget';
export type { BudgetConfig, BudgetLimit } from './budget';
export { createRateLimiter, rateLimit } from './rate-limit';
export type { RateLimitConfig, RateLimitDemand, RateLimiter, RateLimiterConfig, RateLimitKey, RateLimits, RateLimitTicket, RateLimitWaiter } from './rate-limit';
