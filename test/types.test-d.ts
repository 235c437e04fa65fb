import type { Observable, OperatorFunction } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import { collect, isEvent, openai, text, type Completion, type LlmEvent, type LlmRequestInput, type Model, type TextEvent } from 'rxllm';

describe('public types', () => {
  it('model.stream returns Observable<LlmEvent>', () => {
    const model: Model = openai({ model: 'gpt-4o-mini', apiKey: 'test-key' });
    expectTypeOf(model.stream({ messages: [{ role: 'user', content: 'Hi' }] })).toEqualTypeOf<Observable<LlmEvent>>();
  });

  it('consumers have the documented shapes', () => {
    expectTypeOf(text()).toEqualTypeOf<OperatorFunction<LlmEvent, string>>();
    expectTypeOf(collect()).toEqualTypeOf<OperatorFunction<LlmEvent, Completion>>();
  });

  it('isEvent narrows on type', () => {
    const event = {} as LlmEvent;
    if (isEvent('text')(event)) expectTypeOf(event).toEqualTypeOf<TextEvent>();
  });

  it('the request input rejects unknown roles at compile time', () => {
    expectTypeOf<{ messages: [{ role: 'robot'; content: 'x' }] }>().not.toMatchTypeOf<LlmRequestInput>();
    expectTypeOf<{ messages: [{ role: 'user'; content: 'x' }]; temperature: 0.2 }>().toMatchTypeOf<LlmRequestInput>();
  });

  it('the event union is discriminated on type', () => {
    expectTypeOf<Extract<LlmEvent, { type: 'finish' }>['reason']>().toEqualTypeOf<'stop' | 'length' | 'tool-calls' | 'content-filter' | 'budget' | 'other'>();
  });
});
