import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ndjsonDecoder, sseDecoder } from '../src/http/sse';
import { FIXTURES_DIR } from './helpers/fixtures';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function ndjsonLines(pieces: Uint8Array[]): string[] {
  const lines: string[] = [];
  const decoder = ndjsonDecoder((line) => lines.push(line));
  for (const piece of pieces) decoder.push(piece);
  decoder.end();
  return lines;
}

describe('ndjsonDecoder', () => {
  const body = readFileSync(`${FIXTURES_DIR}/ollama/chat-stream-text.ndjson`);
  const whole = ndjsonLines([body]);

  it('yields one line per record of the recorded Ollama stream', () => {
    expect(whole).toHaveLength(22);
    expect(whole.every((line) => typeof JSON.parse(line) === 'object')).toBe(true);
    expect(JSON.parse(whole[21]!)).toMatchObject({ done: true, done_reason: 'stop', eval_count: 22 });
  });

  it('gives the same lines split in two at every byte offset, and one byte at a time', () => {
    for (let k = 0; k <= body.length; k++) expect(ndjsonLines([body.subarray(0, k), body.subarray(k)])).toEqual(whole);
    expect(ndjsonLines([...body].map((b) => Uint8Array.of(b)))).toEqual(whole);
  });

  it('skips blank lines, strips CR, and delivers a last line without its newline', () => {
    expect(ndjsonLines([bytes('{"a":1}\r\n\n  \n{"b":'), bytes('2}')])).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('joins a multi-byte character split across chunks', () => {
    const text = bytes('{"t":"30°C"}\n');
    const at = text.indexOf(0xb0); // second byte of "°"
    expect(ndjsonLines([text.subarray(0, at), text.subarray(at)])).toEqual(['{"t":"30°C"}']);
  });
});

describe('sseDecoder', () => {
  const messages = (pieces: Uint8Array[]): Array<[string, string | undefined]> => {
    const out: Array<[string, string | undefined]> = [];
    const decoder = sseDecoder((data, event) => out.push([data, event]));
    for (const piece of pieces) decoder.push(piece);
    decoder.end();
    return out;
  };

  it('reads comments, event names, CRLF and multi-line data', () => {
    expect(messages([bytes(': keep-alive\r\n\r\nevent: error\r\ndata: {"a":\r\ndata: 1}\r\n\r\ndata: [DONE]\r\n\r\n')])).toEqual([
      ['{"a":\n1}', 'error'],
      ['[DONE]', undefined],
    ]);
  });

  it('delivers a last message that lacks its blank line at end of body', () => {
    expect(messages([bytes('data: one\n\ndata: two')])).toEqual([
      ['one', undefined],
      ['two', undefined],
    ]);
  });

  it('decodes UTF-8 split inside a character', () => {
    const text = bytes('data: 30°C\n\n');
    const at = text.indexOf(0xb0);
    expect(messages([text.subarray(0, at), text.subarray(at)])).toEqual([['30°C', undefined]]);
  });
});
