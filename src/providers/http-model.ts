import type { ModelInfo } from '../core/events';
import { defaultTransport } from '../http/default-transport';
import type { Transport } from '../http/transport';
import type { Model, StreamOptions } from '../core/model';
import type { LlmRequest, LlmRequestInput } from '../core/request';
import { createEventStream } from '../core/stream';
import { normalizeHeaders } from './config';
import { runHttpStream, type CallMeta, type StreamParser } from './http-stream';

/** What makes one provider's HTTP streaming model: where, with which headers, which body, which parser. */
export interface HttpModelSetup {
  readonly info: ModelInfo;
  /** The endpoint for a request (Gemini puts the model in the path). */
  readonly url: (request: LlmRequest) => string;
  /**
   * Headers sent with every call, credentials included. They live only in this closure: never on
   * `info`, in events or in errors. Per-call `options.headers` cannot override them.
   */
  readonly headers: Readonly<Record<string, string>>;
  /** The request rendered as the provider's native body. */
  readonly body: (request: LlmRequest) => unknown;
  readonly framing: 'sse' | 'ndjson';
  readonly parser: (meta: CallMeta) => StreamParser;
  /** @defaultValue undici with a shared keep-alive pool (Node); fetch (browser build) */
  readonly transport?: Transport | undefined;
}

/** A `Model` over HTTP: request-first stream, one POST per subscription, parsed as it arrives. */
export function httpModel(setup: HttpModelSetup): Model {
  const { info, framing, parser } = setup;
  const headers = normalizeHeaders(setup.headers);
  return {
    info,
    stream(input: LlmRequestInput, options: StreamOptions = {}) {
      return createEventStream(input, info, (subscriber, request) =>
        runHttpStream(subscriber, {
          info,
          transport: setup.transport ?? defaultTransport(),
          http: {
            url: setup.url(request),
            method: 'POST',
            headers: options.headers ? { ...normalizeHeaders(options.headers), ...headers } : headers,
            body: JSON.stringify(setup.body(request)),
          },
          framing,
          parser,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      );
    },
  };
}
