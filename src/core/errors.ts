/**
 * Typed errors. Every failure rxllm reports is an `LlmError` with a stable snake_case `code`
 * and a `retryable` flag, delivered through the Observable's error channel so `catchError`,
 * RxJS `retry` and rxllm's `retryBackoff` compose with it.
 *
 * Identity survives bundlers and duplicate installs: each class has a literal `name` (a
 * minifier renames classes, never string literals) and its own `Symbol.for('rxllm.error.<Name>')`
 * marker. An instance carries the markers of its class and every ancestor, and
 * `instanceof` / `X.is()` read the marker of `X` alone, so they answer the same for an error
 * made by another copy of rxllm (a second install, a second bundle, another module instance).
 *
 * Secrets never appear in an error: messages built from provider bodies pass through
 * `redact()`, request headers are never stored, and `cause` is reduced to name + message.
 */

/** What `instanceof` and `is()` need of a class: its own marker. */
interface Marked {
  readonly marker: symbol;
}

/** A constructor of `T` that has a marker; the `this` of `is()` and `Symbol.hasInstance`. */
type MarkedClass<T> = (abstract new (...args: never[]) => T) & Marked;

/**
 * Sets, once, the marker of every class from `target` (the `new.target` of the base constructor)
 * up to `LlmError`: O(depth). Only classes that declare their own `marker` add one, so a user
 * subclass without one is known by its parent's. Non-enumerable: markers stay out of
 * `toJSON()`, `util.inspect` and spread copies.
 */
function mark(error: LlmError, target: unknown): void {
  // `typeof` stops a `Reflect.construct` whose new.target is not an Error subclass at the chain's end.
  for (let c = target; typeof c === 'function' && c !== Error; c = Object.getPrototypeOf(c)) {
    const own: unknown = Object.getOwnPropertyDescriptor(c, 'marker')?.value;
    if (typeof own === 'symbol') Object.defineProperty(error, own, { value: true });
  }
}

/** True when `value` is an object carrying `marker`; false for primitives, `null` and plain objects. */
function hasMarker(value: unknown, marker: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
}

export interface LlmErrorOptions {
  readonly code: string;
  readonly message: string;
  readonly retryable?: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly provider?: string;
  readonly requestId?: string;
  readonly cause?: unknown;
}

/**
 * The base of every rxllm error. `e instanceof LlmError` and `LlmError.is(e)` are both true for
 * any rxllm error, also one created by another copy of the library; the same holds for each
 * subclass (`e instanceof RateLimitError`, `ApiError.is(e)`): true for that class and its
 * subclasses only. `name` is a literal (`'RateLimitError'`), so it survives minification.
 */
export class LlmError extends Error {
  /** This class's marker, which every instance of it (and of its subclasses) carries. */
  static readonly marker: symbol = Symbol.for('rxllm.error.LlmError');
  // A field, so the most derived class's literal wins: subclass fields are set after super() returns.
  override readonly name: string = 'LlmError';
  /** Stable snake_case identifier, e.g. `'rate_limited'`. */
  readonly code: string;
  /** Whether the same request may succeed if tried again. */
  readonly retryable: boolean;
  /** HTTP status, when the error came from a response. */
  readonly status?: number;
  /** How long the provider asked us to wait, from `retry-after-ms` / `retry-after`. */
  readonly retryAfterMs?: number;
  readonly provider?: string;
  /** The provider's request id (from `x-request-id` / `request-id`), for support tickets. */
  readonly requestId?: string;

  constructor(options: LlmErrorOptions) {
    super(redact(options.message), options.cause === undefined ? undefined : { cause: safeCause(options.cause) });
    mark(this, new.target);
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.provider !== undefined) this.provider = options.provider;
    if (options.requestId !== undefined) this.requestId = options.requestId;
  }

  /**
   * True when `value` is an instance of this class or a subclass, even one created by another
   * copy of the library: `LlmError.is(e)` for any rxllm error, `ApiError.is(e)` for an `ApiError`
   * or `RateLimitError`. Reads `this`, so call it on the class; to pass it along, wrap it:
   * `errors.filter((e) => RateLimitError.is(e))`.
   */
  static is<T>(this: MarkedClass<T>, value: unknown): value is T {
    return hasMarker(value, this.marker);
  }

  /** Makes `instanceof` read this class's marker (inherited by every subclass), as `is()` does. */
  static override [Symbol.hasInstance]<T>(this: MarkedClass<T>, value: unknown): value is T {
    return hasMarker(value, this.marker);
  }

  toJSON(): Record<string, unknown> {
    const json: Record<string, unknown> = { name: this.name, code: this.code, message: this.message, retryable: this.retryable };
    for (const key of ['status', 'retryAfterMs', 'provider', 'requestId'] as const) {
      if (this[key] !== undefined) json[key] = this[key];
    }
    if (this.cause !== undefined) json['cause'] = this.cause;
    return json;
  }
}

/** A request that fails validation: raised before any I/O. `field` is the path, e.g. `messages[0].role`. */
export class InvalidRequestError extends LlmError {
  static override readonly marker: symbol = Symbol.for('rxllm.error.InvalidRequestError');
  override readonly name: string = 'InvalidRequestError';
  readonly field: string;
  constructor(field: string, message: string) {
    super({ code: 'invalid_request', message: `Invalid request: ${message}` });
    this.field = field;
  }
}

/** Bad options to a factory (missing API key, bad URL, a wrong option type): thrown at construction. */
export class ConfigurationError extends LlmError {
  static override readonly marker: symbol = Symbol.for('rxllm.error.ConfigurationError');
  override readonly name: string = 'ConfigurationError';
  constructor(message: string) {
    super({ code: 'invalid_configuration', message });
  }
}

/** The provider answered with an error: a non-2xx status, or an error inside a 200 stream. */
export class ApiError extends LlmError {
  static override readonly marker: symbol = Symbol.for('rxllm.error.ApiError');
  override readonly name: string = 'ApiError';
  /** The provider's own error type or code, e.g. `'server_error'`, `'tool_use_failed'`. */
  readonly providerCode?: string;
  constructor(options: LlmErrorOptions & { readonly providerCode?: string }) {
    super(options);
    if (options.providerCode !== undefined) this.providerCode = options.providerCode;
  }
}

/** HTTP 429, or a provider's rate-limit error in the stream. Always retryable. */
export class RateLimitError extends ApiError {
  static override readonly marker: symbol = Symbol.for('rxllm.error.RateLimitError');
  override readonly name: string = 'RateLimitError';
  constructor(options: Omit<LlmErrorOptions, 'code' | 'retryable'> & { readonly providerCode?: string }) {
    super({ ...options, code: 'rate_limited', retryable: true });
  }
}

/** The connection failed: refused, reset, DNS, TLS. Retryable: nothing was answered. */
export class ConnectionError extends LlmError {
  static override readonly marker: symbol = Symbol.for('rxllm.error.ConnectionError');
  override readonly name: string = 'ConnectionError';
  constructor(message: string, options: { readonly provider?: string; readonly cause?: unknown } = {}) {
    super({ code: 'connection_failed', message, retryable: true, ...options });
  }
}

/** The stream broke the wire format: unparsable JSON, an unknown framing, a truncated body. */
export class MalformedStreamError extends LlmError {
  static override readonly marker: symbol = Symbol.for('rxllm.error.MalformedStreamError');
  override readonly name: string = 'MalformedStreamError';
  constructor(message: string, options: { readonly provider?: string; readonly requestId?: string; readonly retryable?: boolean } = {}) {
    super({ code: 'malformed_stream', message, retryable: options.retryable ?? false, ...options });
  }
}

/** Which limit of `deadline()` fired. */
export type TimeoutKind = 'first-token' | 'idle' | 'total';

/** A deadline fired. `retryable`: another attempt may be faster. */
export class TimeoutError extends LlmError {
  static override readonly marker: symbol = Symbol.for('rxllm.error.TimeoutError');
  override readonly name: string = 'TimeoutError';
  readonly kind: TimeoutKind;
  readonly limitMs: number;
  constructor(kind: TimeoutKind, limitMs: number) {
    super({ code: 'timeout', message: `No ${kind === 'first-token' ? 'first token' : kind === 'idle' ? 'new token' : 'finish'} within ${limitMs} ms (${kind} deadline)`, retryable: true });
    this.kind = kind;
    this.limitMs = limitMs;
  }
}

/** When a budget stopped a call: `'preflight'` — refused before any I/O; `'stream'` — cut mid-response. */
export type BudgetPhase = 'preflight' | 'stream';

/** A budget limit refused a request or cut a stream. Not retryable: the same request would exceed it again. */
export class BudgetExceededError extends LlmError {
  static override readonly marker: symbol = Symbol.for('rxllm.error.BudgetExceededError');
  override readonly name: string = 'BudgetExceededError';
  /** Which limit: `'input-tokens'`, `'output-tokens'`, `'cost-usd'`, `'ledger-usd'` (from `budget()`), or your own name. */
  readonly limit: string;
  /** What the call used (or, refused before the call, would have used) when the limit was passed. */
  readonly used: number;
  readonly max: number;
  /** `'preflight'`: refused before any I/O; `'stream'`: the response was cut. @defaultValue 'stream' */
  readonly phase: BudgetPhase;
  /** The ledger scope whose budget ran out, for `'ledger-usd'`. */
  readonly scope?: string;
  constructor(limit: string, used: number, max: number, options: { readonly phase?: BudgetPhase; readonly scope?: string } = {}) {
    const { phase = 'stream', scope } = options;
    const where = `${scope === undefined ? '' : ` for scope "${scope}"`}${phase === 'preflight' ? ' (refused before the call)' : ''}`;
    super({ code: 'budget_exceeded', message: `Budget exceeded: ${limit} used ${used}, limit ${max}${where}` });
    this.limit = limit;
    this.used = used;
    this.max = max;
    this.phase = phase;
    if (scope !== undefined) this.scope = scope;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), limit: this.limit, used: this.used, max: this.max, phase: this.phase, ...(this.scope === undefined ? {} : { scope: this.scope }) };
  }
}

/** A circuit breaker is open: the call failed fast, before any I/O. Retryable (elsewhere, or later). */
export class CircuitOpenError extends LlmError {
  static override readonly marker: symbol = Symbol.for('rxllm.error.CircuitOpenError');
  override readonly name: string = 'CircuitOpenError';
  constructor(name: string, retryAfterMs: number) {
    super({ code: 'circuit_open', message: `Circuit "${name}" is open; next probe in ${retryAfterMs} ms`, retryable: true, retryAfterMs });
  }
}

/** Why `rateLimit()` gave up on a request: its queue was full (`maxQueue`), or it waited `maxWait`. */
export type RateLimitQueueReason = 'queue-full' | 'max-wait';

/**
 * `rateLimit()` gave up on a request before sending it: code `'rate_limit_queue_full'` (the
 * limiter's `maxQueue` requests were already waiting, or a request of higher priority took its
 * place) or `'rate_limit_wait_exceeded'` (it waited `maxWait`). Nothing left the process.
 * Retryable: the limiter is busy, not the request wrong — a later attempt may get a place, and
 * `fallback()` may take it to another model at once. Not a provider 429 (`RateLimitError`).
 */
export class RateLimitQueueError extends LlmError {
  static override readonly marker: symbol = Symbol.for('rxllm.error.RateLimitQueueError');
  override readonly name: string = 'RateLimitQueueError';
  readonly reason: RateLimitQueueReason;
  /** `maxQueue` (requests) or `maxWait` (ms), whichever was reached. */
  readonly limit: number;
  /** How long the request had waited in the queue. */
  readonly waitedMs: number;
  constructor(reason: RateLimitQueueReason, limit: number, waitedMs: number) {
    super({
      code: reason === 'queue-full' ? 'rate_limit_queue_full' : 'rate_limit_wait_exceeded',
      message:
        reason === 'queue-full'
          ? `Rate limiter queue is full (maxQueue ${limit}); the request was not sent`
          : `Waited ${waitedMs} ms for the rate limiter (maxWait ${limit} ms); the request was not sent`,
      retryable: true,
    });
    this.reason = reason;
    this.limit = limit;
    this.waitedMs = waitedMs;
  }
}

// ---------------------------------------------------------------------------------------------
// Secrets

const registeredSecrets = new Set<string>();

/**
 * Registers a credential so that `redact()` removes it from any text that becomes an error message.
 * Providers call this with their API key at construction. Only the key itself is kept, in memory.
 */
export function registerSecret(secret: string | undefined): void {
  if (secret !== undefined && secret.length >= 6) registeredSecrets.add(secret);
}

// Key-shaped strings (OpenAI, Anthropic, Groq, Google, OpenRouter, xAI) and bearer credentials,
// also when a provider echoes a partly masked key ("sk-proj-****abcd").
const KEY_SHAPED = /\b(?:sk|gsk|xai|pk|rk)-[A-Za-z0-9_*.-]{6,}|\bAIza[0-9A-Za-z_*-]{10,}|\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/*=-]+/g;

/** Removes registered secrets and key-shaped strings from a text. */
export function redact(text: string): string {
  let out = text;
  for (const secret of registeredSecrets) {
    if (out.includes(secret)) out = out.split(secret).join('[redacted]');
    // A provider may echo only the tail of a key ("...abcd"); drop long suffixes too.
    const tail = secret.slice(-8);
    if (tail.length === 8 && out.includes(tail)) out = out.split(tail).join('[redacted]');
  }
  return out.replace(KEY_SHAPED, '[redacted]');
}

/** Keeps only the name, code and redacted message of a cause: no request objects or headers survive. */
function safeCause(cause: unknown): unknown {
  if (LlmError.is(cause)) return cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return { name: cause.name, message: redact(cause.message), ...(typeof code === 'string' ? { code } : {}) };
  }
  return typeof cause === 'string' ? redact(cause) : undefined;
}
