import { Observable, Subscription, map, type OperatorFunction } from 'rxjs';
import { discardsAnswer, type FinishReason, type LlmEvent, type ModelInfo, type Usage } from './events';
import { ConfigurationError, LlmError, MalformedStreamError } from './errors';
import { operate, relay } from './stream';

/**
 * The output text deltas, and nothing else: notices, reasoning and tool calls are dropped.
 * Errors and completion pass through.
 *
 * ```
 * source: -r-t(a)-t(b)-u-f|
 * text(): ---a----b------|
 * ```
 * @example
 * model.stream(req).pipe(text()).subscribe((delta) => process.stdout.write(delta));
 */
export function text(): OperatorFunction<LlmEvent, string> {
  return operate((source, subscriber) =>
    source.subscribe(
      relay(subscriber, (event: LlmEvent) => {
        if (event.type === 'text') subscriber.next(event.text);
      }),
    ),
  );
}

/** A tool call as `collect()` assembles it. */
export interface ToolCall {
  readonly index: number;
  readonly id: string | undefined;
  readonly name: string;
  /** The arguments as the model wrote them (JSON text; `''` for a call without arguments). */
  readonly arguments: string;
  /** `arguments` parsed: `{}` for empty arguments, `undefined` when they are not valid JSON. */
  readonly input: unknown;
}

/** Everything a finished stream said, in one value. */
export interface Completion {
  readonly text: string;
  readonly reasoning: string;
  readonly toolCalls: readonly ToolCall[];
  /** Provider-reported usage; absent if the provider reported none. */
  readonly usage?: Usage;
  readonly finishReason: FinishReason;
  readonly rawFinishReason?: string;
  readonly model?: ModelInfo;
  readonly requestId?: string;
}

/**
 * Gathers a stream into one `Completion`, emitted when the stream completes. Deltas are kept as
 * lists and joined once at the end (linear in the output). A `retry` or `fallback` notice with
 * `reset: true` (`retryBackoff` / `fallback` with `afterOutput: 'restart'`), or a `route` notice
 * with `reset: true` (an escalated answer), discards what came
 * before it. Errors pass through; a stream that completes without a `finish` event errors
 * (`malformed_stream`), so a partial answer is never mistaken for a whole one.
 *
 * ```
 * source:    -r-t(a)-t(b)-u-f|
 * collect(): ----------------(c|)
 * ```
 * @example
 * const { text, usage } = await firstValueFrom(model.stream(req).pipe(collect()));
 */
export function collect(): OperatorFunction<LlmEvent, Completion> {
  return operate((source, subscriber) => {
    let texts: string[] = [];
    let reasoning: string[] = [];
    let tools = new Map<number, { id: string | undefined; name: string; args: string[] }>();
    let usage: Usage | undefined;
    let finish: { reason: FinishReason; raw?: string } | undefined;
    let model: ModelInfo | undefined;
    let requestId: string | undefined;
    return source.subscribe(
      relay(
        subscriber,
        (event: LlmEvent) => {
          switch (event.type) {
            case 'request':
              model = event.model;
              break;
            case 'response':
              requestId = event.requestId;
              break;
            case 'text':
              texts.push(event.text);
              break;
            case 'reasoning':
              reasoning.push(event.text);
              break;
            case 'tool-call': {
              const call = tools.get(event.index);
              if (call) call.args.push(event.argumentsDelta);
              else tools.set(event.index, { id: event.id, name: event.name ?? '', args: [event.argumentsDelta] });
              break;
            }
            case 'usage':
              usage = event.usage;
              break;
            case 'finish':
              finish = event.rawReason === undefined ? { reason: event.reason } : { reason: event.reason, raw: event.rawReason };
              break;
            default:
              if (discardsAnswer(event)) {
                texts = [];
                reasoning = [];
                tools = new Map();
                usage = undefined;
                finish = undefined;
              }
              break;
          }
        },
        undefined,
        () => {
          if (!finish) {
            subscriber.error(new MalformedStreamError('collect(): the stream completed without a finish event'));
            return;
          }
          const toolCalls = [...tools.entries()]
            .sort(([a], [b]) => a - b)
            .map(([index, call]): ToolCall => {
              const args = call.args.join('');
              return { index, id: call.id, name: call.name, arguments: args, input: parseArguments(args) };
            });
          subscriber.next({
            text: texts.join(''),
            reasoning: reasoning.join(''),
            toolCalls,
            finishReason: finish.reason,
            ...(finish.raw !== undefined ? { rawFinishReason: finish.raw } : {}),
            ...(usage !== undefined ? { usage } : {}),
            ...(model !== undefined ? { model } : {}),
            ...(requestId !== undefined ? { requestId } : {}),
          });
          subscriber.complete();
        },
      ),
    );
  });
}

function parseArguments(args: string): unknown {
  if (args.trim() === '') return {};
  try {
    return JSON.parse(args) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Consumes an Observable with `for await`. Each iteration subscribes once; values are buffered
 * while the loop body runs. Leaving the loop (`break`, `return`, a throw) unsubscribes — for a
 * model stream that aborts the request and closes its socket.
 *
 * @example
 * for await (const delta of toAsyncIterable(model.stream(req).pipe(text()))) process.stdout.write(delta);
 */
export function toAsyncIterable<T>(source: Observable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const buffer: T[] = [];
      let head = 0;
      let done = false;
      let failure: { error: unknown } | undefined;
      let waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
      let subscription: Subscription | undefined;
      const settle = (): void => {
        if (!waiting) return;
        const w = waiting;
        if (head < buffer.length) {
          waiting = undefined;
          w.resolve({ value: take(), done: false });
        } else if (failure) {
          waiting = undefined;
          w.reject(failure.error);
        } else if (done) {
          waiting = undefined;
          w.resolve({ value: undefined, done: true });
        }
      };
      const take = (): T => {
        const value = buffer[head]!;
        buffer[head++] = undefined as T; // release the reference
        if (head > 1024 && head * 2 > buffer.length) {
          buffer.splice(0, head);
          head = 0;
        }
        return value;
      };
      const start = (): void => {
        subscription = source.subscribe({
          next: (value) => {
            buffer.push(value);
            settle();
          },
          error: (error: unknown) => {
            failure = { error };
            settle();
          },
          complete: () => {
            done = true;
            settle();
          },
        });
      };
      return {
        next() {
          if (!subscription) start();
          if (head < buffer.length) return Promise.resolve({ value: take(), done: false });
          if (failure) {
            const { error } = failure;
            failure = undefined;
            done = true;
            return Promise.reject(error);
          }
          if (done) return Promise.resolve({ value: undefined, done: true });
          return new Promise((resolve, reject) => {
            waiting = { resolve, reject };
          });
        },
        return() {
          done = true;
          subscription?.unsubscribe();
          buffer.length = 0;
          head = 0;
          return Promise.resolve({ value: undefined, done: true });
        },
      };
    },
  };
}

/**
 * A Web `ReadableStream` of the Observable's values (for `new Response(...)`, Next.js route
 * handlers, `pipeTo`). Subscribes when the stream starts; `cancel()` unsubscribes. An error
 * errors the stream. Values are queued, not backpressured: an LLM stream is small and bounded.
 */
export function toReadableStream<T>(source: Observable<T>): ReadableStream<T> {
  let subscription: Subscription | undefined;
  return new ReadableStream<T>({
    start(controller) {
      subscription = source.subscribe({
        next: (value) => controller.enqueue(value),
        error: (error: unknown) => controller.error(error),
        complete: () => controller.close(),
      });
    },
    cancel() {
      subscription?.unsubscribe();
    },
  });
}

/** The part of Node's `http.ServerResponse` that `toSSE` uses. */
export interface SseResponseTarget {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string): unknown;
  end(): unknown;
  on(event: 'close', listener: () => void): unknown;
  readonly headersSent?: boolean;
}

export interface ToSSEOptions {
  /**
   * Which events to send. The `request` event is left out by default: it echoes the whole prompt
   * (system prompt included), which a browser usually should not see.
   * @defaultValue (event) => event.type !== 'request'
   */
  readonly include?: (event: LlmEvent) => boolean;
  /**
   * The incoming HTTP request (a Node `IncomingMessage` or a Web `Request`), so a browser's
   * `EventSource` reconnecting is not answered with a second, billed call. A request with a
   * `Last-Event-ID` header is such a reconnect: its client already received (part of) a stream, which
   * cannot be resumed, and a new call would be a second answer. Then `events` is not subscribed;
   * `toSSE(events, res, { request })` answers `204 No Content` — the one answer that stops
   * `EventSource` from reconnecting — and `toSSE(events, { request })` returns a body of the `done`
   * frame alone (better: answer 204 yourself, see the docs).
   * @defaultValue none: every request starts the call
   */
  readonly request?: { readonly headers: Readonly<Record<string, string | readonly string[] | undefined>> | { get(name: string): string | null } };
  /**
   * Sent first as `retry: <ms>`: how long an `EventSource` waits before it reconnects after the
   * response ends or the connection drops. Not needed to stop reconnects (`done` and `request` do
   * that); a small value makes tests fast, a large one spaces out reconnects of clients that ignore `done`.
   * @defaultValue not sent: the browser's own (about 3 s)
   */
  readonly retryMs?: number;
}

/** Headers for an SSE response. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/**
 * The name of the failure frame. Not `error`: `EventSource` fires its own `error` event for a
 * connection failure, and a frame named `error` would reach the same `onerror` handler.
 */
const FAILURE = 'llm-error';

/**
 * One frame as `toSSE` writes it: `id: <id>` (when given), `event: <type>` and the event as JSON.
 * A failure, `{ type: 'error', error }`, becomes `event: llm-error` with data
 * `{ type: 'llm-error', error: <LlmError.toJSON()> }`; `{ type: 'done' }` is the last frame of every
 * stream, `event: done` / `data: {"type":"done"}`.
 */
export function sseFrame(event: LlmEvent | { type: 'error'; error: unknown } | { type: 'done' }, id?: number | string): string {
  const head = id === undefined ? '' : `id: ${id}\n`;
  if (event.type === 'error') {
    const payload = { type: FAILURE, error: errorJson((event as { error: unknown }).error) };
    return `${head}event: ${FAILURE}\ndata: ${JSON.stringify(payload)}\n\n`;
  }
  return `${head}event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

function errorJson(error: unknown): unknown {
  if (LlmError.is(error)) return error.toJSON();
  return { name: 'Error', code: 'internal_error', message: 'the stream failed' };
}

/** True when `request` carries a non-empty `Last-Event-ID`: an `EventSource` reconnecting. */
function isReconnect(request: ToSSEOptions['request']): boolean {
  if (!request) return false;
  const { headers } = request;
  const value = typeof headers.get === 'function' ? (headers as { get(name: string): string | null }).get('last-event-id') : (headers as Record<string, unknown>)['last-event-id'];
  return typeof value === 'string' ? value !== '' : Array.isArray(value) && value.length > 0;
}

/**
 * Serves a stream as Server-Sent Events, for a browser's `EventSource` or any SSE reader.
 *
 * - `toSSE(events)` returns a Web `ReadableStream<Uint8Array>` for `new Response(body, { headers: SSE_HEADERS })`.
 * - `toSSE(events, res)` writes to a Node `ServerResponse` (status 200 and SSE headers first) and
 *   unsubscribes when the client goes away, so a closed browser tab stops the upstream call.
 *
 * Frames, numbered by `id:` from 1:
 * - each event: `event: <type>` / `data: <event as JSON>` (the `request` event left out by default);
 * - a failure: one `event: llm-error` frame with `{ type: 'llm-error', error }`, the error's JSON (no
 *   secrets: see `LlmError.toJSON`; other errors are not described). Not named `error`, which is
 *   `EventSource`'s own connection-error event;
 * - then, always last, after a finished answer and after a failure alike: `event: done` /
 *   `data: {"type":"done"}`, and the response ends.
 *
 * An `EventSource` reconnects whenever a response ends — ~3 s later, sending `Last-Event-ID` — so
 * the client must `close()` on `done`. Pass the incoming request (`{ request: req }`) so that a
 * client which does not is answered `204 No Content` (stop reconnecting) instead of a second,
 * billed call. `retryMs` sends a `retry:` field first.
 *
 * @example
 * http.createServer((req, res) => toSSE(model.stream(request), res, { request: req }));
 * // browser: const source = new EventSource('/chat');
 * //          source.addEventListener('text', (e) => show(JSON.parse(e.data).text));
 * //          source.addEventListener('done', () => source.close());
 */
export function toSSE(events: Observable<LlmEvent>, options?: ToSSEOptions): ReadableStream<Uint8Array>;
export function toSSE(events: Observable<LlmEvent>, target: SseResponseTarget, options?: ToSSEOptions): Subscription;
export function toSSE(
  events: Observable<LlmEvent>,
  targetOrOptions?: SseResponseTarget | ToSSEOptions,
  maybeOptions?: ToSSEOptions,
): ReadableStream<Uint8Array> | Subscription {
  const target = targetOrOptions && 'write' in targetOrOptions ? targetOrOptions : undefined;
  const options = (target ? maybeOptions : (targetOrOptions as ToSSEOptions | undefined)) ?? {};
  const { retryMs } = options;
  if (retryMs !== undefined && !(Number.isInteger(retryMs) && retryMs >= 0)) {
    throw new ConfigurationError(`toSSE(): retryMs: expected a whole number of milliseconds ≥ 0; received ${String(retryMs)}`);
  }
  const include = options.include ?? ((event: LlmEvent) => event.type !== 'request');
  const reconnect = isReconnect(options.request);
  if (target && reconnect) {
    // 204 is how a server tells EventSource to stop reconnecting; `events` is never subscribed.
    if (!target.headersSent) target.writeHead(204, { 'cache-control': 'no-store' });
    target.end();
    return Subscription.EMPTY;
  }
  const frames = new Observable<string>((subscriber) => {
    let id = 0;
    const done = (): void => {
      subscriber.next(sseFrame({ type: 'done' }, ++id));
      subscriber.complete();
    };
    if (retryMs !== undefined) subscriber.next(`retry: ${retryMs}\n\n`);
    if (reconnect) return done();
    return events.subscribe({
      next: (event) => {
        if (include(event)) subscriber.next(sseFrame(event, ++id));
      },
      error: (error: unknown) => {
        subscriber.next(sseFrame({ type: 'error', error }, ++id));
        done();
      },
      complete: done,
    });
  });
  if (!target) {
    const encoder = new TextEncoder();
    return toReadableStream(frames.pipe(map((frame) => encoder.encode(frame))));
  }
  if (!target.headersSent) target.writeHead(200, { ...SSE_HEADERS });
  const subscription = frames.subscribe({
    next: (frame) => void target.write(frame),
    complete: () => void target.end(),
  });
  target.on('close', () => subscription.unsubscribe());
  return subscription;
}
