import { fetchTransport } from './fetch';
import type { Transport } from './transport';

let transport: Transport | undefined;

/** Browsers and edge runtimes: the platform's fetch. */
export function defaultTransport(): Transport {
  transport ??= fetchTransport();
  return transport;
}
