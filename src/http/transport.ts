/**
 * The transport seam: the only code that touches undici, fetch or Promises. Callback-shaped so the
 * per-chunk path allocates nothing beyond the chunk itself.
 */

/**
 * Response headers, looked up by lower-case name. They describe the body the sink receives: a
 * transport that decodes a content coding itself (fetch) does not report `content-encoding`, so
 * a `content-encoding` the driver sees means the body bytes are still encoded.
 */
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
  /** The final response: never an informational 1xx (103 Early Hints, 102 Processing), which transports skip. */
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

/**
 * A failure before any response that the transport has diagnosed beyond "the connection failed":
 * `message` says what is known and what to do (the driver adds the provider's name), `retryable`
 * whether another attempt can get through, `cause` is the platform's error. The stream driver
 * turns it into a `ConnectionError` with that `retryable`. (The fetch transport raises it for the
 * browser failures it can tell apart: offline, a cross-origin refusal, a network failure.)
 */
export class TransportError extends Error {
  override readonly name: string = 'TransportError';
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.retryable = retryable;
  }
}

/** How long `release()` waits for the rest of a body before giving up on the socket. */
export const RELEASE_GRACE_MS = 1000;

/**
 * The state both transports keep for one call: which sink callbacks may still run, and what
 * `abort()` and `release()` do. `cancel` stops the underlying request (abort controller, undici
 * dispatch controller); it is called at most once, on `abort()` or when a release's grace runs out.
 */
export interface CallLifecycle {
  /** Still delivering to the sink. */
  readonly open: boolean;
  /** Cancelled before or during the call: nothing more must be sent. */
  readonly aborted: boolean;
  /** Passes the final response on; an informational 1xx status is dropped. */
  response(status: number, headers: HeaderLookup): void;
  data(chunk: Uint8Array): void;
  end(): void;
  error(error: unknown): void;
  readonly call: HttpCall;
}

export function callLifecycle(sink: HttpSink, cancel: () => void): CallLifecycle {
  let state: 'open' | 'aborted' | 'released' | 'ended' = 'open';
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Moves to 'ended'; true if the sink was still listening. */
  const settle = (): boolean => {
    const was = state;
    state = 'ended';
    if (graceTimer) clearTimeout(graceTimer);
    return was === 'open';
  };
  const stop = (): void => {
    state = 'aborted';
    if (graceTimer) clearTimeout(graceTimer);
    cancel();
  };
  return {
    get open() {
      return state === 'open';
    },
    get aborted() {
      return state === 'aborted';
    },
    response(status, headers) {
      // An informational answer (102 Processing, 103 Early Hints) comes before the real one, on
      // the same request: skip it, the final status follows. (undici reports 1xx heads as responses.)
      if (status < 200) return;
      if (state === 'open') sink.onResponse(status, headers);
    },
    data(chunk) {
      if (state === 'open') sink.onData(chunk);
    },
    end() {
      if (settle()) sink.onEnd();
    },
    error(error) {
      if (settle()) sink.onError(error);
    },
    call: {
      abort() {
        // After release() the body is being drained for reuse; that path ends on its own.
        if (state === 'open') stop();
      },
      release() {
        if (state !== 'open') return;
        state = 'released';
        graceTimer = setTimeout(stop, RELEASE_GRACE_MS);
        (graceTimer as { unref?: () => void }).unref?.();
      },
    },
  };
}
