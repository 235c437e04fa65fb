/**
 * rxllm/operators — pipeable operators over `Observable<LlmEvent>`. Each lives in its own file;
 * they arrive with their issues (cache, retryBackoff, fallback, hedge, deadline, circuitBreaker,
 * meter, budget, rateLimit, route). The building blocks every one of them uses are here now.
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
