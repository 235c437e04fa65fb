/**
 * The transport seam: the only code that touches undici, fetch or Promises. Callback-shaped so the
 * per-chunk path allocates nothing beyond the chunk itself.
 */

/** Response headers, looked up by lower-case name. */
export interface HeaderLookup {
  get(name: string): string | undefined;
}

export interface HttpRequestSpec {
  readonly url: string;
  readonly method: 'POST' | 'GET';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** What a transport reports, in order: one `onResponse`, any number of `onData`, then `onEnd` or `onError`. */
export interface HttpSink {
  onResponse(status: number, headers: HeaderLookup): void;
  onData(chunk: Uint8Array): void;
  onEnd(): void;
  /** Connection failures (refused, reset, closed early) — never called after `abort()`. */
  onError(error: unknown): void;
}

export interface HttpCall {
  /** Stop now: abort the request; an in-flight response's socket is destroyed. */
  abort(): void;
  /**
   * The caller has all it needs (the protocol's end marker came). Remaining body bytes are read
   * and discarded so the keep-alive socket can be reused; if the body does not end soon, abort.
   */
  release(): void;
}

export interface Transport {
  send(request: HttpRequestSpec, sink: HttpSink): HttpCall;
}

/** How long `release()` waits for the rest of a body before giving up on the socket. */
export const RELEASE_GRACE_MS = 1000;
