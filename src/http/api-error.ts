import { ApiError, LlmError, RateLimitError } from '../core/errors';
import { rateLimitOf, requestIdOf, retryAfterMsOf } from './headers';
import type { HeaderLookup } from './transport';

const CODES: Record<number, [code: string, retryable: boolean]> = {
  400: ['bad_request', false],
  401: ['authentication_failed', false],
  402: ['payment_required', false],
  403: ['permission_denied', false],
  404: ['not_found', false],
  408: ['request_timeout', true],
  409: ['conflict', true],
  413: ['request_too_large', false],
  422: ['unprocessable_request', false],
  500: ['server_error', true],
  502: ['bad_gateway', true],
  503: ['unavailable', true],
  504: ['gateway_timeout', true],
  529: ['overloaded', true],
};

/** Provider error types that mean "try again" whatever the status says. */
const RETRYABLE_TYPES = new Set(['server_error', 'overloaded_error', 'api_error', 'rate_limit_error', 'rate_limit_exceeded', 'timeout', 'internal_error', 'service_unavailable', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE', 'INTERNAL']);
/** …and types that mean "don't", even on a 429. */
const FINAL_TYPES = new Set(['insufficient_quota', 'billing_hard_limit_reached']);
/** A rejected key: OpenAI sends `code: 'invalid_api_key'` with its 401 (and some proxies with other statuses). */
const AUTH_TYPES = new Set(['invalid_api_key']);
/** Retryable provider error types with a code of their own when no HTTP status says more (inside a 200 stream). */
const TYPE_CODES: Readonly<Record<string, string>> = { overloaded_error: 'overloaded' };

/** The common shapes of a provider's error payload, read loosely. */
interface ErrorPayload {
  readonly message?: unknown;
  readonly type?: unknown;
  readonly code?: unknown;
  readonly status?: unknown;
  readonly status_code?: unknown;
  /** Google's `google.rpc` details: `ErrorInfo` (reason), `RetryInfo` (retryDelay), … */
  readonly details?: unknown;
}

export interface ErrorContext {
  readonly provider: string;
  readonly status?: number;
  readonly requestId?: string;
  readonly retryAfterMs?: number;
}

/**
 * Builds the typed error for a provider error object — from a non-2xx body or from inside a
 * 200 stream (OpenRouter's `error` key, Groq's `event: error`, Anthropic's error event).
 */
export function errorFromPayload(payload: unknown, context: ErrorContext): LlmError {
  const body: ErrorPayload =
    typeof payload === 'object' && payload !== null
      ? ((payload as { error?: unknown }).error !== undefined && typeof (payload as { error?: unknown }).error === 'object'
          ? ((payload as { error: ErrorPayload }).error ?? {})
          : (payload as ErrorPayload))
      : {};
  const flatMessage = typeof payload === 'object' && payload !== null && typeof (payload as { error?: unknown }).error === 'string' ? (payload as { error: string }).error : undefined;
  const numeric = [context.status, body.status_code, body.code, body.status].find((v): v is number => typeof v === 'number' && v >= 100 && v < 600);
  const status = context.status ?? numeric;
  const providerCode = [body.code, body.type, body.status].find((v): v is string => typeof v === 'string' && v !== '');
  const message = typeof body.message === 'string' ? body.message : flatMessage ?? (typeof payload === 'string' ? payload : 'unknown error');
  const [code, statusRetryable] = (status !== undefined ? CODES[status] : undefined) ?? (status !== undefined && status >= 500 ? ['server_error', true] : ['api_error', false]);
  const typeRetryable = [body.type, body.code, body.status].some((v) => typeof v === 'string' && RETRYABLE_TYPES.has(v));
  const final = [body.type, body.code].some((v) => typeof v === 'string' && FINAL_TYPES.has(v));
  const auth = [body.type, body.code].some((v) => typeof v === 'string' && AUTH_TYPES.has(v)) || googleReasonIs(body.details, 'API_KEY_INVALID');
  const prefix = `${context.provider}${status !== undefined ? ` ${status}` : ''}${providerCode ? ` ${providerCode}` : ''}`;
  const common = {
    message: `${prefix}: ${message}`,
    provider: context.provider,
    ...(status !== undefined ? { status } : {}),
    ...(context.requestId !== undefined ? { requestId: context.requestId } : {}),
    ...(context.retryAfterMs !== undefined ? { retryAfterMs: context.retryAfterMs } : {}),
    ...(providerCode !== undefined ? { providerCode } : {}),
  };
  if (final) return new ApiError({ ...common, code: 'quota_exceeded', retryable: false });
  if (auth) return new ApiError({ ...common, code: 'authentication_failed', retryable: false });
  if (status === 429 || body.type === 'rate_limit_error' || body.code === 'rate_limit_exceeded' || body.status === 'RESOURCE_EXHAUSTED') return new RateLimitError(common);
  return new ApiError({ ...common, code: status === undefined && typeRetryable ? (TYPE_CODES[String(body.type)] ?? 'server_error') : code, retryable: statusRetryable || typeRetryable });
}

/** The typed error for a non-2xx response, from its status, headers and (bounded) body text. */
export function errorFromResponse(status: number, headers: HeaderLookup, bodyText: string, provider: string): LlmError {
  let payload: unknown = bodyText.trim() === '' ? `HTTP ${status} with an empty body` : bodyText;
  try {
    payload = JSON.parse(bodyText);
  } catch {
    // not JSON: keep the text (HTML error pages, plain text)
    if (bodyText.length > 500) payload = `${bodyText.slice(0, 500)}…`;
  }
  const requestId = requestIdOf(headers);
  const retryAfterMs = retryAfterMsOf(headers) ?? retryAfterFromBody(payload) ?? (status === 429 ? exhaustedWindowResetMs(headers) : undefined);
  return errorFromPayload(payload, {
    provider,
    status,
    ...(requestId !== undefined ? { requestId } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

/** Without `retry-after`, a 429's wait is the reset of the rate-limit window that ran out (OpenRouter). */
function exhaustedWindowResetMs(headers: HeaderLookup): number | undefined {
  const limits = rateLimitOf(headers);
  if (limits?.remainingRequests === 0 && limits.resetRequestsMs !== undefined) return limits.resetRequestsMs;
  if (limits?.remainingTokens === 0 && limits.resetTokensMs !== undefined) return limits.resetTokensMs;
  return undefined;
}

/**
 * How long an error body asks the caller to wait, for providers that say it in the body rather
 * than in `retry-after`: Google's `google.rpc.RetryInfo` detail, `error.details[].retryDelay`, a
 * protobuf Duration in JSON form (`"34.4s"` → 34400). Undefined when absent or unparsable.
 * `errorFromResponse` consults it after the `retry-after-ms` / `retry-after` headers.
 *
 * @example
 * retryAfterFromBody({ error: { details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '34.4s' }] } }); // 34400
 */
export function retryAfterFromBody(payload: unknown): number | undefined {
  const error = typeof payload === 'object' && payload !== null ? (payload as { error?: unknown }).error : undefined;
  const details = typeof error === 'object' && error !== null ? (error as { details?: unknown }).details : undefined;
  if (!Array.isArray(details)) return undefined;
  for (const detail of details) {
    const delay = typeof detail === 'object' && detail !== null ? (detail as { retryDelay?: unknown }).retryDelay : undefined;
    if (typeof delay !== 'string') continue;
    const match = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
    if (match) return Math.round(Number(match[1]) * 1000);
  }
  return undefined;
}

/** True when Google's `google.rpc.ErrorInfo` detail carries `reason` (e.g. `API_KEY_INVALID` on a 400). */
function googleReasonIs(details: unknown, reason: string): boolean {
  return Array.isArray(details) && details.some((d) => typeof d === 'object' && d !== null && (d as { reason?: unknown }).reason === reason);
}
