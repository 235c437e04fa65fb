/**
 * A reusable pipeline in plain RxJS over the event stream, on the simulated model (or on OpenAI
 * when OPENAI_API_KEY is set): run `npx tsx examples/pipeline.ts`.
 */
import { catchError, lastValueFrom, of, pipe, retry, tap, timeout } from 'rxjs';
import { collect, LlmError, openai, simulated, type LlmEvent, type Model } from 'rxllm';

const model: Model = process.env['OPENAI_API_KEY'] ? openai({ model: 'gpt-4o-mini' }) : simulated({ tokensPerSecond: 200 });

// Composed once, used for every call: log the request and the response headers, give up on a
// stream that goes quiet for 10 s, retry retryable failures twice, and gather the result.
const logged = pipe(
  tap((event: LlmEvent) => {
    if (event.type === 'request') console.log(`-> ${event.model.name}: ${event.request.messages.length} message(s)`);
    if (event.type === 'response') console.log(`<- ${event.status} ${event.requestId ?? ''}`);
  }),
  timeout({ each: 10_000 }),
  retry({ count: 2, delay: (error: unknown) => (LlmError.is(error) && error.retryable ? of(0) : (() => { throw error; })()) }),
  collect(),
);

const answer = await lastValueFrom(
  model.stream({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is a cold observable?' }], maxOutputTokens: 40 }).pipe(
    logged,
    catchError((error: unknown) => {
      console.error(LlmError.is(error) ? `failed: ${error.code}` : error);
      throw error;
    }),
  ),
);
console.log(answer.text);
console.log(answer.usage, answer.finishReason);
