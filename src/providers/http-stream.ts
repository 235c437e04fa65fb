import type { Subscriber, TeardownLogic } from 'rxjs';
import type { LlmEvent, ModelInfo } from '../core/events';
import { ConnectionError, LlmError, redact } from '../core/errors';
import { errorFromResponse } from '../http/api-error';
import { keptHeaders, rateLimitOf, requestIdOf } from '../http/headers';
import { ndjsonDecoder, sseDecoder, type FrameDecoder } from '../http/sse';
import type { HttpCall, HttpRequestSpec, Transport } from '../http/transport';

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
}

/** Error bodies are read up to this size; the rest is not needed to say what went wrong. */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * Runs one HTTP call for a stream subscriber: status → `response` event or typed error; body →
 * frames → parser → events; end → `finish` + complete. Returns the teardown that aborts the call,
 * so unsubscribing at any point closes the socket.
 */
export function runHttpStream(subscriber: Subscriber<LlmEvent>, spec: HttpStreamSpec): TeardownLogic {
  const provider = spec.info.provider;
  const meta: CallMeta = { provider };
  const parser = spec.parser(meta);
  const emit: Emit = (event) => subscriber.next(event);
  let finished = false;
  let decoder: FrameDecoder | undefined;
  let errorBody: Uint8Array[] | undefined;
  let errorBodySize = 0;
  let status = 0;
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
    if (parser.message(data, event, emit)) {
      finished = true;
      call?.release();
      subscriber.complete();
    }
  };

  call = spec.transport.send(spec.http, {
    onResponse(code, headers) {
      status = code;
      if (code < 200 || code >= 300) {
        errorBody = [];
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
      decoder = spec.framing === 'sse' ? sseDecoder(onMessage) : ndjsonDecoder((line) => onMessage(line, undefined));
    },
    onData(chunk) {
      if (finished) return;
      if (errorBody) {
        if (errorBodySize < MAX_ERROR_BODY) {
          errorBody.push(chunk);
          errorBodySize += chunk.length;
        }
        return;
      }
      try {
        decoder?.push(chunk);
      } catch (error) {
        fail(error);
      }
    },
    onEnd() {
      if (finished) return;
      if (errorBody) {
        finished = true;
        const text = new TextDecoder().decode(concat(errorBody, errorBodySize)).slice(0, MAX_ERROR_BODY);
        subscriber.error(errorFromResponse(status, headersForError!, text, provider));
        return;
      }
      try {
        decoder?.end();
        if (!finished) {
          parser.end(emit);
          finished = true;
          subscriber.complete();
        }
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
