import { inspect } from 'node:util';
import { lastValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  collect, ConfigurationError, InvalidRequestError, LlmError, openai, openaiCompatible, parseRequest,
  type LlmRequestInput, type Model,
} from 'rxllm';
import { openaiTextReply, startMockServer, type MockServer } from 'rxllm/testing';
import { pause, record } from './helpers/observe';
import { errorRenderings, expectNoneContains, thrownConfigurationError } from './helpers/failures';

const API_KEY = `sk-${'test-SECRETSECRET1234567890abcd'}`;

let server: MockServer;
beforeAll(async () => {
  server = await startMockServer({ handler: () => openaiTextReply('ok') });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  server.clearRecords();
  vi.unstubAllEnvs();
});

const compatible = (): Model => openaiCompatible({ model: 'llama-3.1-8b', baseURL: server.url, apiKey: API_KEY });
const user = { role: 'user', content: 'Hi' } as const;

/** `{ type: 'object', properties: { child: <itself> } }`: a schema that contains itself. */
function circularSchema(): { type: 'object'; properties: Record<string, unknown> } {
  const schema = { type: 'object' as const, properties: {} as Record<string, unknown> };
  schema.properties['child'] = schema;
  return schema;
}

/** An array schema `depth` levels deep: `{ type: 'array', items: { type: 'array', items: … } }`. */
function nested(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < depth; i++) schema = { type: 'array', items: schema };
  return schema;
}

describe('invalid requests fail before any I/O', () => {
  // Where the 65th level starts; the message writes a path this long by its first 60 and last 50 characters.
  const deepPath = `responseFormat.schema${'.items'.repeat(64)}`;
  // `shown`: the path as the message writes it, when it is too long to write whole.
  const cases: ReadonlyArray<{ what: string; input: unknown; field: string; says: RegExp; shown?: string }> = [
    { what: 'no messages', input: { messages: [] }, field: 'messages', says: /expected at least one message; received \[\]/ },
    { what: 'temperature 7', input: { messages: [user], temperature: 7 }, field: 'temperature', says: /<=2; received 7$/ },
    { what: "an unknown role 'robot'", input: { messages: [{ role: 'robot', content: 'beep' }] }, field: 'messages[0].role', says: /'system' \| 'user' \| 'assistant' \| 'tool'; received "robot"/ },
    { what: 'a tool without a name', input: { messages: [user], tools: [{ description: 'Looks things up', parameters: { type: 'object' } }] }, field: 'tools[0].name', says: /expected string.*; received nothing/ },
    { what: 'an unknown top-level key (max_tokens)', input: { messages: [user], max_tokens: 100 }, field: 'max_tokens', says: /unknown field \(did you mean maxOutputTokens\?\); received 100/ },
    { what: 'a toolChoice that is no choice', input: { messages: [user], tools: [{ name: 'lookup' }], toolChoice: 'always' }, field: 'toolChoice', says: /expected "auto", "none", "required" or \{ name.*; received "always"/ },
    { what: 'a toolChoice naming no tool', input: { messages: [user], tools: [{ name: 'lookup' }], toolChoice: { name: 'search' } }, field: 'toolChoice.name', says: /one of the tools \(lookup\); received "search"/ },
    { what: 'toolChoice required without tools', input: { messages: [user], toolChoice: 'required' }, field: 'toolChoice', says: /expected tools to choose from; received "required"/ },
    // Valid to the schema (free-form members hold `unknown`), but not JSON: the body could not be written.
    { what: 'a circular tool schema', input: { messages: [user], tools: [{ name: 'tree', parameters: circularSchema() }] }, field: 'tools[0].parameters.properties.child', says: /expected a JSON value; received a circular reference to tools\[0\]\.parameters \(an object inside itself\)/ },
    { what: 'a BigInt in providerOptions', input: { messages: [user], providerOptions: { openai: { seed: 2n ** 64n } } }, field: 'providerOptions.openai.seed', says: /expected a JSON value \(a number or a string\); received a BigInt, 18446744073709551616n/ },
    { what: 'a schema nested 10 000 deep', input: { messages: [user], responseFormat: { type: 'json', schema: nested(10_000) } }, field: deepPath, shown: `${deepPath.slice(0, 60)}…${deepPath.slice(-50)}`, says: /^Invalid request: responseFormat\.schema\.items.*….*: expected JSON nested at most 64 levels deep; received deeper nesting$/ },
    { what: 'a circular tool call argument in the history', input: { messages: [user, { role: 'assistant', toolCalls: [{ id: 'c1', name: 'f', arguments: circularSchema().properties }] }] }, field: 'messages[1].toolCalls[0].arguments.child.properties', says: /circular reference to messages\[1\]\.toolCalls\[0\]\.arguments/ },
  ];

  for (const { what, input, field, says, shown = field } of cases) {
    it(`${what} → InvalidRequestError on ${field}, and the server sees nothing`, async () => {
      const connectionsBefore = server.connections.length; // keep-alive sockets of earlier tests may stay open
      const seen = record(compatible().stream(input as LlmRequestInput));
      // The error is synchronous, on subscribe, and there is no `request` event for a bad request.
      expect(seen.values).toEqual([]);
      expect(seen.errors).toHaveLength(1);
      expect(seen.completes).toBe(0);
      const error = seen.errors[0] as InvalidRequestError;
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect(LlmError.is(error)).toBe(true);
      expect(error).toMatchObject({ code: 'invalid_request', field, retryable: false });
      expect(error.message).toContain(`${shown}: `);
      expect(error.message).toMatch(says);
      await pause(300); // every chance for a request to arrive
      expect(server.requests).toHaveLength(0);
      expect(server.connections).toHaveLength(connectionsBefore);
    });
  }

  it('a request that is not JSON is refused by stream() itself, before the request event: no TypeError or RangeError later', () => {
    const seen = record(compatible().stream({ messages: [user], tools: [{ name: 'tree', parameters: circularSchema() }] }));
    expect(seen.values).toEqual([]);
    expect(seen.errors[0]).toBeInstanceOf(InvalidRequestError);
    expect(seen.errors[0]).not.toBeInstanceOf(TypeError);
  });

  it('JSON that is fine passes: 64 levels, an object shared by many paths, a Date (toJSON)', () => {
    // nested(63): 64 object levels counting the schema itself.
    expect(() => parseRequest({ messages: [user], responseFormat: { type: 'json', schema: nested(63) } })).not.toThrow();
    expect(() => parseRequest({ messages: [user], responseFormat: { type: 'json', schema: nested(64) } })).toThrow(InvalidRequestError);
    // 2^30 paths to one leaf, 61 levels: walked once per object, not once per path.
    const shared: Record<string, unknown> = { type: 'string' };
    let dag: Record<string, unknown> = shared;
    for (let i = 0; i < 30; i++) dag = { type: 'object', properties: { left: dag, right: dag } };
    expect(() => parseRequest({ messages: [user], tools: [{ name: 'wide', parameters: dag }] })).not.toThrow();
    expect(() => parseRequest({ messages: [user], providerOptions: { openai: { since: new Date(0) } } })).not.toThrow();
  });

  it('a toJSON() or getter that throws is an InvalidRequestError naming the field', () => {
    const toJSON = (): never => {
      throw new TypeError('nope');
    };
    const badToJson = (): unknown => parseRequest({ messages: [user], providerOptions: { openai: { x: { toJSON } } } });
    expect(badToJson).toThrow(InvalidRequestError);
    expect(badToJson).toThrow(/providerOptions\.openai\.x: expected a JSON value; received an object whose toJSON\(\) threw a TypeError/);
    const getter = Object.defineProperty({}, 'g', { enumerable: true, get: toJSON });
    expect(() => parseRequest({ messages: [user], providerOptions: { openai: { x: getter } } })).toThrow(/providerOptions\.openai\.x\.g: expected a JSON value; reading it threw a TypeError/);
    // Where the schema itself reads the getter, the path is unknown, but the error is still typed.
    expect(() => parseRequest({ messages: [user], providerOptions: { openai: getter } })).toThrow(/^Invalid request: request: expected plain data; reading it threw a TypeError$/);
  });

  it('each subscription of an invalid request errors again (the stream stays cold)', () => {
    const events = compatible().stream({ messages: [] });
    expect(record(events).errors).toHaveLength(1);
    expect(record(events).errors).toHaveLength(1);
  });
});

describe('bad factory options throw ConfigurationError at construction', () => {
  const expectConfigError = (make: () => unknown, says: RegExp, secret?: string): ConfigurationError => {
    const error = thrownConfigurationError(make);
    expect(error).toMatchObject({ code: 'invalid_configuration', retryable: false });
    expect(error.message).toMatch(says);
    if (secret !== undefined) expectNoneContains(errorRenderings(error), [secret, secret.slice(-8)]);
    return error;
  };

  it("openai({ model: '' })", () => {
    expectConfigError(() => openai({ model: '', apiKey: API_KEY }), /^openai\(\): model: expected a model id such as "gpt-4o-mini"; received ""$/, API_KEY);
  });

  it('openai() without apiKey and with OPENAI_API_KEY unset says how to give one', () => {
    vi.stubEnv('OPENAI_API_KEY', '');
    expectConfigError(() => openai({ model: 'gpt-4o-mini' }), /Pass \{ apiKey \} or set OPENAI_API_KEY/);
  });

  it('openai() reads OPENAI_API_KEY when no apiKey is given', async () => {
    vi.stubEnv('OPENAI_API_KEY', `sk-${'test-FROMENVIRONMENT000000000000'}`);
    await lastValueFrom(openai({ model: 'gpt-4o-mini', baseURL: server.url }).stream({ messages: [user] }).pipe(collect()));
    expect(server.requests[0]!.headers['authorization']).toBe(`Bearer sk-${'test-FROMENVIRONMENT000000000000'}`);
  });

  it("openaiCompatible({ baseURL: 'not a url' })", () => {
    expectConfigError(() => openaiCompatible({ model: 'x', baseURL: 'not a url', apiKey: API_KEY }), /^openaiCompatible\(\): baseURL: .*; received "not a url"$/, API_KEY);
    // Credentials in the URL would travel in every event's model info: refused, and not echoed.
    expectConfigError(() => openaiCompatible({ model: 'x', baseURL: 'https://user:hunter2-pass@example.test/v1' }), /no user:password in the URL: pass credentials as apiKey or headers; received "https:\/\/\*\*\*@example\.test\/v1"$/, 'hunter2-pass');
  });

  it('a key that does not look like a key is not echoed either (unknown option, wrong shapes)', () => {
    // Azure-style keys are bare hex: no pattern can catch them, so the message must not carry them.
    const hexKey = '0123456789abcdef0123456789abcdef';
    expectConfigError(() => openai({ model: 'x', apiKey: hexKey, extra: true } as never), /^openai\(\): extra: .*; received true$/, hexKey);
    expectConfigError(() => openai(hexKey as never), /^openai\(\): options: .*; received string$/, hexKey);
    expectConfigError(() => openaiCompatible({ model: '', baseURL: server.url, apiKey: hexKey }), /model/, hexKey);
    expectConfigError(() => openai({ model: 'x', apiKey: 42 } as never), /apiKey: .*received number$/);
  });
});

describe('the request body on the wire', () => {
  const fullRequest: LlmRequestInput = {
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Weather in Paris?', name: 'ann' },
      { role: 'assistant', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }] },
      { role: 'tool', toolCallId: 'call_1', content: '{"tempC":21}' },
      { role: 'assistant', content: 'It is 21 °C.' },
      { role: 'user', content: [{ type: 'text', text: 'And ' }, { type: 'text', text: 'tomorrow?' }] },
    ],
    tools: [
      {
        name: 'get_weather',
        description: 'Current weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
        strict: true,
      },
      { name: 'noop' },
    ],
    toolChoice: { name: 'get_weather' },
    temperature: 0.2,
    topP: 0.9,
    maxOutputTokens: 256,
    stop: ['\n\n', 'END'],
    seed: 7,
    responseFormat: {
      type: 'json',
      name: 'forecast',
      strict: true,
      schema: { type: 'object', properties: { tempC: { type: 'number' } }, required: ['tempC'], additionalProperties: false },
    },
    metadata: { tenant: 'acme-tenant', user: 'ann-42' },
  };

  it('openai(): every field mapped, max_completion_tokens, metadata not sent', async () => {
    await lastValueFrom(openai({ model: 'gpt-4o-mini', apiKey: API_KEY, baseURL: server.url }).stream(fullRequest).pipe(collect()));
    const received = server.requests[0]!;
    expect(received.method).toBe('POST');
    expect(received.url).toBe('/v1/chat/completions');
    expect(received.json).toMatchInlineSnapshot(`
      {
        "max_completion_tokens": 256,
        "messages": [
          {
            "content": "You are terse.",
            "role": "system",
          },
          {
            "content": "Weather in Paris?",
            "name": "ann",
            "role": "user",
          },
          {
            "content": null,
            "role": "assistant",
            "tool_calls": [
              {
                "function": {
                  "arguments": "{"city":"Paris"}",
                  "name": "get_weather",
                },
                "id": "call_1",
                "type": "function",
              },
            ],
          },
          {
            "content": "{"tempC":21}",
            "role": "tool",
            "tool_call_id": "call_1",
          },
          {
            "content": "It is 21 °C.",
            "role": "assistant",
          },
          {
            "content": "And tomorrow?",
            "role": "user",
          },
        ],
        "model": "gpt-4o-mini",
        "response_format": {
          "json_schema": {
            "name": "forecast",
            "schema": {
              "additionalProperties": false,
              "properties": {
                "tempC": {
                  "type": "number",
                },
              },
              "required": [
                "tempC",
              ],
              "type": "object",
            },
            "strict": true,
          },
          "type": "json_schema",
        },
        "seed": 7,
        "stop": [
          "

      ",
          "END",
        ],
        "stream": true,
        "stream_options": {
          "include_usage": true,
        },
        "temperature": 0.2,
        "tool_choice": {
          "function": {
            "name": "get_weather",
          },
          "type": "function",
        },
        "tools": [
          {
            "function": {
              "description": "Current weather for a city",
              "name": "get_weather",
              "parameters": {
                "additionalProperties": false,
                "properties": {
                  "city": {
                    "type": "string",
                  },
                },
                "required": [
                  "city",
                ],
                "type": "object",
              },
              "strict": true,
            },
            "type": "function",
          },
          {
            "function": {
              "name": "noop",
              "parameters": {
                "properties": {},
                "type": "object",
              },
            },
            "type": "function",
          },
        ],
        "top_p": 0.9,
      }
    `);
    expect(received.json).not.toHaveProperty('max_tokens');
    expect(received.json).not.toHaveProperty('metadata');
    expect(received.body).not.toContain('acme-tenant');
    expect(received.body).not.toContain('ann-42');
  });

  it('openaiCompatible(): the output limit goes as max_tokens', async () => {
    await lastValueFrom(compatible().stream({ messages: [user], maxOutputTokens: 64 }).pipe(collect()));
    const body = server.requests[0]!.json as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'llama-3.1-8b', max_tokens: 64, stream: true });
    expect(body).not.toHaveProperty('max_completion_tokens');
  });

  it('JSON mode without a schema → response_format json_object', async () => {
    await lastValueFrom(compatible().stream({ messages: [user], responseFormat: { type: 'json' } }).pipe(collect()));
    expect((server.requests[0]!.json as Record<string, unknown>)['response_format']).toEqual({ type: 'json_object' });
  });

  it('headers: Bearer key, model headers, per-call headers; nothing of the key elsewhere', async () => {
    const model = openai({ model: 'gpt-4o-mini', apiKey: API_KEY, baseURL: server.url, organization: 'org-1', project: 'proj-1', headers: { 'X-Team': 'search' } });
    const seen = record(model.stream({ messages: [user] }, { headers: { 'X-Trace-Id': 'trace-123' } }));
    await seen.terminal;
    expect(seen.completes).toBe(1);
    const { headers } = server.requests[0]!;
    expect(headers).toMatchObject({
      authorization: `Bearer ${API_KEY}`,
      'content-type': 'application/json',
      accept: 'text/event-stream',
      'openai-organization': 'org-1',
      'openai-project': 'proj-1',
      'x-team': 'search',
      'x-trace-id': 'trace-123',
    });
    // The key travels in the header only: not in the body, not in any event.
    expect(server.requests[0]!.body).not.toContain(API_KEY);
    expect(JSON.stringify(seen.values)).not.toContain(API_KEY);
    expect(inspect(model, { depth: 10 })).not.toContain(API_KEY);
  });

  it('openaiCompatible() without apiKey sends no authorization header', async () => {
    await lastValueFrom(openaiCompatible({ model: 'local', baseURL: server.url }).stream({ messages: [user] }).pipe(collect()));
    expect(server.requests[0]!.headers).not.toHaveProperty('authorization');
  });
});
