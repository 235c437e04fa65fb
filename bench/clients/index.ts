/**
 * The contenders, by name: the raw floor, rxllm, and the peer SDKs. Each is imported only when it
 * is created, so a process measuring one contender never loads the others (their import time
 * and heap would otherwise count against it).
 */
import type { ClientFactory } from './types';

/** Every contender, floor first. */
export const ALL_CLIENTS = ['raw', 'rxllm', 'openai-node', 'ai-sdk', 'langchain'] as const;

/** rxllm with operators (bench/clients/rxllm.ts): `meter()` + `budget()`, and the full pipeline. */
export const RXLLM_VARIANTS = ['rxllm-metered', 'rxllm-pipeline'] as const;

export type ClientName = (typeof ALL_CLIENTS)[number] | (typeof RXLLM_VARIANTS)[number];

export const CLIENTS: Readonly<Record<ClientName, ClientFactory>> = {
  raw: async (baseURL) => (await import('./raw')).rawClient(baseURL),
  rxllm: async (baseURL, options) => (await import('./rxllm')).rxllmClient(baseURL, options),
  'rxllm-metered': async (baseURL, options) => (await import('./rxllm')).rxllmVariantClient(baseURL, options ?? {}, 'metered'),
  'rxllm-pipeline': async (baseURL, options) => (await import('./rxllm')).rxllmVariantClient(baseURL, options ?? {}, 'pipeline'),
  'openai-node': async (baseURL) => (await import('./openai-node')).openaiNodeClient(baseURL),
  'ai-sdk': async (baseURL) => (await import('./ai-sdk')).aiSdkClient(baseURL),
  langchain: async (baseURL) => (await import('./langchain')).langchainClient(baseURL),
};
/** The peer SDKs. */
export const PEERS: readonly ClientName[] = ['openai-node', 'ai-sdk', 'langchain'];

export function isClientName(name: string): name is ClientName {
  return Object.hasOwn(CLIENTS, name);
}

/** The npm packages behind each contender, for the versions line of the results. */
export const CLIENT_PACKAGES: Readonly<Record<ClientName, readonly string[]>> = {
  raw: ['undici', 'eventsource-parser'],
  rxllm: ['rxjs', 'zod'],
  'rxllm-metered': ['js-tiktoken'],
  'rxllm-pipeline': [],
  'openai-node': ['openai'],
  'ai-sdk': ['ai', '@ai-sdk/openai-compatible'],
  langchain: ['@langchain/openai', '@langchain/core'],
};

export type { BenchClient, ClientFactory, ClientOptions, ConsumeHooks, LeaveResult, LeaveVia, StreamResult } from './types';
