import type { Transport } from './transport';
import { undiciTransport } from './undici';

let transport: Transport | undefined;

/** Node: undici with the shared keep-alive pool. (The browser build swaps in `default-transport.browser.ts`.) */
export function defaultTransport(): Transport {
  transport ??= undiciTransport();
  return transport;
}
