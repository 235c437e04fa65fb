import { lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { openai, text } from 'rxllm';
import { expectSaysOk, expectWrongKeyRejected, forcedWeatherCall } from './helpers/live';

/**
 * Against the real OpenAI API — only when OPENAI_API_KEY is set; otherwise these tests are
 * reported as skipped (vitest lists them), and nothing else needs a key or the network.
 */
const key = process.env['OPENAI_API_KEY'];
const model = process.env['OPENAI_TEST_MODEL'] ?? 'gpt-4o-mini';

describe.skipIf(!key)(`live OpenAI (${model}) — runs only with OPENAI_API_KEY`, () => {
  it('streams text, usage and finish', async () => {
    await expectSaysOk(openai({ model }));
  });

  it('streams a tool call', async () => {
    await forcedWeatherCall(openai({ model }));
  });

  it('stops early on unsubscribe', async () => {
    const deltas = await lastValueFrom(
      openai({ model }).stream({ messages: [{ role: 'user', content: 'Count from 1 to 200.' }] }).pipe(text(), take(3), toArray()),
    );
    expect(deltas).toHaveLength(3);
  });

  it('reports a wrong key as authentication_failed without echoing it', async () => {
    const wrong = `sk-${'wrong-0000000000000000000000000000'}`;
    await expectWrongKeyRejected(openai({ model, apiKey: wrong }), wrong, { code: 'authentication_failed', status: 401 });
  });
});
