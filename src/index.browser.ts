/**
 * rxllm — browser and edge entry: the same API on `fetch`, without undici, node: built-ins or the
 * simulated model (which needs a local HTTP server).
 * @packageDocumentation
 */
export * from './core';
