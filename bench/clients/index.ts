/** The contenders, by name: the raw floor, rxllm, and the peer SDKs. */
import { aiSdkClient } from './ai-sdk';
import { langchainClient } from './langchain';
import { openaiNodeClient } from './openai-node';
import { rawClient } from './raw';
import { rxllmClient } from './rxllm';
import type { ClientFactory } from './types';

export const CLIENTS = {
  raw: rawClient,
  rxllm: rxllmClient,
  'openai-node': openaiNodeClient,
  'ai-sdk': aiSdkClient,
  langchain: langchainClient,
} satisfies Record<string, ClientFactory>;

export type ClientName = keyof typeof CLIENTS;

/** Every contender, floor first. */
export const ALL_CLIENTS: readonly ClientName[] = ['raw', 'rxllm', 'openai-node', 'ai-sdk', 'langchain'];
/** The peer SDKs. */
export const PEERS: readonly ClientName[] = ['openai-node', 'ai-sdk', 'langchain'];

export function isClientName(name: string): name is ClientName {
  return Object.hasOwn(CLIENTS, name);
}

/** The npm packages behind each contender, for the versions line of the results. */
export const CLIENT_PACKAGES: Readonly<Record<ClientName, readonly string[]>> = {
  raw: ['undici', 'eventsource-parser'],
  rxllm: ['rxjs', 'zod'],
  'openai-node': ['openai'],
  'ai-sdk': ['ai', '@ai-sdk/openai-compatible'],
  langchain: ['@langchain/openai', '@langchain/core'],
};

export type { BenchClient, ClientFactory, ClientOptions, ConsumeHooks, LeaveResult, LeaveVia, StreamResult } from './types';
