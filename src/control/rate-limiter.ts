import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { z } from 'zod';
import { functionSchema, parseConfig } from '../core/config';
import { RateLimitQueueError } from '../core/errors';
import type { LlmEvent, ModelInfo, RateLimitInfo } from '../core/events';
import type { LlmRequest } from '../core/request';
import { requestTokens, type TokenCounter } from '../cost/tokens';
import { schedulerSchema, timerDelay, unboundedDurationSchema, type Duration } from '../core/time';

/** One set of limits: the limiter's global ones, or those of each key (`perKey`). Leave a field out for no limit. */
export interface RateLimits {
  /** Requests let through per minute (a token bucket refilled continuously, see `burst`). @defaultValue no limit */
  readonly requestsPerMinute?: number;
  /**
   * Tokens per minute. Each request reserves its estimated input tokens plus its `maxOutputTokens`
   * (or the limiter's `defaultMaxOutputTokens`) before it is let through; the reservation is
   * corrected to the provider-reported usage when the `usage` event arrives.
   * @defaultValue no limit
   */
  readonly tokensPerMinute?: number;
  /** Calls running at once: a slot is held from admission until the stream ends in any way. @defaultValue no limit */
  readonly concurrency?: number;
  /**
   * Bucket capacities: how much may go at once after a quiet spell, above the steady rate. `1`
   * request paces calls evenly (`60_000 / requestsPerMinute` ms apart). A request reserving more
   * tokens than `burst.tokens` goes when the bucket is full, and leaves it in debt.
   * @defaultValue one minute's worth: `{ requests: requestsPerMinute, tokens: tokensPerMinute }`
   */
  readonly burst?: { readonly requests?: number; readonly tokens?: number };
}

/** Which key a request is limited under: a metadata name (`'tenant'`) or a function. */
export type RateLimitKey = string | ((request: LlmRequest) => string | undefined);

/** Options of `createRateLimiter()`. The top-level limits are global: shared by every request. */
export interface RateLimiterConfig extends RateLimits {
  /**
   * Groups requests for `perKey`: a metadata name (`key: 'tenant'` reads `request.metadata.tenant`)
   * or a function of the request. Requests without a key share one group. Only with `perKey`.
   * @defaultValue none
   */
  readonly key?: RateLimitKey;
  /** Limits applied to each key apart (in addition to the global ones). Only with `key`. @defaultValue none */
  readonly perKey?: RateLimits;
  /**
   * Requests that may wait at once. When full, a newcomer of higher priority than the last in line
   * takes its place (that one fails); otherwise the newcomer fails with `RateLimitQueueError`
   * (`rate_limit_queue_full`). `0`: never wait.
   * @defaultValue Infinity
   */
  readonly maxQueue?: number;
  /** Longest wait in the queue; then `RateLimitQueueError` (`rate_limit_wait_exceeded`). @defaultValue Infinity */
  readonly maxWait?: Duration;
  /** Output tokens reserved for a request that sets no `maxOutputTokens` (tokensPerMinute only). @defaultValue 1024 */
  readonly defaultMaxOutputTokens?: number;
  /** Where time comes from: bucket refills, waits, pauses. @defaultValue asyncScheduler */
  readonly scheduler?: SchedulerLike;
}

/** What one request asks of the limiter. */
export interface RateLimitDemand {
  /** From `limiter.keyOf(request)`. */
  readonly key: string | undefined;
  /** Tokens to reserve (0 when the limiter has no token limit). */
  readonly tokens: number;
  /** Higher leaves the queue first; equal priorities leave in arrival order. */
  readonly priority: number;
}

/** Told when a queued request is let through, or given up on. Must not throw. */
export interface RateLimitWaiter {
  admitted(waitedMs: number): void;
  rejected(error: RateLimitQueueError): void;
}

/** One request's place in the limiter: queued, then admitted (holding a slot and a reservation), then done. */
export interface RateLimitTicket {
  readonly state: 'queued' | 'admitted' | 'done';
  /** Sets the tokens this request is charged (the reservation until then); the difference is given back, or owed. */
  settle(tokens: number): void;
  /** Leaves the queue, or gives the slot back. `sent: false` also gives back the request (it never left). Idempotent. */
  release(sent?: boolean): void;
}

/** Shared rate-limit state: pass one to `rateLimit()` in every pipeline that shares the limits. */
export interface RateLimiter {
  /** Requests waiting now. */
  readonly queued: number;
  /** Requests admitted and not yet ended. */
  readonly inFlight: number;
  /** True when a token limit is set: requests must be counted before they are admitted. */
  readonly countsTokens: boolean;
  readonly defaultMaxOutputTokens: number;
  /** The key a request is limited under (`undefined`: no `perKey`, or the request has none). May throw (user code). */
  keyOf(request: LlmRequest): string | undefined;
  /** Joins the queue; admitted at once when nothing stands in the way (then `waiter` is not called). */
  acquire(demand: RateLimitDemand, waiter: RateLimitWaiter): RateLimitTicket | RateLimitQueueError;
  /** Lets nothing through for `ms` (the provider's retry-after); calls already running go on. */
  pause(ms: number): void;
  /** Reads a response's rate-limit headers: remaining 0 pauses until the reset they give. */
  observe(info: RateLimitInfo): void;
}

const WINDOW = 60_000;

/** `RateLimits` as parsed (zod's optional fields may hold `undefined`). */
interface ParsedLimits {
  readonly requestsPerMinute?: number | undefined;
  readonly tokensPerMinute?: number | undefined;
  readonly concurrency?: number | undefined;
  readonly burst?: { readonly requests?: number | undefined; readonly tokens?: number | undefined } | undefined;
}
const limitSchema = z.custom<number>((n) => n === Infinity || (typeof n === 'number' && n > 0 && Number.isFinite(n)), 'expected a number > 0 (or Infinity for no limit)');
const countSchema = z.custom<number>((n) => n === Infinity || (Number.isInteger(n) && (n as number) >= 0), 'expected a whole number ≥ 0 or Infinity');
const limitsShape = {
  requestsPerMinute: limitSchema.optional(),
  tokensPerMinute: limitSchema.optional(),
  concurrency: z.custom<number>((n) => n === Infinity || (Number.isInteger(n) && (n as number) >= 1), 'expected a whole number ≥ 1 or Infinity').optional(),
  burst: z.strictObject({ requests: limitSchema.optional(), tokens: limitSchema.optional() }).optional(),
};
const burstRefinement = (l: ParsedLimits): boolean =>
  (l.burst?.requests === undefined || (l.requestsPerMinute ?? Infinity) < Infinity) && (l.burst?.tokens === undefined || (l.tokensPerMinute ?? Infinity) < Infinity);
const burstIssue = { message: 'expected burst.requests with requestsPerMinute and burst.tokens with tokensPerMinute', path: ['burst'] };
const configSchema = z
  .strictObject({
    ...limitsShape,
    key: z.union([z.string().min(1), functionSchema<(request: LlmRequest) => string | undefined>('a metadata name or a function (request) => string | undefined')]).optional(),
    perKey: z.strictObject(limitsShape).refine(burstRefinement, burstIssue).optional(),
    maxQueue: countSchema.optional(),
    maxWait: unboundedDurationSchema.optional(),
    defaultMaxOutputTokens: countSchema.refine((n) => n < Infinity, 'expected a finite number').optional(),
    scheduler: schedulerSchema.optional(),
  })
  .refine(burstRefinement, burstIssue)
  .refine((c) => (c.key === undefined) === (c.perKey === undefined), { message: 'expected key and perKey together', path: ['perKey'] });

/**
 * Creates the shared state of a rate limit, for `rateLimit(limiter)`: global and per-key limits on
 * requests per minute, tokens per minute and concurrency, one priority queue, and the provider's
 * own signals (rate-limit headers, a 429's retry-after).
 *
 * **Algorithm.** Each per-minute limit is a token bucket holding up to `burst` (default: the
 * per-minute limit), refilled continuously at `limit / 60 000` per millisecond of scheduler time —
 * the algorithm Anthropic documents for its own limits. In any window of `T` ms at most
 * `burst + limit × T / 60 000` pass. A request is let through when every bucket it draws on
 * (global and its key's) holds enough and a concurrency slot is free; it takes 1 request and its
 * token reservation at once. Arithmetic is exact (amounts are kept × 60 000), so waits are whole
 * milliseconds.
 *
 * **Queue.** Waiting requests are ordered by priority (higher first), then arrival. One waiting on
 * a global limit holds everyone behind it (no small request overtakes a big one forever); one
 * waiting on its key's limit lets other keys pass. Only one timer runs: for the earliest moment a
 * waiting request could go. Idle key state (buckets full, nothing running or waiting) is swept
 * whenever the number of keys has doubled, so memory follows the active keys.
 *
 * **Provider signals.** `observe()` with `remainingRequests` or `remainingTokens` 0 and a reset
 * time, or `pause()` with a 429's `retryAfterMs`, stops all admissions until then.
 *
 * @example
 * const limiter = createRateLimiter({ requestsPerMinute: 500, tokensPerMinute: 200_000, concurrency: 8,
 *   key: 'tenant', perKey: { requestsPerMinute: 60 }, maxWait: '30s' });
 * model.stream(request).pipe(rateLimit(limiter), retryBackoff(), text()).subscribe(console.log);
 */
export function createRateLimiter(config: RateLimiterConfig = {}): RateLimiter {
  return new Limiter(parseConfig('createRateLimiter', configSchema, config));
}

/** True for a limiter from `createRateLimiter()` (or anything shaped like one). */
export function isRateLimiter(value: unknown): value is RateLimiter {
  return ['acquire', 'keyOf', 'pause', 'observe'].every((m) => typeof (value as Record<string, unknown> | null)?.[m] === 'function');
}

/** `rateLimit({ priority })`: a number, a function of the request, or (by default) `metadata.priority`. */
export type RequestPriority = number | ((request: LlmRequest, model: ModelInfo) => number);

/**
 * A request's queue priority: `priority` itself, what it returns for the request (a throw, or a
 * result that is not a finite number, throws), or `request.metadata.priority` as a number when it
 * is one, else 0.
 */
export function priorityOf(priority: RequestPriority | undefined, request: LlmRequest, model: ModelInfo): number {
  if (typeof priority === 'number') return priority;
  if (priority === undefined) {
    const fromMetadata = Number(request.metadata?.['priority'] ?? NaN);
    return Number.isFinite(fromMetadata) ? fromMetadata : 0;
  }
  const value = priority(request, model);
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`rateLimit(): priority() must return a finite number; it returned ${String(value)}`);
  return value;
}

/**
 * One call's use of a limiter (`rateLimit()` keeps one per subscription): the reservation it asks
 * for, what its events tell the limiter (the provider's rate-limit headers, `usage`), and its end —
 * the ticket settled and its slot given back, once.
 */
export class LimitedCall {
  /** Set by the operator from `acquire()`. */
  ticket: RateLimitTicket | undefined;
  /** The call was subscribed after admission: releasing gives back its slot, not its request. */
  sent = false;
  private input = 0;
  private reserved = 0;
  private outputChars = 0;
  private responded = false;
  private settled = false;

  constructor(private readonly limiter: RateLimiter) {}

  /** What to acquire: the input tokens (as `counter` counts them; none without one) plus the output allowance. */
  demand(request: LlmRequest, counter: TokenCounter | undefined, key: string | undefined, priority: number): RateLimitDemand {
    this.input = counter ? requestTokens(request, counter) : 0;
    this.reserved = counter ? this.input + (request.maxOutputTokens ?? this.limiter.defaultMaxOutputTokens) : 0;
    return { key, tokens: this.reserved, priority };
  }

  /** Reads an event of the admitted call; its `finish` ends it before it goes downstream (the next in line may start). */
  watch(event: LlmEvent): void {
    if (!this.ticket) return; // not admitted: a stream that did not start with its request
    if (event.type === 'response') {
      this.responded = true;
      if (event.rateLimit) this.limiter.observe(event.rateLimit);
    } else if (event.type === 'usage') {
      this.settled = true;
      this.ticket.settle(event.usage.inputTokens + event.usage.outputTokens);
    } else if (event.type === 'text' || event.type === 'reasoning') this.outputChars += event.text.length;
    else if (event.type === 'tool-call') this.outputChars += event.argumentsDelta.length;
    else if (event.type === 'finish') this.end();
  }

  /**
   * Gives the slot back (or leaves the queue). Without `usage`, a call that got no `response`
   * (refused, 429, connection failure, left early) is charged nothing; one that did, its input
   * estimate plus output characters ÷ 4, at most the reservation. Idempotent.
   */
  end(): void {
    const { ticket } = this;
    if (ticket?.state === 'admitted' && !this.settled) ticket.settle(this.responded ? Math.min(this.reserved, this.input + Math.ceil(this.outputChars / 4)) : 0);
    ticket?.release(this.sent);
  }
}

/** A token bucket; `level` is kept × WINDOW so refills of `perMinute` per ms stay integers. */
class Bucket {
  private level: number;
  constructor(
    private readonly perMinute: number,
    private readonly capacity: number,
    private last: number,
  ) {
    this.level = capacity * WINDOW;
  }
  private refill(now: number): void {
    if (now > this.last) this.level = Math.min(this.capacity * WINDOW, this.level + (now - this.last) * this.perMinute);
    this.last = Math.max(this.last, now);
  }
  /** Ms until `amount` may be taken; an amount above the capacity waits for a full bucket. */
  wait(amount: number, now: number): number {
    this.refill(now);
    const need = Math.min(amount, this.capacity) * WINDOW - this.level;
    return need <= 0 ? 0 : Math.ceil(need / this.perMinute);
  }
  /** Takes (or, negative, gives back) `amount`; never above the capacity, possibly below 0 (debt). */
  take(amount: number, now: number): void {
    this.refill(now);
    this.level = Math.min(this.capacity * WINDOW, this.level - amount * WINDOW);
  }
  full(now: number): boolean {
    this.refill(now);
    return this.level >= this.capacity * WINDOW;
  }
}

/** The limits of one scope (global, or one key) and what runs and waits under it. */
class Scope {
  private readonly requests: Bucket | undefined;
  private readonly tokens: Bucket | undefined;
  private readonly concurrency: number;
  inFlight = 0;
  queued = 0;
  constructor(limits: ParsedLimits, now: number) {
    const { requestsPerMinute: rpm = Infinity, tokensPerMinute: tpm = Infinity, concurrency = Infinity, burst = {} } = limits;
    this.requests = rpm < Infinity ? new Bucket(rpm, burst.requests ?? rpm, now) : undefined;
    this.tokens = tpm < Infinity ? new Bucket(tpm, burst.tokens ?? tpm, now) : undefined;
    this.concurrency = concurrency;
  }
  get saturated(): boolean {
    return this.inFlight >= this.concurrency;
  }
  /** 0: may go now; ms to wait for the buckets; Infinity: wait for a slot. */
  wait(tokens: number, now: number): number {
    if (this.saturated) return Infinity;
    return Math.max(this.requests?.wait(1, now) ?? 0, this.tokens?.wait(tokens, now) ?? 0);
  }
  take(requests: number, tokens: number, now: number): void {
    this.requests?.take(requests, now);
    this.tokens?.take(tokens, now);
  }
  idle(now: number): boolean {
    return this.inFlight === 0 && this.queued === 0 && (this.requests?.full(now) ?? true) && (this.tokens?.full(now) ?? true);
  }
}

type Parsed = ReturnType<typeof configSchema.parse>;

class Ticket implements RateLimitTicket {
  state: RateLimitTicket['state'] = 'queued';
  charged = 0;
  timer: Subscription | undefined;
  constructor(
    private readonly limiter: Limiter,
    readonly demand: RateLimitDemand,
    readonly waiter: RateLimitWaiter,
    readonly scope: Scope | undefined,
    readonly seq: number,
    readonly since: number,
  ) {}
  settle(tokens: number): void {
    if (this.state === 'admitted') this.limiter.settle(this, tokens);
  }
  release(sent = true): void {
    this.limiter.release(this, sent);
  }
}

class Limiter implements RateLimiter {
  readonly countsTokens: boolean;
  readonly defaultMaxOutputTokens: number;
  private readonly scheduler: SchedulerLike;
  private readonly maxQueue: number;
  private readonly maxWait: number;
  private globalScope: Scope | undefined;
  private readonly keys = new Map<string | undefined, Scope>();
  private sweepAt = 1024;
  private readonly queue: Ticket[] = [];
  private readonly ready: Ticket[] = [];
  private draining = false;
  private seq = 0;
  private pausedUntil = -Infinity;
  private timer: Subscription | undefined;
  private timerAt = Infinity;

  constructor(private readonly config: Parsed) {
    const { tokensPerMinute = Infinity, perKey, maxQueue = Infinity, maxWait = Infinity, defaultMaxOutputTokens = 1024, scheduler = asyncScheduler } = config;
    this.countsTokens = tokensPerMinute < Infinity || (perKey?.tokensPerMinute ?? Infinity) < Infinity;
    this.defaultMaxOutputTokens = defaultMaxOutputTokens;
    this.scheduler = scheduler;
    this.maxQueue = maxQueue;
    this.maxWait = maxWait;
  }

  get queued(): number {
    return this.queue.length;
  }
  get inFlight(): number {
    return this.globalScope?.inFlight ?? 0;
  }

  keyOf(request: LlmRequest): string | undefined {
    const { key } = this.config;
    if (key === undefined) return undefined;
    if (typeof key === 'string') return request.metadata?.[key];
    const value = key(request);
    if (value !== undefined && typeof value !== 'string') throw new TypeError(`createRateLimiter(): key() must return a string or undefined; it returned ${typeof value}`);
    return value;
  }

  acquire(demand: RateLimitDemand, waiter: RateLimitWaiter): RateLimitTicket | RateLimitQueueError {
    const now = this.scheduler.now();
    const scope = this.scopeOf(demand.key, now);
    const ticket = new Ticket(this, demand, waiter, scope, this.seq++, now);
    if (scope) scope.queued++;
    this.queue.splice(this.insertionIndex(demand.priority), 0, ticket);
    this.scan();
    let refused: RateLimitQueueError | undefined;
    if (ticket.state === 'admitted') {
      // Admitted within the call: the caller reads the state; the waiter is not called.
      this.ready.splice(this.ready.lastIndexOf(ticket), 1);
    } else if (this.queue.length > this.maxQueue) {
      // The last in line (lowest priority, latest) loses its place: the newcomer, or one it outranks.
      const last = this.queue[this.queue.length - 1]!;
      this.leave(last);
      refused = new RateLimitQueueError('queue-full', this.maxQueue, now - last.since);
      if (last !== ticket) this.notify(() => last.waiter.rejected(refused!));
    }
    if (ticket.state === 'queued' && this.maxWait < Infinity) ticket.timer = this.scheduler.schedule(() => this.expire(ticket), this.maxWait);
    if (this.keys.size > this.sweepAt) this.sweep(now);
    this.drain();
    return refused !== undefined && ticket.state === 'done' ? refused : ticket;
  }

  pause(ms: number): void {
    const until = this.scheduler.now() + ms;
    if (!(until > this.pausedUntil)) return;
    this.pausedUntil = until;
    this.pump();
  }

  observe(info: RateLimitInfo): void {
    if (info.remainingRequests === 0 && info.resetRequestsMs !== undefined) this.pause(info.resetRequestsMs);
    if (info.remainingTokens === 0 && info.resetTokensMs !== undefined) this.pause(info.resetTokensMs);
  }

  settle(ticket: Ticket, tokens: number): void {
    const now = this.scheduler.now();
    const owed = tokens - ticket.charged;
    ticket.charged = tokens;
    this.global(now).take(0, owed, now);
    ticket.scope?.take(0, owed, now);
    if (owed < 0) this.pump();
  }

  release(ticket: Ticket, sent: boolean): void {
    if (ticket.state === 'done') return;
    if (ticket.state === 'queued') {
      this.leave(ticket);
    } else {
      ticket.state = 'done';
      const now = this.scheduler.now();
      const back = sent ? 0 : -1;
      for (const scope of [this.global(now), ticket.scope]) {
        if (!scope) continue;
        scope.inFlight--;
        if (!sent) scope.take(back, -ticket.charged, now);
      }
    }
    this.pump();
  }

  private global(now: number): Scope {
    return (this.globalScope ??= new Scope(this.config, now));
  }

  private scopeOf(key: string | undefined, now: number): Scope | undefined {
    const { perKey } = this.config;
    if (!perKey) return undefined;
    let scope = this.keys.get(key);
    if (!scope) this.keys.set(key, (scope = new Scope(perKey, now)));
    return scope;
  }

  /** After the last ticket with priority ≥ `priority`: FIFO within a priority. */
  private insertionIndex(priority: number): number {
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.queue[mid]!.demand.priority >= priority) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Takes a queued ticket out of the queue (it will not be admitted). */
  private leave(ticket: Ticket): void {
    if (ticket.state !== 'queued') return;
    ticket.state = 'done';
    ticket.timer?.unsubscribe();
    const index = this.queue.indexOf(ticket);
    if (index >= 0) this.queue.splice(index, 1);
    if (ticket.scope) ticket.scope.queued--;
  }

  private expire(ticket: Ticket): void {
    if (ticket.state !== 'queued') return;
    this.leave(ticket);
    const error = new RateLimitQueueError('max-wait', this.maxWait, this.scheduler.now() - ticket.since);
    this.notify(() => ticket.waiter.rejected(error));
    this.pump();
  }

  private pump(): void {
    this.scan();
    this.drain();
  }

  /**
   * Admits what may go now, in queue order, into `ready`, and arms the timer for the earliest
   * moment a waiting request could go. Calls no outside code, so it is safe from anywhere.
   */
  private scan(): void {
    const now = this.scheduler.now();
    let wake = Infinity;
    if (this.pausedUntil > now) {
      wake = this.pausedUntil;
    } else {
      const global = this.global(now);
      let heldKeys: Set<Scope> | undefined;
      for (let i = 0; i < this.queue.length && !global.saturated; ) {
        const ticket = this.queue[i]!;
        const { scope, demand } = ticket;
        if (scope) {
          // Waiting on its own key: skip it, and every later one of that key (FIFO within a key).
          if (heldKeys?.has(scope)) {
            i++;
            continue;
          }
          const ms = scope.wait(demand.tokens, now);
          if (ms > 0) {
            (heldKeys ??= new Set()).add(scope);
            wake = Math.min(wake, now + ms);
            i++;
            continue;
          }
        }
        const ms = global.wait(demand.tokens, now);
        if (ms > 0) {
          wake = Math.min(wake, now + ms);
          break;
        }
        this.queue.splice(i, 1);
        for (const s of [global, scope]) {
          if (!s) continue;
          s.take(1, demand.tokens, now);
          s.inFlight++;
        }
        if (scope) scope.queued--;
        ticket.state = 'admitted';
        ticket.charged = demand.tokens;
        ticket.timer?.unsubscribe();
        this.ready.push(ticket);
      }
    }
    this.arm(wake, now);
  }

  /**
   * One timer, for `wake`. A wait longer than a timer can make (a pause for a far-off reset, a tiny
   * per-minute limit) is cut to `MAX_DELAY_MS`: the timer then finds nothing due, and `scan` arms
   * it again for what is left — where an uncut delay would fire after 1 ms and spin.
   */
  private arm(wake: number, now: number): void {
    if (wake === this.timerAt) return;
    this.timer?.unsubscribe();
    this.timerAt = wake;
    this.timer =
      wake === Infinity
        ? undefined
        : this.scheduler.schedule(() => {
            this.timer = undefined;
            this.timerAt = Infinity;
            this.pump();
          }, timerDelay(wake - now));
  }

  /** Tells admitted waiters, in order. Re-entrant calls (a waiter whose stream ends at once) leave the rest to the outer loop. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let ticket = this.ready.shift(); ticket; ticket = this.ready.shift()) {
        // Released before it was told (its subscriber left from inside an earlier waiter's call).
        if (ticket.state !== 'admitted') continue;
        const { waiter, since } = ticket;
        const waited = this.scheduler.now() - since;
        this.notify(() => waiter.admitted(waited));
      }
    } finally {
      this.draining = false;
    }
  }

  /** A waiter must not throw; if one does, the limiter stays consistent and the error is reported apart. */
  private notify(call: () => void): void {
    try {
      call();
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  private sweep(now: number): void {
    for (const [key, scope] of this.keys) if (scope.idle(now)) this.keys.delete(key);
    this.sweepAt = Math.max(1024, this.keys.size * 2);
  }
}
