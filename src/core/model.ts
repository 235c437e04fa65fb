import type { Observable } from 'rxjs';
import type { LlmEvent, ModelInfo } from './events';
import type { LlmRequestInput } from './request';

/** Per-call options that are not part of the request itself. */
export interface StreamOptions {
  /** Extra HTTP headers for this call only. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Aborts the call like unsubscribing does (the stream errors with an `aborted` error). */
  readonly signal?: AbortSignal;
}

/**
 * A model: something that turns a request into a cold stream of events.
 *
 * `stream()` validates the request at once; the returned Observable does nothing until it is
 * subscribed. Each subscription is one call: it emits `request` synchronously, then (if still
 * subscribed) starts the I/O, then provider events, one `finish`, and `complete` — or one error.
 * Unsubscribing at any moment aborts the HTTP request and closes its socket.
 */
export interface Model {
  readonly info: ModelInfo;
  stream(request: LlmRequestInput, options?: StreamOptions): Observable<LlmEvent>;
}
