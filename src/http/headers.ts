import { redact } from '../core/errors';
import type { RateLimitInfo } from '../core/events';
import type { HeaderLookup } from './transport';

/** Response headers kept on the `response` event: request ids and the rate-limit families. Never request headers. */
const KEPT_HEADER_NAMES = [
  'x-request-id', 'request-id', 'retry-after', 'retry-after-ms', 'openai-processing-ms', 'openai-model',
  'x-ratelimit-limit-requests', 'x-ratelimit-limit-tokens', 'x-ratelimit-remaining-requests',
  'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens',
  'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset',
  'anthropic-ratelimit-requests-limit', 'anthropic-ratelimit-requests-remaining', 'anthropic-ratelimit-requests-reset',
  'anthropic-ratelimit-tokens-limit', 'anthropic-ratelimit-tokens-remaining', 'anthropic-ratelimit-tokens-reset',
  'anthropic-ratelimit-input-tokens-limit', 'anthropic-ratelimit-input-tokens-remaining', 'anthropic-ratelimit-input-tokens-reset',
  'anthropic-ratelimit-output-tokens-limit', 'anthropic-ratelimit-output-tokens-remaining', 'anthropic-ratelimit-output-tokens-reset',
] as const;

/**
 * The kept headers present on a response, by lower-case name, each value passed through
 * `redact()`: they travel in `response` events (logged, cached, sent to browsers by `toSSE`), and
 * a misbehaving proxy may echo a credential into any of them (`x-request-id: <the key>`).
 */
export function keptHeaders(headers: HeaderLookup): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KEPT_HEADER_NAMES) {
    const value = headers.get(name);
    if (value !== undefined) out[name] = redact(value);
  }
  return out;
}

/**
 * The provider's request id (`x-request-id`, else `request-id`), redacted as the kept headers are:
 * it is copied into `response` events and onto errors (`requestId`).
 */
export function requestIdOf(headers: HeaderLookup): string | undefined {
  const id = headers.get('x-request-id') ?? headers.get('request-id');
  return id === undefined ? undefined : redact(id);
}

/**
 * How long the server asked us to wait: `retry-after-ms` (OpenAI), else `retry-after` as seconds
 * or as an HTTP date. Undefined when absent, unparsable or negative.
 */
export function retryAfterMsOf(headers: HeaderLookup, now: number = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== undefined) {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const after = headers.get('retry-after');
  if (after === undefined || after.trim() === '') return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Parses OpenAI's reset durations ("6ms", "1s", "6m0s", "1h2m3.5s") to milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = false;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    matched = true;
    consumed += m[0].length;
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
  }
  return matched && consumed === text.trim().length ? total : undefined;
}

function num(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** A reset given as a duration, as seconds, or as an epoch (s or ms), to milliseconds from now. */
function resetMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const n = num(value);
  if (n === undefined) return parseDurationMs(value);
  if (n > 1e12) return Math.max(0, n - now); // epoch milliseconds (OpenRouter)
  if (n > 1e9) return Math.max(0, n * 1000 - now); // epoch seconds
  return n * 1000;
}

/** Reads the OpenAI (`x-ratelimit-*-requests/-tokens`), OpenRouter (`x-ratelimit-*`) and Anthropic (`anthropic-ratelimit-*`) header families. */
export function rateLimitOf(headers: HeaderLookup, now: number = Date.now()): RateLimitInfo | undefined {
  const info: Record<string, number> = {};
  const put = (key: keyof RateLimitInfo, value: number | undefined): void => {
    if (value !== undefined) info[key] = value;
  };
  put('limitRequests', num(headers.get('x-ratelimit-limit-requests') ?? headers.get('x-ratelimit-limit')));
  put('remainingRequests', num(headers.get('x-ratelimit-remaining-requests') ?? headers.get('x-ratelimit-remaining')));
  put('resetRequestsMs', resetMs(headers.get('x-ratelimit-reset-requests') ?? headers.get('x-ratelimit-reset'), now));
  put('limitTokens', num(headers.get('x-ratelimit-limit-tokens')));
  put('remainingTokens', num(headers.get('x-ratelimit-remaining-tokens')));
  put('resetTokensMs', resetMs(headers.get('x-ratelimit-reset-tokens'), now));
  if (Object.keys(info).length === 0) {
    // Anthropic's family: `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`, resets as RFC 3339 times.
    put('limitRequests', num(headers.get('anthropic-ratelimit-requests-limit')));
    put('remainingRequests', num(headers.get('anthropic-ratelimit-requests-remaining')));
    put('resetRequestsMs', dateResetMs(headers.get('anthropic-ratelimit-requests-reset'), now));
    put('limitTokens', num(headers.get('anthropic-ratelimit-tokens-limit')));
    put('remainingTokens', num(headers.get('anthropic-ratelimit-tokens-remaining')));
    put('resetTokensMs', dateResetMs(headers.get('anthropic-ratelimit-tokens-reset'), now));
  }
  return Object.keys(info).length > 0 ? (info as RateLimitInfo) : undefined;
}

/** A reset given as a date-time (`2026-01-26T23:34:26Z`), to milliseconds from now (0 once past). */
function dateResetMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
