import { TestScheduler } from 'rxjs/testing';
import { Observable, concat, defer, firstValueFrom, from, lastValueFrom, map, of, throwError, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { collect, LlmError, text, toAsyncIterable, toReadableStream, toSSE, type LlmEvent } from 'rxllm';
import { parts } from './helpers/events';

const events = (...list: LlmEvent[]): Observable<LlmEvent> => from(list);
const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('text()', () => {
  it('emits the text deltas only and completes with the source', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-h-a-k-b-t-u-f|', parts);
      expectObservable(source.pipe(text())).toBe('-----a---b------|', { a: 'Hel', b: 'lo' });
      expectSubscriptions(source.subscriptions).toBe('^---------------!');
    });
  });

  it('passes errors through after the text seen so far', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const error = new LlmError({ code: 'server_error', message: 'boom', retryable: true });
      expectObservable(cold('-r-a-#', parts, error).pipe(text())).toBe('---a-#', { a: 'Hel' }, error);
    });
  });

  it('releases upstream in the same frame when the consumer unsubscribes', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-r-a-b-c-f|', parts);
      expectObservable(source.pipe(text()), '^----!').toBe('---a-', { a: 'Hel' });
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('works with a synchronous source', async () => {
    const deltas = await lastValueFrom(events(parts.r, parts.a, parts.b, parts.f).pipe(text(), toArray()));
    expect(deltas).toEqual(['Hel', 'lo']);
  });
});

describe('collect()', () => {
  it('emits one completion when the stream completes', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-r-h-k-a-b-t-v-u-f|', parts);
      expectObservable(source.pipe(collect())).toBe('------------------(c|)', {
        c: {
          text: 'Hello',
          reasoning: 'thinking',
          toolCalls: [{ index: 0, id: 'call_1', name: 'lookup', arguments: '{"q":"x"}', input: { q: 'x' } }],
          usage: parts.u.usage,
          finishReason: 'stop',
          rawFinishReason: 'stop',
          model: parts.r.model,
          requestId: 'req_1',
        },
      });
    });
  });

  it('discards output before a retry notice that resets', async () => {
    const completion = await firstValueFrom(events(parts.r, parts.a, parts.x, parts.b, parts.f).pipe(collect()));
    expect(completion.text).toBe('lo');
  });

  it('discards output before a fallback notice that resets, and keeps it before one that does not', async () => {
    const notice = (reset: boolean): LlmEvent => ({ type: 'fallback', from: 'test:a', to: 'test:b', cause: 'unavailable', reset });
    expect((await firstValueFrom(events(parts.r, parts.a, notice(true), parts.b, parts.f).pipe(collect()))).text).toBe('lo');
    expect((await firstValueFrom(events(parts.r, parts.a, notice(false), parts.b, parts.f).pipe(collect()))).text).toBe('Hello');
  });

  it('errors when the stream completes without a finish event', async () => {
    const result = firstValueFrom(events(parts.r, parts.a).pipe(collect()));
    await expect(result).rejects.toMatchObject({ name: 'MalformedStreamError', code: 'malformed_stream', retryable: false });
  });

  it('keeps unparsable tool arguments as text with no input, and empty ones as {}', async () => {
    const events: LlmEvent[] = [
      parts.r,
      { type: 'tool-call', index: 2, id: 'b', name: 'second', argumentsDelta: '' },
      { type: 'tool-call', index: 1, id: 'a', name: 'first', argumentsDelta: '{"q": "te' },
      { type: 'finish', reason: 'tool-calls' },
    ];
    const { toolCalls } = await firstValueFrom(of(...events).pipe(collect()));
    expect(toolCalls.map((c) => [c.index, c.name, c.arguments, c.input])).toEqual([
      [1, 'first', '{"q": "te', undefined],
      [2, 'second', '', {}],
    ]);
  });

  it('passes errors through and emits nothing', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-r-a-#', parts).pipe(collect())).toBe('-----#');
    });
  });
});

describe('toAsyncIterable()', () => {
  it('yields every value and ends', async () => {
    const seen: string[] = [];
    for await (const delta of toAsyncIterable(events(parts.r, parts.a, parts.b, parts.f).pipe(text()))) seen.push(delta);
    expect(seen).toEqual(['Hel', 'lo']);
  });

  it('throws the error after the values before it', async () => {
    const seen: string[] = [];
    const source = concat(of('a', 'b'), throwError(() => new Error('boom')));
    await expect(
      (async () => {
        for await (const value of toAsyncIterable(source)) seen.push(value);
      })(),
    ).rejects.toThrow('boom');
    expect(seen).toEqual(['a', 'b']);
  });

  it('unsubscribes when the loop is left', async () => {
    let unsubscribed = false;
    const source = new Observable<number>((subscriber) => {
      subscriber.next(1);
      subscriber.next(2);
      return () => (unsubscribed = true);
    });
    for await (const value of toAsyncIterable(source)) if (value === 2) break;
    expect(unsubscribed).toBe(true);
  });
});

describe('toReadableStream() and toSSE()', () => {
  it('streams values and closes', async () => {
    const reader = toReadableStream(of(1, 2, 3)).getReader();
    const values: number[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) values.push(r.value);
    expect(values).toEqual([1, 2, 3]);
  });

  it('frames events as SSE with ids, leaves the request out, and ends an error with one llm-error frame, then done', async () => {
    const error = new LlmError({ code: 'rate_limited', message: 'slow down', retryable: true, status: 429 });
    const body = await new Response(toSSE(concat(events(parts.r, parts.a), throwError(() => error)))).text();
    // Not `event: error`: EventSource fires its own `error` (connection failure) on the same handler.
    expect(body).toBe(
      'id: 1\nevent: text\ndata: {"type":"text","text":"Hel"}\n\n' +
        'id: 2\nevent: llm-error\ndata: {"type":"llm-error","error":{"name":"LlmError","code":"rate_limited","message":"slow down","retryable":true,"status":429}}\n\n' +
        'id: 3\nevent: done\ndata: {"type":"done"}\n\n',
    );
  });

  it('ends a finished answer with a done frame, and sends retry: first when asked', async () => {
    const body = await new Response(toSSE(events(parts.r, parts.a, parts.f), { retryMs: 250 })).text();
    expect(body).toBe(
      'retry: 250\n\n' +
        'id: 1\nevent: text\ndata: {"type":"text","text":"Hel"}\n\n' +
        'id: 2\nevent: finish\ndata: {"type":"finish","reason":"stop","rawReason":"stop"}\n\n' +
        'id: 3\nevent: done\ndata: {"type":"done"}\n\n',
    );
    expect(() => toSSE(events(parts.r), { retryMs: -1 })).toThrow(/toSSE\(\): retryMs: expected a whole number of milliseconds ≥ 0; received -1/);
  });

  it('answers a reconnect (Last-Event-ID) with the done frame alone, without subscribing: no second call', async () => {
    let calls = 0;
    const source = defer(() => {
      calls++;
      return events(parts.r, parts.a, parts.f);
    });
    const reconnect = new Request('http://localhost/chat', { headers: { 'last-event-id': '3' } });
    expect(await new Response(toSSE(source, { request: reconnect })).text()).toBe('id: 1\nevent: done\ndata: {"type":"done"}\n\n');
    expect(calls).toBe(0);
    const first = new Request('http://localhost/chat');
    expect(await new Response(toSSE(source, { request: first })).text()).toContain('event: text');
    expect(calls).toBe(1);
  });

  it('maps a stream through the Web stream without losing order', async () => {
    const stream = toReadableStream(of(1, 2, 3).pipe(map((n) => n * 2)));
    const values: number[] = [];
    await stream.pipeTo(new WritableStream({ write: (v) => void values.push(v) }));
    expect(values).toEqual([2, 4, 6]);
  });
});
