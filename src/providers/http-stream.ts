import type { Subscriber, TeardownLogic } from 'rxjs';
import type { LlmEvent, ModelInfo } from '../core/events';
import { ConnectionError, LlmError, MalformedStreamError, redact } from '../core/errors';
import { errorFromPayload, errorFromResponse } from '../http/api-error';
import { keptHeaders, rateLimitOf, requestIdOf } from '../http/headers';
import { ndjsonDecoder, sseDecoder, type FrameDecoder } from '../http/sse';
import { TransportError, type HeaderLookup, type HttpCall, type HttpRequestSpec, type Transport } from '../http/transport';

/** Where a provider parser sends its events. */
export type Emit = (event: LlmEvent) => void;

/**
 * A provider's pure wire parser: a state machine from wire messages to events, one per call.
 * It throws an `LlmError` for an error in the stream; the driver routes it to the error channel.
 */
export interface StreamParser {
  /**
   * One SSE message (`data`, `event` name) or one NDJSON line (`event` undefined). Returns true
   * when this message ended the response — the parser has emitted `finish` — so the rest of the
   * body is ignored.
   */
  message(data: string, event: string | undefined, emit: Emit): boolean;
  /** The body ended without the end marker: emit what is owed (`usage`, `finish`) or throw. */
  end(emit: Emit): void;
}

/** What a parser may know of its call: the provider name now, the request id once headers came. */
export interface CallMeta {
  readonly provider: string;
  requestId?: string;
}

/** `provider` and `requestId` for an error raised inside a stream. */
export function errorContext(meta: CallMeta): { provider: string; requestId?: string } {
  return meta.requestId === undefined ? { provider: meta.provider } : { provider: meta.provider, requestId: meta.requestId };
}

export interface HttpStreamSpec {
  readonly info: ModelInfo;
  readonly transport: Transport;
  readonly http: HttpRequestSpec;
  readonly framing: 'sse' | 'ndjson';
  readonly parser: (meta: CallMeta) => StreamParser;
  readonly signal?: AbortSignal;
  /**
   * The most characters one SSE event (or NDJSON line) may buffer before it ends. Past it the call
   * fails with a `MalformedStreamError` (not retryable) naming the limit, and its socket is closed.
   * @defaultValue MAX_EVENT_SIZE (16 MiB of characters)
   */
  readonly maxEventSize?: number;
}

/** Error bodies (and bodies that are not a stream) are read up to this size; the rest is not needed to say what went wrong. */
const MAX_ERROR_BODY = 64 * 1024;
/** How much of a body that is not a stream an error message quotes. */
const QUOTED_CHARS = 200;

/**
 * Runs one HTTP call for a stream subscriber: status → `response` event or typed error; body →
 * frames → parser → events; end → `finish` + complete. Returns the teardown that aborts the call,
 * so unsubscribing at any point closes the socket.
 *
 * A 2xx body is checked before it is parsed, so a misconfiguration says what it is instead of
 * passing for a truncated stream:
 * - a `content-encoding` the transport did not decode (undici decodes none; fetch decodes what it
 *   negotiated and does not report it) → `MalformedStreamError`, not retryable, the call aborted;
 * - a web page (`text/html`, or a body that starts with `<`) → `MalformedStreamError`, not
 *   retryable, quoting the page's first characters;
 * - one JSON document where SSE was expected (a body that starts with `{` or `[`; SSE lines start
 *   with a field name): its `error` object, if it has one, is the provider's error (as an error
 *   inside the stream would be); otherwise a `MalformedStreamError`, not retryable;
 * - a body of another content type that held no SSE event → `MalformedStreamError`, not retryable;
 * - an empty body → `MalformedStreamError`, retryable (see `emptyBody`).
 * These first-bytes checks look at each body byte at most once, and only until the first one that
 * is not white space; a streamed body then goes to the decoder chunk by chunk as before.
 *
 * A body that ends in the middle of an event or line — without the provider's end marker — is a
 * truncation (retryable), wherever the cut fell: the unterminated tail is still parsed (a sloppy
 * server may omit the last blank line), and if it does not parse, the error is the truncation.
 */
export function runHttpStream(subscriber: Subscriber<LlmEvent>, spec: HttpStreamSpec): TeardownLogic {
  const provider = spec.info.provider;
  const meta: CallMeta = { provider };
  const parser = spec.parser(meta);
  const emit: Emit = (event) => subscriber.next(event);
  let finished = false;
  let responded = false;
  let decoder: FrameDecoder | undefined;
  /** A 2xx body's first significant byte has not come yet: it decides how the body is read. */
  let sniffing = false;
  /** Messages delivered to the parser. */
  let messages = 0;
  /** The body being kept whole: an error status's, or a 2xx body that is not a stream (`misfit`). */
  let kept: Uint8Array[] | undefined;
  let keptSize = 0;
  /** What a 2xx body that is not a stream turned out to be. */
  let misfit: 'html' | 'json' | undefined;
  /** A content coding of an error body: its bytes are not text. */
  let errorEncoding: string | undefined;
  /** The first bytes of a streamed body, for the message when it turns out to hold no event. */
  let sample: Uint8Array | undefined;
  let status = 0;
  let contentType: string | undefined;
  let headersForError: Parameters<typeof errorFromResponse>[1] | undefined;

  // Assigned right below; the transport never calls back synchronously from send().
  let call: HttpCall | undefined;
  const fail = (error: unknown): void => {
    finished = true;
    call?.abort();
    subscriber.error(error);
  };
  const onMessage = (data: string, event: string | undefined): void => {
    if (finished) return;
    messages++;
    if (parser.message(data, event, emit)) {
      finished = true;
      call?.release();
      subscriber.complete();
    }
  };
  /** What an error about this response says of it (built on error paths only). */
  const facts = (): ResponseFacts => ({
    provider,
    framing: spec.framing,
    url: describeUrl(spec.http.url),
    status,
    media: contentType ?? 'no content-type',
    context: errorContext(meta),
  });
  const keep = (chunk: Uint8Array): void => {
    if (keptSize >= MAX_ERROR_BODY) return;
    kept!.push(chunk);
    keptSize += chunk.length;
  };
  const keptText = (): string => new TextDecoder().decode(concat(kept!, keptSize)).slice(0, MAX_ERROR_BODY);
  const oversize = (limit: number): void => {
    throw oversizeError(facts(), limit);
  };
  /** The body of a 2xx answer that is not a stream, now that it ended or filled the buffer. */
  const failMisfit = (): void => fail(misfitError(facts(), misfit!, keptText()));

  /**
   * The first significant byte of a 2xx body decides how it is read: a stream, a web page or a
   * JSON document. White space before it (and a byte order mark, perhaps split across chunks) goes
   * to the decoder as it comes — it yields no message — so nothing piles up while sniffing, and a
   * stream reaches the decoder byte for byte.
   */
  const sniff = (chunk: Uint8Array): void => {
    const at = firstSignificantByte(chunk);
    if (at === -1) return decoder!.push(chunk);
    sniffing = false;
    const first = chunk[at];
    if (first === LESS_THAN || (spec.framing === 'sse' && (first === OPEN_BRACE || first === OPEN_BRACKET))) {
      misfit = first === LESS_THAN ? 'html' : 'json';
      decoder = undefined;
      kept = [];
      keep(chunk.subarray(at));
      if (keptSize >= MAX_ERROR_BODY) failMisfit();
      return;
    }
    sample = chunk.slice(at, at + QUOTED_CHARS);
    decoder!.push(chunk);
  };

  call = spec.transport.send(spec.http, {
    onResponse(code, headers) {
      // A transport passes on only the final response; a 1xx (or a second head) from one that does not is ignored.
      if (code < 200 || responded || finished) return;
      responded = true;
      status = code;
      const encoding = contentEncodingOf(headers);
      if (code >= 300) {
        kept = [];
        errorEncoding = encoding;
        headersForError = headers;
        return;
      }
      const requestId = requestIdOf(headers);
      if (requestId !== undefined) meta.requestId = requestId;
      const rateLimit = rateLimitOf(headers);
      emit({
        type: 'response',
        status: code,
        ...(requestId !== undefined ? { requestId } : {}),
        ...(rateLimit !== undefined ? { rateLimit } : {}),
        headers: keptHeaders(headers),
      });
      if (finished) return; // downstream left on the `response` event
      contentType = headers.get('content-type')?.trim() || undefined;
      if (encoding !== undefined) return fail(encodedBodyError(facts(), encoding));
      if (isWebPage(contentType)) {
        misfit = 'html';
        kept = [];
        return;
      }
      const options = { onOversize: oversize, ...(spec.maxEventSize !== undefined ? { maxEventSize: spec.maxEventSize } : {}) };
      decoder = spec.framing === 'sse' ? sseDecoder(onMessage, options) : ndjsonDecoder((line) => onMessage(line, undefined), options);
      sniffing = true;
    },
    onData(chunk) {
      if (finished) return;
      try {
        if (kept) {
          if (errorEncoding === undefined) keep(chunk);
          if (misfit && keptSize >= MAX_ERROR_BODY) failMisfit();
        } else if (sniffing) {
          sniff(chunk);
        } else {
          decoder?.push(chunk);
        }
      } catch (error) {
        fail(error);
      }
    },
    onEnd() {
      if (finished) return;
      if (misfit) return failMisfit();
      if (kept) {
        finished = true;
        const text = errorEncoding === undefined ? keptText() : `(a ${errorEncoding}-encoded body, which this transport does not decode)`;
        subscriber.error(errorFromResponse(status, headersForError!, text, provider));
        return;
      }
      if (sniffing || !decoder) return fail(emptyBodyError(facts()));
      try {
        decoder.end();
      } catch (error) {
        // Everything delivered from end() came from the unterminated tail: a parse failure there is the cut.
        return fail(asTruncation(facts(), error));
      }
      if (finished) return;
      if (messages === 0 && spec.framing === 'sse' && !isEventStream(contentType)) return fail(noEventError(facts(), new TextDecoder().decode(sample)));
      try {
        parser.end(emit);
        finished = true;
        subscriber.complete();
      } catch (error) {
        fail(error);
      }
    },
    onError(error) {
      if (finished) return;
      finished = true;
      subscriber.error(connectionError(error, spec.http.url, provider, status !== 0));
    },
  });

  const onAbort = (): void => {
    if (!finished) fail(new LlmError({ code: 'aborted', message: `${provider}: the call was aborted by its AbortSignal`, provider }));
  };
  spec.signal?.addEventListener('abort', onAbort, { once: true });
  if (spec.signal?.aborted) onAbort();

  return () => {
    spec.signal?.removeEventListener('abort', onAbort);
    if (!finished) {
      finished = true;
      call?.abort();
    }
  };
}

/** What an error message about a response says of it. */
interface ResponseFacts {
  readonly provider: string;
  readonly framing: 'sse' | 'ndjson';
  /** Origin and path, without the query (it may carry a key). */
  readonly url: string;
  readonly status: number;
  /** The `content-type`, or "no content-type". */
  readonly media: string;
  readonly context: { provider: string; requestId?: string };
}

const expectedType = (facts: ResponseFacts): string => (facts.framing === 'sse' ? 'text/event-stream' : 'application/x-ndjson');

/** A 2xx body that is not a stream: a web page, or one JSON document (the provider's error when it holds one). */
function misfitError(facts: ResponseFacts, kind: 'html' | 'json', text: string): LlmError {
  const { provider, url, media, status, context } = facts;
  if (kind === 'json') {
    const payload = parseJsonOrUndefined(text);
    const error = typeof payload === 'object' && payload !== null ? (payload as { error?: unknown }).error : undefined;
    if (error !== undefined && error !== null && error !== false) return errorFromPayload(payload, context);
    return new MalformedStreamError(
      `${provider}: expected a stream (${expectedType(facts)}) from ${url}, got a single JSON document (${media}, HTTP ${status}): the server answered without streaming. Check that baseURL points at a server of this API that streams, and that nothing turns "stream" off: ${quote(text)}`,
      context,
    );
  }
  return new MalformedStreamError(
    `${provider}: expected ${expectedType(facts)} from ${url}, got a web page (${media}, HTTP ${status}): is baseURL right? A wrong path, a proxy's login page or a captive portal answers this way: ${quote(text)}`,
    context,
  );
}

/** A body in a content coding the transport did not decode (undici decodes none and asks for none). */
function encodedBodyError(facts: ResponseFacts, encoding: string): MalformedStreamError {
  return new MalformedStreamError(
    `${facts.provider}: expected ${expectedType(facts)} from ${facts.url}, got a ${encoding}-encoded body (content-encoding: ${encoding}), which this transport does not decode; the request did not ask for compression (no accept-encoding). A proxy on the way compresses it: turn that off, or use fetchTransport(), which decodes it`,
    facts.context,
  );
}

/** A body of another content type that held no SSE event at all. */
function noEventError(facts: ResponseFacts, start: string): MalformedStreamError {
  return new MalformedStreamError(
    `${facts.provider}: expected ${expectedType(facts)} from ${facts.url}, got ${facts.media} (HTTP ${facts.status}) without a single SSE event in it: is baseURL right? ${quote(start)}`,
    facts.context,
  );
}

/**
 * A 2xx answer whose body ended before its first byte. Retryable: the request was not refused, no
 * answer was given, and this is what a gateway that sent its headers before its upstream failed
 * (OpenRouter, a load balancer in front of a crashed worker) leaves behind — unlike a web page or a
 * JSON document, which a misconfigured server sends every time. A server that always answers an
 * empty 200 costs `retryBackoff()` its few attempts, and the message still says what came.
 */
function emptyBodyError(facts: ResponseFacts): MalformedStreamError {
  return new MalformedStreamError(
    `${facts.provider}: HTTP ${facts.status} with an empty body (${facts.media}): the response ended before its first event (truncated response)`,
    { ...facts.context, retryable: true },
  );
}

/** One event or line past the decoder's limit: a broken or hostile stream. */
function oversizeError(facts: ResponseFacts, limit: number): MalformedStreamError {
  const what = facts.framing === 'sse' ? 'an SSE event' : 'an NDJSON line';
  return new MalformedStreamError(
    `${facts.provider}: ${what} passed ${limit} characters without ending (maxEventSize ${limit}); a stream event is a few kB, so the stream is broken or hostile: the call was aborted`,
    facts.context,
  );
}

/**
 * The error for a failure raised while the body's unterminated tail was parsed: a non-retryable
 * `MalformedStreamError` there (the tail does not parse because it was cut) becomes a retryable
 * truncation; anything else (the provider's error in the tail) stays as it is.
 */
function asTruncation(facts: ResponseFacts, error: unknown): unknown {
  if (!MalformedStreamError.is(error) || error.retryable) return error;
  const { provider } = facts;
  const detail = error.message.startsWith(`${provider}: `) ? error.message.slice(provider.length + 2) : error.message;
  return new MalformedStreamError(
    `${provider}: the body ended in the middle of ${facts.framing === 'sse' ? 'an SSE event' : 'a line'}, before the end of the response (truncated response): ${detail}`,
    { ...facts.context, retryable: true },
  );
}

const LESS_THAN = 0x3c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/**
 * The index of the first byte that is not white space (nor part of a UTF-8 byte order mark), or
 * -1. Only the body's leading bytes are ever scanned: the first significant one ends the sniffing.
 */
function firstSignificantByte(chunk: Uint8Array): number {
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0xef && b !== 0xbb && b !== 0xbf) return i;
  }
  return -1;
}

/** The media type of a `content-type` value, lower-cased, without parameters. */
function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

function isWebPage(contentType: string | undefined): boolean {
  const type = mediaTypeOf(contentType);
  return type === 'text/html' || type === 'application/xhtml+xml';
}

function isEventStream(contentType: string | undefined): boolean {
  return mediaTypeOf(contentType) === 'text/event-stream';
}

/** The response's content coding, unless none (`identity`): the body the transport delivers is still encoded. */
function contentEncodingOf(headers: HeaderLookup): string | undefined {
  const value = headers.get('content-encoding')?.trim().toLowerCase();
  return value === undefined || value === '' || value === 'identity' ? undefined : value;
}

/** The start of a body that is not what was expected, on one line, shortened, for a message (redacted by the error). */
function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > QUOTED_CHARS ? `${flat.slice(0, QUOTED_CHARS)}…` : flat);
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** `origin` + path of a URL (no query: it may carry a key), for messages. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** A network failure, said plainly: refused (nothing listening), reset, or closed mid-response. */
function connectionError(error: unknown, url: string, provider: string, afterHeaders: boolean): LlmError {
  if (LlmError.is(error)) return error;
  if (error instanceof TransportError) {
    // retryable false: a refusal another attempt will not fix (a browser's CORS refusal); still a ConnectionError.
    return new ConnectionError(`${provider}: ${error.message}`, { provider, cause: error.cause, retryable: error.retryable });
  }
  const code = errorCode(error);
  const origin = safeOrigin(url);
  const what =
    code === 'ECONNREFUSED'
      ? `connection refused by ${origin}: is the server running there?`
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? `cannot resolve the host of ${origin}`
        : afterHeaders
          ? `the connection to ${origin} closed before the response ended${code ? ` (${code})` : ''}`
          : `the connection to ${origin} failed${code ? ` (${code})` : ''}: ${redact(error instanceof Error ? error.message : String(error))}`;
  return new ConnectionError(`${provider}: ${what}`, { provider, cause: error });
}

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('E')) return code;
    if (typeof code === 'string' && code.startsWith('UND_ERR_SOCKET')) return 'ECONNRESET';
  }
  return undefined;
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
