/**
 * rxllm — LLM calls as RxJS observables. Node entry: undici transport and the simulated model.
 * @packageDocumentation
 */
export * from './core';
export { undiciTransport } from './http/undici';
export type { UndiciTransportOptions } from './http/undici';
export { simulated } from './providers/simulated';
export type { SimulatedConfig, SimulatedFault, SimulatedModel } from './providers/simulated';
