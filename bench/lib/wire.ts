/**
 * What the bench server and its clients agree on, without the server itself: child processes
 * import this (never `server.ts`, whose "am I the main module?" check would misfire inside a bundle).
 */

/** The text of every token frame. Clients check `deltas === N` and `chars === N * TOKEN_TEXT.length`. */
export const TOKEN_TEXT = ' tok';

export type BenchMode = 'fast' | 'paced' | 'endless';

/** Knobs that can travel in a base URL (see `knobURL`). */
export interface Knobs {
  readonly mode?: BenchMode;
  readonly tokens?: number;
  readonly batch?: number;
  readonly rate?: number;
  readonly tag?: string;
}

/**
 * `baseURL` (`http://127.0.0.1:PORT/v1`) with a knob segment before `/v1`:
 * `http://127.0.0.1:PORT/knobs/mode=endless,tag=abort-1/v1`. Values must be URL-path-safe.
 */
export function knobURL(baseURL: string, knobs: Knobs): string {
  const pairs = Object.entries(knobs)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`);
  if (pairs.length === 0) return baseURL;
  const url = new URL(baseURL);
  url.pathname = `/knobs/${pairs.join(',')}${url.pathname}`;
  return url.href.replace(/\/+$/, '');
}

/** One logged (tagged) stream. Times are `process.hrtime.bigint()` nanoseconds, as numbers. */
export interface StreamRecord {
  readonly index: number;
  readonly mode: string;
  readonly openedNs: number;
  /** When the server saw the socket close; null while it is open. */
  closedNs: number | null;
  /** Token frames written so far. */
  tokens: number;
}
