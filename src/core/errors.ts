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
 * Secrets never appear in an error: messages, request ids and provider codes pass through
 * `redact()` (which removes every piece of 8 characters or more of a registered secret), request
 * headers are never stored, and a `cause` is reduced to its redacted name, message and code.
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
    if (options.requestId !== undefined) this.requestId = redact(options.requestId);
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
    if (options.providerCode !== undefined) this.providerCode = redact(options.providerCode);
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
  /** `retryable` defaults to true; false for a refusal another attempt will not fix (a browser's CORS refusal). */
  constructor(message: string, options: { readonly provider?: string; readonly cause?: unknown; readonly retryable?: boolean } = {}) {
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

/**
 * The length of the pieces of a secret that `redact()` removes wherever they appear. Provider text
 * is shortened before it becomes a message (an HTML error page to 500 characters, a bad stream
 * line to 117), so an echoed key may arrive cut anywhere: its head, its tail, or a middle part.
 */
const PIECE = 8;
/** Secrets shorter than this are not registered: removing every "abc" from a message would garble it. */
const MIN_SECRET = 6;
/** Every `PIECE`-character window of every registered secret of `PIECE` characters or more. */
const secretPieces = new Set<string>();
/** Registered secrets shorter than `PIECE` (6–7 characters): removed only whole. */
const shortSecrets = new Set<string>();

/**
 * Registers a credential so that `redact()` removes it — and every piece of 8 characters or more
 * of it, however it was cut — from any text that becomes an error message, a kept response header
 * or a request id. Providers call this with their API key at construction; `normalizeHeaders`
 * with credential-looking header values. A secret of 6–7 characters is removed only whole; one
 * shorter than 6 is ignored. Only the secret's pieces are kept, in memory.
 */
export function registerSecret(secret: string | undefined): void {
  if (secret === undefined || secret.length < MIN_SECRET) return;
  addPieces(secret);
  // A server may echo the key from a URL it quotes ("…?key=abc%2Bdef"): its escaped form too.
  const escaped = safeEncodeUri(secret);
  if (escaped !== secret) addPieces(escaped);
}

function addPieces(secret: string): void {
  if (secret.length < PIECE) shortSecrets.add(secret);
  else for (let i = 0; i + PIECE <= secret.length; i++) secretPieces.add(secret.slice(i, i + PIECE));
}

function safeEncodeUri(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return text; // a lone surrogate
  }
}

// Key-shaped strings (OpenAI, Anthropic, Groq, Google, OpenRouter, xAI) and bearer credentials,
// also when a provider echoes a partly masked key ("sk-proj-****abcd").
const KEY_SHAPED = /\b(?:sk|gsk|xai|pk|rk)-[A-Za-z0-9_*.-]{6,}|\bAIza[0-9A-Za-z_*-]{10,}|\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/*=-]+/g;

const REDACTED = '[redacted]';

/**
 * Removes registered secrets from a text — every run of characters covered by a piece of 8 or
 * more characters of a secret (so a key cut by truncation, or only its head or tail, goes too),
 * and secrets of 6–7 characters whole — then masks key- and bearer-shaped strings. Each removed
 * run becomes `[redacted]`. Case-sensitive. Linear in the text: one set lookup per position.
 * A side effect worth knowing: a secret that contains a word of 8 letters or more ("anthropic"
 * in a made-up test key) makes that word disappear from messages too.
 *
 * @example
 * registerSecret(azureKey);
 * redact(`<p>invalid key ${azureKey.slice(0, 20)}…`); // '<p>invalid key [redacted]…'
 */
export function redact(text: string): string {
  return removeSecrets(text).replace(KEY_SHAPED, REDACTED);
}

function removeSecrets(text: string): string {
  if (text.length < MIN_SECRET || (secretPieces.size === 0 && shortSecrets.size === 0)) return text;
  // Allocated at the first hit only: most texts (every kept header value of every response) hold none.
  let hidden: Uint8Array | undefined;
  const hide = (from: number, length: number): void => {
    (hidden ??= new Uint8Array(text.length)).fill(1, from, from + length);
  };
  if (secretPieces.size > 0) {
    for (let i = 0; i + PIECE <= text.length; i++) if (secretPieces.has(text.slice(i, i + PIECE))) hide(i, PIECE);
  }
  for (const secret of shortSecrets) {
    for (let i = text.indexOf(secret); i !== -1; i = text.indexOf(secret, i + 1)) hide(i, secret.length);
  }
  if (hidden === undefined) return text;
  let out = '';
  for (let i = 0; i < text.length; ) {
    const start = i;
    const covered = hidden[i] === 1;
    while (i < text.length && (hidden[i] === 1) === covered) i++;
    out += covered ? REDACTED : text.slice(start, i);
  }
  return out;
}

/** How deep `safeCause` looks into an rxllm error's own cause chain before giving up on keeping it. */
const MAX_CAUSE_DEPTH = 8;

/**
 * What an error keeps of its cause. An rxllm error is kept as it is (its `instanceof` and fields
 * are useful, and its constructor cleaned it already) unless something in it or its cause chain
 * still holds a secret registered here — an error from another copy of rxllm redacted with that
 * copy's registry; then, like any other `Error` (an `AggregateError` too), it is reduced to its
 * redacted name, message and string `code`: no nested cause, no `errors`, no request objects or
 * headers survive. A string is redacted; anything else is dropped.
 */
function safeCause(cause: unknown): unknown {
  if (LlmError.is(cause) && isClean(cause, 0)) return cause;
  if (cause instanceof Error || LlmError.is(cause)) {
    const { name, message, code } = cause as { name?: unknown; message?: unknown; code?: unknown };
    return { name: redact(String(name)), message: redact(String(message)), ...(typeof code === 'string' ? { code: redact(code) } : {}) };
  }
  return typeof cause === 'string' ? redact(cause) : undefined;
}

/** True when no text of `value` — an rxllm error, a reduced cause, a string — nor of its cause chain holds a secret. */
function isClean(value: unknown, depth: number): boolean {
  if (value === undefined) return true;
  if (depth > MAX_CAUSE_DEPTH) return false;
  if (typeof value === 'string') return redact(value) === value;
  if (typeof value !== 'object' || value === null) return false;
  if (!LlmError.is(value) && (value instanceof Error || Object.getPrototypeOf(value) !== Object.prototype)) return false;
  const record = value as unknown as Record<string, unknown>;
  for (const key of ['name', 'message', 'code', 'requestId', 'providerCode', 'provider'] as const) {
    const text = record[key];
    if (text !== undefined && (typeof text !== 'string' || redact(text) !== text)) return false;
  }
  return isClean(record['cause'], depth + 1);
}
