import { createParser } from 'eventsource-parser';

/** Decodes bytes to SSE messages. `push` per network chunk; `end` at end of body. */
export interface FrameDecoder {
  push(chunk: Uint8Array): void;
  end(): void;
}

/** Called per SSE message: its `data` (multi-line data joined by "\n") and its `event:` name, if any. */
export type SseHandler = (data: string, event: string | undefined) => void;

/**
 * SSE over eventsource-parser: CR, LF and CRLF line ends (also split across chunks), comments
 * ignored, `event:` names passed on. UTF-8 is decoded in streaming mode, so a character split
 * across chunks is joined. Linear in the body: each byte is decoded once and scanned once.
 *
 * At end of body a last message without its blank line is still delivered, so a truncated or
 * sloppy stream surfaces in the provider parser rather than vanishing.
 */
export function sseDecoder(onMessage: SseHandler): FrameDecoder {
  const utf8 = new TextDecoder();
  const parser = createParser({ onEvent: (message) => onMessage(message.data, message.event) });
  return {
    push(chunk) {
      parser.feed(utf8.decode(chunk, { stream: true }));
    },
    end() {
      const rest = utf8.decode();
      parser.feed(`${rest}\n\n`);
    },
  };
}

/**
 * Newline-delimited JSON (Ollama): one message per line, blank lines skipped, a last line without
 * its newline still delivered. Partial lines are kept as a list of pieces and joined once, so a
 * line split into many chunks costs its length, not its length squared.
 */
export function ndjsonDecoder(onLine: (line: string) => void): FrameDecoder {
  const utf8 = new TextDecoder();
  const pending: string[] = [];
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
        emit(pending.join(''));
        pending.length = 0;
      } else {
        emit(piece);
      }
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    if (start < text.length) pending.push(text.slice(start));
  };
  return {
    push(chunk) {
      feed(utf8.decode(chunk, { stream: true }));
    },
    end() {
      feed(utf8.decode());
      if (pending.length > 0) {
        emit(pending.join(''));
        pending.length = 0;
      }
    },
  };
}
