/**
 * rxllm/operators — pipeable operators over `Observable<LlmEvent>`. Each lives in its own file;
 * they arrive with their issues (cache, retryBackoff, fallback, hedge, deadline, circuitBreaker,
 * meter, budget, rateLimit, route). The building blocks every one of them uses are here now.
 */
export { operate, relay, requestGate } from '../src/stream';
