import { createParser } from 'eventsource-parser';

/** Decodes bytes to SSE messages. `push` per network chunk; `end` at end of body. */
export interface FrameDecoder {
  push(chunk: Uint8Array): void;
  /**
   * The body ended. A last message without its terminator (an SSE event without its blank line,
   * an NDJSON line without its newline) is delivered now: everything delivered from inside `end()`
   * comes from an unterminated tail, which is how the stream driver tells a truncation from a
   * garbage line.
   */
  end(): void;
}

/** Called per SSE message: its `data` (multi-line data joined by "\n") and its `event:` name, if any. */
export type SseHandler = (data: string, event: string | undefined) => void;

/**
 * The most characters one SSE event (its unterminated line plus the data lines gathered so far) or
 * one NDJSON line may hold while it is buffered: 16 MiB of characters. The largest real events are
 * a whole response repeated at its end (the Responses API's `response.completed`) and inline image
 * data (base64 PNGs of a few MB); an event past this is a broken or hostile stream, and without a
 * limit a server that never ends its line grows the buffer until the process runs out of memory.
 */
export const MAX_EVENT_SIZE = 16 * 1024 * 1024;

export interface FrameDecoderOptions {
  /**
   * The limit on one buffered event or line, in characters (UTF-16 code units of the decoded
   * text: bytes, for the ASCII JSON providers send). @defaultValue MAX_EVENT_SIZE (16 MiB)
   */
  readonly maxEventSize?: number;
  /**
   * Called once when the limit is passed, with the limit; the decoder has then dropped what it
   * buffered and ignores every later `push` and `end`. Throw from it to stop the caller's loop.
   * @defaultValue throws a `RangeError` naming the limit
   */
  readonly onOversize?: (limit: number) => void;
}

const throwOversize = (limit: number): void => {
  throw new RangeError(`an event passed ${limit} characters without ending (maxEventSize)`);
};

/**
 * SSE over eventsource-parser: CR, LF and CRLF line ends (also split across chunks), comments
 * ignored, `event:` names passed on. UTF-8 is decoded in streaming mode, so a character split
 * across chunks is joined. Linear in the body: each byte is decoded once and scanned once (the
 * parser keeps a partial line as a list of pieces, joined once its end comes).
 *
 * Memory is bounded: an event that grows past `maxEventSize` characters before its blank line
 * calls `onOversize` (the parser counts its buffer as it grows, at no extra cost per chunk).
 *
 * At end of body a last message without its blank line is still delivered, so a truncated or
 * sloppy stream surfaces in the provider parser rather than vanishing.
 */
export function sseDecoder(onMessage: SseHandler, options: FrameDecoderOptions = {}): FrameDecoder {
  const { maxEventSize = MAX_EVENT_SIZE, onOversize = throwOversize } = options;
  const utf8 = new TextDecoder();
  let oversize = false;
  const parser = createParser({
    onEvent: (message) => onMessage(message.data, message.event),
    onError: (error) => {
      // Other parse errors (an unknown field, a bad `retry:`) are ignored, as the SSE spec says.
      if (error.type !== 'max-buffer-size-exceeded' || oversize) return;
      oversize = true;
      onOversize(maxEventSize);
    },
    maxBufferSize: maxEventSize,
  });
  return {
    push(chunk) {
      if (!oversize) parser.feed(utf8.decode(chunk, { stream: true }));
    },
    end() {
      if (!oversize) parser.feed(`${utf8.decode()}\n\n`);
    },
  };
}

/**
 * Newline-delimited JSON (Ollama): one message per line, blank lines skipped, a last line without
 * its newline still delivered. Partial lines are kept as a list of pieces and joined once, so a
 * line split into many chunks costs its length, not its length squared; a partial line past
 * `maxEventSize` characters calls `onOversize`.
 */
export function ndjsonDecoder(onLine: (line: string) => void, options: FrameDecoderOptions = {}): FrameDecoder {
  const { maxEventSize = MAX_EVENT_SIZE, onOversize = throwOversize } = options;
  const utf8 = new TextDecoder();
  const pending: string[] = [];
  let pendingSize = 0;
  let oversize = false;
  const emit = (line: string): void => {
    const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (trimmed.trim() !== '') onLine(trimmed);
  };
  const feed = (text: string): void => {
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      const piece = text.slice(start, newline);
      if (pending.length > 0) {
        pending.push(piece);
        const line = pending.join('');
        pending.length = 0;
        pendingSize = 0;
        emit(line);
      } else {
        emit(piece);
      }
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    if (start < text.length) {
      pending.push(text.slice(start));
      pendingSize += text.length - start;
      if (pendingSize > maxEventSize) {
        oversize = true;
        pending.length = 0;
        pendingSize = 0;
        onOversize(maxEventSize);
      }
    }
  };
  return {
    push(chunk) {
      if (!oversize) feed(utf8.decode(chunk, { stream: true }));
    },
    end() {
      if (oversize) return;
      feed(utf8.decode());
      if (pending.length > 0) {
        const line = pending.join('');
        pending.length = 0;
        pendingSize = 0;
        emit(line);
      }
    },
  };
}
