/** The contenders, by name. Peer SDKs (openai, ai-sdk, …) get added here later. */
import { rawClient } from './raw';
import { rxllmClient } from './rxllm';
import type { ClientFactory } from './types';

export const CLIENTS = {
  raw: rawClient,
  rxllm: rxllmClient,
} satisfies Record<string, ClientFactory>;

export type ClientName = keyof typeof CLIENTS;

export function isClientName(name: string): name is ClientName {
  return Object.hasOwn(CLIENTS, name);
}

export type { BenchClient, ClientFactory, StreamResult } from './types';
