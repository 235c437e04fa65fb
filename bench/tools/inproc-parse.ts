/**
 * Diagnostic: the parse path WITHOUT HTTP, in one process, to separate rxllm's own per-token cost
 * from socket and scheduler noise. The same SSE body (cut into 64 KiB chunks) is pushed through:
 *
 * - `json`:  `JSON.parse` of one frame, N times — the irreducible cost;
 * - `raw`:   TextDecoder + eventsource-parser + JSON.parse (the raw client's path);
 * - `rxllm`: `openaiCompatible({ transport })` with an in-memory transport → sseDecoder →
 *            openaiChatParser → events → `text()` → subscriber.
 *
 *   npx tsx bench/tools/inproc-parse.ts [tokens=100000] [rounds=15]
 */
import { createParser } from 'eventsource-parser';
import { openaiCompatible, text } from '../../src/index';
import { type Transport } from '../../src/providers/index';
import { summarize } from '../lib/stats';
import { TOKEN_TEXT } from '../lib/wire';

const TOKENS = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 15);

const payload = JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: 'bench', choices: [{ index: 0, delta: { content: TOKEN_TEXT }, finish_reason: null }] });
const body = Buffer.from(`${`data: ${payload}\n\n`.repeat(TOKENS)}data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n`);
const chunks: Uint8Array[] = [];
for (let i = 0; i < body.length; i += 65_536) chunks.push(body.subarray(i, i + 65_536));

const transport: Transport = {
  send(_request, sink) {
    queueMicrotask(() => {
      sink.onResponse(200, { get: () => undefined });
      for (const chunk of chunks) sink.onData(chunk);
      sink.onEnd();
    });
    return { abort() {}, release() {} };
  },
};
const model = openaiCompatible({ model: 'bench', baseURL: 'http://127.0.0.1:1/v1', transport });

const contenders: Record<string, () => Promise<number>> = {
  json: async () => {
    let chars = 0;
    for (let i = 0; i < TOKENS; i++) chars += (JSON.parse(payload) as { choices: [{ delta: { content: string } }] }).choices[0].delta.content.length;
    return chars;
  },
  raw: async () => {
    let chars = 0;
    const parser = createParser({
      onEvent(event) {
        if (event.data === '[DONE]') return;
        const content = (JSON.parse(event.data) as { choices?: Array<{ delta?: { content?: string } }> }).choices?.[0]?.delta?.content;
        if (typeof content === 'string' && content !== '') chars += content.length;
      },
    });
    const utf8 = new TextDecoder();
    for (const chunk of chunks) parser.feed(utf8.decode(chunk, { stream: true }));
    parser.feed(utf8.decode());
    return chars;
  },
  rxllm: () =>
    new Promise((resolve, reject) => {
      let chars = 0;
      model
        .stream({ messages: [{ role: 'user', content: 'bench' }] })
        .pipe(text())
        .subscribe({ next: (delta) => (chars += delta.length), error: reject, complete: () => resolve(chars) });
    }),
};

const names = Object.keys(contenders);
for (let i = 0; i < 8; i++) for (const name of names) await contenders[name]!();
const samples: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const name of round % 2 ? [...names].reverse() : names) {
    const start = process.cpuUsage();
    const chars = await contenders[name]!();
    const used = process.cpuUsage(start);
    if (chars !== TOKENS * TOKEN_TEXT.length) throw new Error(`${name}: got ${chars} chars`);
    samples[name]!.push((used.user + used.system) / TOKENS);
  }
}
const rawMedian = summarize(samples['raw']!).median;
for (const name of names) {
  const s = summarize(samples[name]!);
  console.log(`${name.padEnd(6)} ${s.median.toFixed(3)} µs/token (min ${s.min.toFixed(3)}, max ${s.max.toFixed(3)})  ${(s.median / rawMedian).toFixed(2)}× raw`);
}
